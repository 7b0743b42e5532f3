"""entries in flight: the lease sweep and the completion check read indexes, not every entry

Every ten seconds each dialer instance renews its leases and releases the lapsed ones
(claim.renew_leases, release_expired_leases), and every two seconds it looks for campaigns with
nothing left to dial (store.complete_exhausted_campaigns). They read the entries being dialled,
offered or waiting for a callback, a handful, but found them by reading the entries of every
campaign (ten million entries: about a second of the server's time each time). A partial index
holds just those entries; the claim index already holds the ready ones.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("create index ix_entries_in_flight on campaign_entries (lease_until) "
               "where state in ('reserved', 'dialing', 'callback')")


def downgrade() -> None:
    op.execute("drop index ix_entries_in_flight")

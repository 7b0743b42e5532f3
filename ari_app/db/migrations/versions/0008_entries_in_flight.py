"""entries in flight by lease: the lease sweep reads an index, not every entry

Every ten seconds each dialer instance renews its leases and releases the lapsed ones
(claim.renew_leases, release_expired_leases): both read the entries being dialled or offered,
a handful, but found them by reading every entry of every campaign (ten million entries: about
a second of the server's time every ten seconds). A partial index holds just those entries.

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
               "where state in ('dialing', 'reserved')")


def downgrade() -> None:
    op.execute("drop index ix_entries_in_flight")

"""phone numbers compare bytewise (COLLATE "C")

E.164 numbers are ASCII digits after a "+": their natural order is the bytes', and the locale's
collation (strcoll) only made every comparison slower. Building a new campaign partition's
unique (phone_e164, campaign_id) index over a million numbers took 0.85-1.0 s with the database's
collation and 0.47-0.6 s bytewise (benchmarks/import_bench.py). Every phone column changes
together: an index is only used by comparisons in its own collation, so the claim's probes of
dnc_numbers and attempts by number need theirs to match campaign_entries'.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("campaign_entries", "phone_e164", "text"), ("attempts", "phone_e164", "text"),
           ("callbacks", "phone_e164", "text"), ("dnc_numbers", "e164", "text"), ("contacts", "phones", "text[]"))


def upgrade() -> None:
    for table, column, kind in COLUMNS:
        op.execute(f'alter table {table} alter column {column} type {kind} collate "C"')


def downgrade() -> None:
    for table, column, kind in COLUMNS:
        op.execute(f'alter table {table} alter column {column} type {kind} collate "default"')

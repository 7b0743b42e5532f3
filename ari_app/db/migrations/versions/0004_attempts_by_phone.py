"""attempts by phone (72-hour rule: the last call to a number)

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attempts_phone", "attempts", ["phone_e164", "id"])


def downgrade() -> None:
    op.drop_index("ix_attempts_phone", table_name="attempts")

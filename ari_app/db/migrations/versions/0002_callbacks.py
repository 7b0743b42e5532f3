"""callbacks

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("phone_e164", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner_agent_id", sa.Integer(), nullable=True),
        sa.Column("escalate", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_id", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["campaign_entries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["agents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_callbacks_due", "callbacks", ["due_at"], postgresql_where=sa.text("state = 'pending'"))
    op.create_index("ix_callbacks_pending_contact", "callbacks", ["campaign_id", "contact_id"],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index("uq_callbacks_pending_entry", "callbacks", ["entry_id"], unique=True,
                    postgresql_where=sa.text("state = 'pending'"))
    # Any change to callbacks wakes every instance's scheduler (also changes made by the CLI).
    op.execute(
        """
        create function callbacks_notify() returns trigger language plpgsql as $$
        begin
          perform pg_notify('dialer_callbacks', coalesce(new.id, old.id)::text);
          return null;
        end $$;
        create trigger callbacks_notify after insert or update or delete on callbacks
          for each row execute function callbacks_notify();
        """
    )


def downgrade() -> None:
    op.execute("drop trigger if exists callbacks_notify on callbacks")
    op.execute("drop function if exists callbacks_notify()")
    op.drop_index("uq_callbacks_pending_entry", table_name="callbacks")
    op.drop_index("ix_callbacks_pending_contact", table_name="callbacks")
    op.drop_index("ix_callbacks_due", table_name="callbacks")
    op.drop_table("callbacks")

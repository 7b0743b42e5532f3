"""SQLAlchemy 2 tables. The schema itself is owned by the Alembic migrations in ``migrations/``;
these mappings must match them (tests/db/test_schema.py checks that they do)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Identity,
    Integer,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TS = DateTime(timezone=True)
# E.164 numbers compare bytewise (migration 0006): every phone column, so that their indexes serve
# the comparisons between them.
NUMBER = Text(collation="C")


class Base(DeclarativeBase):
    pass


class Group(Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    extension: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    pin_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{agent}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    failed_pin_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None] = mapped_column(TS)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())


class AgentGroup(Base):
    __tablename__ = "agent_groups"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)


class Status(Base):
    """The status dictionary."""

    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    system_status: Mapped[str] = mapped_column(Text)
    auto_on: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    add_to_new_campaigns: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    hidden: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    protected: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    mode: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default=text("'draft'"))
    bcw_seconds: Mapped[int] = mapped_column(Integer, server_default=text("10"))
    push_timeout_seconds: Mapped[int] = mapped_column(Integer, server_default=text("15"))
    pickup_rate: Mapped[float] = mapped_column(Float, server_default=text("0.5"))
    target_abandon_rate: Mapped[float] = mapped_column(Float, server_default=text("0.03"))
    abandon_window: Mapped[str] = mapped_column(Text, server_default=text("'rolling_30d'"))
    max_lines_per_agent: Mapped[float] = mapped_column(Float, server_default=text("3.0"))
    routing_group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    goal: Mapped[str] = mapped_column(Text, server_default=text("'exhaust'"))
    caller_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    caller_id_rotation: Mapped[str] = mapped_column(Text, server_default=text("'fixed'"))
    dial_template: Mapped[str] = mapped_column(Text, server_default=text("'PJSIP/{number}@carrier'"))
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, server_default=text("25"))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    retry_rules: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    wrapup_seconds: Mapped[int] = mapped_column(Integer, server_default=text("30"))
    timezone: Mapped[str] = mapped_column(Text, server_default=text("'UTC'"))
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    calling_hours_start: Mapped[dt.time] = mapped_column(Time, server_default=text("'08:00'"))
    calling_hours_end: Mapped[dt.time] = mapped_column(Time, server_default=text("'21:00'"))
    default_region: Mapped[str] = mapped_column(Text, server_default=text("'US'"))
    abandon_message: Mapped[str] = mapped_column(Text, server_default=text("'sound:dialer-abandon-info'"))
    machine_action: Mapped[str] = mapped_column(Text, server_default=text("'hangup'"))
    machine_message: Mapped[str | None] = mapped_column(Text)
    amd_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    default_status_id: Mapped[int | None] = mapped_column(ForeignKey("statuses.id", ondelete="SET NULL"))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    __table_args__ = (
        CheckConstraint("ring_timeout_seconds >= 15", name="ck_campaign_ring_timeout_min"),
        CheckConstraint("mode in ('preview','push_preview','progressive','predictive')", name="ck_campaign_mode"),
        CheckConstraint("state in ('draft','active','paused','stopped','completed')", name="ck_campaign_state"),
        CheckConstraint("goal in ('exhaust','none')", name="ck_campaign_goal"),
        CheckConstraint(
            "caller_id_rotation = 'fixed' or cardinality(caller_ids) >= 2", name="ck_campaign_random_needs_two"
        ),
    )


class CampaignStatus(Base):
    """A status usable in one campaign: a link to the dictionary or the campaign's own."""

    __tablename__ = "campaign_statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    status_id: Mapped[int | None] = mapped_column(ForeignKey("statuses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    system_status: Mapped[str] = mapped_column(Text)
    auto_on: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    dtmf_code: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("campaign_id", "name", name="uq_campaign_status_name"),
        UniqueConstraint("campaign_id", "dtmf_code", name="uq_campaign_status_dtmf"),
    )


class CampaignAgent(Base):
    """Permanent assignment of an agent to a campaign."""

    __tablename__ = "campaign_agents"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)


class Contact(Base):
    """A directory contact. Partitioned by id range (migration 0005): contacts_main holds ids from
    the contacts_id_seq sequence (below 2^32), and each big import has a contact list of its own,
    ids [k * 2^32, (k + 1) * 2^32) (ari_app/db/partitions.py)."""

    __tablename__ = "contacts"
    __table_args__ = ({"postgresql_partition_by": "RANGE (id)"},)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    timezone: Mapped[str | None] = mapped_column(Text)  # null: could not be determined
    timezone_override: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    # The contact's numbers in E.164; its entries dial the first.
    phones: Mapped[list[str]] = mapped_column(ARRAY(NUMBER), server_default=text("'{}'"))


class CampaignEntry(Base):
    """A contact in a campaign. Partitioned by campaign (migration 0005): campaign_entries_<id>
    holds one campaign's entries and is made by ``dialer_entries_partition(id)`` (see
    ari_app/db/partitions.py) before its first entry is written."""

    __tablename__ = "campaign_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # References checked by triggers, not foreign keys (see migration 0005): campaign and contact
    # deletes cascade, agent and status deletes clear.
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    phone_e164: Mapped[str] = mapped_column(NUMBER)
    timezone: Mapped[str | None] = mapped_column(Text)  # the contact's zone, denormalised for the claim
    # time_zones.id of ``timezone``, set by a trigger (migration 0007): the claim index sorts on it
    zone_id: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(Text, server_default=text("'ready'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(TS)
    not_before: Mapped[dt.datetime | None] = mapped_column(TS)
    due_at: Mapped[dt.datetime] = mapped_column(
        TS,
        Computed("greatest(coalesce(next_attempt_at, '-infinity'), coalesce(not_before, '-infinity'))", persisted=True),
        # Never loaded: it is -infinity for entries due at once, which Python cannot represent; it
        # exists for the claim index only.
        deferred=True,
    )
    owner_agent_id: Mapped[int | None] = mapped_column(Integer)
    last_outcome: Mapped[str | None] = mapped_column(Text)
    last_status_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    progressive_only: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[dt.datetime | None] = mapped_column(TS)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    __table_args__ = (
        # Number first: it also serves lookups by number across campaigns.
        UniqueConstraint("phone_e164", "campaign_id", name="uq_entry_phone_campaign"),
        Index(  # one per partition (campaign), hence without campaign_id
            "ix_entries_claim",
            "zone_id",
            text("priority DESC"),
            "due_at",
            "id",
            postgresql_where=text("state = 'ready'"),
        ),
        Index("ix_entries_contact", "contact_id"),
        # entries being offered, dialled or waiting for a callback (migration 0008)
        Index("ix_entries_in_flight", "lease_until",
              postgresql_where=text("state in ('reserved', 'dialing', 'callback')")),
        {"postgresql_partition_by": "LIST (campaign_id)"},
    )


class TimeZone(Base):
    """The IANA zones by number (migration 0007): campaign_entries.zone_id."""

    __tablename__ = "time_zones"
    id: Mapped[int] = mapped_column(SmallInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("name", name="uq_time_zones_name"),)


class Attempt(Base):
    """The compliance ledger: one row per call attempt. Closed rows are immutable except the
    disposition (enforced by a trigger, see migration 0001)."""

    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # A campaign entry's id, checked by a trigger (a foreign key cannot reference a partitioned
    # table's id alone); deleting the entry sets it to NULL (migration 0005).
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="RESTRICT"))
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    phone_e164: Mapped[str] = mapped_column(NUMBER)
    channel_id: Mapped[str] = mapped_column(Text, unique=True)
    caller_id: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default=text("'created'"))
    instance_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    originated_at: Mapped[dt.datetime | None] = mapped_column(TS)
    answered_at: Mapped[dt.datetime | None] = mapped_column(TS)
    connected_at: Mapped[dt.datetime | None] = mapped_column(TS)
    ended_at: Mapped[dt.datetime | None] = mapped_column(TS)
    dialstatus: Mapped[str | None] = mapped_column(Text)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_txt: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    abandoned: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    disposition_status_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_statuses.id", ondelete="SET NULL")
    )
    disposition_at: Mapped[dt.datetime | None] = mapped_column(TS)
    __table_args__ = (
        # Never two open calls to one number, whatever the campaign or instance.
        Index("uq_attempts_open_phone", "phone_e164", unique=True, postgresql_where=text("ended_at is null")),
        Index("ix_attempts_campaign_created", "campaign_id", "created_at"),
        Index("ix_attempts_phone", "phone_e164", "id"),
        Index("ix_attempts_entry", "entry_id"),
    )


class DncList(Base):
    __tablename__ = "dnc_lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)


class DncNumber(Base):
    __tablename__ = "dnc_numbers"
    list_id: Mapped[int] = mapped_column(ForeignKey("dnc_lists.id", ondelete="CASCADE"), primary_key=True)
    e164: Mapped[str] = mapped_column(NUMBER, primary_key=True)
    source: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    __table_args__ = (Index("ix_dnc_e164", "e164"),)


class AgentSession(Base):
    """A desk phone logged into the app. One open session per agent."""

    __tablename__ = "agent_sessions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    channel_id: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    state_since: Mapped[dt.datetime] = mapped_column(TS)
    campaign_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    pause_requested: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    logged_in_at: Mapped[dt.datetime] = mapped_column(TS)
    logged_out_at: Mapped[dt.datetime | None] = mapped_column(TS)
    __table_args__ = (
        Index("uq_agent_sessions_open", "agent_id", unique=True, postgresql_where=text("logged_out_at is null")),
    )


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("agent_sessions.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(TS)
    reason: Mapped[str | None] = mapped_column(Text)


class Filter(Base):
    """A saved directory filter (``city = Praha and custom.segment in (A,B)``)."""

    __tablename__ = "filters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    expression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())


class Callback(Base):
    """A promised call back: personal (owner set) or for any agent of the campaign.

    While pending it blocks all other dialling of the contact in that campaign. It fires exactly
    once: the row moves pending -> fired in the same transaction that writes the attempt.
    """

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(BigInteger)  # checked by a trigger; deleted with its entry (0005)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    phone_e164: Mapped[str] = mapped_column(NUMBER)  # may differ from the entry's number
    due_at: Mapped[dt.datetime] = mapped_column(TS)
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    escalate: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    state: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))  # pending, fired, cancelled
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    fired_at: Mapped[dt.datetime | None] = mapped_column(TS)
    attempt_id: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_callbacks_due", "due_at", postgresql_where=text("state = 'pending'")),
        Index("ix_callbacks_pending_contact", "campaign_id", "contact_id", postgresql_where=text("state = 'pending'")),
        # one pending callback per entry
        Index("uq_callbacks_pending_entry", "entry_id", unique=True, postgresql_where=text("state = 'pending'")),
    )


class MonitoringSession(Base):
    """Audit: a supervisor listening, whispering or barging on an agent."""

    __tablename__ = "monitoring_sessions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    channel_id: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(TS)
    ended_at: Mapped[dt.datetime | None] = mapped_column(TS)


class MonitoringEvent(Base):
    """Audit: each mode change, and each customer call the supervisor followed."""

    __tablename__ = "monitoring_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("monitoring_sessions.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(TS)
    mode: Mapped[str] = mapped_column(Text)  # listen, whisper, barge
    attempt_id: Mapped[int | None] = mapped_column(BigInteger)


class AgentCommand(Base):
    """A live-control request from the CLI (login to a campaign, pause, end wrap-up...), carried out
    by the instance that holds the agent's phone."""

    __tablename__ = "agent_commands"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(TS, server_default=func.now())
    done_at: Mapped[dt.datetime | None] = mapped_column(TS)
    result: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_agent_commands_open", "agent_id", postgresql_where=text("done_at is null")),)

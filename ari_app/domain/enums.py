"""The vocabulary of the domain. Stored as text in the database; the values are the wire names."""
from __future__ import annotations

from enum import StrEnum


class CampaignMode(StrEnum):
    PREVIEW = "preview"
    PUSH_PREVIEW = "push_preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class CampaignState(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class Goal(StrEnum):
    EXHAUST = "exhaust"  # completes when no dialable entry is left and no call is open
    NONE = "none"  # never ends by itself; new entries are dialled as they arrive


class CallerIdRotation(StrEnum):
    FIXED = "fixed"
    RANDOM = "random"


class AbandonWindow(StrEnum):
    ROLLING_30D = "rolling_30d"  # US rules
    CALENDAR_DAY = "calendar_day"  # UK rules


class EntryState(StrEnum):
    READY = "ready"  # dialable once due_at has passed
    RESERVED = "reserved"  # held by an agent (preview / push-preview) or claimed by a dialer
    DIALING = "dialing"  # an attempt is open
    CALLBACK = "callback"  # waiting for a callback time (issue 6)
    DONE = "done"  # finished with a final status
    EXHAUSTED = "exhausted"  # max attempts reached
    DNC = "dnc"  # do-not-call


class SystemStatus(StrEnum):
    CALL_AGAIN = "call_again"
    MY_RECORD = "my_record"
    DO_NOT_CALL = "do_not_call"
    NOT_BEFORE = "not_before"
    CALL_PROGRESSIVE = "call_progressive"


class Outcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"
    LOST = "lost"


# The events a dictionary status can be "set automatically when".
AUTO_STATUS_TRIGGERS = (
    Outcome.BUSY,
    Outcome.NO_ANSWER,
    Outcome.CONGESTION,
    Outcome.INVALID_NUMBER,
    Outcome.MACHINE,
    Outcome.ABANDONED,
)


class AgentRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"

"""In-memory state of the calls and agent phones this instance handles.

The database is the source of truth for what happened (attempts ledger, agent state changes); these
objects hold what is happening now, so the 2-second connect never waits on a query.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from ari_app.db.claim import ClaimedEntry
from ari_app.domain.attempt import AttemptEvent, AttemptState, next_state
from ari_app.domain.enums import AgentState
from ari_app.domain.status_effects import StatusView


@dataclass
class CallLive:
    attempt_id: int
    channel_id: str
    campaign_id: int
    entry_id: int
    phone: str
    timezone: str | None
    placed_at: dt.datetime
    state: AttemptState = AttemptState.CREATED
    answered_at: dt.datetime | None = None
    connected_at: dt.datetime | None = None
    answered_mono: float | None = None  # loop time of the answer, for the 2-second rule
    dialstatus: str = ""
    agent_id: int | None = None  # the agent it is (or was) connected to
    reserved_for: int | None = None  # preview / push-preview: the agent who asked for this call
    abandoned: bool = False
    machine: bool = False

    def advance(self, event: AttemptEvent) -> AttemptState:
        self.state = next_state(self.state, event, attempt_id=self.attempt_id)
        return self.state

    @property
    def waiting_for_agent(self) -> bool:
        return self.state is AttemptState.ANSWERED

    @property
    def in_flight(self) -> bool:
        """Counts against pacing: placed, not yet with an agent, not ended."""
        return self.state in (AttemptState.CREATED, AttemptState.ORIGINATING, AttemptState.RINGING,
                              AttemptState.ANSWERED, AttemptState.DETECTING)


class Phase(StrEnum):
    LOGIN = "login"  # waiting for the PIN
    IDLE = "idle"  # ready or paused, keys: * pause/unpause, 0 log out
    OFFER = "offer"  # preview / push-preview record announced, waiting for a key
    CALLING = "calling"  # preview call placed for this agent, not answered yet
    ON_CALL = "on_call"  # bridged with a customer; # ends the customer leg, * pause after the call
    WRAP_UP = "wrap_up"  # keying the status code
    DATE = "date"  # keying a date and time for a not-before / my-record status
    CALLBACK_WHO = "callback_who"  # my-record: 1 a personal callback, 2 a callback for any agent
    CALLBACK_NUMBER = "callback_number"  # my-record: # keeps the number, or another number then #


WRAP_UP_PHASES = frozenset({Phase.WRAP_UP, Phase.DATE, Phase.CALLBACK_WHO, Phase.CALLBACK_NUMBER})


@dataclass
class CallbackDraft:
    """A callback being keyed on the phone after a my-record status; its time is confirmed."""
    when: dt.datetime
    personal: bool = True
    phone: str | None = None  # another number than the entry's, once read back and confirmed
    keyed: str | None = None  # another number read back, waiting for 1 (confirm) or 2 (key again)


@dataclass
class Offer:
    campaign_id: int
    entry: ClaimedEntry
    push: bool  # push-preview (accept/reject) rather than preview (dial/skip/dnc)


@dataclass
class AgentLive:
    channel_id: str
    extension: str
    agent_id: int | None = None
    name: str = ""
    session_id: int | None = None
    bridge_id: str | None = None
    state: AgentState = AgentState.LOGGED_OUT
    since: dt.datetime | None = None
    phase: Phase = Phase.LOGIN
    campaign_ids: set[int] = field(default_factory=set)
    extra_campaigns: set[int] = field(default_factory=set)  # logged in by a supervisor, not assigned
    login_campaign: int | None = None
    digits: str = ""
    pin_tries: int = 0
    pause_requested: bool = False
    call: CallLive | None = None  # current call, or the one being wrapped up
    offer: Offer | None = None
    pending_status: StatusView | None = None
    pending_when: dt.datetime | None = None  # keyed date read back, waiting for confirmation
    callback: CallbackDraft | None = None  # my-record: the callback after its time was confirmed
    push_timeouts: int = 0
    token: int = 0  # bumps on every phase change so stale timers do nothing

    def bump(self) -> int:
        self.token += 1
        return self.token

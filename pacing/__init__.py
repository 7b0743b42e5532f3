"""Pure pacing policies: how many calls should a campaign place now?

No I/O, no clock reads, no asyncio: every time is in the snapshot (floats in seconds, one scale).
The runtime (ari_app/services/pacing_bridge.py) and the simulator (pacing/simulate.py) call exactly
this code. See pacing/README.md for the full contract.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, Sequence


class AgentState(str, enum.Enum):
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallOutcome(str, enum.Enum):
    LIVE = "live"
    MACHINE = "machine"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    ABANDONED = "abandoned"  # a live answer that found no agent within the connect limit


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    state: AgentState
    since: float  # when the agent entered `state`


@dataclass(frozen=True, slots=True)
class CallView:
    """A call placed and not yet with an agent (ringing, answered and waiting, or being classified)."""
    call_id: str
    placed_at: float
    answered_at: float | None
    waiting_for_agent: bool  # answered by a person and waiting for an agent


@dataclass(frozen=True, slots=True)
class FinishedCall:
    placed_at: float
    answered_at: float | None
    connected_at: float | None  # bridged with an agent
    ended_at: float
    outcome: CallOutcome


@dataclass(frozen=True, slots=True)
class AbandonLedger:
    """The campaign's compliance window so far: live answers (abandons included) and abandons."""
    live_answers: int
    abandons: int
    window_started_at: float


WINDOWS = ("rolling_30d", "calendar_day")


@dataclass(frozen=True, slots=True)
class PacingSettings:
    target_abandon_rate: float = 0.03
    window: str = "rolling_30d"
    max_lines_per_agent: float = 3.0
    min_ring_seconds: float = 15.0
    ring_timeout_seconds: float = 25.0
    pickup_rate: float = 0.5  # what an admin believes; used by `ratio` and as the predictive prior
    connect_limit_seconds: float = 2.0  # a live answer must reach an agent within this time

    def __post_init__(self) -> None:
        if not 0.0 < self.target_abandon_rate < 1.0:
            raise ValueError(f"target_abandon_rate {self.target_abandon_rate!r} must be between 0 and 1")
        if self.window not in WINDOWS:
            raise ValueError(f"window {self.window!r} must be one of {', '.join(WINDOWS)}")
        if self.max_lines_per_agent < 1.0:
            raise ValueError(f"max_lines_per_agent {self.max_lines_per_agent!r} must be at least 1")
        if not 0.0 < self.pickup_rate <= 1.0:
            raise ValueError(f"pickup_rate {self.pickup_rate!r} must be in (0, 1]")
        if self.ring_timeout_seconds < self.min_ring_seconds:
            raise ValueError(f"ring_timeout_seconds {self.ring_timeout_seconds!r} is below min_ring_seconds")


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: float
    agents: Sequence[AgentView]
    in_flight: Sequence[CallView]
    history: Sequence[FinishedCall]  # oldest first, the runtime passes the last ~2000
    ledger: AbandonLedger
    settings: PacingSettings
    reserved_capacity: int = 0  # agents kept free for callbacks due soon


@dataclass(frozen=True, slots=True)
class Decision:
    calls_to_place: int
    reason: str
    detail: dict = field(default_factory=dict, compare=False)  # numbers behind the decision, for logs


class Policy(Protocol):
    name: str

    def decide(self, snapshot: Snapshot) -> Decision: ...


POLICIES = ("progressive", "ratio", "predictive", "vicidial_adaptive", "vicidial_adaptive_average")


def make_policy(name: str, settings: PacingSettings | None = None) -> Policy:
    """A new policy object (one per campaign; it may keep estimator state between decisions)."""
    from pacing import policies

    settings = settings or PacingSettings()
    if name == "progressive":
        return policies.Progressive(settings)
    if name == "ratio":
        return policies.Ratio(settings)
    if name == "predictive":
        return policies.Predictive(settings)
    if name in ("vicidial_adaptive", "vicidial_adaptive_hard"):
        return policies.VicidialAdaptive(settings, variant="hard")
    if name == "vicidial_adaptive_average":
        return policies.VicidialAdaptive(settings, variant="average")
    raise ValueError(f"unknown pacing policy {name!r}; choose one of {', '.join(POLICIES)}")


__all__ = [
    "AgentState", "CallOutcome", "AgentView", "CallView", "FinishedCall", "AbandonLedger",
    "PacingSettings", "Snapshot", "Decision", "Policy", "make_policy", "POLICIES", "WINDOWS",
]

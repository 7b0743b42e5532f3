"""What a status does to a campaign entry. One place, pure, ``now`` passed in.

The outcome picks the automatic status; the agent's disposition replaces it for answered calls;
the status's system meaning then decides when (and whether, and for whom) the entry is dialled again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ari_app.domain.enums import EntryState, Outcome, SystemStatus

DEFAULT_RETRY_DELAY = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class StatusView:
    id: int
    name: str
    system_status: SystemStatus
    auto_on: tuple[str, ...] = ()
    dtmf_code: str | None = None


@dataclass(frozen=True)
class RetryRule:
    delay: dt.timedelta
    max_count: int | None


def retry_rule(rules: Mapping[str, Any], outcome: Outcome) -> RetryRule:
    raw = (rules or {}).get(str(outcome)) or {}
    delay = dt.timedelta(seconds=int(raw["delay_seconds"])) if "delay_seconds" in raw else DEFAULT_RETRY_DELAY
    return RetryRule(delay=delay, max_count=raw.get("max"))


def automatic_status(statuses: Sequence[StatusView], outcome: Outcome) -> StatusView | None:
    """The campaign status marked "set automatically when" this outcome happens, if any."""
    for status in statuses:
        if str(outcome) in status.auto_on:
            return status
    return None


@dataclass(frozen=True)
class EntryUpdate:
    state: EntryState
    next_attempt_at: dt.datetime | None = None
    not_before: dt.datetime | None = None
    owner_agent_id: int | None = None
    progressive_only: bool = False
    add_to_dnc: bool = False
    callback_at: dt.datetime | None = None  # a callback at this time: owner_agent_id's, or any agent's when None
    callback_phone: str | None = None  # the callback calls this number instead of the entry's
    reason: str = ""


@dataclass(frozen=True)
class EntryFacts:
    attempts: int  # attempts made so far, including the one that just ended
    max_attempts: int
    outcome_count: int  # attempts of this entry that ended with this outcome, including this one


def apply_status(
    facts: EntryFacts,
    outcome: Outcome,
    status: StatusView | None,
    retry_rules: Mapping[str, Any],
    now: dt.datetime,
    *,
    agent_id: int | None = None,
    when: dt.datetime | None = None,
    personal: bool = True,
    callback_phone: str | None = None,
) -> EntryUpdate:
    """The entry's next state after an attempt ended with ``outcome`` and ``status`` was given.

    ``status`` is None when neither the agent nor an automatic status applies: the entry is then
    retried by the campaign's retry rule for the outcome (call again). A my-record status makes a
    callback owned by ``agent_id`` (``personal``) or for any agent of the campaign, to
    ``callback_phone`` when the agent gave another number.
    """
    system = status.system_status if status else SystemStatus.CALL_AGAIN
    if system is SystemStatus.DO_NOT_CALL:
        return EntryUpdate(EntryState.DNC, add_to_dnc=True, reason=f"status {status.name!r} is do-not-call")
    if system is SystemStatus.NOT_BEFORE:
        if when is None:
            raise ValueError("a not-before status needs a date and time")
        return EntryUpdate(EntryState.READY, not_before=when, reason=f"not before {when.isoformat()}")
    if system is SystemStatus.MY_RECORD:
        if when is None or (personal and agent_id is None):
            raise ValueError("a my-record status needs a date and time, and an agent for a personal callback")
        owner = agent_id if personal else None
        return EntryUpdate(EntryState.CALLBACK, owner_agent_id=owner, callback_at=when, callback_phone=callback_phone,
                           reason=f"personal callback for agent {agent_id}" if personal else "callback for any agent")

    if facts.attempts >= facts.max_attempts:
        return EntryUpdate(EntryState.EXHAUSTED, reason=f"{facts.attempts} of {facts.max_attempts} attempts made")
    rule = retry_rule(retry_rules, outcome)
    if rule.max_count is not None and facts.outcome_count >= rule.max_count:
        return EntryUpdate(EntryState.EXHAUSTED, reason=f"{facts.outcome_count} {outcome} attempts reach the limit {rule.max_count}")
    return EntryUpdate(
        EntryState.READY,
        next_attempt_at=now + rule.delay,
        progressive_only=system is SystemStatus.CALL_PROGRESSIVE,
        reason=f"retry after {outcome} in {int(rule.delay.total_seconds())} s",
    )

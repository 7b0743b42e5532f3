"""Would this entry be dialled now, and if not, the first rule that blocks it.

The claim query (ari_app/db/claim.py) applies the same rules in SQL; tests/db/test_claim.py checks
that the two agree entry by entry.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ari_app.domain.enums import CampaignState, EntryState
from ari_app.domain.time_rules import CallingHours, local_time_text, schedule_open


@dataclass(frozen=True)
class CampaignFacts:
    state: CampaignState
    timezone: str
    schedule: Mapping[str, Any]
    calling_hours: CallingHours
    max_attempts: int


@dataclass(frozen=True)
class EntryFactsForDial:
    state: EntryState
    attempts: int
    next_attempt_at: dt.datetime | None
    not_before: dt.datetime | None
    owner_agent_id: int | None
    timezone: str | None
    progressive_only: bool


@dataclass(frozen=True)
class Verdict:
    dialable: bool
    rule: str  # "ok" or the name of the blocking rule
    detail: str
    flags: tuple[str, ...] = ()


def explain_entry(
    campaign: CampaignFacts,
    entry: EntryFactsForDial,
    now: dt.datetime,
    *,
    on_dnc: bool,
    open_call: bool,
    agents_ready: frozenset[int] = frozenset(),
    agent_guaranteed: bool = False,
    pending_callback: str | None = None,
    rule_72h: bool = False,
    last_abandoned_at: dt.datetime | None = None,
    region_rules: Sequence[Mapping[str, Any]] = (),
    phone: str = "",
    calls_24h: int = 0,
) -> Verdict:
    flags: list[str] = []
    zone = entry.timezone
    if zone is None:
        zone = campaign.timezone
        flags.append(f"contact time zone unknown: the campaign's zone {campaign.timezone} is used")

    def blocked(rule: str, detail: str) -> Verdict:
        return Verdict(False, rule, detail, tuple(flags))

    if campaign.state is not CampaignState.ACTIVE:
        return blocked("campaign_state", f"the campaign is {campaign.state}, not active")
    if not schedule_open(campaign.schedule, campaign.timezone, now):
        return blocked("schedule", f"the campaign schedule is closed at {local_time_text(campaign.timezone, now)}")
    if entry.state is not EntryState.READY:
        return blocked("entry_state", f"the entry is {entry.state}")
    if on_dnc:
        return blocked("do_not_call", "the number is on the do-not-call list")
    if open_call:
        return blocked("open_call", "a call to this number is already in progress")
    if pending_callback is not None:
        return blocked("callback_pending", pending_callback)
    if entry.attempts >= campaign.max_attempts:
        return blocked("attempt_limit", f"{entry.attempts} of {campaign.max_attempts} attempts made")
    if entry.not_before and entry.not_before > now:
        return blocked("not_before", f"not before {local_time_text(zone, entry.not_before)} (contact time)")
    if entry.next_attempt_at and entry.next_attempt_at > now:
        return blocked("retry_delay", f"retry delay until {local_time_text(zone, entry.next_attempt_at)} (contact time)")
    if entry.owner_agent_id is not None and entry.owner_agent_id not in agents_ready:
        return blocked("owner", f"the entry belongs to agent {entry.owner_agent_id}, who is not ready")
    if not campaign.calling_hours.allows(zone, now):
        hours = f"{campaign.calling_hours.start:%H:%M}-{campaign.calling_hours.end:%H:%M}"
        return blocked("calling_hours", f"outside calling hours {hours}: contact local time is {local_time_text(zone, now)}")
    for rule in region_rules:
        if not phone.startswith(rule["prefix"]):
            continue
        if rule.get("start_at"):
            hours = CallingHours(dt.time.fromisoformat(rule["start_at"]), dt.time.fromisoformat(rule["end_at"]))
            if not hours.allows(zone, now):
                return blocked("region_rule", f"numbers starting {rule['prefix']} are called {rule['start_at']}-"
                                              f"{rule['end_at']} only: contact local time is {local_time_text(zone, now)}")
        if rule.get("max_calls") and calls_24h >= rule["max_calls"]:
            return blocked("region_rule", f"numbers starting {rule['prefix']} get at most {rule['max_calls']} calls "
                                          f"in 24 hours; this one had {calls_24h}")
    if rule_72h and not agent_guaranteed and last_abandoned_at is not None \
            and now < last_abandoned_at + dt.timedelta(hours=72):
        until = last_abandoned_at + dt.timedelta(hours=72)
        return blocked("72_hour", f"the last call was abandoned: no call without a guaranteed agent until "
                                  f"{local_time_text(zone, until)} (contact time)")
    if entry.progressive_only and not agent_guaranteed:
        return blocked("call_progressive", "the entry is retried only when an agent is guaranteed for it")
    return Verdict(True, "ok", "the entry would be dialled now", tuple(flags))


def campaign_activity(state: CampaignState, schedule: Mapping[str, Any], tz: str, now: dt.datetime,
                      agents_logged_in: int) -> str:
    """What an active campaign is doing now, in words an admin reads in `campaign show`."""
    from ari_app.domain.time_rules import next_schedule_open

    if state is not CampaignState.ACTIVE:
        return f"not dialling: the campaign is {state}"
    if not schedule_open(schedule, tz, now):
        nxt = next_schedule_open(schedule, tz, now)
        when = f"; opens {local_time_text(tz, nxt)}" if nxt else ""
        return f"inactive: outside its schedule{when}"
    if agents_logged_in == 0:
        return "inactive: no agent logged in"
    return f"dialling with {agents_logged_in} agent(s) logged in"

"""A campaign as the runtime sees it: every setting it needs, typed."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Mapping

from ari_app.domain.enums import AbandonWindow, CallerIdRotation, CampaignMode, CampaignState, Goal
from ari_app.domain.status_effects import StatusView
from ari_app.domain.time_rules import CallingHours

MIN_RING_SECONDS = 15


@dataclass(frozen=True)
class CampaignConfig:
    id: int
    name: str
    mode: CampaignMode
    state: CampaignState
    goal: Goal
    timezone: str
    schedule: Mapping[str, Any]
    calling_hours: CallingHours
    dial_template: str
    caller_ids: tuple[str, ...]
    caller_id_rotation: CallerIdRotation
    ring_timeout_seconds: int
    max_attempts: int
    retry_rules: Mapping[str, Any]
    wrapup_seconds: int
    bcw_seconds: int
    push_timeout_seconds: int
    pickup_rate: float
    target_abandon_rate: float
    abandon_window: AbandonWindow
    max_lines_per_agent: float
    abandon_message: str
    machine_action: str
    machine_message: str | None
    amd_enabled: bool
    default_status_id: int | None
    callback_grace_seconds: int = 300  # owner not ready this long after the due time: escalate
    supervisor_tone: bool = False  # a short tone to the agent when a supervisor whispers or barges
    region_rules: tuple[dict, ...] = ()  # {"prefix", "start_at", "end_at", "max_calls"}: stricter by number prefix
    rule_72h: bool = False  # UK: no repeat call within 72 h of an abandoned one without a guaranteed agent
    default_region: str = "US"  # for numbers keyed without a country code
    statuses: tuple[StatusView, ...] = ()
    agent_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def ring_timeout(self) -> int:
        """Never below 15 s, whatever was stored."""
        return max(MIN_RING_SECONDS, self.ring_timeout_seconds)

    def dial_string(self, e164: str) -> str:
        digits = e164.lstrip("+")
        return self.dial_template.format(number=e164, digits=digits, e164=e164)

    def caller_id(self, rng: random.Random) -> str | None:
        if not self.caller_ids:
            return None
        if self.caller_id_rotation is CallerIdRotation.RANDOM:
            return rng.choice(self.caller_ids)
        return self.caller_ids[0]

    def status_by_code(self, code: str) -> StatusView | None:
        return next((s for s in self.statuses if s.dtmf_code == code), None)

    def status_by_id(self, status_id: int | None) -> StatusView | None:
        return next((s for s in self.statuses if s.id == status_id), None)

    @property
    def default_status(self) -> StatusView | None:
        return self.status_by_id(self.default_status_id) or next(
            (s for s in self.statuses if s.name == "Call"), None
        )

    def window_start(self, now: dt.datetime) -> dt.datetime:
        """Start of the current abandon-rate compliance window."""
        if self.abandon_window is AbandonWindow.CALENDAR_DAY:
            from ari_app.domain.time_rules import zone

            local = now.astimezone(zone(self.timezone))
            return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)
        return now - dt.timedelta(days=30)

"""Builds the pacing snapshot from live state and asks `pacing/` how many calls to place.

The runtime calls exactly the library's policies (the same code the simulator drives): this module
only translates live objects into the library's input types, with times as epoch seconds.
"""
from __future__ import annotations

import collections
import datetime as dt
from typing import Iterable, Sequence

import pacing
from ari_app.domain.campaign import CampaignConfig
from ari_app.domain.enums import AgentState, Outcome

HISTORY = 2000




def _outcome(outcome: Outcome) -> "pacing.CallOutcome":
    """Our ledger outcome as the pacing library's; everything else that did not reach a person failed."""
    return {
        Outcome.ANSWERED: pacing.CallOutcome.LIVE,
        Outcome.ABANDONED: pacing.CallOutcome.ABANDONED,
        Outcome.MACHINE: pacing.CallOutcome.MACHINE,
        Outcome.BUSY: pacing.CallOutcome.BUSY,
        Outcome.NO_ANSWER: pacing.CallOutcome.NO_ANSWER,
    }.get(outcome, pacing.CallOutcome.FAILED)


def _ts(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def settings_for(c: CampaignConfig) -> "pacing.PacingSettings":
    return pacing.PacingSettings(
        target_abandon_rate=c.target_abandon_rate,
        window=str(c.abandon_window),
        max_lines_per_agent=c.max_lines_per_agent,
        min_ring_seconds=15.0,
        ring_timeout_seconds=float(c.ring_timeout),
        pickup_rate=c.pickup_rate,
    )


class PacingBridge:
    def __init__(self) -> None:
        self._policies: dict[int, object] = {}
        self._history: dict[int, collections.deque] = {}
        self._ledger: dict[int, "pacing.AbandonLedger"] = {}

    def knows(self, campaign_id: int) -> bool:
        return campaign_id in self._policies

    def seed(self, campaign: CampaignConfig, finished: Iterable) -> None:
        """Start a campaign's policy with the ledger's recent history (also after a restart)."""
        self._policies[campaign.id] = pacing.make_policy("predictive", settings_for(campaign))
        history = collections.deque(maxlen=HISTORY)
        for a in finished:
            outcome = _outcome(Outcome(a.outcome) if a.outcome else Outcome.FAILED)
            placed = _ts(a.originated_at or a.created_at)
            history.append(pacing.FinishedCall(placed, _ts(a.answered_at), _ts(a.connected_at), _ts(a.ended_at), outcome))
        self._history[campaign.id] = history

    def set_ledger(self, campaign: CampaignConfig, live: int, abandons: int, since: dt.datetime) -> None:
        self._ledger[campaign.id] = pacing.AbandonLedger(live_answers=live, abandons=abandons,
                                                         window_started_at=since.timestamp())

    def record(self, call, outcome: Outcome, now: dt.datetime) -> None:
        history = self._history.get(call.campaign_id)
        if history is None:
            return
        history.append(pacing.FinishedCall(_ts(call.placed_at), _ts(call.answered_at), _ts(call.connected_at),
                                           now.timestamp(), _outcome(outcome)))
        ledger = self._ledger.get(call.campaign_id)
        if ledger is not None and outcome in (Outcome.ANSWERED, Outcome.ABANDONED):
            self._ledger[call.campaign_id] = pacing.AbandonLedger(
                live_answers=ledger.live_answers + 1,
                abandons=ledger.abandons + (outcome is Outcome.ABANDONED),
                window_started_at=ledger.window_started_at,
            )

    def decide(self, campaign: CampaignConfig, agents: Sequence, calls: Sequence, now: dt.datetime,
               reserved_capacity: int = 0) -> int:
        policy = self._policies.get(campaign.id)
        if policy is None:
            self.seed(campaign, [])
            policy = self._policies[campaign.id]
        views = []
        for a in agents:
            if a.state is AgentState.LOGGED_OUT:
                continue
            state = pacing.AgentState(str(a.state))
            views.append(pacing.AgentView(str(a.agent_id), state, _ts(a.since) or now.timestamp()))
        in_flight = [pacing.CallView(str(c.attempt_id), _ts(c.placed_at), _ts(c.answered_at), c.waiting_for_agent)
                     for c in calls]
        ledger = self._ledger.get(campaign.id) or pacing.AbandonLedger(0, 0, campaign.window_start(now).timestamp())
        snapshot = pacing.Snapshot(
            now=now.timestamp(), agents=views, in_flight=in_flight, history=list(self._history[campaign.id]),
            ledger=ledger, settings=settings_for(campaign), reserved_capacity=reserved_capacity,
        )
        return max(0, int(policy.decide(snapshot).calls_to_place))

"""Each pacing policy at the edges: no agents, all paused, budget exhausted, first minutes of a
window, no history yet, reserved capacity."""
import random

import pytest

from pacing import (AbandonLedger, AgentState, AgentView, CallOutcome, CallView, FinishedCall,
                    PacingSettings, Snapshot, make_policy)

POLICIES = ["progressive", "ratio", "predictive", "vicidial_adaptive", "vicidial_adaptive_average"]
SETTINGS = PacingSettings(window="calendar_day", pickup_rate=0.25)


def agents(ready=0, on_call=0, wrap=0, paused=0, now=1000.0):
    out = []
    for state, n in ((AgentState.READY, ready), (AgentState.ON_CALL, on_call), (AgentState.WRAP_UP, wrap),
                     (AgentState.PAUSED, paused)):
        out += [AgentView(f"{state.value}{i}", state, now - 30.0 - i) for i in range(n)]
    return out


def history(n=400, now=1000.0, live=0.3, seed=7, spacing=9.0, start=None, talk=(30, 250), live_from=None):
    """A finished-call history like a steady campaign's: 30 % live, talk about 2 minutes, a call every
    `spacing` seconds from `start` (now - 4000 s); live_from=(i, share): from call i on, `share` live."""
    rng = random.Random(seed)
    start = now - 4000.0 if start is None else start
    calls = []
    for i in range(n):
        placed = start + i * spacing
        if live_from is not None and i == live_from[0]:
            live = live_from[1]
        u = rng.random()
        if u < live:
            answered = placed + rng.uniform(4, 15)
            calls.append(FinishedCall(placed, answered, answered, answered + rng.uniform(*talk), CallOutcome.LIVE))
        elif u < live + 0.2:
            calls.append(FinishedCall(placed, placed + 18.0, None, placed + 21.0, CallOutcome.MACHINE))
        else:
            calls.append(FinishedCall(placed, None, None, placed + 25.0, CallOutcome.NO_ANSWER))
    calls.sort(key=lambda c: c.ended_at)
    return [c for c in calls if c.ended_at <= now]


def snap(agent_list, in_flight=(), hist=(), ledger=None, now=1000.0, reserved=0, settings=SETTINGS):
    return Snapshot(now, list(agent_list), list(in_flight), list(hist), ledger or AbandonLedger(2000, 30, 0.0),
                    settings, reserved)


@pytest.mark.parametrize("name", POLICIES)
def test_given_no_agents_when_deciding_then_no_call_is_placed(name):
    assert make_policy(name, SETTINGS).decide(snap([], hist=history())).calls_to_place == 0


@pytest.mark.parametrize("name", POLICIES)
def test_given_all_agents_paused_when_deciding_then_no_call_is_placed(name):
    d = make_policy(name, SETTINGS).decide(snap(agents(paused=5), hist=history()))
    assert d.calls_to_place == 0


@pytest.mark.parametrize("name", POLICIES)
def test_given_every_ready_agent_reserved_for_callbacks_when_deciding_then_no_call_is_placed(name):
    d = make_policy(name, SETTINGS).decide(snap(agents(ready=2, on_call=3), hist=history(), reserved=2))
    assert d.calls_to_place == 0


def test_given_three_ready_agents_and_one_ringing_call_when_progressive_then_two_calls():
    flight = [CallView("c1", 995.0, None, False)]
    assert make_policy("progressive", SETTINGS).decide(snap(agents(ready=3), flight)).calls_to_place == 2


def test_given_pickup_rate_a_quarter_when_ratio_then_four_lines_per_ready_agent_up_to_the_line_cap():
    d = make_policy("ratio", SETTINGS).decide(snap(agents(ready=2, on_call=8)))
    assert d.calls_to_place == 8
    capped = PacingSettings(window="calendar_day", pickup_rate=0.1, max_lines_per_agent=1.5)
    d = make_policy("ratio", capped).decide(snap(agents(ready=2), settings=capped))
    assert d.calls_to_place == 3  # 1.5 lines x 2 agents


def test_given_no_history_yet_when_predictive_then_it_dials_like_progressive():
    d = make_policy("predictive", SETTINGS).decide(snap(agents(ready=4, on_call=6)))
    assert d.calls_to_place == 4
    assert "history" in d.reason


def test_given_steady_history_and_a_healthy_budget_when_predictive_then_more_lines_than_ready_agents():
    # a 20-agent campaign's pace: ~360 live answers an hour (a large team's rules)
    d = make_policy("predictive", SETTINGS).decide(snap(agents(ready=4, on_call=16), hist=history(n=1300, spacing=3.0)))
    assert d.calls_to_place > 4
    assert d.calls_to_place <= 3 * 20


def test_given_the_abandon_budget_exhausted_when_predictive_then_it_falls_back_to_progressive():
    spent = AbandonLedger(live_answers=1000, abandons=40, window_started_at=0.0)
    d = make_policy("predictive", SETTINGS).decide(snap(agents(ready=4, on_call=16), hist=history(), ledger=spent))
    assert d.calls_to_place == 4
    assert "budget" in d.reason


def test_given_the_first_minutes_of_a_window_when_predictive_then_it_is_as_cautious_as_progressive():
    fresh = AbandonLedger(live_answers=3, abandons=0, window_started_at=990.0)
    d = make_policy("predictive", SETTINGS).decide(snap(agents(ready=4, on_call=16), hist=history(), ledger=fresh))
    assert d.calls_to_place <= 4


def test_given_a_live_answer_waiting_for_an_agent_when_predictive_then_no_new_call_without_a_free_agent():
    flight = [CallView("c1", 990.0, 999.0, True)]
    d = make_policy("predictive", SETTINGS).decide(snap(agents(on_call=5), flight, hist=history()))
    assert d.calls_to_place == 0


def test_given_idle_agents_for_a_minute_when_vicidial_adaptive_then_the_dial_level_rises_to_at_most_three():
    policy = make_policy("vicidial_adaptive", SETTINGS)
    for k in range(0, 121):
        policy.decide(snap(agents(ready=5), now=1000.0 + k * 0.5))
    assert policy.level == pytest.approx(3.0)


@pytest.mark.parametrize("name,expected", [("vicidial_adaptive", 1.0), ("vicidial_adaptive_average", 1.5)])
def test_given_the_drop_rate_above_target_when_the_minute_check_runs_then_vicidial_cuts_the_level(name, expected):
    policy = make_policy(name, SETTINGS)
    policy.decide(snap(agents(ready=5), now=1000.0))
    policy.level = 3.0
    policy.decide(snap(agents(on_call=5), ledger=AbandonLedger(100, 10, 0.0), now=1060.0))
    assert policy.level == pytest.approx(expected)


def test_given_the_same_snapshots_when_two_predictive_policies_decide_then_decisions_are_equal():
    a, b = make_policy("predictive", SETTINGS), make_policy("predictive", SETTINGS)
    hist = history()
    for k in range(20):
        s = snap(agents(ready=k % 4, on_call=10), hist=hist, now=1000.0 + k)
        assert a.decide(s) == b.decide(s)


def test_given_bad_settings_when_building_them_then_the_field_is_named():
    with pytest.raises(ValueError, match="window"):
        PacingSettings(window="weekly")
    with pytest.raises(ValueError, match="target_abandon_rate"):
        PacingSettings(target_abandon_rate=3)
    with pytest.raises(ValueError, match="unknown pacing policy"):
        make_policy("greedy")


def test_given_a_small_team_when_predictive_then_an_hour_near_the_hourly_guard_dials_progressively():
    # 5 agents, few live answers an hour: the small-team guard stops at 1.1 x target of the hour
    policy = make_policy("predictive", SETTINGS)
    hist = history(n=400, live=0.2)
    policy.decide(snap(agents(ready=2, on_call=3), hist=hist, ledger=AbandonLedger(1000, 10, 0.0), now=1000.0))
    d = policy.decide(snap(agents(ready=2, on_call=3), hist=hist, ledger=AbandonLedger(1100, 20, 0.0), now=1001.0))
    assert d.calls_to_place <= 2
    assert "hour" in d.reason or "budget" in d.reason


SMALL_RULES = {"wrap_quantiles": 8, "hour_taper": 1.0, "max_allowance_factor": 0.4, "hour_factor": 1.2,
               "progressive_floor": True}


def _small(**over):
    from pacing.policies import Predictive
    return Predictive(SETTINGS, small=dict(SMALL_RULES, **over))


def _ringing(n, now=1000.0):
    return [CallView(f"c{i}", now - 1.0 - i, None, False) for i in range(n)]


@pytest.mark.parametrize("ready,on_call,ringing", [(5, 0, 0), (3, 2, 1), (2, 3, 2), (1, 4, 0), (0, 5, 0), (4, 1, 4)])
def test_given_a_small_team_when_predictive_then_never_fewer_calls_than_progressive(ready, on_call, ringing):
    # the small-team floor: progressive's one line per ready agent never abandons, so dialling less is
    # idle time for nothing (edge: no ready agent -> progressive is 0 and so may be predictive)
    d = _small().decide(snap(agents(ready=ready, on_call=on_call), in_flight=_ringing(ringing),
                             hist=history(n=400, live=0.2), ledger=AbandonLedger(1000, 10, 0.0)))
    assert d.calls_to_place >= max(0, ready - ringing)
    assert d.calls_to_place <= 3 * 5 - ringing


def _hour_then(abandons_in_hour, **rules):
    policy = _small(**rules)
    hist = history(n=400, live=0.2)
    a = agents(ready=2, on_call=3)
    policy.decide(snap(a, hist=hist, ledger=AbandonLedger(1000, 10, 0.0), now=1000.0))
    # 100 live answers in the last hour, `abandons_in_hour` of them abandoned
    return policy, policy.decide(snap(a, hist=hist, ledger=AbandonLedger(1100, 10 + abandons_in_hour, 0.0),
                                      now=1001.0))


def test_given_a_small_team_when_the_hour_spends_its_abandons_then_the_allowance_tapers_to_progressive():
    # guard at 1.2 x 3 % x 100 live = 3.6 abandons; the allowance shrinks with the hour's room left
    _, d0 = _hour_then(0, room_cap=1.0, burst_abandons=0)
    _, d2 = _hour_then(2, room_cap=1.0, burst_abandons=0)
    _, d3 = _hour_then(3, room_cap=1.0, burst_abandons=0)
    assert d0.detail["allowance"] > d2.detail["allowance"]
    assert d2.detail["allowance"] == pytest.approx(d0.detail["allowance"] * (1 - 2 / 3.6), rel=0.05)
    assert d3.detail["allowance"] < d2.detail["allowance"]
    _, d4 = _hour_then(4)  # at the guard: progressive
    assert d4.calls_to_place == 2 and "hour" in d4.reason


def test_given_a_quiet_hour_when_a_small_team_tapers_then_the_room_passed_on_is_capped():
    # rooms 1.0 (no abandon) and 0.44 (2 of 3.6) are both above the 0.3 cap: the same allowance, 0.3 of
    # the uncapped one; a room below the cap (3 abandons: 0.17) still tapers
    _, full = _hour_then(0, room_cap=1.0)
    _, d0 = _hour_then(0)
    _, d2 = _hour_then(2)
    _, d3 = _hour_then(3, burst_abandons=0)  # three at once would be a cluster (next test)
    assert d0.detail["allowance"] == pytest.approx(0.3 * full.detail["allowance"], rel=1e-6)
    assert d2.detail["allowance"] == pytest.approx(d0.detail["allowance"], rel=1e-6)
    assert d3.detail["allowance"] == pytest.approx(full.detail["allowance"] * (1 - 3 / 3.6), rel=0.05)


def _abandons_at(minutes, now_minute, **rules):
    """A small team's decision at `now_minute` after one abandon at each of `minutes` (150 live answers
    over the hour, so the hourly guard at 1.2 x 3 % = 5.4 abandons is not what stops it)."""
    policy = _small(**rules)
    hist = history(n=400, live=0.2)
    a = agents(ready=2, on_call=3)
    t0 = 1000.0
    policy.decide(snap(a, hist=hist, ledger=AbandonLedger(1000, 10, 0.0), now=t0))
    live, ab = 1150, 10  # the 150 live answers arrive with the first step
    for m in sorted(minutes):
        ab += 1
        policy.decide(snap(a, hist=hist, ledger=AbandonLedger(live, ab, 0.0), now=t0 + 60.0 * m))
    return policy.decide(snap(a, hist=hist, ledger=AbandonLedger(live, ab, 0.0), now=t0 + 60.0 * now_minute))


def test_given_a_cluster_of_abandons_when_a_small_team_decides_then_it_dials_progressively():
    # 3 abandons within 10 minutes: progressive (2 ready agents, no lines: 2 calls), whatever the
    # hour's guard and taper would allow; 2, or 3 spread over more than 10 minutes, are not a cluster
    cluster = _abandons_at([1, 4, 8], 9)
    assert cluster.calls_to_place == 2 and "3 abandons in the last 10 minutes" in cluster.reason
    two = _abandons_at([4, 8], 9)
    spread = _abandons_at([1, 4, 8], 12)  # the first is 11 minutes old
    off = _abandons_at([1, 4, 8], 9, burst_abandons=0)
    for d in (two, spread, off):
        assert "abandons in the last" not in d.reason
        assert "allowance" in d.detail
    assert off.calls_to_place >= cluster.calls_to_place


def test_given_identical_wrap_ups_when_small_team_forecasts_then_wrap_quantiles_equal_the_mean_plug_in():
    # edge: a degenerate wrap-up distribution makes the quantile average the old mean-wrap forecast
    decisions = []
    for k in (0, 8):
        policy = _small(wrap_quantiles=k)
        for _ in range(40):
            policy.est.observe_wrap(15.0)
        d = policy.decide(snap(agents(ready=1, on_call=4), hist=history(n=400, live=0.2),
                               ledger=AbandonLedger(1000, 10, 0.0)))
        decisions.append(d.calls_to_place)
    assert decisions[0] == decisions[1]


def test_given_an_adaptive_maximum_level_when_vicidial_adapts_then_the_level_stops_there():
    import dataclasses
    capped = dataclasses.replace(SETTINGS, max_lines_per_agent=1.5)
    policy = make_policy("vicidial_adaptive", capped)
    for k in range(0, 121):
        d = policy.decide(snap(agents(ready=4), now=1000.0 + k * 0.5, settings=capped))
    assert policy.level == pytest.approx(1.5)
    assert d.calls_to_place == 6  # 1.5 x 4 agents, no call in flight


def test_given_a_large_team_dialling_slowly_when_its_day_nears_the_pacing_line_then_the_budget_still_allows_predictive():
    # 25 agents whose recent pace is 240 live answers an hour (they were just dialling progressively,
    # or the live rate dropped) against 580 an hour when busy, and a day at 2.77 % (83 of 3000): the
    # budget is spent over the next hour of the team's live answers at its capacity, not at the slow
    # pace of the last minutes, which would read 83 abandons as over budget and keep it progressive.
    hist = history(n=1300, spacing=4.5)
    team = agents(ready=5, on_call=20)
    d = make_policy("predictive", SETTINGS).decide(snap(team, hist=hist, ledger=AbandonLedger(3000, 83, 0.0)))
    assert "budget" not in d.reason
    assert d.calls_to_place > 5
    over = make_policy("predictive", SETTINGS).decide(snap(team, hist=hist, ledger=AbandonLedger(3000, 100, 0.0)))
    assert "budget" in over.reason and over.calls_to_place == 5


def test_given_a_large_team_with_little_budget_left_when_it_decides_then_it_still_dials_ahead_until_none_is_left():
    # A day at 91 of 3000 leaves an allowance of about 0.37 %: small, but it still places a line ahead
    # of the 5 ready agents (a switch to progressive here cost M+live_drop a third of its occupancy for
    # 10-25 minutes in most shifts). At 94 the budget over the next hour is spent: progressive.
    hist = history(n=1300, spacing=4.5)
    team = agents(ready=5, on_call=20)
    low = make_policy("predictive", SETTINGS).decide(snap(team, hist=hist, ledger=AbandonLedger(3000, 91, 0.0)))
    assert 0.0 < low.detail["allowance"] < 0.15 * SETTINGS.target_abandon_rate
    assert low.calls_to_place > 5 and low.reason.startswith("predictive")
    spent = make_policy("predictive", SETTINGS).decide(snap(team, hist=hist, ledger=AbandonLedger(3000, 94, 0.0)))
    assert "budget" in spent.reason and spent.calls_to_place == 5


def _large_hour(abandons_in_hour, taper=None):
    """A 20-agent team's decision after 600 live answers in the last hour, `abandons_in_hour` of them
    abandoned (hourly guard: 1.3 x 3 % x 600 = 23.4 abandons)."""
    from pacing.policies import Predictive
    policy = Predictive(SETTINGS) if taper is None else Predictive(SETTINGS, large_hour_taper=taper)
    hist = history(n=1300, spacing=3.0)
    a = agents(ready=4, on_call=16)
    policy.decide(snap(a, hist=hist, ledger=AbandonLedger(3000, 60, 0.0), now=1000.0))
    return policy.decide(snap(a, hist=hist, ledger=AbandonLedger(3600, 60 + abandons_in_hour, 0.0), now=1001.0))


def test_given_a_large_team_when_its_hour_nears_the_hourly_guard_then_the_allowance_tapers_instead_of_a_switch():
    # full allowance up to 70 % of the guard, then linear to nothing at the guard, where it dials progressively
    for k, share in ((10, 1.0), (20, (1 - 20 / 23.4) / 0.3)):
        tapered, untapered = _large_hour(k), _large_hour(k, taper=0.0)
        assert tapered.detail["allowance"] == pytest.approx(share * untapered.detail["allowance"], rel=1e-6)
    assert _large_hour(20).calls_to_place < _large_hour(20, taper=0.0).calls_to_place
    near = _large_hour(23)  # 23 of 23.4: almost nothing left of the hour's room
    assert near.detail["allowance"] < 0.1 * _large_hour(23, taper=0.0).detail["allowance"]
    at_guard = _large_hour(24)
    assert at_guard.calls_to_place == 4 and "hourly limit" in at_guard.reason
    assert "allowance" in _large_hour(23, taper=0.0).detail  # without the taper it still dials ahead


def _two_agents_history(n_before, n_after, now=20000.0, spacing=20.0):
    """A 2-agent team's history, a call every `spacing` seconds: 30 % live, then 15 % for the last
    n_after calls (live calls talk under a minute, so every one has ended)."""
    n = n_before + n_after
    return history(n, now, 0.3, seed=3, spacing=spacing, start=now - n * spacing - 30.0, talk=(30, 60),
                   live_from=(n_before, 0.15))


def test_given_a_halved_live_rate_when_the_live_share_is_estimated_then_it_follows_in_a_hundred_calls():
    # 600 calls at 30 % live, then 15 %: the 600-call sample would still read 27 % after 120 calls
    from pacing.policies import _LiveShare
    share = _LiveShare()
    share.prior = 0.3
    steady, halved = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0, 1, 0, 0, 0] + [0] * 6 + [1, 0, 0, 0]
    for i in range(600):
        share.add(bool(steady[i % 10]))
    assert share.share() == pytest.approx(0.3, abs=0.02)
    seen = []
    for i in range(120):
        share.add(bool(halved[i % 20]))
        seen.append(share.share())
    assert seen[59] < 0.27 and seen[119] < 0.2
    assert seen[119] < seen[89] < seen[59] < seen[29]


@pytest.mark.parametrize("live_share", [True, False])
def test_given_two_agents_when_the_last_hundred_calls_halve_the_live_share_then_predictive_dials_more(live_share):
    # 2 agents take at most ~53 live answers an hour (a tiny team): their live share is the change-point
    # estimate, so 100 calls at 15 % after 500 at 30 % open a third line for 2 ready agents; the long
    # sample (26 % live) does not, and neither does a steady history
    def decide(hist):
        policy = Predictive(SETTINGS, small={"live_share": live_share})
        return policy.decide(snap(agents(ready=2, now=20000.0), hist=hist, ledger=AbandonLedger(2000, 20, 0.0),
                                  now=20000.0)).calls_to_place

    from pacing.policies import Predictive
    assert decide(_two_agents_history(600, 0)) == 2
    assert decide(_two_agents_history(500, 100)) == (3 if live_share else 2)


def _tiny_after_abandons(abandons, ready=2, spacing=36.0):
    """A decision after `abandons` abandons in the last hour, the team's history a call every `spacing`
    seconds at 30 % live (36 s: 30 live answers an hour)."""
    from pacing.policies import Predictive
    policy = Predictive(SETTINGS)
    hist = _two_agents_history(600, 0, spacing=spacing)
    a = agents(ready=ready, now=20000.0)
    policy.decide(snap(a, hist=hist, ledger=AbandonLedger(1000, 10, 0.0), now=20000.0))
    return policy.decide(snap(a, hist=hist, ledger=AbandonLedger(1000, 10 + abandons, 0.0), now=20001.0))


def test_given_two_agents_and_an_abandon_this_hour_when_a_second_would_pass_twice_the_target_then_progressive():
    # 30 live answers an hour: a second abandon would be 6.7 %, over 2 x 3 %; the hourly guard (1.3 x 3 %
    # x 30 = 1.2 abandons) would let it through
    d = _tiny_after_abandons(1)
    assert d.calls_to_place == 2 and "one more abandon would take the last hour's 1 past 2 x target" in d.reason
    assert "allowance" in _tiny_after_abandons(0).detail
    # 54 live answers an hour can take a second abandon (3.7 %); 5 agents are not a tiny team
    assert "one more abandon" not in _tiny_after_abandons(1, spacing=20.0).reason
    assert "one more abandon" not in _tiny_after_abandons(1, ready=5).reason


@pytest.mark.parametrize("spare", [1, 99])
def test_given_two_agents_when_lines_already_ring_one_beyond_the_ready_agents_then_no_further_line(spare):
    # 2 ready agents, 3 calls ringing for 16-22 s (most will ring out): the forecast alone would add a
    # fourth line, and should three of them answer live together, two would be abandoned in the same
    # moment (T2+live_drop's worst hours, 10.7 %). A tiny team keeps at most one line beyond its ready
    # agents (99: the rule off)
    from pacing.policies import Predictive
    now = 20000.0
    ringing = [CallView(f"c{i}", now - age, None, False) for i, age in enumerate((16.0, 19.0, 22.0))]

    def decide(in_flight):
        policy = Predictive(SETTINGS, small={"tiny_spare_lines": spare})
        return policy.decide(snap(agents(ready=2, now=now), in_flight=in_flight, hist=_two_agents_history(600, 0),
                                  ledger=AbandonLedger(2000, 20, 0.0), now=now)).calls_to_place

    assert decide(ringing) == (0 if spare == 1 else 1)
    assert decide(ringing[1:]) == 1  # with two ringing, the spare line is still free to place

"""The simulator is deterministic per seed, never cuts a call before the minimum ring time, and the
predictive policy keeps within the abandon budget while keeping agents busier than progressive."""
import dataclasses

import pytest

from pacing.simulate import run, scenario


def test_given_the_same_seed_when_simulating_twice_then_the_metrics_are_identical():
    a = run("predictive", scenario("S"), seed=3, hours=0.25)
    b = run("predictive", scenario("S"), seed=3, hours=0.25)
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    c = run("predictive", scenario("S"), seed=4, hours=0.25)
    assert dataclasses.asdict(c) != dataclasses.asdict(a)


def test_given_half_an_hour_of_team_m_when_predictive_then_within_budget_and_busier_than_progressive():
    live = abandons = 0
    for seed in (1, 2, 3):
        pred = run("predictive", scenario("M"), seed, hours=0.5)
        prog = run("progressive", scenario("M"), seed, hours=0.5)
        live += pred.live_answers
        abandons += pred.abandons
        assert pred.occupancy > prog.occupancy + 0.1
        assert pred.calls_cut_early == 0
        assert prog.abandons == 0
    assert abandons / live <= 0.03


def test_given_a_break_mid_shift_when_simulating_then_paused_time_is_not_counted_as_idle():
    r = run("progressive", scenario("T5", "breaks"), seed=1, hours=0.6)
    assert 0.0 < r.occupancy < 1.0
    assert r.live_answers > 0


def test_given_a_constructed_trace_when_measuring_recovery_then_minutes_until_back_within_bounds():
    from pacing.simulate import recovery_minutes
    n = 120
    live = [10] * n
    abandons = [0] * n
    occ = [0.9] * n
    abandons[60] = 5  # a burst at the step: 5 of 10 live answers, the trailing 10-minute rate is 5 %
    for m in range(60, 70):
        occ[m] = 0.5  # and agents idle for 10 minutes
    # bounds: trailing 10-minute abandon rate <= 4 % (the burst leaves that window at minute 70) and
    # trailing 10-minute occupancy >= 0.8, which needs at most two idle minutes in the last ten: from
    # minute 77 on (minutes 68, 69 idle) -> 17 minutes after the step
    assert recovery_minutes(live, abandons, occ, 60, 0.04, 0.8, hold=5, window=10) == 17.0
    assert recovery_minutes(live, abandons, [0.9] * n, 60, 0.04, 0.8, hold=5, window=10) == 10.0
    # never out of bounds: 0; never back: inf
    assert recovery_minutes(live, [0] * n, [0.9] * n, 60, 0.04, 0.8, hold=5, window=10) == 0.0
    assert recovery_minutes(live, abandons, [0.5] * n, 60, 0.04, 0.8, hold=5, window=10) == float("inf")


def test_given_the_ratio_baseline_when_the_benchmark_builds_settings_then_its_lines_follow_the_true_pickup_rate():
    from pacing.simulate import default_settings
    assert default_settings("ratio", scenario("L")).max_lines_per_agent == pytest.approx(1 / 0.15)
    assert default_settings("ratio", scenario("M")).max_lines_per_agent == pytest.approx(1 / 0.3)
    assert default_settings("predictive", scenario("L")).max_lines_per_agent == 3.0


def test_given_breaks_when_listing_stress_steps_then_the_break_and_the_return_are_steps():
    from pacing.simulate import stress_steps
    assert stress_steps(scenario("S", "breaks"), 8.0) == [240, 255]
    assert stress_steps(scenario("S", "live_drop"), 8.0) == [240]
    assert stress_steps(scenario("S"), 8.0) == []


def test_given_a_baseline_curve_when_read_at_an_occupancy_then_interpolated_or_never_reached():
    from pacing.simulate import value_at
    pts = [(0.80, 10.0), (0.60, 0.0), (0.70, 2.0)]
    assert value_at(pts, 0.65) == pytest.approx(1.0)
    assert value_at(pts, 0.75) == pytest.approx(6.0)
    assert value_at(pts, 0.50) == 0.0  # below the lowest setting: the knob cannot go lower
    assert value_at(pts, 0.81) is None  # no setting keeps agents that busy


def test_given_the_baseline_knobs_when_swept_then_ratio_starts_at_progressive_and_stops_at_one_over_pickup():
    from pacing.simulate import family_levels, family_settings
    levels = family_levels("ratio", scenario("M"))
    assert levels[0] == 1.0 and levels[-1] == pytest.approx(1 / 0.3)
    s = family_settings("ratio", scenario("M"), 1.5)
    assert 1 / s.pickup_rate == pytest.approx(1.5) and s.max_lines_per_agent == 1.5
    assert family_settings("vicidial_adaptive", scenario("M"), 2.0).max_lines_per_agent == 2.0
    # ratio at 1.0 line per ready agent places what progressive places
    a, b = run("progressive", scenario("S"), 3, hours=0.5), run("ratio", scenario("S"), 3, hours=0.5,
                                                                 settings=family_settings("ratio", scenario("S"), 1.0))
    assert (a.calls_placed, a.abandon_rate, a.occupancy) == (b.calls_placed, b.abandon_rate, b.occupancy)


def _trace(seed_occupancy, hours=2.0):
    """A RunResult with 10 live answers a minute, no abandons and the given per-minute occupancy."""
    from pacing.simulate import RunResult
    n = int(hours * 60)
    return RunResult("predictive", "S+live_drop", 1, hours, 10 * n, 0, 0.0, 0.0, 0.7, 0, 0, 0, 0, 1, 0, 0,
                     minute_live=[10] * n, minute_abandons=[0] * n, minute_occupancy=seed_occupancy)


def test_given_noisy_seeds_when_measuring_the_mean_recovery_then_the_seeds_average_out():
    from pacing.simulate import mean_recovery, recovery
    sc = scenario("S", "live_drop")  # the step is at minute 60 of a 2-hour run
    # two seeds whose occupancy alternates out of phase, ten minutes high then ten low (0.9 / 0.3):
    # each seed dips below 0.9 x its own level again and again, while their mean stays 0.6 flat
    a = [0.9 if (m // 10) % 2 == 0 else 0.3 for m in range(120)]
    b = [0.3 if (m // 10) % 2 == 0 else 0.9 for m in range(120)]
    runs = [_trace(a), _trace(b)]
    assert mean_recovery(runs, sc) == [0.0]
    assert all(m > 0 for r in runs for m in recovery(r, sc))
    # both seeds nearly idle (0.2) for 20 minutes after the step: the floor is 0.9 x 0.6 = 0.54, so
    # the mean's trailing 10 minutes may hold one such minute (0.56), not two (0.52): from minute 88
    idle = [0.6 if not 60 <= m < 80 else 0.2 for m in range(120)]
    assert mean_recovery([_trace(idle), _trace(list(idle))], sc) == [28.0]


def test_given_a_maximum_level_of_two_when_vicidial_average_halves_then_it_runs_as_the_hard_limit():
    # the equal-occupancy sweep reuses the hard limit's runs for "average" up to level 2.0
    from pacing.simulate import family_settings, run
    sc = scenario("S")
    for level in (1.5, 2.0):
        hard = run("vicidial_adaptive", sc, 3, 1.0, settings=family_settings("vicidial_adaptive", sc, level))
        avg = run("vicidial_adaptive_average", sc, 3, 1.0,
                  settings=family_settings("vicidial_adaptive_average", sc, level))
        assert (avg.calls_placed, avg.abandons, avg.occupancy) == (hard.calls_placed, hard.abandons, hard.occupancy)
    hard = run("vicidial_adaptive", sc, 3, 1.0, settings=family_settings("vicidial_adaptive", sc, 3.0))
    avg = run("vicidial_adaptive_average", sc, 3, 1.0, settings=family_settings("vicidial_adaptive_average", sc, 3.0))
    assert hard.calls_placed != avg.calls_placed  # above 2.0 halving keeps the level above 1.0


def test_given_a_world_where_agents_settle_less_busy_when_measuring_recovery_then_the_settled_level_counts():
    from pacing.simulate import mean_recovery, occupancy_floor
    sc = scenario("S", "live_drop")  # step at minute 240 of 8 hours
    # 0.8 before the step, 20 minutes at 0.5, then settled at 0.65 (the live rate halved)
    occ = [0.8] * 240 + [0.5] * 20 + [0.65] * 220
    assert occupancy_floor(occ, [240], 240, settled=False) == pytest.approx(0.72)
    assert occupancy_floor(occ, [240], 240) == pytest.approx(0.585)
    runs = [_trace(list(occ), hours=8.0)]
    # vs the settled level: back once the trailing 10 minutes hold at most 4 of the dip's minutes
    # (0.59 >= 0.585): from minute 265, the dip ending at 259
    assert mean_recovery(runs, sc) == [25.0]
    assert mean_recovery(runs, sc, settled=False) == [float("inf")]  # 0.65 never reaches 0.72


def test_given_a_stress_that_shows_only_after_ten_minutes_when_measuring_recovery_then_it_is_not_zero():
    # talks doubled at minute 60 leave agents busy; abandons come 15 minutes later (minutes 75-84)
    # and the trailing 10 minutes hold more than 4 % (3 of those minutes) until minute 91: recovered
    # 32 minutes after the step (the old reading, 10 good minutes right after the step, said 0)
    from pacing.simulate import recovery_minutes
    n = 200
    live, abandons, occ = [10] * n, [0] * n, [0.9] * n
    for m in range(75, 85):
        abandons[m] = 2
    assert recovery_minutes(live, abandons, occ, 60, 0.04, 0.8, hold=5, window=10) == 32.0
    # out of bounds to the end of the 2-hour horizon: never recovered
    assert recovery_minutes(live, [0] * 75 + [2] * 125, occ, 60, 0.04, 0.8, hold=5, window=10) == float("inf")

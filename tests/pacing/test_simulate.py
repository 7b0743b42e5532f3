"""The simulator is deterministic per seed, never cuts a call before the minimum ring time, and the
predictive policy keeps within the abandon budget while keeping agents busier than progressive."""
import dataclasses

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

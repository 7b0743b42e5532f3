"""`dialer pacing simulate|compare` print the metrics table; bad input is one sentence."""
import os


def test_given_a_short_run_when_simulate_then_a_table_with_the_policy_and_abandon_rate(cli):
    r = cli("pacing", "simulate", "--scenario", "S", "--policy", "progressive", "--seeds", "1", "--hours", "0.1",
            "--processes", "1")
    assert r.code == 0, r.err
    assert "ABANDON_%" in r.out and "progressive" in r.out


def test_given_an_unknown_scenario_when_simulate_then_one_sentence_naming_it(cli):
    r = cli("pacing", "simulate", "--scenario", "XL")
    assert r.code != 0
    assert "'XL'" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_given_compare_when_it_runs_then_every_policy_is_listed_and_the_plot_is_written(cli, tmp_path):
    png = tmp_path / "cmp.png"
    r = cli("pacing", "compare", "--scenario", "T2", "--seeds", "1", "--hours", "0.05", "--processes", "1",
            "--plot", str(png))
    assert r.code == 0, r.err
    for policy in ("progressive", "ratio", "vicidial_adaptive", "predictive"):
        assert policy in r.out
    assert os.path.getsize(png) > 1000


def test_given_a_comparison_when_plotted_then_the_legend_carries_each_policys_abandon_and_occupancy():
    import matplotlib.pyplot as plt
    from pacing.plot import compare_figure
    from pacing.simulate import run_many, scenario
    runs = {p: run_many(p, scenario("T2"), seeds=2, hours=0.3) for p in ("progressive", "ratio")}
    fig = compare_figure(runs)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    plt.close(fig)
    for policy, rs in runs.items():
        abandon = 100.0 * sum(r.abandon_rate for r in rs) / len(rs)
        occupancy = sum(r.occupancy for r in rs) / len(rs)
        assert f"{policy}: {abandon:.1f} % abandoned, occupancy {occupancy:.2f}" in labels
    assert any(lb.startswith("ratio: ") and not lb.startswith("ratio: 0.0 %") for lb in labels)  # ratio drops calls
    assert "3 % limit" in labels

"""`dialer pacing simulate|compare`: drive the pacing policies through the seeded simulator."""
from __future__ import annotations

import click

from admin_cli.output import emit, json_option
from ari_app.errors import UserError

COMPARE_POLICIES = ("progressive", "ratio", "vicidial_adaptive", "vicidial_adaptive_average", "predictive")
COLUMNS = ["policy", "scenario", "seeds", "abandon_%", "worst_hour_%", "worst_hour_max_%", "occupancy",
           "talk_min/agent_h", "idle_mean_s", "idle_p95_s", "connects/agent_h", "peak_lines/agent",
           "cut_before_15s"]


def _scenario(name: str, stress: str):
    from pacing.simulate import scenario
    try:
        return scenario(name, stress)
    except ValueError as exc:
        raise UserError(f"--scenario/--stress: {exc}") from None


def _check(seeds: int, hours: float) -> None:
    if seeds < 1:
        raise UserError(f"--seeds {seeds} must be at least 1")
    if not 0 < hours <= 24:
        raise UserError(f"--hours {hours} must be between 0 and 24")


def register(cli: click.Group) -> None:
    @cli.group("pacing")
    def pacing_group() -> None:
        """Pacing policies: simulate and compare them (no database needed)."""

    @pacing_group.command("simulate")
    @click.option("--scenario", "scenario_name", default="M", show_default=True, help="S, M, L or T<agents>.")
    @click.option("--policy", default="predictive", show_default=True,
                  type=click.Choice(COMPARE_POLICIES))
    @click.option("--stress", default="none", show_default=True,
                  help="none, live_drop, breaks or talk_double (from mid-shift).")
    @click.option("--seeds", default=20, show_default=True, type=int)
    @click.option("--hours", default=8.0, show_default=True, type=float)
    @click.option("--processes", default=2, show_default=True, type=int)
    @json_option
    def simulate_cmd(scenario_name, policy, stress, seeds, hours, processes, as_json) -> None:
        """Run one policy on one scenario for N seeds and print the metrics (means over seeds)."""
        from pacing.simulate import run_many, summarize
        _check(seeds, hours)
        sc = _scenario(scenario_name, stress)
        emit([summarize(run_many(policy, sc, seeds, hours, processes=max(1, processes)))], as_json, COLUMNS)

    @pacing_group.command("compare")
    @click.option("--scenario", "scenario_name", default="M", show_default=True, help="S, M, L or T<agents>.")
    @click.option("--stress", default="none", show_default=True)
    @click.option("--seeds", default=20, show_default=True, type=int)
    @click.option("--hours", default=8.0, show_default=True, type=float)
    @click.option("--processes", default=2, show_default=True, type=int)
    @click.option("--plot", "plot_path", default=None, help="PNG path (default out/pacing_<scenario>.png).")
    @json_option
    def compare_cmd(scenario_name, stress, seeds, hours, processes, plot_path, as_json) -> None:
        """All policies side by side on one scenario, and a PNG of abandon rate and occupancy over the shift."""
        from pacing.plot import plot_compare
        from pacing.simulate import run_many, summarize
        _check(seeds, hours)
        sc = _scenario(scenario_name, stress)
        results = {p: run_many(p, sc, seeds, hours, processes=max(1, processes)) for p in COMPARE_POLICIES}
        emit([summarize(r) for r in results.values()], as_json, COLUMNS)
        path = plot_path or f"out/pacing_{sc.label()}.png"
        plot_compare(results, path, title=f"Scenario {sc.label()}: {sc.agents} agents, "
                                          f"{sc.live_rate:.0%} live answers, {seeds} seeds, {hours:g} h")
        if not as_json:
            click.echo(f"plot: {path}")

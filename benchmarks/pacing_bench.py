"""Pacing benchmark: every policy on S, M, L (and optional stress variants / team sweep), 8-hour shifts,
N seeds each; prints the comparison tables and writes one PNG per scenario under out/.

    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --seeds 20 --hours 8
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios M --stress live_drop,breaks,talk_double
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios T2,T5,T10,T25,T50 --policies predictive,progressive
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios S,M,L --matched --no-plot
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios T2 --stress none,breaks --seeds 200 --spread 20 --no-plot

--matched adds the equal-occupancy comparison: ratio (lines per ready agent, from 1.0 = progressive up
to 1 / pickup rate) and VICIdial (adaptive maximum level 1.0 to 3.0) run at each setting of their knob,
and each curve is read at predictive's occupancy: the worst-hour abandon that baseline needs to keep
agents as busy as predictive does. "never" means no setting of the knob reaches that occupancy.

--spread K splits the seeds into groups of K and prints each group's recovery of the mean trajectory,
under the stress and (from the store) without it at the same minutes: what a K-seed reading of a
small team's recovery is worth. List "none" before the stress so the runs without it are stored.

Every row measured is kept under out/pacing_cache/, keyed by the policy, scenario, settings, seeds,
hours and a hash of pacing/'s source: the simulation is deterministic per seed, so a later run with
the same key (a --matched sweep after the predictive rows, or the same table again) prints the
stored row (and, for a plot, the stored runs) instead of simulating it again. A change to any file
of pacing/ changes every key. --no-cache ignores the store.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import time
from pathlib import Path

from admin_cli.output import table
from admin_cli.pacing_cmd import COLUMNS, COMPARE_POLICIES
from pacing.plot import plot_compare
import math

from pacing.simulate import (family_levels, family_settings, mean_recovery, recovery, run_many, scenario,
                             summarize, value_at)

FAMILIES = ("ratio", "vicidial_adaptive", "vicidial_adaptive_average")
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "out" / "pacing_cache"


def _source_hash() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "pacing").glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _paths(policy: str, sc, settings, args) -> tuple[Path, Path]:
    key = hashlib.sha256(repr((_SOURCE, policy, sc, settings, args.seeds, args.hours)).encode()).hexdigest()[:24]
    path = CACHE / f"{sc.label()}-{policy}-{key}.json"
    return path, path.with_suffix(".pkl")


def measure(policy: str, sc, args, settings=None, need_runs: bool = False):
    """(row, runs) of ``policy`` on ``sc``: summarize() plus, under stress, the recovery figures.
    ``runs`` is None when the row came from the store and ``need_runs`` is false (see the module's
    docstring)."""
    path, runs_path = _paths(policy, sc, settings, args)
    if not args.no_cache and path.exists() and (not need_runs or runs_path.exists()):
        return json.loads(path.read_text()), (pickle.loads(runs_path.read_bytes()) if need_runs else None)
    runs = run_many(policy, sc, args.seeds, args.hours, processes=args.processes, settings=settings)
    row = summarize(runs)
    if sc.stress != "none":
        # minutes until trailing abandon and occupancy are back within bounds, per step: of the
        # seeds' mean trajectory (the policy's response), and of each seed (floor: the level it
        # settles at after the step when lower; "vs_before": the old level)
        row["recovery_of_mean_min"] = _recovery_of_mean(runs, sc)
        row["recovery_of_mean_vs_before_min"] = _recovery_of_mean(runs, sc, settled=False)
        rec = [m for r in runs for m in recovery(r, sc)]
        finite = [m for m in rec if math.isfinite(m)]
        row["recovery_mean_min"] = sum(finite) / len(finite) if finite else math.inf
        row["recovery_max_min"] = max(rec) if rec else 0.0
        row["not_recovered"] = len(rec) - len(finite)
        row["seeds_late"] = sum(m > LATE for m in rec)
    CACHE.mkdir(parents=True, exist_ok=True)
    runs_path.write_bytes(pickle.dumps(runs))
    path.write_text(json.dumps(row))
    return row, runs


_SOURCE = _source_hash()
LATE = 15.0  # minutes: issue 5's recovery bound


def _recovery_of_mean(runs, sc, settled: bool = True) -> float:
    """The longest recovery of the seeds' mean trajectory over ``sc``'s stress steps (0 when none)."""
    return max(mean_recovery(runs, sc, settled), default=0.0)


def _calm_runs(policy: str, sc, args) -> list | None:
    """The stored runs of ``policy`` on ``sc``'s scenario without stress, None when not stored."""
    _, runs_path = _paths(policy, scenario(sc.name, "none"), None, args)
    if args.no_cache or not runs_path.exists():
        return None
    return pickle.loads(runs_path.read_bytes())


def without_stress(policy: str, sc, args) -> dict:
    """The recovery tests applied to the same policy's runs without stress, at the minutes where
    ``sc`` changes the world: what they read when nothing happens there (the hourly guard, a run of
    hot minutes, the noise of a few agents). ``late_without_stress``: the (seed, step) pairs out of
    bounds for longer than LATE; ``recovery_of_mean_without_stress_min``: recovery_of_mean_min of
    those runs. Read from the store; None when those runs are not in it."""
    runs = _calm_runs(policy, sc, args)
    if runs is None:
        return {"late_without_stress": None, "recovery_of_mean_without_stress_min": None}
    # the recovery functions take the steps, bounds and floors from ``sc`` and the trajectories from the runs
    return {"late_without_stress": sum(m > LATE for r in runs for m in recovery(r, sc)),
            "recovery_of_mean_without_stress_min": _recovery_of_mean(runs, sc)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="S,M,L")
    ap.add_argument("--stress", default="none", help="comma list of none, live_drop, breaks, talk_double")
    ap.add_argument("--policies", default=",".join(COMPARE_POLICIES))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--matched", action="store_true", help="add the equal-occupancy comparison (see above)")
    ap.add_argument("--no-cache", action="store_true", help="simulate every row again (see above)")
    ap.add_argument("--spread", type=int, default=0, metavar="K",
                    help="under stress: split the seeds into groups of K and print each group's "
                         "recovery_of_mean_min, with the stress and without it (see spread())")
    ap.add_argument("--top-first", action="store_true",
                    help="--matched: run each knob's top setting first; sweep the rest only when it reaches "
                         "predictive's occupancy")
    args = ap.parse_args()
    for name in args.scenarios.split(","):
        for stress in args.stress.split(","):
            sc = scenario(name, stress)
            t0 = time.monotonic()
            need_runs = not args.no_plot or (args.spread > 0 and stress != "none")
            measured = {p: measure(p, sc, args, need_runs=need_runs) for p in args.policies.split(",")}
            print(f"\n== scenario {sc.label()}: {sc.agents} agents, {sc.live_rate:.0%} live, "
                  f"{args.seeds} seeds x {args.hours:g} h ({time.monotonic() - t0:.0f} s)")
            rows = [row for row, _ in measured.values()]
            cols = list(COLUMNS)
            if sc.stress != "none":
                # seeds_late: (seed, step) pairs out of bounds for more than 15 minutes after the step;
                # *_without_stress: the same tests at the same minutes of the runs without stress
                for row in rows:
                    row.update(without_stress(row["policy"], sc, args))
                cols += ["recovery_of_mean_min", "recovery_of_mean_vs_before_min", "recovery_mean_min", "recovery_max_min",
                         "not_recovered", "seeds_late", "late_without_stress", "recovery_of_mean_without_stress_min"]
            print(table(rows, cols), flush=True)
            if args.spread > 0 and sc.stress != "none":
                spread(sc, {p: runs for p, (_, runs) in measured.items()}, args)
            if args.matched:
                pred = next((r for r in rows if r["policy"] == "predictive"), None)
                if pred is None:
                    pred = measure("predictive", sc, args)[0]
                matched(sc, pred, args)
            if args.no_plot:
                continue
            results = {p: runs for p, (_, runs) in measured.items()}
            path = plot_compare(results, f"out/pacing_{sc.label()}.png",
                                title=f"Scenario {sc.label()}: {sc.agents} agents, {sc.live_rate:.0%} live answers")
            print(f"plot: {path}", flush=True)


def spread(sc, results: dict, args) -> None:
    """recovery_of_mean_min of each group of ``args.spread`` seeds (seeds 1-K, K+1-2K, ...), with the
    stress and, from the store, without it at the same minutes: how far a reading of K seeds is the
    policy's response and how far the noise of the team's size. A 2-agent team's 10-minute occupancy,
    averaged over 20 seeds, still moves by a few hundredths from minute to minute."""
    k = args.spread
    for policy, runs in results.items():
        calm = _calm_runs(policy, sc, args)
        groups = [(i, i + k) for i in range(0, len(runs) - k + 1, k)]
        if not groups:
            print(f"{policy}: --spread {k} needs at least {k} seeds", flush=True)
            continue
        stressed = [_recovery_of_mean(runs[a:b], sc) for a, b in groups]
        line = f"{policy}: recovery_of_mean_min of {len(groups)} groups of {k} seeds: {_minutes(stressed)}"
        if calm is not None:  # stored under the same seeds, so the same groups
            placebo = [_recovery_of_mean(calm[a:b], sc) for a, b in groups]
            line += f"; without stress, at the same minutes: {_minutes(placebo)}"
        print(line, flush=True)


def _minutes(values: list[float]) -> str:
    late = sum(v > LATE for v in values)
    return f"{' '.join(f'{v:g}' for v in values)} ({late} over {LATE:g})"


def matched(sc, pred: dict, args) -> None:
    """Each baseline's knob swept; its worst-hour abandon read at predictive's occupancy."""
    t0 = time.monotonic()
    sweep, verdict, done = [], [], {}
    for family in FAMILIES:
        points, run_abandon = [], []
        levels = family_levels(family, sc)

        def row_at(level: float) -> dict:
            # VICIdial "average" halves the level, never below 1.0: up to a maximum of 2.0 that is
            # the hard limit's drop to 1.0, the same runs
            same = "vicidial_adaptive" if family == "vicidial_adaptive_average" and level <= 2.0 else family
            if (same, level) not in done:
                done[same, level] = measure(same, sc, args, settings=family_settings(same, sc, level))[0]
            return done[same, level]

        # More lines per agent never make agents idler: when the knob's top setting stays below
        # predictive's occupancy, no setting reaches it ("never") and the rest need not run.
        if args.top_first and row_at(levels[-1])["occupancy"] < pred["occupancy"]:
            levels = levels[-1:]
        for level in levels:
            row = row_at(level)
            sweep.append({"policy": family, "level": level, **{k: row[k] for k in
                          ("abandon_%", "worst_hour_%", "worst_hour_max_%", "occupancy", "peak_lines/agent")}})
            points.append((row["occupancy"], row["worst_hour_%"]))
            run_abandon.append((row["occupancy"], row["abandon_%"]))
        at = value_at(points, pred["occupancy"])
        verdict.append({
            "baseline": family, "predictive_occupancy": pred["occupancy"],
            "baseline_worst_hour_%_at_that_occupancy": "never" if at is None else round(at, 3),
            "baseline_abandon_%_at_that_occupancy": "never" if at is None else
            round(value_at(run_abandon, pred["occupancy"]), 3),
            "predictive_worst_hour_%": pred["worst_hour_%"],
            "predictive_beats": at is None or pred["worst_hour_%"] < at,
        })
    print(f"\n-- {sc.label()}: baselines swept over their knob ({time.monotonic() - t0:.0f} s)")
    print(table(sweep, ["policy", "level", "abandon_%", "worst_hour_%", "worst_hour_max_%", "occupancy",
                        "peak_lines/agent"]))
    print(f"\n-- {sc.label()}: at predictive's occupancy")
    print(table(verdict, list(verdict[0])), flush=True)


if __name__ == "__main__":
    main()

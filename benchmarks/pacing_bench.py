"""Pacing benchmark: every policy on S, M, L (and optional stress variants / team sweep), 8-hour shifts,
N seeds each; prints the comparison tables and writes one PNG per scenario under out/.

    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --seeds 20 --hours 8
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios M --stress live_drop,breaks,talk_double
    nice -n 10 .venv/bin/python benchmarks/pacing_bench.py --scenarios T2,T5,T10,T25,T50 --policies predictive,progressive
"""
from __future__ import annotations

import argparse
import time

from admin_cli.output import table
from admin_cli.pacing_cmd import COLUMNS, COMPARE_POLICIES
from pacing.plot import plot_compare
import math

from pacing.simulate import recovery, run_many, scenario, summarize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="S,M,L")
    ap.add_argument("--stress", default="none", help="comma list of none, live_drop, breaks, talk_double")
    ap.add_argument("--policies", default=",".join(COMPARE_POLICIES))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    for name in args.scenarios.split(","):
        for stress in args.stress.split(","):
            sc = scenario(name, stress)
            t0 = time.monotonic()
            results = {p: run_many(p, sc, args.seeds, args.hours, processes=args.processes)
                       for p in args.policies.split(",")}
            print(f"\n== scenario {sc.label()}: {sc.agents} agents, {sc.live_rate:.0%} live, "
                  f"{args.seeds} seeds x {args.hours:g} h ({time.monotonic() - t0:.0f} s)")
            rows, cols = [], list(COLUMNS)
            for runs in results.values():
                row = summarize(runs)
                if sc.stress != "none":
                    # minutes until trailing abandon and occupancy are back within bounds, per step
                    rec = [m for r in runs for m in recovery(r, sc)]
                    finite = [m for m in rec if math.isfinite(m)]
                    row["recovery_mean_min"] = sum(finite) / len(finite) if finite else math.inf
                    row["recovery_max_min"] = max(rec) if rec else 0.0
                    row["not_recovered"] = len(rec) - len(finite)
                rows.append(row)
            if sc.stress != "none":
                cols += ["recovery_mean_min", "recovery_max_min", "not_recovered"]
            print(table(rows, cols), flush=True)
            if args.no_plot:
                continue
            path = plot_compare(results, f"out/pacing_{sc.label()}.png",
                                title=f"Scenario {sc.label()}: {sc.agents} agents, {sc.live_rate:.0%} live answers")
            print(f"plot: {path}", flush=True)


if __name__ == "__main__":
    main()

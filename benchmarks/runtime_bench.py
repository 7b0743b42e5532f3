"""The dialer service under load, against the PBX simulator running in its own process.

A progressive campaign with N agents on simulated desk phones (logged in with *50 + PIN through the
simulator's control API) and customers who answer after a short ring and talk for a while; wrap-up
ends by timeout with the default status. The service runs in this process, the simulator in
another, talking real ARI over HTTP and WebSocket.

Prints: connect latency from customer answer to agent bridged (p50/p99), originates per second
sustained, peak concurrent channels in the simulator, event-loop lag p99, CPU seconds per 1 000
calls (this process: the dialer).

    .venv/bin/python benchmarks/runtime_bench.py [--agents 250] [--seconds 60] [--talk 10]
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from harness import control, fresh_database, login_phones, pct, seed_campaign, simulator_process  # noqa: E402


async def run(args) -> None:
    from ari_app.ari.aioari_adapter import AioariAdapter
    from ari_app.db.runtime import Database
    from ari_app.services.dialer import DialerService

    with fresh_database("rt") as url, simulator_process() as base:
        control(base, "POST", "/_sim/scenario", {"mode": "plan", "ring": args.ring, "talk": args.talk})  # before the service
        with psycopg.connect(url, autocommit=True) as conn:
            cid, _, exts = seed_campaign(conn, "bench", agents=args.agents, entries=args.agents * 200,
                                         ring_timeout_seconds=20)

        db = Database(url, pool_size=10)
        service = DialerService(db, AioariAdapter(base, "dialer", "dialer", "dialer"), instance_id="bench",
                                tick_seconds=0.25)
        runner = asyncio.create_task(service.run())
        await asyncio.wait_for(service.connected.wait(), 30)
        await login_phones(base, service, exts)

        await asyncio.sleep(args.warmup)  # reach steady state
        service.metrics.connect_latency_ms.clear()
        service.metrics.loop_lag_ms.clear()
        originates0, ended0 = service.metrics.originates, service.metrics.calls_ended
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        peak = 0
        while time.monotonic() - t0 < args.seconds:
            await asyncio.sleep(1.0)
            state = await asyncio.to_thread(control, base, "GET", "/_sim/state")
            peak = max(peak, len(state.get("channels", [])))
        elapsed = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        originated = service.metrics.originates - originates0
        ended = service.metrics.calls_ended - ended0
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        lat = list(service.metrics.connect_latency_ms)
        lag = list(service.metrics.loop_lag_ms)
        service.stop()
        await asyncio.wait_for(runner, 30)
        await db.dispose()
        with psycopg.connect(url) as conn:
            outcomes = dict(conn.execute("select coalesce(outcome, 'open'), count(*) from attempts group by 1").fetchall())
        print(f"agents {args.agents}, ring {args.ring} s, talk {args.talk} s, measured {elapsed:.0f} s after {args.warmup} s warm-up")
        print(f"attempts by outcome: {outcomes}")
        print(f"connect latency answer -> agent bridged: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms "
              f"over {len(lat)} calls (goal p99 < 50 ms)")
        print(f"originates/s sustained: {originated / elapsed:.1f}   calls ended: {ended}")
        print(f"peak concurrent channels in the simulator: {peak}")
        print(f"event-loop lag: p50 {pct(lag, 50):.1f} ms, p99 {pct(lag, 99):.1f} ms (goal p99 < 20 ms)")
        print(f"CPU seconds per 1000 calls (dialer process): {cpu / max(ended, 1) * 1000:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=250)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--ring", type=float, default=2.0)
    ap.add_argument("--talk", type=float, default=10.0)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()

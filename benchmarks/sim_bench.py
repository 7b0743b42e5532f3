"""PBX simulator load benchmark: channels held, originates/s sustained, event delivery lag.

    nice -n 10 .venv/bin/python benchmarks/sim_bench.py [--rate 100] [--seconds 30] [--ring 2] [--talk 30]
    nice -n 10 .venv/bin/python benchmarks/sim_bench.py --seconds 5 --talk 60     # lag at 500 channels

Starts `dialer pbx-sim` in its own process (as in a soak run), connects one ARI client (REST + the
event websocket), and originates PJSIP/<number>@carrier calls at a fixed rate. With the number plan
every call rings `ring` seconds, answers and stays up `talk` seconds, so the simulator holds about
rate x (talk + ring) channels at the end. Printed:
- originates/s sustained: 200-answered originates / the time it took to send them (paced at --rate);
- channels held: peak live channels (GET /ari/channels at the end of the ramp, and the client's count);
- event delivery lag: receive time minus the event's own timestamp (ms resolution, same host clock),
  p50/p99 in buckets of live channels, so "at 500 channels" can be read off;
- REST latency of the originates, p50/p99;
- then a steady-state phase: the population is held while --probe-rate playbacks/s keep events
  flowing; the lag of those events is printed with the number of channels held.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import subprocess
import sys
import time

import aiohttp
import numpy as np

AUTH = {"Authorization": "Basic " + base64.b64encode(b"dialer:dialer").decode()}


def _parse_ts(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


async def run(rate: float, seconds: float, ring: float, talk: float, probe_seconds: float,
              probe_rate: float) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "admin_cli.main", "pbx-sim", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    banner = proc.stdout.readline()
    if "ARI at " not in banner:
        raise SystemExit(f"simulator did not start: {banner}{proc.stderr.read()}")
    base = banner.split("ARI at ")[1].split("ari ")[0]
    live: set[str] = set()
    lags: list[tuple[int, float]] = []  # (live channels when received, lag ms)
    events = 0
    rest_ms: list[float] = []
    ok = failed = 0
    peak_live = 0
    try:
        async with aiohttp.ClientSession(headers=AUTH, connector=aiohttp.TCPConnector(limit=200)) as http:
            async with http.post(base + "_sim/scenario", json={"mode": "plan", "ring": ring, "talk": talk}) as r:
                assert r.status == 200, await r.text()
            ws = await http.ws_connect(base + "ari/events?app=bench")

            async def reader():
                nonlocal events, peak_live
                async for msg in ws:
                    now = time.time()
                    e = json.loads(msg.data)
                    events += 1
                    t = e["type"]
                    if t == "StasisStart":
                        live.add(e["channel"]["id"])
                        peak_live = max(peak_live, len(live))
                    elif t == "ChannelDestroyed":
                        live.discard(e["channel"]["id"])
                    lags.append((len(live), (now - _parse_ts(e["timestamp"])) * 1000.0))

            reader_task = asyncio.create_task(reader())

            async def originate(i: int):
                nonlocal ok, failed
                t0 = time.perf_counter()
                params = {"endpoint": f"PJSIP/+3906{i:06d}1{i % 100:02d}@carrier", "app": "bench",
                          "appArgs": f"customer,{i}", "timeout": "30", "channelId": f"bench-{i}"}
                async with http.post(base + "ari/channels", params=params) as resp:
                    await resp.read()
                    rest_ms.append((time.perf_counter() - t0) * 1000.0)
                    if resp.status == 200:
                        ok += 1
                    else:
                        failed += 1

            n = int(rate * seconds)
            start = time.perf_counter()
            tasks = []
            for i in range(n):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(originate(i)))
            await asyncio.gather(*tasks)
            sent_in = time.perf_counter() - start
            await asyncio.sleep(ring + 0.5)  # the last calls answer
            async with http.get(base + "ari/channels") as r:
                held = len(await r.json())
            # Steady state: the population is held while playbacks keep events flowing.
            probe_from = len(lags)
            rng = np.random.default_rng(1)
            t_end = time.perf_counter() + probe_seconds
            i = 0
            while time.perf_counter() < t_end and live:
                ids = list(live)
                target = ids[int(rng.integers(len(ids)))]
                async with http.post(base + f"ari/channels/{target}/play", params={"media": "sound:beep"}) as resp:
                    await resp.read()
                i += 1
                await asyncio.sleep(max(0.0, i / probe_rate - (time.perf_counter() - (t_end - probe_seconds))))
            probe = np.array([lag for _, lag in lags[probe_from:]]) if len(lags) > probe_from else np.array([0.0])
            reader_task.cancel()
            await ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"PBX simulator benchmark: rate {rate:g}/s for {seconds:g} s, ring {ring:g} s, talk {talk:g} s")
    print(f"  originates/s sustained : {ok / sent_in:.1f} ({ok} ok, {failed} failed, sent in {sent_in:.2f} s)")
    print(f"  originate REST latency : p50 {np.percentile(rest_ms, 50):.1f} ms, p99 {np.percentile(rest_ms, 99):.1f} ms")
    print(f"  channels held          : {held} live at the end (GET /ari/channels), peak {peak_live} in Stasis")
    print(f"  events received        : {events}")
    print(f"  steady state, {held} channels held, {probe_rate:g} plays/s for {probe_seconds:g} s: event lag "
          f"p50 {np.percentile(probe, 50):.1f} ms, p99 {np.percentile(probe, 99):.1f} ms (n={len(probe)})")
    arr = np.array(lags)
    for lo, hi in ((0, 500), (500, 1000), (1000, 2000), (2000, 10**9)):
        sel = arr[((arr[:, 0] > lo) | (lo == 0)) & (arr[:, 0] <= hi), 1] if len(arr) else []
        if len(sel):
            label = f"{lo + 1 if lo else 0}-{hi}" if hi < 10**9 else f">{lo}"
            print(f"  event lag @ {label:>9} ch: p50 {np.percentile(sel, 50):.1f} ms, "
                  f"p99 {np.percentile(sel, 99):.1f} ms, max {sel.max():.1f} ms (n={len(sel)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100.0, help="originates per second")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to originate")
    ap.add_argument("--ring", type=float, default=2.0)
    ap.add_argument("--talk", type=float, default=30.0)
    ap.add_argument("--probe-seconds", type=float, default=5.0, help="steady-state phase after the ramp")
    ap.add_argument("--probe-rate", type=float, default=50.0, help="playbacks per second in that phase")
    args = ap.parse_args()
    asyncio.run(run(args.rate, args.seconds, args.ring, args.talk, args.probe_seconds, args.probe_rate))


if __name__ == "__main__":
    main()

"""Callback fire delay: N personal callbacks all due within the same minute, each owner ready.

The service runs in this process, the simulator in its own; N agents log in on simulated phones,
then N callbacks (one per agent) are written straight into the database, as the CLI would, with due
times spread over one minute starting 20 s later. The fire delay of each is `fired_at - due_at`
from the callbacks table (when the attempt row was committed, just before the originate).

    .venv/bin/python benchmarks/callback_bench.py [--callbacks 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from harness import control, fresh_database, login_phones, pct, seed_campaign, simulator_process  # noqa: E402


async def run(args) -> None:
    from ari_app.ari.aioari_adapter import AioariAdapter
    from ari_app.db.runtime import Database
    from ari_app.services.dialer import DialerService

    with fresh_database("cb") as url, simulator_process() as base:
        control(base, "POST", "/_sim/scenario", {"mode": "plan", "ring": 1, "talk": 5})
        with psycopg.connect(url, autocommit=True) as conn:
            cid, contact, exts = seed_campaign(conn, "cb", agents=args.callbacks, entries=args.callbacks,
                                               entry_state="callback", number_prefix="+39062")

        db = Database(url, pool_size=10)
        service = DialerService(db, AioariAdapter(base, "dialer", "dialer", "dialer"), instance_id="cb",
                                tick_seconds=0.5)
        runner = asyncio.create_task(service.run())
        await asyncio.wait_for(service.connected.wait(), 30)
        await login_phones(base, service, exts)

        start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=20)
        rng = random.Random(1)
        with psycopg.connect(url, autocommit=True) as conn:
            entries = conn.execute("select id, phone_e164 from campaign_entries order by id").fetchall()
            agents = conn.execute("select id from agents order by id").fetchall()
            with conn.transaction():
                for (entry_id, phone), (agent_id,) in zip(entries, agents):
                    due = start + dt.timedelta(seconds=rng.uniform(0, 60))
                    conn.execute("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, "
                                 "owner_agent_id) values (%s, %s, %s, %s, %s, %s)",
                                 (cid, entry_id, contact, phone, due, agent_id))
        deadline = asyncio.get_running_loop().time() + 240
        while asyncio.get_running_loop().time() < deadline:
            with psycopg.connect(url) as conn:
                pending = conn.execute("select count(*) from callbacks where state = 'pending'").fetchone()[0]
            if pending == 0:
                break
            await asyncio.sleep(1.0)
        with psycopg.connect(url) as conn:
            delays = [r[0] * 1000 for r in conn.execute(
                "select extract(epoch from fired_at - due_at) from callbacks where state = 'fired'").fetchall()]
            early = conn.execute("select count(*) from callbacks where fired_at < due_at").fetchone()[0]
            twice = conn.execute("select count(*) from (select entry_id from attempts group by 1 having count(*) > 1) x").fetchone()[0]
        print(f"{len(delays)} of {args.callbacks} callbacks fired (due within one minute, each owner ready)")
        print(f"fire delay: p50 {pct(delays, 50):.0f} ms, p99 {pct(delays, 99):.0f} ms, max {max(delays, default=0):.0f} ms "
              f"(goal: within 5 s); fired early: {early}; fired twice: {twice}")
        service.stop()
        await asyncio.wait_for(runner, 60)
        await db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--callbacks", type=int, default=1000)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()

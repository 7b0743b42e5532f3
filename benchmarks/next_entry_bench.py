"""Claim latency with 10 000 000 entries in one campaign.

Builds a fresh database in the embedded PostgreSQL (or DIALER_BENCH_DATABASE_URL's server), fills one
campaign with N entries (a realistic mix: 85 % ready, due times spread over a day, four time zones of
which some are outside calling hours, 1 % of numbers on the do-not-call list, some open calls), then
times the claim statement the dialer runs (ari_app/db/claim.py) for batches of 10, committing each
claim as the dialer does. Prints p50/p95/p99 in milliseconds. Goal: p99 under 5 ms.

    .venv/bin/python benchmarks/next_entry_bench.py [--entries 10000000] [--claims 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg


def server_uri() -> str:
    if os.environ.get("DIALER_BENCH_DATABASE_URL"):
        return os.environ["DIALER_BENCH_DATABASE_URL"]
    from ari_app.db.embedded import embedded_uri

    base = Path(os.environ.get("DIALER_DATA_DIR") or tempfile.gettempdir()) / "dialer-bench"
    return embedded_uri(base)


def fill(url: str, n: int, now: dt.datetime) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        cid = conn.execute(
            "insert into campaigns (name, mode, state, max_attempts, timezone) "
            "values ('bench', 'predictive', 'active', 5, 'Europe/Rome') returning id"
        ).fetchone()[0]
        conn.execute("insert into contacts (name) select 'c' || g from generate_series(1, %s) g", (max(1, n // 1000),))
        conn.execute("select dialer_entries_partition(%s)", (cid,))
        conn.execute("drop index if exists ix_entries_claim")
        # The rows reference one campaign and existing contacts, and come with their zone numbers:
        # skip the per-row reference and zone triggers (migrations 0005, 0007), as an import does.
        conn.execute("set session_replication_role = replica")
        t0 = time.perf_counter()
        conn.execute(
            """
            insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, zone_id, state, attempts,
                                          next_attempt_at, priority)
            select %(cid)s, 1 + (g %% %(contacts)s), '+39' || (3000000000 + g)::text, z.name, z.id,
                   case when g %% 20 < 17 then 'ready' when g %% 20 < 19 then 'done' else 'exhausted' end,
                   g %% 3,
                   case when g %% 4 = 0 then null else %(now)s - make_interval(secs => (g %% 86400) - 43200) end,
                   case when g %% 100 = 0 then 1 else 0 end
            from generate_series(1, %(n)s) g
            join time_zones z on z.name = (array['Europe/Rome','Europe/Rome','Europe/Rome','Europe/Warsaw',
                                                 'America/New_York','Asia/Tokyo'])[1 + (g %% 6)]
            """,
            {"cid": cid, "contacts": max(1, n // 1000), "n": n, "now": now},
        )
        conn.execute("set session_replication_role = default")
        conn.execute(
            "insert into dnc_numbers (list_id, e164) select 1, '+39' || (3000000000 + g)::text "
            "from generate_series(1, %s, 100) g",
            (n,),
        )
        conn.execute(
            "create index ix_entries_claim on campaign_entries (zone_id, priority desc, due_at, id) where state = 'ready'"
        )
        conn.execute("vacuum analyze campaign_entries")
        conn.execute("analyze dnc_numbers")
        # The fill wrote ~3 GB of WAL; with the embedded server's max_wal_size (4 GB) its checkpoint
        # would otherwise run during the measured claims. A live campaign does not write like that.
        conn.execute("checkpoint")
        print(f"filled {n:,} entries in {time.perf_counter() - t0:.1f} s")
        return cid


async def measure(url: str, cid: int, claims: int, batch: int, now: dt.datetime) -> list[float]:
    from ari_app.db.claim import claim_entries
    from ari_app.db.runtime import Database
    from ari_app.domain.time_rules import CallingHours

    db = Database(url)
    hours = CallingHours()
    query: list[float] = []
    total: list[float] = []
    try:
        for i in range(claims + 50):
            async with db.sessions() as s:
                t0 = time.perf_counter()
                await s.begin()
                got = await claim_entries(
                    s, campaign_id=cid, limit=batch, now=now, max_attempts=5, calling_hours=hours,
                    campaign_zone_open=True, lease_owner="bench", lease_seconds=60,
                )
                t1 = time.perf_counter()
                await s.commit()
                t2 = time.perf_counter()
            if i >= 50:  # warm-up: connection pool, plan cache
                query.append((t1 - t0) * 1000)
                total.append((t2 - t0) * 1000)
            assert len(got) == batch, "the benchmark ran out of dialable entries"
    finally:
        await db.dispose()
    return query, total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=10)
    args = ap.parse_args()
    from ari_app.db.migrate import upgrade

    server = server_uri()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = psycopg.conninfo.make_conninfo(server, dbname=name)
    url = server.replace("/postgres?", f"/{name}?") if "/postgres?" in server else url
    try:
        upgrade(url)
        # 12:00 UTC: Rome/Warsaw open, New York (07:00) and Tokyo (21:00) closed -> the claim must skip them.
        now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
        cid = fill(url, args.entries, now)
        query, total = asyncio.run(measure(url, cid, args.claims, args.batch, now))
        for label, samples in (("claim query", query), ("claim query + commit", total)):
            q = statistics.quantiles(samples, n=100)
            print(f"{label} ({args.batch} of {args.entries:,} entries): p50 {statistics.median(samples):.2f} ms, "
                  f"p95 {q[94]:.2f} ms, p99 {q[98]:.2f} ms over {len(samples)} claims")
        print("goal: claim query p99 < 5 ms")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()

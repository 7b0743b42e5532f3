"""Shared set-up for the benchmarks that run the service against a simulator process."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import psycopg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control(base: str, method: str, path: str, body: dict | None = None):
    """One call to the simulator's /_sim control API."""
    req = urllib.request.Request(base.rstrip("/") + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def pct(values, p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new, migrated database on the embedded server (or DIALER_BENCH_DATABASE_URL's), dropped after."""
    from ari_app.db.embedded import embedded_uri
    from ari_app.db.migrate import upgrade

    base_dir = Path(os.environ.get("DIALER_DATA_DIR") or tempfile.gettempdir()) / "dialer-bench"
    server = os.environ.get("DIALER_BENCH_DATABASE_URL") or embedded_uri(base_dir)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = server.replace("/postgres?", f"/{name}?") if "/postgres?" in server else \
        psycopg.conninfo.make_conninfo(server, dbname=name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@contextlib.contextmanager
def simulator_process(time_scale: float = 1.0) -> Iterator[str]:
    """`dialer pbx-sim` in its own process; yields its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "admin_cli.main", "pbx-sim", "--port", str(port),
                             "--time-scale", str(time_scale)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(200):
            try:
                control(base, "GET", "/_sim/state")
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def seed_agents(conn, campaign_id: int, count: int, first: int = 3000) -> list[str]:
    """Agents with PIN 1234 assigned to the campaign; returns their extensions."""
    from ari_app.services.pins import hash_pin

    pin = hash_pin("1234")
    exts = [str(first + i) for i in range(count)]
    for ext in exts:
        aid = conn.execute("insert into agents (extension, display_name, pin_hash) values (%s, %s, %s) returning id",
                           (ext, ext, pin)).fetchone()[0]
        conn.execute("insert into campaign_agents values (%s, %s)", (campaign_id, aid))
    return exts


async def login_phones(base: str, service, exts: list[str]) -> None:
    """Each phone dials *50 and keys the PIN through the control API; waits until all are logged in."""
    import asyncio

    # In threads: a blocking HTTP call here would stop the service (same event loop) from reading
    # its websocket. Concurrently: keying a PIN takes ~2 s at real DTMF spacing.
    gate = asyncio.Semaphore(32)

    async def one(ext: str) -> None:
        async with gate:
            await asyncio.to_thread(control, base, "POST", "/_sim/phones", {"ext": ext, "name": ext})
            await asyncio.to_thread(control, base, "POST", f"/_sim/phones/{ext}/dial", {"code": "*50"})
            await asyncio.to_thread(control, base, "POST", f"/_sim/phones/{ext}/press", {"digits": "1234#"})

    await asyncio.gather(*(one(ext) for ext in exts))
    while sum(1 for a in service.agents.values() if a.session_id) < len(exts):
        await asyncio.sleep(0.2)


def seed_campaign(conn, name: str, *, agents: int, entries: int, entry_state: str = "ready", number_prefix: str = "+39061",
                  **settings) -> tuple[int, int, list[str]]:
    """An active progressive campaign (goal none, open all day, default status 'Call' on key 1) with
    agents and entries whose numbers all end in 1xx (the number plan's "answers"). Returns
    (campaign id, contact id, agent extensions)."""
    cols = {"name": name, "mode": "progressive", "state": "active", "goal": "none",
            "dial_template": "PJSIP/{number}@carrier", "timezone": "UTC", "calling_hours_start": "00:00",
            "calling_hours_end": "23:59:59", "wrapup_seconds": 1, "caller_ids": ["+390600000000"], **settings}
    cid = conn.execute(f"insert into campaigns ({', '.join(cols)}) values ({', '.join(['%s'] * len(cols))}) returning id",
                       tuple(cols.values())).fetchone()[0]
    conn.execute("insert into campaign_statuses (campaign_id, status_id, name, system_status, dtmf_code) "
                 "select %s, id, name, system_status, '1' from statuses where name = 'Call'", (cid,))
    exts = seed_agents(conn, cid, agents)
    contact = conn.execute("insert into contacts (name) values (%s) returning id", (name,)).fetchone()[0]
    conn.execute("select dialer_entries_partition(%s)", (cid,))
    conn.execute("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, state) "
                 "select %s, %s, %s || lpad(g::text, 6, '0') || '1' || lpad((g %% 100)::text, 2, '0'), 'UTC', %s "
                 "from generate_series(1, %s) g", (cid, contact, number_prefix, entry_state, entries))
    return cid, contact, exts

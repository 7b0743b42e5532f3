"""Callbacks: exactly once across kill -9, and the pacer keeps agents free for them."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.conftest import login
from tests.world import add_agent, add_entries, create_campaign, eventually


def _callback(sql, cid, entry, phone, due, owner=None):
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))
    return sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id) "
               "values (%s, %s, %s, %s, %s, %s) returning id", (cid, entry, contact, phone, due, owner))[0]["id"]


@pytest.mark.parametrize("kill_before_due", [True, False], ids=["killed-before-due", "killed-after-due"])
async def test_given_kill_9_around_the_due_time_then_the_callback_fires_exactly_once(db_url, sql, sim, kill_before_due):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    owner = add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611116001"])
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))  # not for pooled dialing
    sim.script_number("+390611116001", answer_after=0.3, talk=1.0)
    env = dict(os.environ, DIALER_DATABASE_URL=db_url, DIALER_ARI_URL=sim.base_url, DIALER_INSTANCE_ID="cbkill",
               DIALER_TICK_SECONDS="0.1")

    def spawn():
        return subprocess.Popen([sys.executable, "-m", "admin_cli.main", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc = spawn()
    try:
        await eventually(lambda: sim.websocket_count() > 0, timeout=45, what="service connected")
        phone = sim.add_phone("1001", name="Ann")
        await phone.dial("*50")
        await phone.press("1234#")
        await eventually(lambda: sql("select 1 from agent_sessions where logged_out_at is null"), timeout=45, what="logged in")
        due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3 if kill_before_due else 1)
        cb = _callback(sql, cid, entry, "+390611116001", due, owner)
        if kill_before_due:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await asyncio.sleep(0)  # the restart may come after the due time: it must fire then, once
            proc = spawn()
        else:
            # Killed once the callback's call is ringing. (A kill in the millisecond between the
            # write-ahead 'originating' mark and the POST cannot be told from one after the POST:
            # that callback is then not re-armed, so the customer is never called twice.)
            await eventually(lambda: [c for c in sim.history() if c.get("number") == "+390611116001"], what="ringing")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = spawn()
        await eventually(lambda: sql("select 1 from callbacks where state = 'fired'")
                         and [c for c in sim.history() if c.get("number") == "+390611116001"]
                         and not sql("select 1 from attempts where ended_at is null"), timeout=30,
                         what="the callback's call made and closed")
        await eventually(lambda: sim.websocket_count() > 0, timeout=20, what="reconnected")
        ticks_wait = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
        await eventually(lambda: dt.datetime.now(dt.timezone.utc) > ticks_wait, what="a while after")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert sql("select state from callbacks where id = %s", (cb,))[0]["state"] == "fired"
    # Exactly one call reached the customer. An attempt the crash lost before its originate left may
    # stand in the ledger as 'lost' (the callback was re-armed and fired again); never two calls.
    calls = [c for c in sim.history() if c.get("number") == "+390611116001"]
    assert len(calls) == 1


async def test_given_callback_due_soon_then_pooled_dialing_keeps_its_agent_free(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive")
    owner = add_agent(sql, "1001", campaigns=[cid])
    pool = [f"+3906111162{i:02d}" for i in range(5)]
    for n in pool:
        sim.script_number(n, busy=True)
    (cb_entry,) = add_entries(sql, cid, ["+390611116100"])
    sim.script_number("+390611116100", answer_after=0.2, talk=1)
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=8)
    _callback(sql, cid, cb_entry, "+390611116100", due, owner)
    add_entries(sql, cid, pool)
    await login(sim, dialer, "1001")
    row = (await eventually(lambda: sql("select * from attempts order by id limit 1"), timeout=20, what="first call"))[0]
    # The only agent is kept for the callback due within the minute: its call is the first one placed.
    assert row["phone_e164"] == "+390611116100" and row["agent_id"] == owner
    assert row["created_at"] >= due

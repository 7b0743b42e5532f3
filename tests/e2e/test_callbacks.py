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
from tests.world import (add_agent, add_entries, add_status, create_campaign, daytime_zone, eventually,
                         local_to_utc, read_out)


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

    def spawn():  # CBKILL_LOG=<file> keeps the service's log when this test needs a diagnosis
        return subprocess.Popen([sys.executable, "-m", "admin_cli.main", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=open(os.environ.get("CBKILL_LOG", os.devnull), "ab"))

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
        # Waited for off the loop: the simulator lives on this loop, and the service's last REST
        # calls need it to answer while it shuts down.
        await asyncio.to_thread(proc.wait, 15)
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


async def test_given_my_record_keyed_for_any_agent_with_another_number_then_another_agent_calls_that_number(db, sql, sim, dialer):
    zone = daytime_zone()
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=60, calling_hours_start="08:00", calling_hours_end="21:00",
                          default_region="IT", timezone=zone)  # numbers keyed on the phone are national Italian numbers
    add_status(sql, cid, "Call me back", "my_record", dtmf="5")
    keyer = add_agent(sql, "1001", campaigns=[cid])
    other = add_agent(sql, "1002", campaigns=[cid])
    sim.script_number("+390611119601", answer_after=0.2, talk=0.5)
    sim.script_number("+390611119602", answer_after=0.2, talk=0.5)
    (entry,) = add_entries(sql, cid, ["+390611119601"], tz=zone)
    sql("insert into dnc_numbers (list_id, e164, source) select id, '+390611119699', 'test' from dnc_lists where name = 'default'")
    phone = await login(sim, dialer, "1001")
    played = lambda media: media in sim.media_played(phone.channel_id)  # noqa: E731
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("5#")
    await eventually(lambda: played("sound:dialer-enter-date"), what="asked for a date")
    await phone.press("203001151000#")
    await eventually(lambda: "203001151000" in read_out(sim.media_played(phone.channel_id)), what="time read back")
    await phone.press("1")
    await eventually(lambda: played("sound:dialer-callback-1-mine-2-any-agent"), what="asked whose callback")
    await phone.press("2")  # any agent of the campaign
    await eventually(lambda: played("sound:dialer-callback-number"), what="asked the number")
    await phone.press("12#")  # not a number
    await eventually(lambda: played("sound:dialer-invalid-number"), what="bad number refused")
    await phone.press("0611119699#")  # on the do-not-call list
    await eventually(lambda: played("sound:dialer-number-on-dnc"), what="do-not-call number refused")
    await phone.press("0611119603#")  # a valid national number, read back in E.164 digits
    await eventually(lambda: "390611119603" in read_out(sim.media_played(phone.channel_id)), what="number read back")
    await phone.press("2")  # wrong one: key it again
    await phone.press("0611119602#")
    await eventually(lambda: "390611119602" in read_out(sim.media_played(phone.channel_id)), what="second number read back")
    assert sql("select count(*) as n from callbacks")[0]["n"] == 0  # nothing before the confirmation
    await phone.press("1")
    cb = (await eventually(lambda: sql("select * from callbacks"), what="callback created"))[0]
    assert (cb["owner_agent_id"], cb["phone_e164"], cb["state"]) == (None, "+390611119602", "pending")
    assert cb["due_at"].isoformat() == local_to_utc("2030-01-15 10:00", zone)
    assert sql("select state, owner_agent_id from campaign_entries where id = %s", (entry,))[0] == {
        "state": "callback", "owner_agent_id": None}

    # The keying agent pauses; when the callback is due, another agent of the campaign takes it.
    await eventually(lambda: any(a.agent_id == keyer and a.phase == "idle" for a in dialer.agents.values()), what="ready")
    await phone.press("*")
    await eventually(lambda: any(a.agent_id == keyer and a.state == "paused" for a in dialer.agents.values()), what="paused")
    other_phone = await login(sim, dialer, "1002")
    sql("update callbacks set due_at = now() + interval '1 second'")
    row = (await eventually(lambda: sql("select * from attempts where phone_e164 = '+390611119602'"), timeout=15,
                            what="callback fired"))[0]
    assert row["agent_id"] == other
    await eventually(lambda: "sound:dialer-callback" in sim.media_played(other_phone.channel_id), what="announced")
    assert "sound:dialer-personal-callback" not in sim.media_played(other_phone.channel_id)


async def test_given_wrap_up_ends_after_the_callback_time_was_confirmed_then_the_personal_callback_is_kept(db, sql, sim, dialer):
    zone = daytime_zone()
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=10, calling_hours_start="08:00", calling_hours_end="21:00",
                          timezone=zone)
    mine = add_status(sql, cid, "Call me back", "my_record", dtmf="5")
    agent_id = add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611119611", answer_after=0.2, talk=0.5)
    add_entries(sql, cid, ["+390611119611"], tz=zone)
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("5#203001151000#")
    await eventually(lambda: "203001151000" in read_out(sim.media_played(phone.channel_id)), what="time read back")
    await phone.press("1")  # confirmed; then nothing more is keyed before the wrap-up time is over
    cb = (await eventually(lambda: sql("select * from callbacks"), timeout=10, what="callback kept"))[0]
    assert (cb["owner_agent_id"], cb["phone_e164"]) == (agent_id, "+390611119611")
    assert sql("select disposition_status_id from attempts")[0]["disposition_status_id"] == mine

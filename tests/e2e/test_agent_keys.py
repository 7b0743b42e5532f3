"""The agent's keys and the campaign lifecycle, end to end."""
from __future__ import annotations

import datetime as dt

from tests.e2e.conftest import login
from tests.world import add_agent, add_entries, add_status, create_campaign, eventually, read_out


async def test_given_call_when_agent_presses_hash_then_customer_leg_ends_and_wrap_up_starts(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30)
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118101", answer_after=0.2, talk=60)
    add_entries(sql, cid, ["+390611118101"])
    phone = await login(sim, dialer, "1001")
    row = (await eventually(lambda: sql("select * from attempts where connected_at is not null"), what="on a call"))[0]
    await phone.press("#")
    ended = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), what="customer leg ended"))[0]
    assert ended["outcome"] == "answered" and phone.is_up  # the agent stays connected
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    hangups = [e for e in sim.rest_log if e["method"] == "DELETE" and e["path"].endswith(row["channel_id"])]
    assert hangups


async def test_given_idle_agent_when_pressing_zero_then_logged_out(db, sql, sim, dialer):
    add_agent(sql, "1001", campaigns=[create_campaign(sql, mode="progressive")])
    phone = await login(sim, dialer, "1001")
    await phone.press("0")
    await eventually(lambda: not phone.is_up, what="phone hung up")
    await eventually(lambda: sql("select logged_out_at from agent_sessions")[0]["logged_out_at"], what="logged out")
    assert sql("select state from agent_state_changes order by id desc limit 1")[0]["state"] == "logged_out"


async def test_given_push_preview_when_agent_accepts_then_call_is_placed_for_that_agent(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="push_preview", push_timeout_seconds=30)
    agent = add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118201", answer_after=0.2, talk=1)
    add_entries(sql, cid, ["+390611118201"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: "sound:dialer-push-record" in sim.media_played(phone.channel_id), what="pushed")
    await phone.press("1")
    row = (await eventually(lambda: sql("select * from attempts where connected_at is not null"), what="connected"))[0]
    assert row["agent_id"] == agent


async def test_given_login_with_campaign_number_then_only_that_campaign(db, sql, sim, dialer):
    first = create_campaign(sql, name="first", mode="progressive")
    second = create_campaign(sql, name="second", mode="progressive")
    add_agent(sql, "1001", campaigns=[first, second])
    await login(sim, dialer, "1001", code=f"*50{second}")
    session = await eventually(lambda: sql("select campaign_ids from agent_sessions"), what="session row committed")
    assert session[0]["campaign_ids"] == [second]


async def test_given_not_before_status_then_entry_held_until_the_keyed_date(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=60)
    add_status(sql, cid, "Later", "not_before", dtmf="6")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118301", answer_after=0.2, talk=0.3)
    (entry,) = add_entries(sql, cid, ["+390611118301"], tz="Europe/Rome")
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("6#")
    await eventually(lambda: "sound:dialer-enter-date" in sim.media_played(phone.channel_id), what="asked for a date")
    await phone.press("203002011130#")
    await eventually(lambda: "203002011130" in read_out(sim.media_played(phone.channel_id)), what="read back")
    await phone.press("1")
    e = (await eventually(lambda: [r for r in sql("select state, not_before from campaign_entries where id = %s", (entry,))
                                   if r["not_before"]], what="held"))[0]
    assert e["state"] == "ready" and e["not_before"] == dt.datetime(2030, 2, 1, 10, 30, tzinfo=dt.timezone.utc)


async def test_given_paused_campaign_then_no_new_calls_and_resume_dials_again(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", state="paused")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118401", busy=True)
    add_entries(sql, cid, ["+390611118401"])
    await login(sim, dialer, "1001")
    ticks = dialer.metrics.ticks
    await eventually(lambda: dialer.metrics.ticks > ticks + 25, what="ticks while paused")
    assert sql("select count(*) as n from attempts")[0]["n"] == 0
    sql("update campaigns set state = 'active' where id = %s", (cid,))
    await eventually(lambda: sql("select 1 from attempts"), what="dialling after resume")


async def test_given_goal_none_then_campaign_stays_active_and_dials_entries_added_later(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", goal="none")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118501", busy=True)
    sim.script_number("+390611118502", busy=True)
    add_entries(sql, cid, ["+390611118501"])
    sql("update campaigns set max_attempts = 1 where id = %s", (cid,))
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where ended_at is not null"), what="first call")
    ticks = dialer.metrics.ticks
    await eventually(lambda: dialer.metrics.ticks > ticks + 25, what="ticks with nothing left")
    assert sql("select state from campaigns where id = %s", (cid,))[0]["state"] == "active"
    add_entries(sql, cid, ["+390611118502"])
    await eventually(lambda: len(sql("select 1 from attempts")) == 2, what="the new entry dialled")

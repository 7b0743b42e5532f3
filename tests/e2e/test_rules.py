"""The dialer's promises end to end: invariants, AMD, caller ID, live control, callbacks."""
from __future__ import annotations

import datetime as dt

from tests.e2e.conftest import login, start_service, stop_service
from tests.world import add_agent, add_entries, add_status, create_campaign, eventually


def _originates(sim):
    return [e for e in sim.rest_log if e["method"] == "POST" and e["path"] == "/ari/channels"]


async def test_every_originate_has_an_attempt_row_committed_before_it(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive")
    add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    numbers = [f"+3906111160{i:02d}" for i in range(6)]
    for n in numbers:
        sim.script_number(n, busy=True)
    add_entries(sql, cid, numbers)
    await login(sim, dialer, "1001")
    await login(sim, dialer, "1002")
    await eventually(lambda: len(sql("select 1 from attempts where ended_at is not null")) == 6, what="six calls")
    rows = {r["channel_id"]: r for r in sql("select channel_id, created_at from attempts")}
    originates = _originates(sim)
    assert len(originates) == 6
    for req in originates:
        row = rows[req["query"]["channelId"]]  # the id we chose is the attempt's
        assert row["created_at"].timestamp() <= req["time"]


def _zone_at_3am(now: dt.datetime) -> str:
    """An Etc/GMT zone whose local time is 03:xx right now (deep outside 08:00-21:00)."""
    offset = (3 - now.hour) % 24
    if offset > 14:
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def test_never_dials_a_do_not_call_number_or_outside_calling_hours_or_schedule(db, sql, sim, dialer):
    now = dt.datetime.now(dt.timezone.utc)
    cid = create_campaign(sql, mode="progressive", calling_hours_start="08:00", calling_hours_end="21:00")
    closed = create_campaign(sql, name="closed", mode="progressive", timezone="UTC",
                             schedule={"weekly": {"mon": [["00:00", "00:01"]]},
                                       "exceptions": {now.date().isoformat(): []}})
    add_agent(sql, "1001", campaigns=[cid, closed])
    sql("insert into dnc_numbers (list_id, e164) values (1, '+390611117001')")
    add_entries(sql, cid, ["+390611117001"], tz="UTC")  # on the do-not-call list
    add_entries(sql, cid, ["+390611117002"], tz=_zone_at_3am(now))  # 03:00 for the contact
    add_entries(sql, closed, ["+390611117003"], tz="UTC")  # campaign schedule closed today
    await login(sim, dialer, "1001")
    ticks = dialer.metrics.ticks
    await eventually(lambda: dialer.metrics.ticks > ticks + 20, what="twenty dialing ticks")
    assert _originates(sim) == []
    assert sql("select count(*) as n from attempts")[0]["n"] == 0
    # ...and a dialable entry added now is dialled: the checks above were not vacuous.
    sim.script_number("+390611117004", busy=True)
    add_entries(sql, cid, ["+390611117004"], tz="UTC" if 8 <= now.hour < 21 else _zone_at_3am(now).replace("3", "3"))
    if 8 <= now.hour < 21:
        await eventually(lambda: _originates(sim), what="a dialable entry is dialled")


async def test_given_amd_when_machine_answers_then_hung_up_with_machine_outcome_and_status(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", amd_enabled=True, machine_action="hangup")
    machine_status = add_status(sql, cid, "Machine", "call_again", auto_on=["machine"])
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118001", machine=True)
    (entry,) = add_entries(sql, cid, ["+390611118001"])
    await login(sim, dialer, "1001")
    row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), timeout=20,
                            what="machine call ended"))[0]
    assert row["outcome"] == "machine" and row["connected_at"] is None
    assert sql("select last_status_id from campaign_entries where id = %s", (entry,))[0]["last_status_id"] == machine_status
    continues = [e for e in sim.rest_log if e["path"].endswith("/continue")]
    assert continues and continues[0]["query"]["context"] == "dialer-amd"


async def test_given_amd_when_a_person_answers_then_connected_to_the_agent(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", amd_enabled=True)
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611118002", answer_after=0.2, talk=2)
    add_entries(sql, cid, ["+390611118002"])
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), timeout=15, what="human connected")


async def test_given_random_rotation_then_calls_use_several_of_the_campaigns_numbers(db, sql, sim, dialer):
    numbers = ["+390600000001", "+390600000002", "+390600000003"]
    cid = create_campaign(sql, mode="progressive", caller_ids=numbers, caller_id_rotation="random")
    add_agent(sql, "1001", campaigns=[cid])
    targets = [f"+3906111190{i:02d}" for i in range(12)]
    for n in targets:
        sim.script_number(n, busy=True)
    add_entries(sql, cid, targets)
    await login(sim, dialer, "1001")
    await eventually(lambda: len(_originates(sim)) == 12, timeout=20, what="twelve calls")
    used = {e["query"]["callerId"] for e in _originates(sim)}
    assert used <= set(numbers) and len(used) >= 2
    assert all(int(e["query"]["timeout"]) >= 15 for e in _originates(sim))


async def test_given_pause_requested_during_a_call_then_it_applies_when_the_call_ends(db, sql, sim, dialer, cli):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30)
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611119101", answer_after=0.2, talk=1.5)
    add_entries(sql, cid, ["+390611119101"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="on a call")
    from ari_app.services.agent_control import send_agent_command

    assert await send_agent_command(dialer.db, "1001", "pause", reason="coaching") == "will pause when the current call ends"
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    assert await send_agent_command(dialer.db, "1001", "end-wrapup") == "wrap-up ended"
    await eventually(lambda: sql("select state from agent_sessions where logged_out_at is null")[0]["state"] == "paused",
                     what="paused after the call")
    assert await send_agent_command(dialer.db, "1001", "unpause") == "ready"
    assert phone.is_up


async def test_given_personal_callback_due_then_it_goes_to_its_owner_announced_within_5_seconds(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive")
    owner = add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611119201"])
    sim.script_number("+390611119201", answer_after=0.2, talk=2)
    sim.script_number("+390611119299", answer_after=0.2, talk=2)
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))
    owner_phone = await login(sim, dialer, "1001")
    await login(sim, dialer, "1002")
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id) "
        "values (%s, %s, %s, '+390611119299', %s, %s)", (cid, entry, contact, due, owner))
    row = (await eventually(lambda: sql("select * from attempts"), timeout=10, what="callback fired"))[0]
    assert row["agent_id"] == owner and row["phone_e164"] == "+390611119299"  # the callback's own number
    assert (row["created_at"] - due).total_seconds() < 5 and row["created_at"] >= due
    await eventually(lambda: "sound:dialer-personal-callback" in sim.media_played(owner_phone.channel_id), what="announced")
    assert sql("select state, attempt_id from callbacks")[0] == {"state": "fired", "attempt_id": row["id"]}
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null and agent_id = %s", (owner,)),
                     what="owner connected")


async def test_given_owner_not_logged_in_then_callback_escalates_after_grace(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", options={"callback_grace_seconds": 1})
    owner = add_agent(sql, "1001", campaigns=[cid])
    other = add_agent(sql, "1002", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611119301"])
    sim.script_number("+390611119301", answer_after=0.2, talk=2)
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))
    await login(sim, dialer, "1002")
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id) "
        "values (%s, %s, %s, '+390611119301', now(), %s)", (cid, entry, contact, owner))
    row = (await eventually(lambda: sql("select * from attempts"), timeout=10, what="escalated callback"))[0]
    assert row["agent_id"] == other


async def test_given_two_instances_then_a_callback_fires_exactly_once(db, sql, sim):
    cid = create_campaign(sql, mode="progressive")
    add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611119401"])
    sim.script_number("+390611119401", answer_after=0.2, talk=1)
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))
    a, ta = await start_service(db, sim, instance="node-a", app="dialer")
    b, tb = await start_service(db, sim, instance="node-b", app="dialer-b")
    try:
        await login(sim, a, "1001")
        await login(sim, b, "1002", app="dialer-b")
        sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) "
            "values (%s, %s, %s, '+390611119401', now() + interval '1 second')", (cid, entry, contact))
        await eventually(lambda: sql("select 1 from attempts where ended_at is not null"), timeout=15, what="callback call")
        await eventually(lambda: True)
    finally:
        await stop_service(a, ta)
        await stop_service(b, tb)
    assert sql("select count(*) as n from attempts")[0]["n"] == 1


async def test_given_callback_set_to_wait_then_it_does_not_pass_to_another_agent(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", options={"callback_grace_seconds": 1})
    owner = add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611119311"])
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (entry,))
    await login(sim, dialer, "1002")
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id, escalate) "
        "values (%s, %s, %s, '+390611119311', now(), %s, false)", (cid, entry, contact, owner))
    ticks = dialer.metrics.ticks
    await eventually(lambda: dialer.metrics.ticks > ticks + 40, what="well past the grace period")
    assert sql("select count(*) as n from attempts")[0]["n"] == 0
    assert sql("select state from callbacks")[0]["state"] == "pending"

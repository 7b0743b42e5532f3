"""Supervisors from a desk phone: listen, whisper, barge, switching, permissions, audit."""
from __future__ import annotations

from tests.e2e.conftest import login
from tests.world import add_agent, add_entries, create_campaign, eventually


def _world(sql, sim, talk=30.0, numbers=("+390611115001",)):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30)
    group = sql("insert into groups (name) values ('team') returning id")[0]["id"]
    agent = add_agent(sql, "1001", campaigns=[cid])
    sup = add_agent(sql, "1901", pin="5678", name="Sup")
    sql("update agents set roles = '{agent,supervisor}' where id = %s", (sup,))
    sql("insert into agent_groups values (%s, %s), (%s, %s)", (agent, group, sup, group))
    for n in numbers:
        sim.script_number(n, answer_after=0.2, talk=talk)
    add_entries(sql, cid, list(numbers))
    return cid, agent, sup


def _live(sim, kind):
    return [c for c in sim.channels() if c["kind"] == kind]


def _bridge_of(sim, channel_id):
    return next((b for b in sim.bridges() if channel_id in b["channels"]), None)


async def _supervise(sim, code, pin="5678", ext="1901"):
    phone = sim.add_phone(ext, name="Supervisor")
    await phone.dial(code)
    await phone.press(pin + "#")
    return phone


def _modes(sql):
    return [r["mode"] for r in sql("select mode from monitoring_events order by id")]


async def test_given_agent_on_call_when_supervisor_listens_then_snoop_hears_both_and_nobody_hears_supervisor(db, sql, sim, dialer):
    _, agent, sup = _world(sql, sim)
    agent_phone = await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="agent on a call")
    sup_phone = await _supervise(sim, "*2221001")
    snoop = (await eventually(lambda: _live(sim, "snoop"), what="snoop channel"))[0]
    assert snoop["snoop"] == {"spied": agent_phone.channel_id, "spy": "both", "whisper": "none"}
    bridge = await eventually(lambda: (b := _bridge_of(sim, sup_phone.channel_id)) and snoop["id"] in b["channels"] and b,
                              what="supervisor bridged with the snoop")
    assert agent_phone.channel_id not in bridge["channels"]  # the supervisor is heard by no one
    session = sql("select * from monitoring_sessions")[0]
    assert (session["supervisor_id"], session["agent_id"], session["ended_at"]) == (sup, agent, None)
    assert _modes(sql) == ["listen"]
    assert sql("select attempt_id from monitoring_events")[0]["attempt_id"] == \
        sql("select id from attempts where connected_at is not null")[0]["id"]


async def test_given_listening_when_switching_whisper_barge_listen_then_audio_path_changes_and_audit_records_each(db, sql, sim, dialer):
    _world(sql, sim)
    agent_phone = await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="agent on a call")
    sup_phone = await _supervise(sim, "*2221001")
    first = (await eventually(lambda: _live(sim, "snoop"), what="snoop"))[0]

    await sup_phone.press("2")  # whisper: a new snoop that whispers to the agent, the old one goes
    whisper = await eventually(lambda: [c for c in _live(sim, "snoop") if c["snoop"]["whisper"] == "out"
                                        and c["id"] != first["id"]], what="whisper snoop")
    await eventually(lambda: all(c["id"] != first["id"] for c in _live(sim, "snoop")), what="old snoop gone")
    assert whisper[0]["id"] in _bridge_of(sim, sup_phone.channel_id)["channels"]

    await sup_phone.press("3")  # barge: into the agent's own bridge, heard by both
    await eventually(lambda: (b := _bridge_of(sim, sup_phone.channel_id)) and agent_phone.channel_id in b["channels"],
                     what="supervisor in the agent's bridge")
    await eventually(lambda: not _live(sim, "snoop"), what="no snoop while barging")
    customer = sql("select channel_id from attempts where connected_at is not null")[0]["channel_id"]
    assert customer in _bridge_of(sim, sup_phone.channel_id)["channels"]

    await sup_phone.press("1")  # back to listening
    await eventually(lambda: [c for c in _live(sim, "snoop") if c["snoop"]["whisper"] == "none"], what="listen snoop")
    await eventually(lambda: agent_phone.channel_id not in (_bridge_of(sim, sup_phone.channel_id) or {"channels": []})["channels"],
                     what="supervisor out of the agent's bridge")
    assert _modes(sql) == ["listen", "whisper", "barge", "listen"]


async def test_given_supervisor_outside_agents_groups_then_refused_and_hung_up(db, sql, sim, dialer):
    _world(sql, sim)
    other = add_agent(sql, "1902", pin="5678", name="Other sup")
    sql("update agents set roles = '{supervisor}' where id = %s", (other,))
    await login(sim, dialer, "1001")
    phone = await _supervise(sim, "*2221001", ext="1902")
    await eventually(lambda: not phone.is_up, what="refused supervisor hung up")
    assert "sound:dialer-not-allowed" in sim.media_played(phone.channel_id)
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 0
    assert not _live(sim, "snoop")


async def test_given_wrong_supervisor_pin_three_times_then_hung_up(db, sql, sim, dialer):
    _world(sql, sim)
    await login(sim, dialer, "1001")
    phone = sim.add_phone("1901", name="Sup")
    await phone.dial("*2231001")
    for _ in range(3):
        await phone.press("0000#")
    await eventually(lambda: not phone.is_up, what="hung up after wrong PINs")
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 0


async def test_given_supervisor_hangs_up_then_snoop_is_gone_and_session_closed(db, sql, sim, dialer):
    _world(sql, sim)
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="agent on a call")
    sup_phone = await _supervise(sim, "*2221001")
    await eventually(lambda: _live(sim, "snoop"), what="snoop")
    await sup_phone.hangup()
    await eventually(lambda: not _live(sim, "snoop"), what="snoop torn down")
    await eventually(lambda: sql("select ended_at from monitoring_sessions")[0]["ended_at"], what="session closed")
    assert sql("select ended_at from attempts")[0]["ended_at"] is None  # the customer call goes on


async def test_given_customer_hangs_up_then_supervisor_follows_agent_into_next_call(db, sql, sim, dialer):
    _world(sql, sim, talk=1.0, numbers=("+390611115101", "+390611115102"))
    agent_phone = await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="first call")
    sup_phone = await _supervise(sim, "*2241001")  # barge
    await eventually(lambda: (b := _bridge_of(sim, sup_phone.channel_id)) and agent_phone.channel_id in b["channels"],
                     what="barging")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="customer hung up")
    assert sup_phone.is_up  # the supervisor stays with the agent
    await agent_phone.press("1#")
    second = await eventually(lambda: sql("select id, channel_id from attempts where connected_at is not null order by id")[1:],
                              what="second call")
    await eventually(lambda: second[0]["channel_id"] in (_bridge_of(sim, sup_phone.channel_id) or {"channels": []})["channels"],
                     what="supervisor hears the next customer")
    attempts = [r["attempt_id"] for r in sql("select attempt_id from monitoring_events order by id")]
    await eventually(lambda: second[0]["id"] in [r["attempt_id"] for r in sql("select attempt_id from monitoring_events")],
                     what="audit records the followed call")
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 1
    assert attempts[0] != second[0]["id"]


async def test_given_agent_hangs_up_then_monitoring_session_ends_and_supervisor_waits(db, sql, sim, dialer):
    _world(sql, sim)
    agent_phone = await login(sim, dialer, "1001")
    sup_phone = await _supervise(sim, "*2221001")
    await eventually(lambda: sql("select 1 from monitoring_sessions"), what="monitoring")
    await agent_phone.hangup()
    await eventually(lambda: sql("select ended_at from monitoring_sessions")[0]["ended_at"], what="session ended")
    assert sup_phone.is_up


async def test_given_two_supervisors_on_one_agent_then_each_has_own_snoop_and_session(db, sql, sim, dialer):
    _, _, sup = _world(sql, sim)
    second = add_agent(sql, "1902", pin="5678", name="Sup 2")
    sql("update agents set roles = '{supervisor}' where id = %s", (second,))
    sql("insert into agent_groups select %s, group_id from agent_groups where agent_id = %s", (second, sup))
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="agent on a call")
    await _supervise(sim, "*2221001", ext="1901")
    await _supervise(sim, "*2231001", ext="1902")
    await eventually(lambda: len(_live(sim, "snoop")) == 2, what="two snoops")
    assert {c["snoop"]["whisper"] for c in _live(sim, "snoop")} == {"none", "out"}
    assert sql("select count(*) as n from monitoring_sessions where ended_at is null")[0]["n"] == 2


async def test_given_campaign_tone_option_then_agent_hears_a_tone_on_whisper_but_not_on_listen(db, sql, sim, dialer):
    cid, _, _ = _world(sql, sim)
    sql("update campaigns set options = '{\"supervisor_tone\": true}' where id = %s", (cid,))
    agent_phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.campaign_ids for a in dialer.agents.values()), what="agent in the campaign")
    await eventually(lambda: dialer.campaigns.get(cid) and dialer.campaigns[cid].supervisor_tone, what="option loaded")
    sup_phone = await _supervise(sim, "*2221001")
    await eventually(lambda: sql("select 1 from monitoring_events where mode = 'listen'"), what="listening")
    assert "sound:beep" not in sim.media_played(agent_phone.channel_id)
    await sup_phone.press("2")
    await eventually(lambda: "sound:beep" in sim.media_played(agent_phone.channel_id), what="tone on whisper")


async def test_given_whispering_when_switching_listen_barge_whisper_then_each_switch_keeps_the_supervisor_on(db, sql, sim, dialer):
    """The other three switches (whisper->listen, listen->barge, barge->whisper), the supervisor's
    call staying up throughout."""
    _world(sql, sim)
    agent_phone = await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="agent on a call")
    sup_phone = await _supervise(sim, "*2231001")  # whisper
    first = (await eventually(lambda: [c for c in _live(sim, "snoop") if c["snoop"]["whisper"] == "out"],
                              what="whisper snoop"))[0]

    await sup_phone.press("1")  # listen: a snoop that whispers nothing replaces the whispering one
    await eventually(lambda: [c for c in _live(sim, "snoop") if c["snoop"]["whisper"] == "none"], what="listen snoop")
    await eventually(lambda: all(c["id"] != first["id"] for c in _live(sim, "snoop")), what="whisper snoop gone")

    await sup_phone.press("3")  # barge
    await eventually(lambda: (b := _bridge_of(sim, sup_phone.channel_id)) and agent_phone.channel_id in b["channels"],
                     what="supervisor in the agent's bridge")
    await eventually(lambda: not _live(sim, "snoop"), what="no snoop while barging")

    await sup_phone.press("2")  # whisper again, out of the agent's bridge
    await eventually(lambda: [c for c in _live(sim, "snoop") if c["snoop"]["whisper"] == "out"], what="whisper snoop again")
    await eventually(lambda: agent_phone.channel_id not in (_bridge_of(sim, sup_phone.channel_id) or {"channels": []})["channels"],
                     what="supervisor out of the agent's bridge")
    assert sup_phone.is_up
    assert _modes(sql) == ["whisper", "listen", "barge", "whisper"]
    assert sql("select ended_at from attempts")[0]["ended_at"] is None


async def test_given_agent_between_calls_when_supervisor_listens_then_the_snoop_starts_with_the_next_call(db, sql, sim, dialer):
    """Monitoring an agent who is not on a call waits for the next one."""
    cid, _, _ = _world(sql, sim, numbers=())
    agent_phone = await login(sim, dialer, "1001")
    sup_phone = await _supervise(sim, "*2221001")
    await eventually(lambda: sql("select 1 from monitoring_sessions"), what="monitoring session")
    assert sup_phone.is_up and not sql("select 1 from monitoring_events where attempt_id is not null")
    sim.script_number("+390611115201", answer_after=0.2, talk=30.0)
    add_entries(sql, cid, ["+390611115201"])
    call = await eventually(lambda: sql("select id from attempts where connected_at is not null"), timeout=20,
                            what="the agent's next call")
    await eventually(lambda: [r for r in sql("select attempt_id from monitoring_events") if r["attempt_id"] == call[0]["id"]],
                     what="audit names the call")
    snoop = (await eventually(lambda: _live(sim, "snoop"), what="snoop on the agent"))[0]
    assert snoop["snoop"]["spied"] == agent_phone.channel_id

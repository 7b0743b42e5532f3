"""Supervisors on a real Asterisk (issue 7): listen, whisper and barge through real snoop channels
and bridges, switching, permissions, following the agent, two supervisors, and the audit rows.
The scenarios of tests/e2e/test_supervision.py; what the simulator reports about a snoop here comes
from Asterisk's own channel and bridge listings."""
from __future__ import annotations

from tests.e2e.conftest import login
from tests.e2e.test_supervision import _modes, _supervise
from tests.world import add_agent, add_entries, create_campaign, eventually

TEMPLATE = "Local/{digits}@dialer-test-customers"


def world(sql, numbers=("+390611110101",), **settings):
    """Agent 1001 and supervisor 1901 in one group; customers answer after 2 s (1xx talk 30 s,
    5xx hang up after 3 s)."""
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30, dial_template=TEMPLATE, **settings)
    group = sql("insert into groups (name) values ('team') returning id")[0]["id"]
    agent = add_agent(sql, "1001", campaigns=[cid])
    sup = add_agent(sql, "1901", pin="5678", name="Sup")
    sql("update agents set roles = '{agent,supervisor}' where id = %s", (sup,))
    sql("insert into agent_groups values (%s, %s), (%s, %s)", (agent, group, sup, group))
    add_entries(sql, cid, list(numbers))
    return cid, agent, sup


async def snoops_on(pbx, channel_id: str) -> list[dict]:
    """The snoops on a channel that still listen: Asterisk names them Snoop/<spied uniqueid>-<n>.

    A snoop the dialer hangs up leaves Stasis and its bridge at once, but Asterisk destroys its
    channel only after detaching the audiohook, which waits for the spied channel to pass a frame.
    Desk phones send RTP all the time, so that takes 20 ms; our Local-channel phones carry no
    audio, so the channel stays listed until the agent hangs up. Such a snoop hears nothing and
    feeds no one: it counts as gone once Asterisk reported the hangup request (an ARI DELETE is
    reported with soft=true), and it must be in no bridge."""
    snoops = [c for c in await pbx.channels() if c["name"].startswith(f"Snoop/{channel_id}-")]
    dead = {c["id"] for c in snoops if c["id"] in pbx.hung_up}
    if dead:
        bridged = {ch for b in await pbx.bridges() for ch in b["channels"]}
        assert not dead & bridged, f"hung-up snoops {dead & bridged} are still bridged"
    return [c for c in snoops if c["id"] not in dead]


async def bridge_of(pbx, channel_id: str) -> dict | None:
    return next((b for b in await pbx.bridges() if channel_id in b["channels"]), None)


def connected(sql):
    return sql("select id, channel_id from attempts where connected_at is not null order by id")


async def on_a_call(sql):
    return (await eventually(lambda: connected(sql), timeout=20, what="agent on a call"))[0]


async def test_given_agent_on_call_when_supervisor_listens_then_a_snoop_feeds_a_bridge_the_agent_is_not_in(db, sql, pbx, dialer):
    _, agent, sup = world(sql)
    agent_phone = await login(pbx, dialer, "1001")
    call = await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2221001")
    snoop = (await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="snoop on the agent"))[0]

    async def sup_bridge():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b if b and snoop["id"] in b["channels"] else None

    bridge = await eventually(sup_bridge, what="supervisor bridged with the snoop")
    assert agent_phone.channel_id not in bridge["channels"] and call["channel_id"] not in bridge["channels"]
    session = sql("select * from monitoring_sessions")[0]
    assert (session["supervisor_id"], session["agent_id"], session["ended_at"]) == (sup, agent, None)
    assert _modes(sql) == ["listen"]
    assert sql("select attempt_id from monitoring_events")[0]["attempt_id"] == call["id"]


async def test_given_listening_when_switching_whisper_barge_listen_then_the_audio_path_changes_and_each_is_audited(db, sql, pbx, dialer):
    world(sql)
    agent_phone = await login(pbx, dialer, "1001")
    call = await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2221001")
    first = (await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="listen snoop"))[0]

    await sup_phone.press("2")  # whisper: a new snoop (whispering to the agent) replaces the listening one

    async def replaced():
        now = await snoops_on(pbx, agent_phone.channel_id)
        return now if len(now) == 1 and now[0]["id"] != first["id"] else None

    whisper = (await eventually(replaced, what="whisper snoop replaced the listen snoop"))[0]
    assert whisper["id"] in (await bridge_of(pbx, sup_phone.channel_id))["channels"]

    await sup_phone.press("3")  # barge: into the agent's own bridge, heard by agent and customer

    async def barging():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b if b and agent_phone.channel_id in b["channels"] else None

    bridge = await eventually(barging, what="supervisor in the agent's bridge")
    assert call["channel_id"] in bridge["channels"]
    await eventually(lambda: _no(snoops_on(pbx, agent_phone.channel_id)), what="no snoop while barging")

    await sup_phone.press("1")  # back to listening
    await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="listen snoop again")

    async def out_of_agent_bridge():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b is not None and agent_phone.channel_id not in b["channels"]

    await eventually(out_of_agent_bridge, what="supervisor out of the agent's bridge")
    assert _modes(sql) == ["listen", "whisper", "barge", "listen"]
    assert {r["attempt_id"] for r in sql("select attempt_id from monitoring_events")} == {call["id"]}
    assert sql("select ended_at from attempts")[0]["ended_at"] is None  # the customer never noticed


async def _no(result):
    return not await result


async def test_given_supervisor_outside_the_agents_groups_then_refused_and_hung_up(db, sql, pbx, dialer):
    world(sql)
    other = add_agent(sql, "1902", pin="5678", name="Other sup")
    sql("update agents set roles = '{supervisor}' where id = %s", (other,))
    agent_phone = await login(pbx, dialer, "1001")
    await on_a_call(sql)
    phone = await _supervise(pbx, "*2221001", ext="1902")
    await eventually(lambda: not phone.is_up, timeout=20, what="refused supervisor hung up")
    assert "sound:dialer-not-allowed" in pbx.media_played(phone.channel_id)
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 0
    assert await snoops_on(pbx, agent_phone.channel_id) == []


async def test_given_wrong_supervisor_pin_three_times_then_hung_up(db, sql, pbx, dialer):
    world(sql)
    await login(pbx, dialer, "1001")
    phone = pbx.add_phone("1901", name="Sup")
    await phone.dial("*2231001")
    for _ in range(3):
        await phone.press("0000#")
    await eventually(lambda: not phone.is_up, timeout=20, what="hung up after wrong PINs")
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 0


async def test_given_supervisor_hangs_up_then_the_snoop_goes_and_the_session_closes(db, sql, pbx, dialer):
    world(sql)
    agent_phone = await login(pbx, dialer, "1001")
    await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2221001")
    await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="snoop")
    await sup_phone.hangup()
    await eventually(lambda: _no(snoops_on(pbx, agent_phone.channel_id)), what="snoop torn down")
    await eventually(lambda: sql("select ended_at from monitoring_sessions")[0]["ended_at"], what="session closed")
    assert sql("select ended_at from attempts")[0]["ended_at"] is None  # the customer call goes on


async def test_given_customer_hangs_up_then_the_barging_supervisor_follows_the_agent_into_the_next_call(db, sql, pbx, dialer):
    world(sql, numbers=("+390611110501", "+390611110502"))  # each hangs up 3 s after answering
    agent_phone = await login(pbx, dialer, "1001")
    first = await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2241001")

    async def with_agent():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b is not None and agent_phone.channel_id in b["channels"]

    await eventually(with_agent, what="barging")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), timeout=20,
                     what="first customer hung up")
    assert sup_phone.is_up  # the supervisor stays with the agent
    await agent_phone.press("1#")
    second = (await eventually(lambda: connected(sql)[1:], timeout=20, what="second call"))[0]

    async def hears_next():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b is not None and second["channel_id"] in b["channels"]

    await eventually(hears_next, what="supervisor hears the next customer")
    await eventually(lambda: second["id"] in [r["attempt_id"] for r in sql("select attempt_id from monitoring_events")],
                     what="audit records the followed call")
    events = sql("select mode, attempt_id from monitoring_events order by id")
    assert events[0] == {"mode": "barge", "attempt_id": first["id"]}
    assert sql("select count(*) as n from monitoring_sessions")[0]["n"] == 1


async def test_given_two_supervisors_on_one_agent_then_each_has_its_own_snoop_and_session(db, sql, pbx, dialer):
    _, _, sup = world(sql)
    second = add_agent(sql, "1902", pin="5678", name="Sup 2")
    sql("update agents set roles = '{supervisor}' where id = %s", (second,))
    sql("insert into agent_groups select %s, group_id from agent_groups where agent_id = %s", (second, sup))
    agent_phone = await login(pbx, dialer, "1001")
    await on_a_call(sql)
    one = await _supervise(pbx, "*2221001", ext="1901")
    two = await _supervise(pbx, "*2231001", ext="1902")

    async def two_snoops():
        return len(await snoops_on(pbx, agent_phone.channel_id)) == 2

    await eventually(two_snoops, what="two snoops")
    b1, b2 = await bridge_of(pbx, one.channel_id), await bridge_of(pbx, two.channel_id)
    assert b1["id"] != b2["id"]  # each supervisor hears through a bridge of their own
    assert sql("select count(*) as n from monitoring_sessions where ended_at is null")[0]["n"] == 2
    assert sorted(_modes(sql)) == ["listen", "whisper"]


async def test_given_campaign_tone_option_then_the_agent_hears_a_tone_on_whisper_but_not_on_listen(db, sql, pbx, dialer):
    cid, _, _ = world(sql)
    sql("update campaigns set options = '{\"supervisor_tone\": true}' where id = %s", (cid,))
    agent_phone = await login(pbx, dialer, "1001")
    await eventually(lambda: dialer.campaigns.get(cid) and dialer.campaigns[cid].supervisor_tone, what="option loaded")
    sup_phone = await _supervise(pbx, "*2221001")
    await eventually(lambda: sql("select 1 from monitoring_events where mode = 'listen'"), what="listening")
    assert "sound:beep" not in pbx.media_played(agent_phone.channel_id)
    await sup_phone.press("2")
    await eventually(lambda: "sound:beep" in pbx.media_played(agent_phone.channel_id), what="tone on whisper")


async def test_given_whispering_when_switching_listen_barge_whisper_then_each_switch_keeps_the_supervisor_on(db, sql, pbx, dialer):
    world(sql)
    agent_phone = await login(pbx, dialer, "1001")
    await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2231001")
    first = (await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="whisper snoop"))[0]

    async def replaced(old_id):
        now = await snoops_on(pbx, agent_phone.channel_id)
        return now if len(now) == 1 and now[0]["id"] != old_id else None

    await sup_phone.press("1")  # listen
    listen = (await eventually(lambda: replaced(first["id"]), what="listen snoop replaced the whisper snoop"))[0]
    assert listen["id"] in (await bridge_of(pbx, sup_phone.channel_id))["channels"]

    await sup_phone.press("3")  # barge

    async def barging():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b if b and agent_phone.channel_id in b["channels"] else None

    await eventually(barging, what="supervisor in the agent's bridge")
    await eventually(lambda: _no(snoops_on(pbx, agent_phone.channel_id)), what="no snoop while barging")

    await sup_phone.press("2")  # whisper again
    await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="whisper snoop again")

    async def out_of_agent_bridge():
        b = await bridge_of(pbx, sup_phone.channel_id)
        return b is not None and agent_phone.channel_id not in b["channels"]

    await eventually(out_of_agent_bridge, what="supervisor out of the agent's bridge")
    assert sup_phone.is_up
    assert _modes(sql) == ["whisper", "listen", "barge", "whisper"]
    assert sql("select ended_at from attempts")[0]["ended_at"] is None


async def test_given_agent_hangs_up_then_the_session_ends_and_the_supervisor_stays(db, sql, pbx, dialer):
    world(sql)
    agent_phone = await login(pbx, dialer, "1001")
    await on_a_call(sql)
    sup_phone = await _supervise(pbx, "*2221001")
    await eventually(lambda: snoops_on(pbx, agent_phone.channel_id), what="snoop")
    await agent_phone.hangup()
    await eventually(lambda: sql("select ended_at from monitoring_sessions")[0]["ended_at"], timeout=20,
                     what="session ended")
    assert sup_phone.is_up
    await eventually(lambda: _no(snoops_on(pbx, agent_phone.channel_id)), what="no snoop left on the gone agent")

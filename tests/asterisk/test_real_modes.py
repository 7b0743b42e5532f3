"""Each dialing mode, the agent's keys and the retry rules against a real Asterisk (the scenarios of
tests/e2e/test_modes.py and test_agent_keys.py). Customers follow the shipped number plan in
`dialer-test-customers`: the last three digits choose the behaviour (1xx answers after 2 s and
talks 30 s, 2xx busy, 5xx answers and hangs up after 3 s, ...)."""
from __future__ import annotations

import datetime as dt

from tests.e2e.conftest import login
from tests.e2e.test_modes import attempts
from tests.world import add_agent, add_entries, add_status, create_campaign, eventually, read_out

TEMPLATE = "Local/{digits}@dialer-test-customers"


def campaign(sql, **settings) -> int:
    settings.setdefault("dial_template", TEMPLATE)
    return create_campaign(sql, **settings)


def in_wrap_up(dialer) -> bool:
    return any(a.phase == "wrap_up" for a in dialer.agents.values())


async def test_given_progressive_campaign_when_customers_answer_then_each_is_bridged_and_status_keyed(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", wrapup_seconds=30)
    sale = add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    agent = add_agent(sql, "1001", campaigns=[cid])
    numbers = ["+390611110501", "+390611110502"]  # answer, talk 3 s, hang up
    add_entries(sql, cid, numbers)
    phone = await login(pbx, dialer, "1001")
    for i in range(2):
        await eventually(lambda: in_wrap_up(dialer), timeout=20, what=f"wrap-up {i}")
        assert "sound:dialer-enter-status" in pbx.media_played(phone.channel_id)
        await phone.press("2#")
        await eventually(lambda: len([r for r in attempts(sql, cid) if r["disposition_at"]]) == i + 1,
                         what=f"disposition {i}")
    rows = attempts(sql, cid)
    assert [(r["outcome"], r["agent_id"], r["disposition_status_id"]) for r in rows] == [("answered", agent, sale)] * 2
    assert all(r["connected_at"] for r in rows)
    assert rows[1]["originated_at"] >= rows[0]["ended_at"]  # one line per ready agent
    assert {r["e164"] for r in sql("select e164 from dnc_numbers")} == set(numbers)
    assert "sound:dialer-status-saved" in pbx.media_played(phone.channel_id)


async def test_given_no_agent_free_when_customer_answers_then_message_is_played_and_abandon_recorded(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", abandon_message="sound:dialer-abandon-info")
    progressive = add_status(sql, cid, "Dropped", "call_progressive", auto_on=["abandoned"])
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110101"])  # rings 2 s, then answers
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: attempts(sql, cid), what="call placed")
    await phone.press("*")  # the agent pauses while the customer's phone rings
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["ended_at"]], timeout=30, what="call ended"))[0]
    assert row["abandoned"] and row["outcome"] == "abandoned" and row["connected_at"] is None
    assert "sound:dialer-abandon-info" in pbx.media_played(row["channel_id"])
    assert (row["ended_at"] - row["answered_at"]) >= dt.timedelta(seconds=2)  # the 2 s window, then the message
    entry_row = sql("select state, progressive_only, last_status_id from campaign_entries where id = %s", (entry,))[0]
    assert entry_row == {"state": "ready", "progressive_only": True, "last_status_id": progressive}


async def test_given_outcomes_then_retry_rules_by_outcome_apply(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", retry_rules={"busy": {"delay_seconds": 600, "max": 3},
                                                         "no_answer": {"delay_seconds": 1800}})
    busy_status = add_status(sql, cid, "Busy", "call_again", auto_on=["busy"])
    add_agent(sql, "1001", campaigns=[cid])
    busy, noanswer = add_entries(sql, cid, ["+390611110201", "+390611110301"])  # busy; rings past the 15 s timeout
    await login(pbx, dialer, "1001")

    def ended():
        rows = [x for x in attempts(sql, cid) if x["ended_at"]]
        return rows if len(rows) == 2 else None

    rows = await eventually(ended, timeout=45, what="both calls ended")
    by_entry = {r["entry_id"]: r for r in rows}
    assert by_entry[busy]["outcome"] == "busy" and by_entry[noanswer]["outcome"] == "no_answer"
    for entry, delay in ((busy, 600), (noanswer, 1800)):
        e = sql("select state, next_attempt_at, last_outcome from campaign_entries where id = %s", (entry,))[0]
        assert e["state"] == "ready"
        assert abs((e["next_attempt_at"] - by_entry[entry]["ended_at"]) - dt.timedelta(seconds=delay)) < dt.timedelta(seconds=2)
    assert sql("select last_status_id from campaign_entries where id = %s", (busy,))[0]["last_status_id"] == busy_status


async def test_given_wrong_pin_three_times_then_hung_up_with_no_session(db, sql, pbx, dialer):
    add_agent(sql, "1001", pin="1234", campaigns=[campaign(sql)])
    phone = pbx.add_phone("1001")
    await phone.dial("*50")
    for _ in range(3):
        await phone.press("9999#")
    await eventually(lambda: not phone.is_up, timeout=20, what="phone hung up after three wrong PINs")
    assert sql("select count(*) as n from agent_sessions")[0]["n"] == 0
    assert sql("select failed_pin_count from agents")[0]["failed_pin_count"] == 3
    assert "sound:agent-incorrect" in pbx.media_played(phone.channel_id)


async def test_given_wrap_up_times_out_without_a_code_then_default_status_and_agent_ready(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", wrapup_seconds=1)
    call_status = sql("select id from campaign_statuses where campaign_id = %s and name = 'Call'", (cid,))[0]["id"]
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110501"])
    await login(pbx, dialer, "1001")
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["disposition_at"]], timeout=20,
                            what="default disposition"))[0]
    assert row["disposition_status_id"] == call_status
    def first_changes():
        states = [x["state"] for x in sql("select state from agent_state_changes order by id")]
        return states[:4] if len(states) >= 4 else None

    changes = await eventually(first_changes, what="agent ready again")
    assert changes == ["ready", "on_call", "wrap_up", "ready"]
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "ready"


async def test_given_invalid_status_code_then_announced_and_asked_again(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", wrapup_seconds=60)
    sale = add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110501"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: in_wrap_up(dialer), timeout=20, what="wrap-up")
    await phone.press("77#")
    await eventually(lambda: "sound:dialer-invalid-status" in pbx.media_played(phone.channel_id), what="invalid announced")
    assert attempts(sql, cid)[0]["disposition_at"] is None
    await phone.press("2#")
    await eventually(lambda: attempts(sql, cid)[0]["disposition_status_id"] == sale, what="valid status saved")


async def test_given_call_when_agent_presses_hash_then_customer_leg_ends_and_agent_stays(db, sql, pbx, dialer):
    cid = campaign(sql, mode="progressive", wrapup_seconds=30)
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110101"])  # would talk 30 s
    phone = await login(pbx, dialer, "1001")
    row = (await eventually(lambda: sql("select * from attempts where connected_at is not null"), timeout=20,
                            what="on a call"))[0]
    await phone.press("#")
    ended = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), what="customer leg ended"))[0]
    assert ended["outcome"] == "answered" and phone.is_up
    assert (ended["ended_at"] - row["connected_at"]) < dt.timedelta(seconds=20)  # not the customer's own hangup
    await eventually(lambda: in_wrap_up(dialer), what="wrap-up")
    assert row["channel_id"] in pbx.destroyed


async def test_given_preview_then_record_announced_and_key_one_dials_for_that_agent(db, sql, pbx, dialer):
    cid = campaign(sql, mode="preview", bcw_seconds=60)
    agent_id = add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110102"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: "390611110102" in read_out(pbx.media_played(phone.channel_id)), timeout=20,
                     what="record announced")
    assert "sound:dialer-preview-record" in pbx.media_played(phone.channel_id)
    assert attempts(sql, cid) == []  # nothing is dialled before the agent says so
    await phone.press("1")
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["connected_at"]], timeout=20, what="connected"))[0]
    assert row["agent_id"] == agent_id


async def test_given_preview_bcw_limit_passes_without_a_key_then_it_dials(db, sql, pbx, dialer):
    cid = campaign(sql, mode="preview", bcw_seconds=4)
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110103"])
    phone = await login(pbx, dialer, "1001")
    # Asterisk plays a channel's prompts one after another: the record follows the login prompt
    # (the 4 s BCW limit may cut its read-out, which takes ~9 s).
    await eventually(lambda: "sound:dialer-preview-record" in pbx.media_played(phone.channel_id), what="record announced")
    assert attempts(sql, cid) == []
    row = (await eventually(lambda: attempts(sql, cid), timeout=10, what="automatic dial after BCW"))[0]
    assert (row["created_at"] - sql("select min(at) as t from agent_state_changes where state = 'reserved'")[0]["t"]) \
        >= dt.timedelta(seconds=3.5)


async def test_given_preview_skip_then_entry_returns_to_the_list_for_later(db, sql, pbx, dialer):
    cid = campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110104"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: "390611110104" in read_out(pbx.media_played(phone.channel_id)), timeout=20, what="announced")
    await phone.press("2")
    e = await eventually(lambda: [r for r in sql("select state, next_attempt_at from campaign_entries where id = %s", (entry,))
                                  if r["state"] == "ready" and r["next_attempt_at"]], what="skipped")
    assert e[0]["next_attempt_at"] > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    assert attempts(sql, cid) == []


async def test_given_preview_key_three_then_number_goes_to_do_not_call(db, sql, pbx, dialer):
    cid = campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110105"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: "390611110105" in read_out(pbx.media_played(phone.channel_id)), timeout=20, what="announced")
    await phone.press("3")
    await eventually(lambda: sql("select 1 from dnc_numbers where e164 = '+390611110105'"), what="number on DNC list")
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "dnc"
    assert attempts(sql, cid) == []


async def test_given_push_preview_when_agent_accepts_then_call_is_placed_for_that_agent(db, sql, pbx, dialer):
    cid = campaign(sql, mode="push_preview", push_timeout_seconds=30)
    agent = add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110106"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: "sound:dialer-push-record" in pbx.media_played(phone.channel_id), what="pushed")
    await phone.press("1")
    row = (await eventually(lambda: sql("select * from attempts where connected_at is not null"), timeout=20,
                            what="connected"))[0]
    assert row["agent_id"] == agent


async def test_given_push_preview_reject_then_back_on_top_and_timeouts_mark_inactivity(db, sql, pbx, dialer):
    cid = campaign(sql, mode="push_preview", push_timeout_seconds=3)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110107"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: "sound:dialer-push-record" in pbx.media_played(phone.channel_id), what="pushed")
    await phone.press("2")
    await eventually(lambda: sql("select priority from campaign_entries where id = %s", (entry,))[0]["priority"] >= 1,
                     what="rejected record back on top")
    await eventually(lambda: sql("select 1 from agent_state_changes where reason like 'inactive%%'"), timeout=30,
                     what="inactivity after repeated push timeouts")
    assert sql("select state from agent_sessions where logged_out_at is null")[0]["state"] == "paused"
    # A timed-out record's announcement is stopped (its digits are sounds, which Asterisk can cut)
    # and those still queued are cancelled, so the pause is heard at once rather than after every
    # stale record in the queue.
    await eventually(lambda: "sound:dialer-paused" in pbx.media_played(phone.channel_id), timeout=12,
                     what="pause announced")
    assert attempts(sql, cid) == []


async def test_given_predictive_campaign_then_the_pacer_dials_and_answered_calls_reach_both_agents(db, sql, pbx, dialer):
    cid = campaign(sql, mode="predictive", pickup_rate=0.5, max_lines_per_agent=3.0, wrapup_seconds=1)
    a1 = add_agent(sql, "1001", campaigns=[cid])
    a2 = add_agent(sql, "1002", campaigns=[cid])
    add_entries(sql, cid, [f"+3906111105{i:02d}" for i in range(10, 16)])
    await login(pbx, dialer, "1001")
    await login(pbx, dialer, "1002")
    await eventually(lambda: {r["agent_id"] for r in sql("select agent_id from attempts where connected_at is not null")}
                     == {a1, a2}, timeout=40, what="predictive calls connected to both agents")
    assert dialer.pacing.knows(cid)
    bridged = [b for b in await pbx.bridges() if b["id"].startswith("agent-")]
    assert bridged and all(len(b["channels"]) <= 2 for b in bridged)  # never two customers on one agent


async def test_given_idle_agent_when_pressing_zero_then_logged_out(db, sql, pbx, dialer):
    add_agent(sql, "1001", campaigns=[campaign(sql, mode="progressive")])
    phone = await login(pbx, dialer, "1001")
    await phone.press("0")
    await eventually(lambda: not phone.is_up, what="phone hung up")
    await eventually(lambda: sql("select logged_out_at from agent_sessions")[0]["logged_out_at"], what="logged out")
    assert sql("select state from agent_state_changes order by id desc limit 1")[0]["state"] == "logged_out"


async def test_given_preview_skipped_while_the_number_is_read_then_the_read_out_is_cut_and_the_next_record_follows(db, sql, pbx, dialer):
    cid = campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110111"])
    phone = await login(pbx, dialer, "1001")
    await eventually(lambda: read_out(pbx.media_played(phone.channel_id)).startswith("39"), what="read-out started")
    await phone.press("2")
    add_entries(sql, cid, ["+390611110112"])
    await eventually(lambda: "390611110112" in read_out(pbx.media_played(phone.channel_id)), timeout=20,
                     what="next record read out")
    heard = read_out(pbx.media_played(phone.channel_id))
    assert "390611110111" not in heard and heard.endswith("390611110112")
    assert attempts(sql, cid) == []

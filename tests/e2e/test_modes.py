"""Each dialing mode end to end: real service, real HTTP/WebSocket, PBX simulator, real PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.conftest import login
from tests.world import (add_agent, add_entries, add_status, create_campaign, daytime_zone, eventually,
                         local_to_utc, read_out)


def attempts(sql, cid):
    return sql("select * from attempts where campaign_id = %s order by id", (cid,))


async def test_given_progressive_campaign_when_customers_answer_then_each_is_bridged_to_the_ready_agent(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive")
    sale = add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    add_agent(sql, "1001", campaigns=[cid])
    numbers = ["+390611111101", "+390611111102"]
    for n in numbers:
        sim.script_number(n, answer_after=0.3, talk=0.8)
    add_entries(sql, cid, numbers)
    phone = await login(sim, dialer, "1001")

    for i in range(2):
        await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what=f"wrap-up {i}")
        await phone.press("2#")
        await eventually(lambda: len([r for r in attempts(sql, cid) if r["disposition_at"]]) == i + 1,
                         what=f"disposition {i}")

    rows = attempts(sql, cid)
    assert len(rows) == 2
    assert all(r["outcome"] == "answered" and r["connected_at"] and r["agent_id"] for r in rows)
    assert all(r["disposition_status_id"] == sale for r in rows)
    # One line per ready agent: the second call was placed only after the first ended.
    assert rows[1]["originated_at"] >= rows[0]["ended_at"]
    assert {r["e164"] for r in sql("select e164 from dnc_numbers")} == set(numbers)
    await eventually(lambda: sql("select state from campaigns where id = %s", (cid,))[0]["state"] == "completed",
                     what="campaign completed (goal exhaust)")


async def test_given_no_agent_free_when_customer_answers_then_message_after_two_seconds_and_abandon_recorded(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", abandon_message="sound:dialer-abandon-info")
    progressive = add_status(sql, cid, "Dropped", "call_progressive", auto_on=["abandoned"])
    add_agent(sql, "1001", campaigns=[cid])
    number = "+390611111201"
    sim.script_number(number, answer_after=1.0, talk=30)
    (entry,) = add_entries(sql, cid, [number])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: attempts(sql, cid), what="call placed")
    await phone.press("*")  # the agent pauses while the customer's phone rings
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["ended_at"]], timeout=15, what="call ended"))[0]

    assert row["abandoned"] and row["outcome"] == "abandoned" and row["connected_at"] is None
    channel = row["channel_id"]
    assert "sound:dialer-abandon-info" in sim.media_played(channel)
    entry_row = sql("select state, progressive_only, last_status_id from campaign_entries where id = %s", (entry,))[0]
    assert entry_row == {"state": "ready", "progressive_only": True, "last_status_id": progressive}


async def test_given_busy_number_then_outcome_busy_and_retry_after_the_rule_delay(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", retry_rules={"busy": {"delay_seconds": 600, "max": 3}})
    busy_status = add_status(sql, cid, "Busy", "call_again", auto_on=["busy"])
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611111299"])
    sim.script_number("+390611111299", busy=True)
    await login(sim, dialer, "1001")
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["ended_at"]], what="busy call ended"))[0]
    assert row["outcome"] == "busy"
    e = sql("select state, next_attempt_at, last_status_id, last_outcome from campaign_entries where id = %s", (entry,))[0]
    assert e["state"] == "ready" and e["last_outcome"] == "busy" and e["last_status_id"] == busy_status
    assert abs((e["next_attempt_at"] - row["ended_at"]) - dt.timedelta(seconds=600)) < dt.timedelta(seconds=2)


async def test_given_wrong_pin_three_times_then_phone_is_hung_up_and_no_session_opened(db, sql, sim, dialer):
    add_agent(sql, "1001", pin="1234", campaigns=[create_campaign(sql)])
    phone = sim.add_phone("1001", name="Agent")
    await phone.dial("*50")
    for _ in range(3):
        await phone.press("9999#")
    await eventually(lambda: not phone.is_up, what="phone hung up after three wrong PINs")
    assert sql("select count(*) as n from agent_sessions")[0]["n"] == 0
    assert sql("select failed_pin_count from agents")[0]["failed_pin_count"] == 3
    assert "sound:agent-incorrect" in sim.media_played(phone.channel_id)


async def test_given_wrap_up_ends_without_a_code_then_default_status_applies_and_agent_is_ready(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    call_status = sql("select id from campaign_statuses where campaign_id = %s and name = 'Call'", (cid,))[0]["id"]
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611111301", answer_after=0.2, talk=0.5)
    (entry,) = add_entries(sql, cid, ["+390611111301"])
    await login(sim, dialer, "1001")
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["disposition_at"]], timeout=15,
                            what="default disposition"))[0]
    assert row["disposition_status_id"] == call_status
    changes = await eventually(lambda: [r["state"] for r in sql("select state from agent_state_changes order by id")][:4]
                               if len(sql("select 1 from agent_state_changes")) >= 4 else None, what="agent ready again")
    assert changes == ["ready", "on_call", "wrap_up", "ready"]
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "ready"


async def test_given_invalid_status_code_then_announced_and_asked_again(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30)
    sale = add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611111401", answer_after=0.2, talk=0.5)
    add_entries(sql, cid, ["+390611111401"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("77#")
    await eventually(lambda: "sound:dialer-invalid-status" in sim.media_played(phone.channel_id), what="invalid announced")
    assert attempts(sql, cid)[0]["disposition_at"] is None
    await phone.press("2#")
    await eventually(lambda: attempts(sql, cid)[0]["disposition_status_id"] == sale, what="valid status saved")


async def test_given_preview_campaign_then_record_announced_and_key_one_dials_for_that_agent(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="preview", bcw_seconds=60)
    agent_id = add_agent(sql, "1001", campaigns=[cid])
    number = "+390611111501"
    sim.script_number(number, answer_after=0.3, talk=1.0)
    add_entries(sql, cid, [number])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: "390611111501" in read_out(sim.media_played(phone.channel_id)), what="record announced")
    assert attempts(sql, cid) == []  # nothing is dialled before the agent says so
    await phone.press("1")
    row = (await eventually(lambda: [r for r in attempts(sql, cid) if r["connected_at"]], what="connected"))[0]
    assert row["agent_id"] == agent_id


async def test_given_preview_bcw_limit_passes_without_a_key_then_it_dials(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="preview", bcw_seconds=1)
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611111502", answer_after=0.3, talk=1.0)
    add_entries(sql, cid, ["+390611111502"])
    await login(sim, dialer, "1001")
    await eventually(lambda: attempts(sql, cid), timeout=5, what="automatic dial after BCW")


async def test_given_preview_skip_then_entry_returns_to_the_list_for_later(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611111503"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: "390611111503" in read_out(sim.media_played(phone.channel_id)), what="announced")
    await phone.press("2")
    e = await eventually(lambda: [r for r in sql("select state, next_attempt_at from campaign_entries where id = %s", (entry,))
                                  if r["state"] == "ready" and r["next_attempt_at"]], what="skipped")
    assert e[0]["next_attempt_at"] > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    assert attempts(sql, cid) == []


async def test_given_preview_key_three_then_number_goes_to_do_not_call(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611111504"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: "390611111504" in read_out(sim.media_played(phone.channel_id)), what="announced")
    await phone.press("3")
    await eventually(lambda: sql("select 1 from dnc_numbers where e164 = '+390611111504'"), what="number on DNC list")
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "dnc"


@pytest.mark.parametrize("last", [False, True], ids=["more_records", "the_campaigns_last"])
async def test_given_number_put_on_do_not_call_while_its_preview_is_offered_then_key_one_does_not_dial_it(db, sql, sim, dialer, last):
    # last: the number was the campaign's last record, so listing it completes the campaign while the
    # agent still holds it; key 1 must still be refused with the reason (it once went silent: the
    # campaign's absence was checked before the list)
    cid = create_campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611111505"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: "390611111505" in read_out(sim.media_played(phone.channel_id)), what="announced")
    if not last:
        add_entries(sql, cid, ["+390611111515"])  # keeps the campaign running
    from ari_app.services.dnc import add_number

    await add_number(dialer.db, "+390611111505", source="customer asked by e-mail", now=dt.datetime.now(dt.timezone.utc))
    if last:
        await eventually(lambda: sql("select state from campaigns where id = %s", (cid,))[0]["state"] == "completed",
                         what="campaign completed")
    await phone.press("1")
    await eventually(lambda: "sound:dialer-number-on-dnc" in sim.media_played(phone.channel_id), what="refusal announced")
    assert attempts(sql, cid) == []
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "dnc"


async def test_given_do_not_call_status_then_the_number_leaves_every_campaign_and_its_callbacks_are_cancelled(db, sql, sim, dialer):
    other = create_campaign(sql, name="other", mode="progressive", state="paused")
    (held,) = add_entries(sql, other, ["+390611111506"])
    contact = sql("select contact_id from campaign_entries where id = %s", (held,))[0]["contact_id"]
    sql("update campaign_entries set state = 'callback' where id = %s", (held,))
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) "
        "values (%s, %s, %s, '+390611111506', now() + interval '1 day')", (other, held, contact))
    cid = create_campaign(sql, mode="progressive")
    add_status(sql, cid, "Never again", "do_not_call", dtmf="2")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611111506", answer_after=0.2, talk=0.5)
    add_entries(sql, cid, ["+390611111506"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("2#")
    await eventually(lambda: sql("select 1 from dnc_numbers where e164 = '+390611111506'"), what="number on DNC list")
    assert sql("select state from campaign_entries where id = %s", (held,))[0]["state"] == "dnc"
    assert sql("select state from callbacks")[0]["state"] == "cancelled"


async def test_given_push_preview_reject_then_record_back_on_top_and_timeouts_mark_inactivity(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="push_preview", push_timeout_seconds=1)
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611111601"])
    phone = await login(sim, dialer, "1001")
    # A 1 s push timeout cuts the number's read-out, so wait for the push prompt, not the last digit.
    await eventually(lambda: "sound:dialer-push-record" in sim.media_played(phone.channel_id), what="pushed")
    await phone.press("2")
    await eventually(lambda: sql("select priority from campaign_entries where id = %s", (entry,))[0]["priority"] >= 1,
                     what="rejected record back on top")
    # Three pushes that time out: the agent is paused and flagged for inactivity.
    await eventually(lambda: sql("select 1 from agent_state_changes where reason like 'inactive%%'"), timeout=15,
                     what="inactivity after repeated push timeouts")
    assert sql("select state from agent_sessions where logged_out_at is null")[0]["state"] == "paused"
    assert attempts(sql, cid) == []


async def test_given_five_wrong_pins_across_calls_then_login_locked_even_with_the_right_pin(db, sql, sim, dialer):
    add_agent(sql, "1001", pin="1234", campaigns=[create_campaign(sql)])
    phone = sim.add_phone("1001", name="Agent")
    for tries in (3, 2):
        await phone.dial("*50")
        for _ in range(tries):
            await phone.press("9999#")
        if tries == 3:
            await eventually(lambda: not phone.is_up, what="hung up after three wrong PINs")
    await eventually(lambda: sql("select locked_until from agents")[0]["locked_until"], what="locked out")
    await eventually(lambda: "sound:dialer-locked-out" in sim.media_played(phone.channel_id), what="lockout announced")
    await eventually(lambda: not phone.is_up, what="hung up")
    await phone.dial("*50")
    await phone.press("1234#")  # the right PIN, but locked
    await eventually(lambda: not phone.is_up, what="locked agent hung up")
    assert sql("select count(*) as n from agent_sessions")[0]["n"] == 0


async def test_given_my_record_status_then_agent_keys_a_date_read_back_and_a_personal_callback_is_created(db, sql, sim, dialer):
    zone = daytime_zone()
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=60, calling_hours_start="08:00", calling_hours_end="21:00",
                          timezone=zone)
    mine = add_status(sql, cid, "Interested", "my_record", dtmf="5")
    agent_id = add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611119501", answer_after=0.2, talk=0.5)
    (entry,) = add_entries(sql, cid, ["+390611119501"], tz=zone)
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: any(a.phase == "wrap_up" for a in dialer.agents.values()), what="wrap-up")
    await phone.press("5#")
    await eventually(lambda: "sound:dialer-enter-date" in sim.media_played(phone.channel_id), what="asked for a date")
    await phone.press("202001011000#")  # in the past
    await eventually(lambda: "sound:dialer-date-in-past" in sim.media_played(phone.channel_id), what="past refused")
    await phone.press("203001152230#")  # 22:30 in the contact's zone: outside calling hours
    await eventually(lambda: "sound:dialer-outside-calling-hours" in sim.media_played(phone.channel_id), what="night refused")
    await phone.press("203001151000#")
    await eventually(lambda: "203001151000" in read_out(sim.media_played(phone.channel_id)), what="read back")
    assert sql("select count(*) as n from callbacks")[0]["n"] == 0  # nothing before the confirmation
    await phone.press("1")
    await eventually(lambda: "sound:dialer-callback-1-mine-2-any-agent" in sim.media_played(phone.channel_id),
                     what="asked whose callback")
    await phone.press("1")  # personal
    await eventually(lambda: "sound:dialer-callback-number" in sim.media_played(phone.channel_id), what="asked the number")
    await phone.press("#")  # the same number
    cb = (await eventually(lambda: sql("select * from callbacks"), what="callback created"))[0]
    assert cb["owner_agent_id"] == agent_id and cb["state"] == "pending" and cb["phone_e164"] == "+390611119501"
    assert cb["due_at"].isoformat() == local_to_utc("2030-01-15 10:00", zone)
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "callback"
    assert sql("select disposition_status_id from attempts")[0]["disposition_status_id"] == mine


async def test_given_predictive_campaign_then_the_pacer_decides_and_answered_calls_reach_agents(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="predictive", pickup_rate=0.5, max_lines_per_agent=3.0, wrapup_seconds=1)
    add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    numbers = [f"+3906111170{i:02d}" for i in range(4)]
    for n in numbers:
        sim.script_number(n, answer_after=0.3, talk=0.5)
    add_entries(sql, cid, numbers)
    await login(sim, dialer, "1001")
    await login(sim, dialer, "1002")
    await eventually(lambda: len(sql("select 1 from attempts where connected_at is not null")) >= 2, timeout=20,
                     what="predictive calls connected")
    # The campaign's decisions came from its pacing policy instance.
    assert dialer.pacing.knows(cid)


async def test_given_campaign_default_status_from_dictionary_then_wrap_up_timeout_applies_its_campaign_copy(db, sql, sim, dialer):
    other = create_campaign(sql, name="other")  # shifts campaign-status ids away from dictionary ids
    add_status(sql, other, "Filler", "call_again")
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    dictionary = sql("insert into statuses (name, system_status) values ('No decision', 'call_again') returning id")[0]["id"]
    copy = sql("insert into campaign_statuses (campaign_id, status_id, name, system_status, dtmf_code) "
               "values (%s, %s, 'No decision', 'call_again', '7') returning id", (cid, dictionary))[0]["id"]
    assert copy != dictionary
    sql("update campaigns set default_status_id = %s where id = %s", (dictionary, cid))
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611119701", answer_after=0.2, talk=0.5)
    add_entries(sql, cid, ["+390611119701"])
    await login(sim, dialer, "1001")
    row = (await eventually(lambda: sql("select * from attempts where disposition_at is not null"), timeout=15,
                            what="default disposition"))[0]
    assert row["disposition_status_id"] == copy


async def test_given_preview_skipped_while_the_number_is_read_then_the_read_out_is_cut_and_the_next_record_follows(db, sql, sim, dialer):
    """The agent skips as soon as the record starts being read: the rest of its number is not read
    out ahead of the next record (the announcement is stopped, and digits are stoppable sounds)."""
    cid = create_campaign(sql, mode="preview", bcw_seconds=60)
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611111701"])
    phone = await login(sim, dialer, "1001")
    await eventually(lambda: read_out(sim.media_played(phone.channel_id)).startswith("39"), what="read-out started")
    await phone.press("2")
    add_entries(sql, cid, ["+390611111702"])
    await eventually(lambda: "390611111702" in read_out(sim.media_played(phone.channel_id)), what="next record read out")
    heard = read_out(sim.media_played(phone.channel_id))
    assert "390611111701" not in heard  # the skipped record was cut short
    assert heard.endswith("390611111702")
    assert attempts(sql, cid) == []

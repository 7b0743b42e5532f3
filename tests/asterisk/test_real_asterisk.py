"""The end-to-end scenarios against a real Asterisk (skipped unless DIALER_TEST_ARI_URL is set).

Customers are the shipped `dialer-test-customers` context: the last three digits of the number pick
the behaviour (1xx answers, 2xx busy, 3xx never answers, 4xx congestion, 5xx answers then hangs
up, 6xx machine, 9xx unallocated), as in the recorded traces and the simulator's number plan.
"""
from __future__ import annotations

from tests.e2e.conftest import login, start_service, stop_service
from tests.world import add_agent, add_entries, add_status, create_campaign, eventually

TEMPLATE = "Local/{digits}@dialer-test-customers"


async def test_outcomes_by_number_plan_on_real_asterisk(db, sql, pbx):
    cid = create_campaign(sql, mode="progressive", dial_template=TEMPLATE, wrapup_seconds=1, ring_timeout_seconds=15)
    add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    add_agent(sql, "1001", campaigns=[cid])
    numbers = {"+390611110200": "busy", "+390611110400": "congestion", "+390611110900": "invalid_number",
               "+390611110300": "no_answer", "+390611110500": "answered"}
    add_entries(sql, cid, list(numbers))
    service, task = await start_service(db, pbx)
    try:
        await login(pbx, service, "1001")
        await eventually(lambda: len(sql("select 1 from attempts where ended_at is not null")) == len(numbers),
                         timeout=90, what="every number called")
    finally:
        await stop_service(service, task)
    got = {r["phone_e164"]: r["outcome"] for r in sql("select phone_e164, outcome from attempts")}
    assert got == numbers


async def test_answered_customer_is_bridged_to_the_logged_in_agent_on_real_asterisk(db, sql, pbx):
    cid = create_campaign(sql, mode="progressive", dial_template=TEMPLATE, wrapup_seconds=1)
    agent = add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110100"])
    service, task = await start_service(db, pbx)
    try:
        await login(pbx, service, "1001")
        row = (await eventually(lambda: sql("select * from attempts where connected_at is not null"), timeout=30,
                                what="connected"))[0]
        assert row["agent_id"] == agent
        bridges = await pbx.rest("GET", "/bridges")
        assert any(row["channel_id"] in b["channels"] for b in bridges)
    finally:
        await stop_service(service, task)


async def test_wrong_pin_hangs_up_on_real_asterisk(db, sql, pbx):
    add_agent(sql, "1001", pin="1234", campaigns=[create_campaign(sql, dial_template=TEMPLATE)])
    service, task = await start_service(db, pbx)
    try:
        phone = pbx.add_phone("1001")
        await phone.dial("*50")
        for _ in range(3):
            await phone.press("9999#")
        await eventually(lambda: phone.local1 in pbx.gone, timeout=30, what="phone hung up")
        assert sql("select count(*) as n from agent_sessions")[0]["n"] == 0
    finally:
        await stop_service(service, task)


async def test_supervisor_listens_through_a_snoop_on_real_asterisk(db, sql, pbx):
    cid = create_campaign(sql, mode="progressive", dial_template=TEMPLATE, wrapup_seconds=30)
    group = sql("insert into groups (name) values ('t') returning id")[0]["id"]
    agent = add_agent(sql, "1001", campaigns=[cid])
    sup = add_agent(sql, "1901", pin="5678")
    sql("update agents set roles = '{supervisor}' where id = %s", (sup,))
    sql("insert into agent_groups values (%s, %s), (%s, %s)", (agent, group, sup, group))
    add_entries(sql, cid, ["+390611110100"])
    service, task = await start_service(db, pbx)
    try:
        await login(pbx, service, "1001")
        await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), timeout=30, what="on a call")
        phone = pbx.add_phone("1901")
        await phone.dial("*2221001")
        await phone.press("5678#")
        await eventually(lambda: sql("select 1 from monitoring_events where mode = 'listen'"), timeout=30, what="listening")
        channels = await pbx.channels()
        assert any(c["name"].startswith("Snoop/") for c in channels)
    finally:
        await stop_service(service, task)


async def test_no_agent_free_plays_the_message_and_records_an_abandon_on_real_asterisk(db, sql, pbx):
    cid = create_campaign(sql, mode="progressive", dial_template=TEMPLATE, abandon_message="sound:hello-world")
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110100"])  # rings 2 s, then answers
    service, task = await start_service(db, pbx)
    try:
        phone = await login(pbx, service, "1001")
        await eventually(lambda: sql("select 1 from attempts"), timeout=15, what="call placed")
        await phone.press("*")  # pause while it rings
        row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), timeout=30,
                                what="ended"))[0]
        assert row["abandoned"] and row["outcome"] == "abandoned"
    finally:
        await stop_service(service, task)

"""Nothing lost, nothing twice: websocket drops, Asterisk restarts, kill -9, two instances."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from tests.e2e.conftest import login, start_service, stop_service
from tests.world import add_agent, add_entries, add_status, create_campaign, eventually


def _overlapping_calls_to_one_number(sim) -> list[str]:
    """Numbers that had two customer channels alive at the same time (from the simulator's record)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for ch in sim.history():
        number = ch.get("number") or ch.get("endpoint", "")
        if not str(ch.get("endpoint", "")).endswith("@carrier"):
            continue
        spans.setdefault(number, []).append((ch["created"], ch.get("destroyed") or float("inf")))
    bad = []
    for number, items in spans.items():
        items.sort()
        if any(b[0] < a[1] for a, b in zip(items, items[1:])):
            bad.append(number)
    return bad


async def test_given_connected_call_when_websocket_drops_then_reconnect_keeps_the_call(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611112001", answer_after=0.2, talk=2.0)
    add_entries(sql, cid, ["+390611112001"])
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="connected")
    connects = dialer.ari.connects
    sim.drop_websockets()
    await eventually(lambda: dialer.ari.connects > connects, what="reconnected")
    row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), what="call ended"))[0]
    assert row["outcome"] == "answered"  # kept through the drop, closed normally by the customer's hangup
    assert sql("select count(*) as n from agent_sessions where logged_out_at is null")[0]["n"] == 1


async def test_given_asterisk_restart_with_channels_gone_then_open_calls_are_lost_and_retried(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", retry_rules={"lost": {"delay_seconds": 60}})
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611112101", answer_after=0.2, talk=60)
    (entry,) = add_entries(sql, cid, ["+390611112101"])
    await login(sim, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), what="connected")
    await sim.restart(keep_channels=False)
    row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), timeout=20,
                            what="open attempt closed by reconcile"))[0]
    assert row["outcome"] == "lost"
    e = sql("select state, next_attempt_at from campaign_entries where id = %s", (entry,))[0]
    assert e["state"] == "ready" and e["next_attempt_at"] is not None
    await eventually(lambda: sql("select 1 from agent_sessions where logged_out_at is not null"),
                     what="agent whose phone is gone logged out")


async def test_given_two_instances_on_one_campaign_then_no_entry_is_claimed_twice(db, sql, sim):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    numbers = [f"+3906111130{i:02d}" for i in range(12)]
    for n in numbers:
        sim.script_number(n, answer_after=0.2, talk=0.3)
    add_entries(sql, cid, numbers)
    add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    a, task_a = await start_service(db, sim, instance="node-a", app="dialer")
    b, task_b = await start_service(db, sim, instance="node-b", app="dialer-b")
    try:
        await login(sim, a, "1001")
        await login(sim, b, "1002", app="dialer-b")
        await eventually(lambda: sql("select count(*) as n from attempts where ended_at is not null")[0]["n"] >= 12,
                         timeout=60, what="every entry called")
    finally:
        await stop_service(a, task_a)
        await stop_service(b, task_b)
    rows = sql("select entry_id, instance_id from attempts")
    per_entry = {}
    for r in rows:
        per_entry.setdefault(r["entry_id"], []).append(r["instance_id"])
    assert all(len(v) == 1 for v in per_entry.values()), per_entry
    assert {r["instance_id"] for r in rows} == {"node-a", "node-b"}
    assert _overlapping_calls_to_one_number(sim) == []


async def test_given_service_killed_mid_campaign_when_restarted_then_nothing_lost_and_nothing_dialled_twice(db_url, sql, sim, tmp_path):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=30, retry_rules={"lost": {"delay_seconds": 0}})
    add_status(sql, cid, "Sale", "do_not_call", dtmf="2")
    call_status = sql("select id from campaign_statuses where campaign_id = %s and name = 'Call'", (cid,))[0]["id"]
    numbers = [f"+3906111140{i:02d}" for i in range(10)]
    for n in numbers:
        sim.script_number(n, answer_after=0.3, talk=0.6)
    entries = add_entries(sql, cid, numbers)
    add_agent(sql, "1001", campaigns=[cid])
    add_agent(sql, "1002", campaigns=[cid])
    env = dict(os.environ, DIALER_DATABASE_URL=db_url, DIALER_ARI_URL=sim.base_url, DIALER_INSTANCE_ID="killme",
               DIALER_TICK_SECONDS="0.1")

    log_path = tmp_path / "service.log"

    def spawn():
        log = open(log_path, "a")
        return subprocess.Popen([sys.executable, "-m", "admin_cli.main", "--log-level", "INFO", "run"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    proc = spawn()
    phones = []
    try:
        await eventually(lambda: sim.websocket_count() > 0, timeout=20, what="service connected")
        for ext in ("1001", "1002"):
            phone = sim.add_phone(ext, name=ext)
            await phone.dial("*50")
            await phone.press("1234#")
            phones.append(phone)

        pressing = {"on": True}

        async def press_wrapups():
            while True:
                if not pressing["on"]:
                    await asyncio.sleep(0.05)
                    continue
                for row in sql("select s.channel_id from agent_sessions s where s.logged_out_at is null and s.state = 'wrap_up'"):
                    phone = next((p for p in phones if p.channel_id == row["channel_id"]), None)
                    if phone is not None:
                        await phone.press("2#")
                await asyncio.sleep(0.2)

        presser = asyncio.create_task(press_wrapups())
        await eventually(lambda: sql("select count(*) as n from attempts where ended_at is not null")[0]["n"] >= 3,
                         timeout=30, what="a few calls done")
        # Kill while an agent is in wrap-up: its disposition dies with the process.
        pressing["on"] = False
        await eventually(lambda: sql("select 1 from agent_sessions where state = 'wrap_up' and logged_out_at is null"),
                         timeout=20, what="an agent in wrap-up")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = spawn()
        pressing["on"] = True
        await eventually(lambda: sql("select count(distinct entry_id) as n from attempts where outcome = 'answered'")[0]["n"]
                         == len(entries) and not sql("select 1 from attempts where ended_at is null")
                         and not sql("select 1 from campaign_entries where state = 'dialing'"),
                         timeout=60, what="every entry reached an agent after the restart")
        presser.cancel()
    except AssertionError:
        print(log_path.read_text()[-6000:])  # the service's own account, for the failure report
        print(sql("select id, entry_id, outcome, instance_id, ended_at is null as open from attempts order by id"))
        print(sql("select id, state, attempts, next_attempt_at from campaign_entries order by id"))
        print(sql("select agent_id, state, logged_out_at, instance_id from agent_sessions"))
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        # Waited for off the loop: the simulator lives on this loop, and the service's last REST
        # calls need it to answer while it shuts down.
        await asyncio.to_thread(proc.wait, 15)
    rows = sql("select entry_id, outcome from attempts order by id")
    answered = [r["entry_id"] for r in rows if r["outcome"] == "answered"]
    assert sorted(answered) == sorted(entries)  # each entry reached an agent exactly once
    assert sql("select count(*) as n from attempts where ended_at is null")[0]["n"] == 0
    # The wrap-up lost in the crash got the campaign's default status on reconcile...
    assert sql("select count(*) as n from attempts where disposition_status_id = %s", (call_status,))[0]["n"] >= 1
    # ...and no entry is left waiting for a disposition that will never come.
    assert sql("select count(*) as n from campaign_entries where state = 'dialing'")[0]["n"] == 0
    assert sql("select count(*) as n from attempts where outcome = 'answered' and disposition_at is null")[0]["n"] == 0
    assert _overlapping_calls_to_one_number(sim) == []


async def test_given_asterisk_refuses_the_bridge_then_agent_stays_free_and_next_call_connects(db, sql, sim, dialer):
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1)
    add_agent(sql, "1001", campaigns=[cid])
    for n in ("+390611112201", "+390611112202"):
        sim.script_number(n, answer_after=1.0, talk=0.5)
    add_entries(sql, cid, ["+390611112201", "+390611112202"])
    phone = await login(sim, dialer, "1001")
    # The agent's own bridging comes first: only then can the next addChannel be the customer's.
    await eventually(lambda: any(phone.channel_id in b["channels"] for b in sim.bridges()), what="agent in a bridge")
    sim.fail_next("POST", r"^/ari/bridges/[^/]+/addChannel$", status=400, count=1)  # the customer's bridging
    rows = await eventually(lambda: len(r := sql("select * from attempts where ended_at is not null order by id")) == 2 and r,
                            timeout=20, what="both calls ended")
    assert rows[0]["connected_at"] is None and rows[0]["abandoned"]  # message after 2 s, recorded honestly
    assert rows[1]["connected_at"] is not None  # the agent was not left stuck


async def test_given_bridge_set_up_fails_at_login_then_login_is_undone_and_phone_hung_up(db, sql, sim, dialer):
    add_agent(sql, "1001", campaigns=[create_campaign(sql)])
    sim.fail_next("POST", r"^/ari/bridges/[^/]+/addChannel$", status=500, count=1)
    phone = sim.add_phone("1001", name="Agent")
    await phone.dial("*50")
    await phone.press("1234#")
    await eventually(lambda: not phone.is_up, what="phone hung up")
    assert sql("select count(*) as n from agent_sessions where logged_out_at is null")[0]["n"] == 0


async def test_given_a_phone_logs_in_while_reconnect_lists_channels_then_reconcile_keeps_it(db, sql, sim, dialer, monkeypatch):
    """Events keep flowing during a reconcile: a phone that logs in after GET /channels answered is
    missing from that listing, and must not be taken for a channel gone while disconnected."""
    add_agent(sql, "1001", campaigns=[create_campaign(sql)])
    await eventually(lambda: dialer.connected.is_set(), what="connected")
    real_list, real_settle = dialer.ari.list_channels, dialer._settle_orphaned_dispositions
    listed, logged_in, reconciled = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def listing_then_a_login():
        channels = await real_list()
        listed.set()
        await asyncio.wait_for(logged_in.wait(), 15)  # the phone logs in before reconcile reads on
        return channels

    async def settle_then_tell():  # the last step of a reconcile
        await real_settle()
        reconciled.set()

    monkeypatch.setattr(dialer.ari, "list_channels", listing_then_a_login)
    monkeypatch.setattr(dialer, "_settle_orphaned_dispositions", settle_then_tell)
    sim.drop_websockets()
    await eventually(listed.is_set, timeout=15, what="reconnect listed the channels")
    phone = await login(sim, dialer, "1001")
    logged_in.set()
    await eventually(reconciled.is_set, timeout=15, what="reconcile finished")
    # A wrongful logout happens inside the reconcile (its hang-up awaited there), so it is over now.
    assert phone.is_up
    assert sql("select count(*) as n from agent_sessions where logged_out_at is null")[0]["n"] == 1

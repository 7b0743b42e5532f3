"""Nothing lost on a real Asterisk (issue 4): the event websocket drops under a connected call, and
Asterisk restarts under an open call. The scenarios of tests/e2e/test_resilience.py."""
from __future__ import annotations

import subprocess
import types

import pytest

from tests.asterisk.conftest import RESTART_CMD, WebsocketCutter
from tests.e2e.conftest import login, start_service, stop_service
from tests.world import add_agent, add_entries, create_campaign, eventually

TEMPLATE = "Local/{digits}@dialer-test-customers"


@pytest.fixture
async def cut_dialer(db, pbx):
    """The dialer connected to Asterisk through a relay that can cut its event websocket."""
    cutter = WebsocketCutter(pbx.base_url)
    await cutter.start()
    service, task = await start_service(db, types.SimpleNamespace(base_url=cutter.base_url))
    yield service, cutter
    await stop_service(service, task)
    await cutter.stop()


async def test_given_connected_call_when_the_websocket_drops_then_the_dialer_reconnects_and_keeps_the_call(db, sql, pbx, cut_dialer):
    dialer, cutter = cut_dialer
    await pbx.set_global("SIM_TALK_SECS", "8")
    cid = create_campaign(sql, mode="progressive", wrapup_seconds=1, dial_template=TEMPLATE)
    add_agent(sql, "1001", campaigns=[cid])
    add_entries(sql, cid, ["+390611110121"])
    await login(pbx, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), timeout=20, what="connected")
    connects = dialer.ari.connects
    assert cutter.cut() >= 1
    await eventually(lambda: dialer.ari.connects > connects, timeout=20, what="reconnected")
    # Reconcile found the call still up in GET /channels: it is kept, and closed by the hang-up.
    assert sql("select ended_at from attempts")[0]["ended_at"] is None
    row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), timeout=20,
                            what="call ended by the customer"))[0]
    assert row["outcome"] == "answered" and row["hangup_cause"] == 16
    assert sql("select count(*) as n from agent_sessions where logged_out_at is null")[0]["n"] == 1


@pytest.mark.skipif(not RESTART_CMD, reason="set DIALER_TEST_ASTERISK_RESTART_CMD to restart the Asterisk under test")
async def test_given_open_call_when_asterisk_restarts_then_nothing_is_left_open_and_the_entry_is_kept(db, sql, pbx, dialer):
    """A graceful restart (`core restart now`) hangs the channels up and says so before the socket
    closes; a crash (kill -9, then start) says nothing, and reconcile on reconnect closes the call
    as `lost`. Either way the attempt is closed, the entry is kept for its retry rule, and the agent
    whose phone is gone is logged out."""
    cid = create_campaign(sql, mode="progressive", dial_template=TEMPLATE, wrapup_seconds=1,
                          retry_rules={"lost": {"delay_seconds": 60}})
    add_agent(sql, "1001", campaigns=[cid])
    (entry,) = add_entries(sql, cid, ["+390611110131"])
    await login(pbx, dialer, "1001")
    await eventually(lambda: sql("select 1 from attempts where connected_at is not null"), timeout=20, what="connected")
    connects = dialer.ari.connects
    subprocess.run(RESTART_CMD, shell=True, check=True, timeout=30)
    # The dialer's new connection is to the restarted Asterisk: its old socket died with the old one.
    await eventually(lambda: dialer.ari.connects > connects, timeout=60, what="dialer reconnected")
    row = (await eventually(lambda: sql("select * from attempts where ended_at is not null"), timeout=30,
                            what="open attempt closed"))[0]
    await eventually(lambda: sql("select 1 from agent_sessions where logged_out_at is not null"), timeout=30,
                     what="agent whose phone is gone logged out")
    assert not sql("select 1 from attempts where ended_at is null")
    e = sql("select state, next_attempt_at from campaign_entries where id = %s", (entry,))[0]
    if row["outcome"] == "lost":  # Asterisk said nothing: retried by the `lost` rule
        assert e["state"] == "ready" and e["next_attempt_at"] is not None
    else:  # Asterisk reported the hang-up: an answered call, its entry closed by the default status
        assert row["outcome"] == "answered" and row["hangup_cause"] is not None
        assert e["state"] != "reserved"

"""Fault injection, what-happened records and the /_sim HTTP control API."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.sim.conftest import AriClient


async def test_given_fail_next_then_only_the_matching_request_fails_once(sim, ari):
    sim.fail_next("POST", r"^/ari/channels$", status=500, count=1)
    assert (await ari.call("GET", "/channels"))[0] == 200  # other method: untouched
    status, body = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345100@carrier", app="dialer")
    assert status == 500 and "message" in body
    status, _ = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345100@carrier", app="dialer")
    assert status == 200
    assert [e["status"] for e in sim.rest_log if e["path"] == "/ari/channels" and e["method"] == "POST"] == [500, 200]


async def test_given_connected_app_when_websockets_dropped_then_it_can_reconnect_and_calls_survive(sim, ari):
    status, body = await ari.call("POST", "/channels", endpoint="PJSIP/+390612345100@carrier", app="dialer",
                                  channelId="keep-1")
    await ari.wait_event(lambda e: e["type"] == "StasisStart", what="StasisStart")
    sim.drop_websockets()
    await sim.wait_for(lambda: sim.websocket_count() == 0, what="websocket closed")
    await ari._reader  # the client's reader ends: the server closed the socket
    async with AriClient(sim) as again:
        assert sim.websocket_count() == 1
        status, ch = await again.call("GET", "/channels/keep-1")
        assert status == 200 and ch["state"] == "Up"
        await again.call("DELETE", "/channels/keep-1")
        await again.wait_event(lambda e: e["type"] == "ChannelDestroyed", what="destroyed after reconnect")


async def test_given_restart_without_channels_then_same_port_no_channels_and_no_events_for_them(sim, ari):
    phone = sim.add_phone("3001", name="A")
    await phone.dial("*50")
    await ari.wait_event(lambda e: e["type"] == "StasisStart", what="StasisStart")
    port = sim.port
    n_events = len(ari.events)
    await sim.restart(keep_channels=False)
    assert sim.port == port and sim.channels() == [] and not phone.is_up
    await ari._reader
    assert len(ari.events) == n_events  # channels vanished without events, like a crashed Asterisk
    async with AriClient(sim) as again:
        assert await again.call("GET", "/channels") == (200, [])
        assert (await again.call("GET", f"/channels/{phone.channel_id}"))[0] == 404
    assert any(h["id"] == phone.channel_id for h in sim.history())


async def test_given_event_delay_then_events_arrive_late_but_in_order(sim, ari):
    sim.delay_events(0.3)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    phone = sim.add_phone("3002", name="B")
    await phone.dial("*50")
    await phone.press("12")
    await ari.wait_event(lambda e: e["type"] == "ChannelDtmfReceived" and e["digit"] == "2", what="digits")
    assert loop.time() - t0 >= 0.3
    assert [e["type"] for e in ari.events] == ["StasisStart", "ChannelDtmfReceived", "ChannelDtmfReceived"]


async def test_given_wait_for_never_true_then_it_times_out_with_the_description(sim):
    with pytest.raises(TimeoutError, match="a miracle"):
        await sim.wait_for(lambda: False, timeout=0.1, what="a miracle")


async def test_rest_log_records_method_path_query_body_and_status(sim, ari):
    await ari.call("POST", "/channels", {"variables": {"A": "1"}}, endpoint="Local/100@sim-customers", app="dialer")
    entry = [e for e in sim.rest_log if e["method"] == "POST"][-1]
    assert entry["path"] == "/ari/channels" and entry["query"]["endpoint"] == "Local/100@sim-customers"
    assert entry["body"] == {"variables": {"A": "1"}} and entry["status"] == 200 and entry["time"] > 0


async def test_given_wrong_credentials_then_401(sim):
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.base_url + "ari/channels") as resp:
            assert resp.status == 401
        async with http.get(sim.base_url + "ari/channels", params={"api_key": "dialer:dialer"}) as resp:
            assert resp.status == 200


async def test_api_docs_point_base_path_at_the_simulator(sim):
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.base_url + "ari/api-docs/resources.json") as resp:
            listing = await resp.json()
        async with http.get(sim.base_url + "ari/api-docs/channels.json") as resp:
            channels = await resp.json()
    assert listing["basePath"] == f"http://127.0.0.1:{sim.port}/ari"
    assert channels["basePath"] == listing["basePath"]
    assert any(api["path"] == "/channels/{channelId}/snoop" for api in channels["apis"])


# ---- HTTP control API ----------------------------------------------------------------------------

async def _ctl(sim, method, path, body=None):
    async with aiohttp.ClientSession() as http:
        async with http.request(method, sim.base_url + "_sim" + path, json=body) as resp:
            return resp.status, (await resp.json() if resp.status != 204 else None)


async def test_control_api_scripts_a_number_drives_a_phone_and_reads_history(sim, ari):
    assert (await _ctl(sim, "POST", "/numbers", {"number": "+390611111101", "busy": True}))[0] == 200
    assert (await _ctl(sim, "POST", "/phones", {"ext": "4001", "name": "Zoe"}))[0] == 200
    status, phone = await _ctl(sim, "POST", "/phones/4001/dial", {"code": "*50"})
    assert status == 200 and phone["is_up"]
    status, phone = await _ctl(sim, "POST", "/phones/4001/press", {"digits": "1#"})
    assert status == 200
    await ari.call("POST", "/channels", endpoint="PJSIP/+390611111101@carrier", app="dialer", channelId="c-busy")
    await ari.wait_event(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == "c-busy", what="busy")
    status, history = await _ctl(sim, "GET", "/history")
    assert next(h for h in history if h["id"] == "c-busy")["cause"] == 17
    status, state = await _ctl(sim, "GET", "/state")
    assert state["websockets"] == 1 and state["phones"][0]["ext"] == "4001"
    status, log = await _ctl(sim, "GET", "/rest_log?limit=1")
    assert status == 200 and log[0]["path"] == "/ari/channels"


async def test_control_api_faults_and_scenario(sim, ari):
    assert (await _ctl(sim, "POST", "/faults/fail_next", {"method": "GET", "path": "/ari/asterisk/info",
                                                          "status": 503}))[0] == 200
    assert (await ari.call("GET", "/asterisk/info"))[0] == 503
    assert (await ari.call("GET", "/asterisk/info"))[0] == 200
    status, sc = await _ctl(sim, "POST", "/scenario", {"mode": "probabilities", "answer": 1, "ring_mean": 1,
                                                       "ring_sd": 0, "talk_mean": 5, "talk_sd": 0})
    assert status == 200 and sc["mode"] == "probabilities"
    assert (await _ctl(sim, "POST", "/faults/drop_websockets"))[1] == {"dropped": 1}


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/scenario", {"mode": "chaos"}, 400),
    ("POST", "/scenario", {"mode": "probabilities", "answer": -1}, 400),
    ("POST", "/numbers", {"number": "1", "fly": True}, 400),
    ("POST", "/phones/none/dial", {"code": "*50"}, 404),
    ("POST", "/faults/fail_next", {"path": "("}, 400),
    ("POST", "/faults/delay_events", {"seconds": "soon"}, 400),
    ("GET", "/phones/4001/dial", None, 405),
    ("GET", "/nothing", None, 404),
])
async def test_control_api_bad_input_gets_a_sentence_not_a_crash(sim, method, path, body, status):
    got, reply = await _ctl(sim, method, path, body)
    assert got == status and isinstance(reply["message"], str) and reply["message"]


async def test_given_subscribe_all_then_app_sees_channels_it_did_not_originate(sim, ari):
    async with AriClient(sim, app="monitor&subscribeAll=true") as monitor:
        await ari.call("POST", "/channels", endpoint="PJSIP/+390612345200@carrier", app="dialer", channelId="x-1")
        await monitor.wait_event(lambda e: e["type"] == "ChannelDestroyed", what="destroyed seen by monitor")
        types = monitor.types_for("x-1")
        assert types[0] == "ChannelCreated" and types[-1] == "ChannelDestroyed"
        assert {e["application"] for e in monitor.events} == {"monitor"}
    assert "ChannelCreated" not in ari.types_for("x-1")  # as in the traces: originators never see it


async def test_given_application_subscription_then_events_of_that_channel_are_delivered(sim, ari):
    async with AriClient(sim, app="other") as other:
        phone = sim.add_phone("3003", name="C")
        await phone.dial("*50")
        status, app = await other.call("POST", "/applications/other/subscription",
                                       eventSource=f"channel:{phone.channel_id}")
        assert status == 200 and phone.channel_id in app["channel_ids"]
        await phone.press("5")
        await other.wait_event(lambda e: e["type"] == "ChannelDtmfReceived", what="dtmf seen by subscriber")
        status, body = await other.call("GET", "/applications/nobody")
        assert (status, body) == (404, {"message": "Application not found"})

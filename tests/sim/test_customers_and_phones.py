"""The simulated world through the Python API the runtime's end-to-end tests use: customers on the
carrier trunk (number plan, scripts, probabilities), desk phones dialling feature codes, AMD, media."""
from __future__ import annotations

import pytest

from pbx_sim.config import SimConfig
from pbx_sim.scenario import Scenario


def destroyed(ari, cid):
    return ari.wait_event(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == cid,
                          what=f"ChannelDestroyed of {cid}")


def stasis_start(ari, cid):
    return ari.wait_event(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == cid,
                          what=f"StasisStart of {cid}")


async def originate(ari, number, **extra):
    params = {"endpoint": f"PJSIP/{number}@carrier", "app": "dialer", "appArgs": "customer,1", "timeout": 30}
    params.update(extra)
    status, body = await ari.call("POST", "/channels", **params)
    assert status == 200, body
    return body["id"]


async def test_given_number_plan_when_1xx_dialled_then_it_rings_answers_and_enters_stasis(sim, ari):
    cid = await originate(ari, "+390612345100", channelId="att-1")
    assert cid == "att-1"
    start = await stasis_start(ari, cid)
    assert start["channel"]["state"] == "Up" and start["args"] == ["customer", "1"]
    assert start["channel"]["name"].startswith("PJSIP/carrier-")
    assert ari.types_for(cid)[:5] == ["Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial"]
    dials = [e["dialstatus"] for e in ari.events if e["type"] == "Dial"]
    assert dials == ["", "RINGING", "ANSWER"]
    assert [h["answered"] is not None for h in sim.history() if h["id"] == cid] == [True]


@pytest.mark.parametrize("number, dialstatus, cause, cause_txt", [
    ("+390612345200", "BUSY", 17, "User busy"),
    ("+390612345400", "CONGESTION", 34, "Circuit/channel congestion"),
    ("+390612345900", "NOANSWER", 1, "Unallocated (unassigned) number"),
])
async def test_given_number_plan_when_call_fails_then_sip_cause_like_pjsip_traces(sim, ari, number, dialstatus,
                                                                                  cause, cause_txt):
    cid = await originate(ari, number)
    gone = await destroyed(ari, cid)
    assert (gone["cause"], gone["cause_txt"]) == (cause, cause_txt)
    request = next(e for e in ari.events if e["type"] == "ChannelHangupRequest")
    assert request["cause"] == cause and "soft" not in request
    assert [e["dialstatus"] for e in ari.events if e["type"] == "Dial"][-1] == dialstatus
    assert "StasisStart" not in ari.types_for(cid)
    status, body = await ari.call("GET", f"/channels/{cid}")
    assert (status, body) == (404, {"message": "Channel not found"})


async def test_given_3xx_when_originate_timeout_passes_then_destroyed_19_without_stasis(sim, ari):
    cid = await originate(ari, "+390612345300", timeout=2)
    gone = await destroyed(ari, cid)
    assert (gone["cause"], gone["cause_txt"]) == (19, "User alerting, no answer")
    assert ari.types_for(cid) == ["Dial", "ChannelStateChange", "Dial", "ChannelDestroyed"]


async def test_given_5xx_when_answered_then_customer_hangs_up_with_a_plain_bye(sim, ari):
    cid = await originate(ari, "+390612345500")
    await stasis_start(ari, cid)
    gone = await destroyed(ari, cid)
    types = ari.types_for(cid)
    assert types.index("ChannelHangupRequest") < types.index("StasisEnd") < types.index("ChannelDestroyed")
    assert gone["cause"] == 0  # pjsip_remote_hangup: a BYE without Reason is cause 0 "Unknown"


async def test_given_8xx_when_answered_then_customer_sends_123_hash(sim, ari):
    cid = await originate(ari, "+390612345800")
    await ari.wait_event(lambda e: e["type"] == "ChannelDtmfReceived" and e["digit"] == "#", what="#")
    digits = [(e["digit"], e["duration_ms"]) for e in ari.events if e["type"] == "ChannelDtmfReceived"]
    assert digits == [("1", 100), ("2", 100), ("3", 100), ("#", 100)]
    assert all(e["channel"]["id"] == cid for e in ari.events if e["type"] == "ChannelDtmfReceived")


async def test_given_scripted_number_then_script_overrides_the_plan(sim, ari):
    sim.script_number("+390611111101", busy=True)  # 1xx would answer
    sim.script_number("+390611111299", answer_after=0.2, hangup_after_answer=0.5)  # 2xx would be busy
    busy = await originate(ari, "+390611111101")
    assert (await destroyed(ari, busy))["cause"] == 17
    talk = await originate(ari, "+390611111299")
    await stasis_start(ari, talk)
    await destroyed(ari, talk)
    record = next(h for h in sim.history() if h["id"] == talk)
    assert record["answered"] and record["destroyed"] and record["dialstatus"] == "ANSWER"


async def test_given_unknown_trunk_or_endpoint_then_allocation_failed_like_asterisk(sim, ari):
    for endpoint in ("PJSIP/+390612345100@nowhere", "PJSIP/9999", "SIP/100", "IAX2/x"):
        status, body = await ari.call("POST", "/channels", endpoint=endpoint, app="dialer")
        assert (status, body) == (500, {"error": "Allocation failed"}), endpoint


def test_given_same_seed_then_probability_scenario_draws_the_same_calls():
    def draws(seed):
        sc = Scenario(SimConfig(seed=seed))
        sc.use_probabilities(answer=.3, busy=.1, no_answer=.3, congestion=.05, invalid=.05, machine=.2,
                             ring_mean=9, ring_sd=5, talk_mean=120, talk_sd=90)
        return [sc.party_for(f"+3906{i:07d}") for i in range(2000)]

    a, b = draws(7), draws(7)
    assert a == b and a != draws(8)
    answered = [p for p in a if p.kind == "answer"]
    share = len(answered) / len(a)
    assert 0.25 < share < 0.35
    mean_talk = sum(p.talk for p in answered) / len(answered)
    assert 100 < mean_talk < 140  # lognormal with the requested mean


async def test_given_probabilities_when_many_calls_placed_then_every_call_ends_with_a_known_outcome(sim, ari):
    sim.use_probabilities(answer=.5, busy=.1, no_answer=.1, congestion=.1, invalid=.1, machine=.1,
                          ring_mean=2, ring_sd=1, talk_mean=3, talk_sd=1)
    ids = [await originate(ari, f"+3906{i:07d}", timeout=5) for i in range(20)]
    await sim.wait_for(lambda: not any(c["id"] in ids for c in sim.channels()), timeout=10, what="all calls ended")
    statuses = {h["dialstatus"] for h in sim.history() if h["id"] in ids}
    assert statuses <= {"ANSWER", "BUSY", "CONGESTION", "NOANSWER", "RINGING"} and "ANSWER" in statuses


# ---- desk phones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code, args", [
    ("*50", ["agent-login"]),
    ("*50123", ["agent-login", "123"]),
    ("*2221001", ["supervise", "listen", "1001"]),
    ("*2231001", ["supervise", "whisper", "1001"]),
    ("*2241001", ["supervise", "barge", "1001"]),
])
async def test_given_phone_when_feature_code_dialled_then_stasis_start_with_dialplan_args(sim, ari, code, args):
    phone = sim.add_phone("2001", name="Alice")
    await phone.dial(code)
    start = await stasis_start(ari, phone.channel_id)
    assert start["args"] == args
    ch = start["channel"]
    assert ch["state"] == "Up" and ch["caller"] == {"name": "Alice", "number": "2001"}
    assert ch["name"].startswith("PJSIP/2001-") and len(ch["name"]) == len("PJSIP/2001-") + 8
    assert phone.is_up


async def test_given_phone_when_unknown_code_dialled_then_call_fails_with_cause_1(sim, ari):
    phone = sim.add_phone("2001", name="Alice")
    await phone.dial("*99")
    assert not phone.is_up
    assert next(h for h in sim.history() if h["id"] == phone.channel_id)["cause"] == 1
    assert ari.types_for(phone.channel_id) == []


async def test_given_logged_in_phone_when_digits_pressed_and_hung_up_then_events_like_a_sip_phone(sim, ari):
    phone = sim.add_phone("2001", name="Alice")
    await phone.dial("*50")
    await phone.press("12#")
    await ari.wait_event(lambda e: e["type"] == "ChannelDtmfReceived" and e["digit"] == "#", what="#")
    assert [(e["digit"], e["duration_ms"]) for e in ari.events if e["type"] == "ChannelDtmfReceived"] == \
        [("1", 100), ("2", 100), ("#", 100)]
    await phone.hangup()
    gone = await destroyed(ari, phone.channel_id)
    assert gone["cause"] == 16 and not phone.is_up
    request = next(e for e in ari.events if e["type"] == "ChannelHangupRequest")
    assert request.get("cause") == 16 and "soft" not in request
    types = ari.types_for(phone.channel_id)
    assert types.index("ChannelHangupRequest") < types.index("StasisEnd") < types.index("ChannelDestroyed")


async def test_given_phone_when_app_originates_to_it_then_it_rings_and_auto_answers(sim, ari):
    phone = sim.add_phone("2002", name="Bob")
    status, body = await ari.call("POST", "/channels", endpoint="PJSIP/2002", app="dialer", appArgs="agent")
    assert status == 200
    await stasis_start(ari, body["id"])
    assert phone.is_up and phone.channel_id == body["id"]


async def test_given_manual_answer_phone_when_rejected_then_busy_17(sim, ari):
    phone = sim.add_phone("2003", name="Carol", auto_answer=False)
    status, body = await ari.call("POST", "/channels", endpoint="PJSIP/2003", app="dialer")
    await sim.wait_for(lambda: phone.incoming == body["id"], what="phone rings")
    await phone.reject()
    gone = await destroyed(ari, body["id"])
    assert (gone["cause"], gone.get("tech_cause")) == (17, 486)


async def test_given_app_sends_dtmf_to_phone_then_phone_receives_it(sim, ari):
    phone = sim.add_phone("2004", name="Dan")
    await phone.dial("*50")
    status, _ = await ari.call("POST", f"/channels/{phone.channel_id}/dtmf", dtmf="42#")
    assert status == 204 and phone.received_dtmf == "42#"


# ---- AMD and media -------------------------------------------------------------------------------

@pytest.mark.parametrize("number, verdict", [("+390612345600", "MACHINE"), ("+390612345100", "HUMAN")])
async def test_given_answered_customer_when_sent_to_dialer_amd_then_back_in_stasis_with_verdict(sim, ari, number,
                                                                                               verdict):
    status, body = await ari.call("POST", "/channels", {"variables": {"DIALER_ATTEMPT": "42"}},
                                  endpoint=f"PJSIP/{number}@carrier", app="dialer", appArgs="customer,42")
    cid = body["id"]
    await stasis_start(ari, cid)
    status, _ = await ari.call("POST", f"/channels/{cid}/continue", context="dialer-amd", extension="s", priority=1)
    assert status == 204
    again = await ari.wait_event(lambda e: e["type"] == "StasisStart" and e["args"][0] == "customer-amd",
                                 what="StasisStart after AMD")
    assert again["args"] == ["customer-amd", "42", verdict]
    types = ari.types_for(cid)
    assert types.count("StasisEnd") == 1 and types.index("StasisEnd") < len(types) - 1


async def test_given_channel_and_bridge_playbacks_then_media_played_lists_them(sim, ari):
    phone = sim.add_phone("2005", name="Eve")
    await phone.dial("*50")
    cid = await originate(ari, "+390612345100")
    await stasis_start(ari, cid)
    status, _ = await ari.call("POST", "/bridges/b-1", type="mixing")
    assert status == 200
    assert (await ari.call("POST", "/bridges/b-1/addChannel", channel=f"{cid},{phone.channel_id}"))[0] == 204
    status, pb = await ari.call("POST", "/bridges/b-1/play", media="sound:dialer-beep")
    assert status == 201 and pb["target_uri"] == "bridge:b-1"
    status, pb2 = await ari.call("POST", f"/channels/{phone.channel_id}/play/pb-2", media="digits:390611111501")
    assert status == 201
    await ari.wait_event(lambda e: e["type"] == "PlaybackFinished" and e["playback"]["id"] == "pb-2", what="pb-2")
    assert "sound:dialer-beep" in sim.media_played(cid)
    assert sim.media_played(phone.channel_id) == ["sound:dialer-beep", "digits:390611111501"]


async def test_given_missing_sound_then_playback_fails_at_once(sim, ari):
    phone = sim.add_phone("2006", name="F")
    await phone.dial("*50")
    status, pb = await ari.call("POST", f"/channels/{phone.channel_id}/play", media="sound:no-such-file")
    assert status == 201
    done = await ari.wait_event(lambda e: e["type"] == "PlaybackFinished", what="PlaybackFinished")
    assert done["playback"]["state"] == "failed"


async def test_given_live_recording_when_stopped_then_started_and_finished_events(sim, ari):
    phone = sim.add_phone("2007", name="G")
    await phone.dial("*50")
    status, rec = await ari.call("POST", f"/channels/{phone.channel_id}/record", name="r1", format="wav")
    assert status == 201 and rec["state"] == "queued"
    await ari.wait_event(lambda e: e["type"] == "RecordingStarted", what="RecordingStarted")
    assert (await ari.call("POST", "/recordings/live/r1/stop"))[0] == 204
    finished = await ari.wait_event(lambda e: e["type"] == "RecordingFinished", what="RecordingFinished")
    assert finished["recording"]["state"] == "done"
    status, stored = await ari.call("GET", "/recordings/stored")
    assert [s["name"] for s in stored] == ["r1"]


async def test_given_snoop_whisper_then_history_records_the_directions(sim, ari):
    cid = await originate(ari, "+390612345100")
    await stasis_start(ari, cid)
    status, snoop = await ari.call("POST", f"/channels/{cid}/snoop", spy="both", whisper="out", app="dialer",
                                   appArgs="snoop")
    assert status == 200 and snoop["name"].startswith(f"Snoop/{cid}-") and snoop["state"] == "Up"
    await stasis_start(ari, snoop["id"])
    record = next(h for h in sim.history() if h["id"] == snoop["id"])
    assert record["snoop"] == {"spied": cid, "spy": "both", "whisper": "out"}
    # The spied channel goes away: the snoop channel goes with it.
    await ari.call("DELETE", f"/channels/{cid}")
    await sim.wait_for(lambda: snoop["id"] not in {c["id"] for c in sim.channels()}, what="snoop gone")


async def test_given_time_scale_then_every_timer_runs_that_much_faster():
    from pbx_sim import SimConfig, Simulator
    from tests.sim.conftest import AriClient

    # 200 s of ringing and 100 s of talk at 1000x: the whole call is over in about 0.3 s.
    sim = Simulator(SimConfig(port=0, time_scale=1000.0, ring=200.0, talk=100.0))
    await sim.start()
    try:
        async with AriClient(sim) as ari:
            cid = await originate(ari, "+390612345100", timeout=600)
            gone = await ari.wait_event(lambda e: e["type"] == "ChannelDestroyed", timeout=5, what="call over")
            assert gone["channel"]["id"] == cid
            assert "StasisStart" in ari.types_for(cid)
    finally:
        await sim.stop()


async def test_given_scripted_no_answer_then_it_rings_until_the_originate_timeout(sim, ari):
    sim.script_number("+390611111105", no_answer=True)
    cid = await originate(ari, "+390611111105", timeout=3)
    gone = await destroyed(ari, cid)
    assert (gone["cause"], gone["channel"]["state"]) == (19, "Ringing")
    assert [e["dialstatus"] for e in ari.events if e["type"] == "Dial"] == ["", "RINGING"]


async def test_given_customer_when_hanging_up_at_any_moment_then_ringing_or_answered_call_ends(sim, ari):
    ringing = await originate(ari, "+390612345300")
    await ari.wait_event(lambda e: e["type"] == "Dial" and e["dialstatus"] == "RINGING", what="ringing")
    sim.customer_hangup(ringing)  # declines while it rings: SIP 603
    assert (await destroyed(ari, ringing))["cause"] == 21
    talking = await originate(ari, "+390612345100")
    await stasis_start(ari, talking)
    sim.customer_hangup(talking)
    gone = await destroyed(ari, talking)
    types = ari.types_for(talking)
    assert types.index("ChannelHangupRequest") < types.index("StasisEnd") < types.index("ChannelDestroyed")
    assert gone["cause"] == 0  # a BYE without Reason, as pjsip_remote_hangup

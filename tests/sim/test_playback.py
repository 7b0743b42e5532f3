"""Playback semantics the simulator must share with Asterisk 22 (res_stasis_playback.c), each
sequence observed on a real Asterisk 22.10.1: a media list reports every item, a missing sound
fails only its item, a stop cuts sounds but not spoken digits, and a queued playback that was
stopped still reports its end on its turn."""
from __future__ import annotations


async def _phone_in_app(sim, ext="2101"):
    phone = sim.add_phone(ext, name="P")
    await phone.dial("*50")
    return phone


def _trail(ari, pid):
    return [(e["type"], e["playback"]["media_uri"], e["playback"].get("next_media_uri"), e["playback"]["state"])
            for e in ari.events if e["type"].startswith("Playback") and e["playback"]["id"] == pid]


async def _finished(ari, pid):
    return await ari.wait_event(lambda e: e["type"] == "PlaybackFinished" and e["playback"]["id"] == pid,
                                what=f"{pid} finished")


async def test_a_media_list_reports_each_item_started_and_continuing_and_a_missing_last_item_fails(sim, ari):
    phone = await _phone_in_app(sim)
    status, body = await ari.call("POST", f"/channels/{phone.channel_id}/play/p1",
                                  media="sound:beep,sound:nosuchsound,sound:beep,sound:nosuch2")
    assert status == 201 and (body["state"], body["next_media_uri"]) == ("queued", "sound:nosuchsound")
    await _finished(ari, "p1")
    assert _trail(ari, "p1") == [
        ("PlaybackStarted", "sound:beep", "sound:nosuchsound", "playing"),
        ("PlaybackContinuing", "sound:beep", "sound:nosuchsound", "continuing"),
        ("PlaybackStarted", "sound:nosuchsound", "sound:beep", "playing"),
        ("PlaybackContinuing", "sound:nosuchsound", "sound:beep", "continuing"),
        ("PlaybackStarted", "sound:beep", "sound:nosuch2", "playing"),
        ("PlaybackContinuing", "sound:beep", "sound:nosuch2", "continuing"),
        ("PlaybackStarted", "sound:nosuch2", None, "playing"),
        ("PlaybackFinished", "sound:nosuch2", None, "failed"),
    ]
    assert sim.media_played(phone.channel_id) == ["sound:beep", "sound:beep"]


async def test_stopping_spoken_digits_is_refused_and_they_play_to_the_end(sim, ari):
    phone = await _phone_in_app(sim)
    await ari.call("POST", f"/channels/{phone.channel_id}/play/p1", media="digits:12345678")
    await ari.wait_event(lambda e: e["type"] == "PlaybackStarted", what="started")
    status, body = await ari.call("DELETE", "/playbacks/p1")
    assert (status, body["message"]) == (500, "Could not stop playback")
    await _finished(ari, "p1")
    assert _trail(ari, "p1") == [("PlaybackStarted", "digits:12345678", None, "playing"),
                                 ("PlaybackFinished", "digits:12345678", None, "done")]


async def test_a_stop_during_digits_after_a_sound_is_accepted_but_the_list_plays_on(sim, ari):
    phone = await _phone_in_app(sim)
    await ari.call("POST", f"/channels/{phone.channel_id}/play/p1", media="sound:beep,digits:123456,sound:demo-congrats")
    await ari.wait_event(lambda e: e["type"] == "PlaybackStarted" and e["playback"]["media_uri"] == "digits:123456",
                         what="digits started")
    status, _ = await ari.call("DELETE", "/playbacks/p1")
    assert status == 204
    await _finished(ari, "p1")
    assert [t[:2] for t in _trail(ari, "p1")][-2:] == [("PlaybackStarted", "sound:demo-congrats"),
                                                        ("PlaybackFinished", "sound:demo-congrats")]


async def test_a_stopped_sound_finishes_done_and_a_stopped_queued_playback_finishes_on_its_turn(sim, ari):
    phone = await _phone_in_app(sim)
    await ari.call("POST", f"/channels/{phone.channel_id}/play/p1", media="sound:demo-congrats,sound:beep")
    await ari.call("POST", f"/channels/{phone.channel_id}/play/p2", media="sound:beep")
    await ari.wait_event(lambda e: e["type"] == "PlaybackStarted", what="p1 started")
    assert (await ari.call("DELETE", "/playbacks/p2"))[0] == 204
    status, queued = await ari.call("GET", "/playbacks/p2")
    assert (status, queued["state"]) == (200, "done")  # canceled reads "done" at once, still listed
    assert (await ari.call("DELETE", "/playbacks/p1"))[0] == 204
    await _finished(ari, "p2")
    assert _trail(ari, "p1") == [("PlaybackStarted", "sound:demo-congrats", "sound:beep", "playing"),
                                 ("PlaybackFinished", "sound:demo-congrats", "sound:beep", "done")]
    assert _trail(ari, "p2") == [("PlaybackFinished", "sound:beep", None, "done")]  # never started
    assert (await ari.call("GET", "/playbacks/p2"))[0] == 404
    assert "sound:beep" not in sim.media_played(phone.channel_id)

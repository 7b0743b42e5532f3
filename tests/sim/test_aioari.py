"""aioari, a swagger-driven ARI client, loads the simulator's api-docs and drives a call through it."""
from __future__ import annotations

import asyncio

import aioari


async def test_given_aioari_client_when_it_originates_plays_and_hangs_up_then_the_call_happens(sim):
    client = await aioari.connect(sim.base_url, "dialer", "dialer")
    started: asyncio.Future = asyncio.get_running_loop().create_future()
    finished: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_start(objects, event):
        # StasisStart has two Channel fields (channel, replace_channel): aioari passes a dict of them.
        if not started.done():
            started.set_result((objects["channel"], event))

    def on_playback_finished(playback, event):
        if not finished.done():
            finished.set_result(event)

    client.on_channel_event("StasisStart", on_start)
    client.on_playback_event("PlaybackFinished", on_playback_finished)
    runner = asyncio.create_task(client.run(apps="dialer"))
    try:
        await sim.wait_for(lambda: sim.websocket_count() == 1, what="aioari websocket")
        channel = await client.channels.originate(endpoint="PJSIP/+390612345100@carrier", app="dialer",
                                                  appArgs="customer,7", callerId="Dialer <5551000>", timeout=30)
        assert channel.json["state"] == "Down"
        ch, event = await asyncio.wait_for(started, 5)
        assert ch.id == channel.id and event["args"] == ["customer", "7"] and ch.json["state"] == "Up"
        playback = await ch.play(media="sound:hello-world")
        assert playback.json["state"] == "queued"
        done = await asyncio.wait_for(finished, 5)
        assert done["playback"]["state"] == "done"
        await ch.hangup()
        await sim.wait_for(lambda: any(h["id"] == channel.id and h["destroyed"] for h in sim.history()),
                           what="channel destroyed")
    finally:
        await client.close()
        runner.cancel()
    record = next(h for h in sim.history() if h["id"] == channel.id)
    assert record["cause"] == 16 and sim.media_played(channel.id) == ["sound:hello-world"]


async def test_given_a_closed_adapter_when_a_late_task_sends_a_request_then_it_fails_and_opens_no_session(sim):
    from ari_app.ari.aioari_adapter import AioariAdapter
    from ari_app.ari.port import AriUnavailable

    adapter = AioariAdapter(sim.base_url, "dialer", "dialer", "dialer")
    assert await adapter.list_channels() == []
    await adapter.close()
    try:
        await adapter.list_channels()
    except AriUnavailable:
        pass
    else:
        raise AssertionError("a request after close() was sent")
    assert adapter._http is None  # no HTTP session left open that nothing would close

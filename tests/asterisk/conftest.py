"""The `asterisk` suite: the same scenarios against a real Asterisk 20/22 running the shipped
`asterisk_conf/` and `dialplan/extensions_dialer.conf`. Set DIALER_TEST_ARI_URL (and, if not the
defaults, DIALER_TEST_ARI_USER / DIALER_TEST_ARI_PASSWORD); otherwise every test here is skipped.

Desk phones are emulated with Local channels: the test originates `Local/<code>@dialer-features`
with the agent's extension as caller ID into its own Stasis app (`dialer-test-phones`). The `;2`
half runs the feature code and enters the dialer's app as the agent channel, exactly as a SIP phone
would; DTMF the test sends on the `;1` half crosses the Local channel to the agent.

The test's app subscribes to every event source (`subscribeAll`), so it sees what the dialer does
on its own channels (playbacks, snoops, bridges) the way the simulator's record shows it.

Optional: DIALER_TEST_ASTERISK_RESTART_CMD, a shell command that restarts the Asterisk under test:
`asterisk -rx "core restart now"` (graceful: Asterisk reports the hang-ups) or a crash, e.g.
`pkill -9 -x asterisk; asterisk -U asterisk` (reconcile closes the calls as lost); the restart
scenario is skipped without it.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid

import aiohttp
import pytest

ARI_URL = os.environ.get("DIALER_TEST_ARI_URL")
ARI_USER = os.environ.get("DIALER_TEST_ARI_USER", "dialer")
ARI_PASSWORD = os.environ.get("DIALER_TEST_ARI_PASSWORD", "dialer")
RESTART_CMD = os.environ.get("DIALER_TEST_ASTERISK_RESTART_CMD")
PHONE_APP = "dialer-test-phones"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.asterisk)
            if not ARI_URL:
                item.add_marker(pytest.mark.skip(reason="set DIALER_TEST_ARI_URL to run against a real Asterisk"))


class RealPhone:
    """A desk phone made of a Local channel; `channel_id` is the agent-side (`;2`) channel, the one
    the dialer sees, as `Phone.channel_id` is in the simulator."""

    def __init__(self, pbx: "RealPbx", ext: str, name: str | None = None):
        self.pbx, self.ext, self.name = pbx, ext, name or f"Agent {ext}"
        self.local1: str | None = None
        self.channel_id: str | None = None

    @property
    def is_up(self) -> bool:
        return self.local1 is not None and self.local1 in self.pbx.up

    async def dial(self, code: str) -> None:
        """Dial a feature code; returns once the dialplan answered (the `;1` half entered our app)."""
        self.local1 = f"phone-{uuid.uuid4().hex[:12]}"
        self.channel_id = f"{self.local1}-2"
        await self.pbx.rest("POST", "/channels", endpoint=f"Local/{code}@dialer-features", app=PHONE_APP,
                            channelId=self.local1, otherChannelId=self.channel_id,
                            callerId=f'"{self.name}" <{self.ext}>', timeout=15)
        await self.pbx.wait(lambda: self.local1 in self.pbx.up or self.local1 in self.pbx.gone,
                            what=f"phone {self.ext} answered")

    async def press(self, digits: str) -> None:
        """Key DTMF on the phone. Asterisk plays the digits out in real time (100 ms each, 250 ms
        apart) and answers the request at once, so we wait until the dialer's side has received
        every digit we sent (ChannelDtmfReceived on the `;2` half, seen through subscribeAll)."""
        if not self.is_up:
            return
        before = len(self.pbx.dtmf.get(self.channel_id, ""))
        with contextlib.suppress(AssertionError):  # the phone may be hung up meanwhile
            await self.pbx.rest("POST", f"/channels/{self.local1}/dtmf", dtmf=digits, between=250, duration=100)
        await self.pbx.wait(lambda: len(self.pbx.dtmf.get(self.channel_id, "")) >= before + len(digits)
                            or not self.is_up, timeout=5 + 0.5 * len(digits), what=f"DTMF {digits!r} delivered")

    async def hangup(self) -> None:
        with contextlib.suppress(AssertionError):
            await self.pbx.rest("DELETE", f"/channels/{self.local1}")
        await self.pbx.wait(lambda: not self.is_up, what=f"phone {self.ext} hung up")


class RealPbx:
    def __init__(self, base: str):
        self.base = base.rstrip("/") + "/"
        token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.session: aiohttp.ClientSession | None = None
        self.up: set[str] = set()  # our phones' `;1` halves, answered and in our app
        self.gone: set[str] = set()
        self.media: dict[str, list[str]] = {}  # channel id -> media started on it, in order
        self.dtmf: dict[str, str] = {}  # channel id -> digits it received
        self.destroyed: dict[str, int] = {}  # channel id -> hangup cause
        self.hung_up: set[str] = set()  # channels asked to hang up (ChannelHangupRequest, soft or not)
        self.events: list[dict] = []
        self._ws_task: asyncio.Task | None = None

    @property
    def base_url(self) -> str:
        return self.base

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(headers=self.headers)
        ws = await self.session.ws_connect(f"{self.base}ari/events?app={PHONE_APP}&subscribeAll=true")

        async def pump():
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._on_event(json.loads(msg.data))

        self._ws_task = asyncio.create_task(pump())

    def _on_event(self, event: dict) -> None:
        self.events.append(event)
        kind = event.get("type")
        cid = (event.get("channel") or {}).get("id")
        ours = bool(cid) and cid.startswith("phone-") and not cid.endswith("-2")  # a phone's `;1` half
        if kind == "StasisStart" and ours:
            self.up.add(cid)
        elif kind in ("StasisEnd", "ChannelDestroyed") and ours:
            self.up.discard(cid)
            self.gone.add(cid)
        if kind == "ChannelDestroyed":
            self.destroyed[cid] = event.get("cause")
            self.hung_up.add(cid)
        elif kind == "ChannelHangupRequest":  # an ARI DELETE is reported soft (ast_softhangup)
            self.hung_up.add(cid)
        elif kind == "ChannelDtmfReceived":
            self.dtmf[cid] = self.dtmf.get(cid, "") + event.get("digit", "")
        elif kind == "PlaybackStarted":  # one per media item of a list, as Asterisk 22 plays it
            pb = event.get("playback") or {}
            target = pb.get("target_uri", "")
            if target.startswith("channel:") and pb.get("media_uri"):
                self.media.setdefault(target[len("channel:"):], []).append(pb["media_uri"])

    async def stop(self) -> None:
        if self._ws_task:
            self._ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ws_task
        if self.session:
            # Leave nothing behind for the next test: our phones and whatever the dialer left.
            with contextlib.suppress(AssertionError, aiohttp.ClientError):
                await _no_leftovers(self)
            await self.session.close()

    async def rest(self, method: str, path: str, **params):
        async with self.session.request(method, f"{self.base}ari{path}",
                                        params={k: str(v) for k, v in params.items()}) as resp:
            body = await resp.text()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} -> {resp.status} {body}")
            return json.loads(body) if body else None

    def add_phone(self, ext: str, name: str | None = None, *, app: str = "dialer") -> RealPhone:
        # The shipped dialplan enters the app named by ${DIALER_APP}; a second instance's app
        # would need its own feature codes, which the shipped configuration does not have.
        assert app == "dialer", "the shipped dialplan enters the Stasis app 'dialer' only"
        return RealPhone(self, ext, name)

    def media_played(self, channel_id: str) -> list[str]:
        return list(self.media.get(channel_id, []))

    async def wait(self, check, timeout: float = 15.0, what: str = "condition"):
        from tests.world import eventually

        return await eventually(check, timeout, what)

    async def channels(self) -> list[dict]:
        return await self.rest("GET", "/channels")

    async def bridges(self) -> list[dict]:
        return await self.rest("GET", "/bridges")

    async def set_global(self, name: str, value: str) -> None:
        await self.rest("POST", "/asterisk/variable", variable=name, value=value)


@pytest.fixture
async def pbx():
    real = RealPbx(ARI_URL)
    await real.wait(_ari_up, timeout=60, what="Asterisk's ARI reachable")
    await real.start()
    await real.wait(lambda: _no_leftovers(real), timeout=20, what="no channels left from an earlier test")
    for name in ("SIM_RING_SECS", "SIM_TALK_SECS"):  # the test parties' defaults: ring 2 s, talk 30 s
        await real.set_global(name, "")
    yield real
    await real.stop()


async def _ari_up() -> bool:
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{ARI_URL.rstrip('/')}/ari/asterisk/ping", auth=aiohttp.BasicAuth(ARI_USER, ARI_PASSWORD),
                             timeout=aiohttp.ClientTimeout(total=2)) as resp:
                return resp.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False


@pytest.fixture
async def dialer(db, pbx):
    from tests.e2e.conftest import start_service, stop_service

    service, task = await start_service(db, pbx)
    yield service
    await stop_service(service, task)


class WebsocketCutter:
    """A TCP relay between the dialer and Asterisk that can cut the event websocket, as a network
    blip or an Asterisk-side close would: REST connections are left alone."""

    def __init__(self, upstream: str):
        from urllib.parse import urlsplit

        u = urlsplit(upstream)
        self.host, self.port = u.hostname, u.port or 80
        self._server: asyncio.base_events.Server | None = None
        self._websockets: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self.base_url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_client: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    # aiohttp reuses a pooled REST connection for the websocket upgrade, so any
                    # request on a connection, not only its first, may open the event stream.
                    if from_client and b"GET /ari/events" in data:
                        self._websockets.append((writer, up_writer))
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def cut(self) -> int:
        cut, self._websockets = self._websockets, []
        for a, b in cut:
            a.close()
            b.close()
        return len(cut)

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


async def _no_leftovers(real: RealPbx) -> bool:
    """Each test has a fresh database, so its ids (agent bridges are `agent-<session id>`) start
    again at 1: what an earlier test left in Asterisk would collide with them."""
    channels, bridges = await real.channels(), await real.bridges()
    for ch in channels:
        with contextlib.suppress(AssertionError):
            await real.rest("DELETE", f"/channels/{ch['id']}")
    for br in bridges:
        with contextlib.suppress(AssertionError):
            await real.rest("DELETE", f"/bridges/{br['id']}")
    return not channels and not bridges

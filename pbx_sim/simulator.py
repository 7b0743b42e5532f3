"""The simulator's Python API: start/stop the server, scenarios, desk phones, faults, what happened."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections import deque
from typing import Any, Callable

from aiohttp import web

from pbx_sim.config import SimConfig
from pbx_sim.control import ControlApi
from pbx_sim.handlers import Handlers
from pbx_sim.scenario import Scenario
from pbx_sim.server import AriServer
from pbx_sim.world import Channel, World

log = logging.getLogger(__name__)


class Phone:
    """A registered SIP desk phone (endpoint PJSIP/<ext>) that a test or the demo drives."""

    def __init__(self, sim: "Simulator", ext: str, name: str, app: str = "dialer", auto_answer: bool = True):
        self.sim, self.ext, self.name, self.app = sim, ext, name, app
        self.auto_answer = auto_answer
        self.registered = True
        self.channel: Channel | None = None
        self.channel_id: str | None = None
        self.incoming: str | None = None  # id of a call ringing on this phone (originated TO it)
        self.received_dtmf = ""
        self.calls: list[str] = []

    def __repr__(self) -> str:
        return f"Phone({self.ext!r}, up={self.is_up})"

    @property
    def is_up(self) -> bool:
        ch = self.channel
        return ch is not None and ch.alive and ch.state == "Up"

    async def dial(self, code: str) -> None:
        """Dial a feature code; returns once StasisStart went out (or the call failed)."""
        world = self.sim.world
        if self.is_up:
            raise RuntimeError(f"phone {self.ext} is already on a call ({self.channel_id})")
        ch = world.phone_dial(self, code)
        self._attach(ch)
        await self.sim.flush()

    async def press(self, digits: str, *, between: float | None = None) -> None:
        """Key DTMF digits: one ChannelDtmfReceived each, spaced like SendDTMF (250 ms + 100 ms)."""
        world, cfg = self.sim.world, self.sim.config
        step = cfg.dtmf_between + cfg.dtmf_duration_ms / 1000.0 if between is None else between
        for i, digit in enumerate(digits):
            ch = self.channel
            if ch is None or not ch.alive:
                break
            if i:
                await asyncio.sleep(step / cfg.time_scale)
            if ch.alive:
                world.dtmf_received(ch, digit, cfg.dtmf_duration_ms)
        await self.sim.flush()

    async def hangup(self, cause: int | None = 16) -> None:
        """The phone hangs up: ChannelHangupRequest (no soft), StasisEnd, ChannelDestroyed 16."""
        ch = self.channel
        if ch is None or not ch.alive:
            return
        if not ch.answered:
            await self.reject()
            return
        # cause=None is a plain BYE as baresip sends it (pjsip_remote_hangup): ChannelDestroyed 0 "Unknown".
        self.sim.world.remote_hangup(ch, cause, destroyed_cause=cause or 0)
        await self.sim.flush()

    async def answer(self) -> None:
        ch = self._ringing_channel()
        self.sim.world.answer_pjsip(ch)
        await self.sim.flush()

    async def reject(self) -> None:
        """Decline a ringing call: SIP 486 Busy Here, as pjsip_rejected."""
        ch = self._ringing_channel()
        self.sim.world._pjsip_fail(ch, 17, 486, "BUSY")
        await self.sim.flush()

    def _ringing_channel(self) -> Channel:
        ch = self.sim.world.channels.get(self.incoming or "")
        if ch is None:
            raise RuntimeError(f"phone {self.ext} has no ringing call")
        return ch

    # called by the world
    def _attach(self, ch: Channel) -> None:
        self.channel, self.channel_id = ch, ch.id
        self.calls.append(ch.id)

    def _incoming(self, ch: Channel) -> None:
        self.incoming = ch.id
        self._attach(ch)
        if self.auto_answer:
            self.sim.world.later(self.sim.config.phone_answer_delay, self.sim.world.answer_pjsip, ch, owner=ch)

    def _incoming_gone(self, ch: Channel) -> None:
        if self.incoming == ch.id:
            self.incoming = None

    def _channel_gone(self, ch: Channel) -> None:
        self._incoming_gone(ch)

    def describe(self) -> dict:
        return {"ext": self.ext, "name": self.name, "app": self.app, "auto_answer": self.auto_answer,
                "is_up": self.is_up, "channel_id": self.channel_id, "incoming": self.incoming,
                "received_dtmf": self.received_dtmf, "calls": list(self.calls)}


class Simulator:
    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self.scenario = Scenario(self.config)
        self.world = World(self.config, self.scenario)
        self.handlers = Handlers(self.world)
        self.control = ControlApi(self)
        self.server = AriServer(self)
        self.rest_log: deque[dict] = deque(maxlen=self.config.rest_log_limit)
        self._faults: list[list[Any]] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self._waiters: list[asyncio.Future] = []
        self._bg: set[asyncio.Task] = set()
        self.world.on_change(self._wake)

    # ---- lifecycle ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}/"

    async def start(self) -> None:
        port = self.port if self.port is not None else self.config.port
        self._runner = web.AppRunner(self.server.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("PBX simulator listening on %s", self.base_url)

    async def stop(self) -> None:
        for conn in list(self.world.connections):
            await conn.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._bg):
            task.cancel()
        self.world.wipe()

    async def restart(self, keep_channels: bool = False) -> None:
        """Like an Asterisk restart: websockets drop, channels gone (no events), same port."""
        for conn in list(self.world.connections):
            await conn.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if not keep_channels:
            self.world.wipe()
        await self.start()

    # ---- scenarios ---------------------------------------------------------------------------------
    def use_number_plan(self, *, ring: float | None = None, talk: float | None = None) -> None:
        self.scenario.use_number_plan(ring=ring, talk=talk)

    def use_probabilities(self, **kwargs) -> None:
        self.scenario.use_probabilities(**kwargs)

    def script_number(self, number: str, **kwargs):
        return self.scenario.script_number(number, **kwargs)

    # ---- phones ------------------------------------------------------------------------------------
    def add_phone(self, ext: str, name: str | None = None, *, app: str = "dialer", auto_answer: bool = True) -> Phone:
        if not re.fullmatch(r"[\w+*#-]+", ext or ""):
            raise ValueError(f"phone extension must be letters/digits, got {ext!r}")
        phone = self.world.phones.get(ext)
        if phone is None:
            phone = Phone(self, ext, name or ext, app=app, auto_answer=auto_answer)
            self.world.phones[ext] = phone
        else:
            phone.name, phone.app, phone.auto_answer = name or phone.name, app, auto_answer
        return phone

    def phone(self, ext: str) -> Phone:
        return self.world.phones[ext]

    def customer_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The far end of a call hangs up now (a customer can hang up at any moment)."""
        world = self.world
        ch = world.channels.get(channel_id)
        if ch is None:
            raise KeyError(channel_id)
        if ch.kind == "local1" and ch.peer is not None:
            if ch.answered:
                world._far_hangup_answered(ch, ch.peer)
            else:
                world._local_unanswered_hangup(ch, ch.peer, cause)
        elif ch.kind == "local2" and ch.peer is not None:
            self.customer_hangup(ch.peer.id, cause)
        elif ch.answered:
            world.remote_hangup(ch, None if ch.kind == "pjsip" else cause)
        else:
            # Declined while ringing: SIP 603 Decline -> cause 21, Dial BUSY (chan_pjsip groups 486/600/603).
            world._pjsip_fail(ch, 21, 603, "BUSY")

    # ---- observation -------------------------------------------------------------------------------
    def media_played(self, channel_id: str) -> list[str]:
        return list(self.world.media_log.get(channel_id, []))

    def channels(self) -> list[dict]:
        return [c.record() for c in self.world.channels.values()]

    def history(self) -> list[dict]:
        return [c.record() for c in self.world.history]

    def bridges(self) -> list[dict]:
        return [b.snapshot() for b in self.world.bridges.values()]

    def websocket_count(self) -> int:
        return len(self.world.connections)

    def _log_rest(self, entry: dict) -> None:
        self.rest_log.append(entry)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"):
        """Wait until predicate() is truthy, woken by simulator state changes (no polling sleeps)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            fut = loop.create_future()
            self._waiters.append(fut)
            try:
                # Re-check at least every 50 ms: predicates may look at state outside the simulator.
                await asyncio.wait_for(asyncio.shield(fut), min(remaining, 0.05))
            except asyncio.TimeoutError:
                pass
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)

    def _wake(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    async def flush(self) -> None:
        """Wait until every queued event was written to its websocket."""
        for conn in list(self.world.connections):
            if not conn.ws.closed:
                await conn.flush()

    # ---- faults ------------------------------------------------------------------------------------
    def drop_websockets(self) -> None:
        for conn in list(self.world.connections):
            task = asyncio.get_running_loop().create_task(conn.close())
            self._bg.add(task)
            task.add_done_callback(self._bg.discard)

    def fail_next(self, method: str, path_regex: str, status: int = 500, count: int = 1) -> None:
        self._faults.append([method.upper(), re.compile(path_regex), int(status), int(count)])

    def delay_events(self, seconds: float) -> None:
        self.world.event_delay = max(0.0, float(seconds))

    def _take_fault(self, method: str, path: str) -> int | None:
        for fault in self._faults:
            if (fault[0] in ("*", method)) and fault[1].search(path):
                fault[3] -= 1
                if fault[3] <= 0:
                    self._faults.remove(fault)
                return fault[2]
        return None

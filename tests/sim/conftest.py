"""Fixtures of the simulator's own tests: an in-process simulator and an ARI client on it."""
from __future__ import annotations

import asyncio
import base64
import json
from typing import Any, Callable

import aiohttp
import pytest

from pbx_sim import SimConfig, Simulator

# The conformance runs use a 20x time scale: every simulated timer (ring, talk, Busy(5), originate
# and dial timeouts, the 32 s SIP timeout) runs 20 times faster than in the trace; order and causes
# do not depend on it.
FAST = 20.0


@pytest.fixture
async def sim():
    simulator = Simulator(SimConfig(port=0, seed=1, time_scale=FAST))
    await simulator.start()
    yield simulator
    await simulator.stop()


class AriClient:
    """A bare ARI client: REST calls with basic auth and the events of one app's websocket."""

    def __init__(self, sim: Simulator, app: str = "dialer"):
        self.sim, self.app = sim, app
        self.events: list[dict] = []
        self._changed = asyncio.Event()

    async def __aenter__(self):
        token = base64.b64encode(b"dialer:dialer").decode()
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"})
        self.ws = await self.http.ws_connect(self.sim.base_url + f"ari/events?app={self.app}")
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc):
        self._reader.cancel()
        await self.ws.close()
        await self.http.close()

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))
                self._changed.set()

    async def call(self, method: str, path: str, body: Any = None, **params) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"params": {k: str(v) for k, v in params.items()}}
        if body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.sim.base_url + "ari" + path, **kwargs) as resp:
            text = await resp.text()
            return resp.status, (json.loads(text) if text else None)

    async def wait_event(self, predicate: Callable[[dict], bool], timeout: float = 5.0, what: str = "event") -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for e in self.events[seen:]:
                if predicate(e):
                    return e
            seen = len(self.events)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {what} within {timeout} s; got {[e['type'] for e in self.events]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def types_for(self, channel_id: str) -> list[str]:
        return [e["type"] for e in self.events
                if (e.get("channel") or e.get("peer") or {}).get("id") == channel_id]


@pytest.fixture
async def ari(sim):
    async with AriClient(sim) as client:
        yield client

"""The `asterisk` suite: the same scenarios against a real Asterisk 20/22 running the shipped
`asterisk_conf/` and `dialplan/extensions_dialer.conf`. Set DIALER_TEST_ARI_URL (and, if not the
defaults, DIALER_TEST_ARI_USER / DIALER_TEST_ARI_PASSWORD); otherwise every test here is skipped.

Desk phones are emulated with Local channels: the test originates `Local/<code>@dialer-features`
with the agent's extension as caller ID into its own Stasis app (`dialer-test-phones`). The `;2`
half runs the feature code and enters the dialer's app as the agent channel, exactly as a SIP phone
would; DTMF the test sends on the `;1` half crosses the Local channel to the agent.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid

import aiohttp
import pytest

ARI_URL = os.environ.get("DIALER_TEST_ARI_URL")
ARI_USER = os.environ.get("DIALER_TEST_ARI_USER", "dialer")
ARI_PASSWORD = os.environ.get("DIALER_TEST_ARI_PASSWORD", "dialer")
PHONE_APP = "dialer-test-phones"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.asterisk)
            if not ARI_URL:
                item.add_marker(pytest.mark.skip(reason="set DIALER_TEST_ARI_URL to run against a real Asterisk"))


class RealPhone:
    """A desk phone made of a Local channel; `channel_id` is the agent-side (`;2`) channel."""

    def __init__(self, pbx: "RealPbx", ext: str):
        self.pbx, self.ext = pbx, ext
        self.local1: str | None = None
        self.channel_id: str | None = None
        self.is_up = False

    async def dial(self, code: str) -> None:
        self.local1 = f"phone-{uuid.uuid4().hex[:12]}"
        await self.pbx.rest("POST", "/channels", endpoint=f"Local/{code}@dialer-features", app=PHONE_APP,
                            channelId=self.local1, otherChannelId=f"{self.local1}-2",
                            callerId=f"Agent {self.ext} <{self.ext}>", timeout=15)
        self.channel_id = f"{self.local1}-2"
        await self.pbx.wait(lambda: self.local1 in self.pbx.up, what=f"phone {self.ext} answered")
        self.is_up = True

    async def press(self, digits: str) -> None:
        await self.pbx.rest("POST", f"/channels/{self.local1}/dtmf", dtmf=digits, between=250, duration=100)
        await asyncio.sleep(0.4 * len(digits))  # DTMF takes real time on a real channel

    async def hangup(self) -> None:
        await self.pbx.rest("DELETE", f"/channels/{self.local1}")
        self.is_up = False


class RealPbx:
    def __init__(self, base: str):
        self.base = base.rstrip("/") + "/"
        token = base64.b64encode(f"{ARI_USER}:{ARI_PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.session: aiohttp.ClientSession | None = None
        self.up: set[str] = set()
        self.gone: set[str] = set()
        self._ws_task: asyncio.Task | None = None

    @property
    def base_url(self) -> str:
        return self.base

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(headers=self.headers)
        ws = await self.session.ws_connect(f"{self.base}ari/events?app={PHONE_APP}")

        async def pump():
            async for msg in ws:
                event = json.loads(msg.data)
                cid = (event.get("channel") or {}).get("id")
                if event.get("type") == "StasisStart":
                    self.up.add(cid)
                elif event.get("type") in ("StasisEnd", "ChannelDestroyed"):
                    self.up.discard(cid)
                    self.gone.add(cid)

        self._ws_task = asyncio.create_task(pump())

    async def stop(self) -> None:
        if self._ws_task:
            self._ws_task.cancel()
        if self.session:
            await self.session.close()

    async def rest(self, method: str, path: str, **params):
        async with self.session.request(method, f"{self.base}ari{path}",
                                        params={k: str(v) for k, v in params.items()}) as resp:
            body = await resp.text()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} -> {resp.status} {body}")
            return json.loads(body) if body else None

    def add_phone(self, ext: str, name: str | None = None) -> RealPhone:
        return RealPhone(self, ext)

    async def wait(self, check, timeout: float = 15.0, what: str = "condition"):
        from tests.world import eventually

        return await eventually(check, timeout, what)

    async def channels(self) -> list[dict]:
        return await self.rest("GET", "/channels")


@pytest.fixture
async def pbx():
    real = RealPbx(ARI_URL)
    await real.start()
    yield real
    await real.stop()

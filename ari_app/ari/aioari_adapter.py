"""The aioari adapter behind our port.

aioari 0.10.2 works on Python 3.11 and aiohttp 3.14, with two defects handled here rather than
patched in the library:
- ``aioari.connect`` authenticates with an ``api_key=user:password`` query parameter, which puts the
  credentials into every URL (and so into access logs and error messages). We build the client
  ourselves and send HTTP Basic ``Authorization`` headers on requests *and* on the websocket.
- ``Client.process_ws`` awaits each listener before reading the next message, so a slow handler
  stalls the event stream. Our listener only enqueues the typed event; the service consumes it.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
from typing import Any, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import aiohttp
import aioari
from aioswagger11.http_client import AsynchronousHttpClient

from ari_app.ari.events import ChannelInfo, parse_event
from ari_app.ari.port import AriError, AriUnavailable, ConnectedHandler, EventHandler

log = logging.getLogger(__name__)


class _BasicAuthHttpClient(AsynchronousHttpClient):
    """aioswagger's client with Basic auth in headers, for REST and the websocket alike."""

    def __init__(self, username: str, password: str, on_ws_open):
        super().__init__()
        self.authenticator = None  # never put credentials into URLs
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._auth = {"Authorization": f"Basic {token}"}
        self._on_ws_open = on_ws_open

    async def request(self, method, url, params=None, data=None, headers=None):
        headers = dict(headers or {}, **self._auth)
        return await super().request(method, url, params=params, data=data, headers=headers)

    async def ws_connect(self, url, params=None):
        ws = await self.session.ws_connect(url, params=params, headers=self._auth, heartbeat=20)
        self.websockets.add(ws)
        self._on_ws_open()
        return ws


def _error_from(exc: Exception) -> AriError:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", 500)
    text = getattr(exc, "text", "") or ""
    try:
        body = json.loads(text)
        message = body.get("message") or body.get("error") or text
    except (ValueError, AttributeError):
        message = text or str(exc)
    return AriError(int(status), message)


class AioariAdapter:
    def __init__(self, base_url: str, username: str, password: str, app: str, *, max_backoff: float = 10.0):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.app = app
        self._username = username
        self._password = password
        self._client: aioari.Client | None = None
        self._http: _BasicAuthHttpClient | None = None
        self._closing = False
        self._ws_open = asyncio.Event()
        self._max_backoff = max_backoff
        self.connects = 0

    def __repr__(self) -> str:  # never show the password
        return f"AioariAdapter({urlsplit(self.base_url).netloc}, app={self.app!r})"

    async def _ensure_client(self) -> aioari.Client:
        if self._closing:
            # a request after close() (a task finishing during shutdown) must not open a new session
            # that nothing would close
            raise AriUnavailable("the ARI client is closed")
        if self._client is None:
            http = _BasicAuthHttpClient(self._username, self._password, self._ws_open.set)
            client = aioari.Client(self.base_url, http)
            try:
                await client.init()
            except Exception:
                await http.close()
                raise
            self._http, self._client = http, client
        return self._client

    async def _reset_client(self) -> None:
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()
        self._client = self._http = None

    async def run(self, on_event: EventHandler, on_connected: ConnectedHandler) -> None:
        backoff = 0.2
        while not self._closing:
            try:
                client = await self._ensure_client()

                def listener(raw: dict, *_a: Any) -> None:
                    event = parse_event(raw)
                    if event is not None:
                        on_event(event)

                client.event_listeners.clear()
                client.on_event("*", listener)
                self._ws_open.clear()
                runner = asyncio.create_task(client.run(apps=self.app))
                opened = asyncio.create_task(self._ws_open.wait())
                done, _ = await asyncio.wait({runner, opened}, return_when=asyncio.FIRST_COMPLETED)
                if opened in done:
                    self.connects += 1
                    log.info("ARI websocket connected to %s as app %s", urlsplit(self.base_url).netloc, self.app)
                    backoff = 0.2
                    try:
                        await on_connected()
                    except Exception:
                        log.exception("reconcile after connect failed")
                else:
                    opened.cancel()
                await runner  # returns when the websocket closes
                if not self._closing:
                    log.warning("ARI websocket closed; reconnecting")
                    await self._reset_client()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection refused, swagger load failed, ...
                if self._closing:
                    break
                log.warning("ARI not reachable (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await self._reset_client()
            if self._closing:
                break
            await asyncio.sleep(backoff * (0.8 + 0.4 * random.random()))
            backoff = min(backoff * 2, self._max_backoff)

    async def close(self) -> None:
        self._closing = True
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
        await self._reset_client()

    async def _call(self, resource: str, operation: str, **kwargs: Any) -> Any:
        client = await self._ensure_client()
        op = getattr(getattr(client.swagger, resource), operation)
        try:
            response = await op(**{k: v for k, v in kwargs.items() if v is not None})
        except aiohttp.ClientConnectionError as exc:
            raise AriUnavailable(str(exc)) from None
        except aiohttp.web_exceptions.HTTPException as exc:
            raise _error_from(exc) from None
        if response.status == 204:
            response.release()
            return None
        try:
            return await response.json()
        finally:
            response.release()

    async def originate(self, *, channel_id: str, endpoint: str, app_args: Sequence[str], caller_id: str | None,
                        timeout: int, variables: Mapping[str, str] | None = None) -> None:
        await self._call(
            "channels", "originate", endpoint=endpoint, app=self.app, appArgs=",".join(app_args),
            callerId=caller_id, timeout=timeout, channelId=channel_id, variables=dict(variables or {}) or None,
        )

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._call("channels", "hangup", channelId=channel_id, reason=reason)

    async def answer(self, channel_id: str) -> None:
        await self._call("channels", "answer", channelId=channel_id)

    async def play(self, channel_id: str, media: str | Sequence[str], playback_id: str) -> None:
        media_list = [media] if isinstance(media, str) else list(media)
        await self._call("channels", "playWithId", channelId=channel_id, playbackId=playback_id, media=media_list)

    async def stop_playback(self, playback_id: str) -> None:
        await self._call("playbacks", "stop", playbackId=playback_id)

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None:
        await self._call("bridges", "createWithId", bridgeId=bridge_id, type=bridge_type)

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self._call("bridges", "addChannel", bridgeId=bridge_id, channel=list(channel_ids))

    async def remove_from_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self._call("bridges", "removeChannel", bridgeId=bridge_id, channel=list(channel_ids))

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._call("bridges", "destroy", bridgeId=bridge_id)

    async def list_channels(self) -> list[ChannelInfo]:
        return [ChannelInfo.from_json(c) for c in (await self._call("channels", "list") or [])]

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str, priority: int = 1) -> None:
        await self._call("channels", "continueInDialplan", channelId=channel_id, context=context,
                         extension=extension, priority=priority)

    async def snoop(self, channel_id: str, snoop_id: str, *, spy: str, whisper: str, app_args: Sequence[str]) -> None:
        await self._call("channels", "snoopChannelWithId", channelId=channel_id, snoopId=snoop_id, spy=spy,
                         whisper=whisper, app=self.app, appArgs=",".join(app_args))

"""HTTP side of the simulator: the ARI REST resources, the event websocket, api-docs, and `/_sim` control.

Routing is driven by the swagger declarations Asterisk serves (pbx_sim/api_docs), so every declared
path answers: unknown paths 404 "Resource not found", declared paths with another method 405
"Invalid method", parameters typed and checked against `allowableValues` before a handler runs.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from pbx_sim.world import AriError

if TYPE_CHECKING:
    from pbx_sim.simulator import Simulator

log = logging.getLogger(__name__)

DOCS_PACKAGE = "pbx_sim.api_docs"
NOT_BUILT = {"mailboxes"}  # res_ari_mailboxes was not built on the reference instance (README)


def load_docs() -> dict[str, dict]:
    docs = {}
    for entry in resources.files(DOCS_PACKAGE).iterdir():
        if entry.name.endswith(".json"):
            docs[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return docs


class Route:
    def __init__(self, path: str, operations: dict[str, dict]):
        self.path = path
        self.params = re.findall(r"\{(\w+)\}", path)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        self.regex = re.compile(f"^{pattern}$")
        self.operations = operations  # HTTP method -> swagger operation


def build_routes(docs: dict[str, dict]) -> list[Route]:
    routes = []
    for name, decl in docs.items():
        if name == "resources" or name in NOT_BUILT:
            continue
        for api in decl.get("apis", []):
            ops = {op["httpMethod"]: op for op in api.get("operations", [])}
            routes.append(Route(api["path"], ops))
    # Literal segments win over path parameters (/channels/create before /channels/{channelId}).
    routes.sort(key=lambda r: len(r.params))
    return routes


REQUIRED_MESSAGES = {
    ("originate", "endpoint"): "Endpoint must be specified",
    ("originateWithId", "endpoint"): "Endpoint must be specified",
    ("create", "endpoint"): "Endpoint must be specified",
    ("addChannel", "channel"): "Missing parameter channel",
    ("removeChannel", "channel"): "Missing parameter channel",
    ("getChannelVar", "variable"): "Variable name is required",
    ("setChannelVar", "variable"): "Variable name is required",
    ("getBridgeVar", "variable"): "Variable name is required",
    ("setBridgeVar", "variable"): "Variable name is required",
    ("play", "media"): "Missing parameter media",
    ("playWithId", "media"): "Missing parameter media",
    ("redirect", "endpoint"): "Missing parameter endpoint",
}
ENUM_MESSAGES = {
    ("hangup", "reason"): "Invalid reason for hangup provided",
    ("snoopChannel", "spy"): "Invalid direction specified for spy",
    ("snoopChannel", "whisper"): "Invalid direction specified for whisper",
    ("snoopChannelWithId", "spy"): "Invalid direction specified for spy",
    ("snoopChannelWithId", "whisper"): "Invalid direction specified for whisper",
    ("mute", "direction"): "Invalid direction specified",
    ("unmute", "direction"): "Invalid direction specified",
}
# Asterisk looks the channel up (404) before it judges these values.
CHECKED_AFTER_LOOKUP = {("hangup", "reason")}
# Operations that need no Stasis and have no meaning in the simulator answer 501 like an unloaded module.
NOT_IMPLEMENTED_STATUS = 501


def _parse_params(op: dict, query, body: Any) -> tuple[dict, dict]:
    """Query (and JSON-body) parameters, typed and validated against the swagger operation."""
    params: dict[str, Any] = {}
    variables: dict = {}
    body_obj = body if isinstance(body, dict) else {}
    for p in op.get("parameters", []):
        name, ptype = p["name"], p["paramType"]
        if ptype == "body":
            value = body_obj.get(name)
            if isinstance(value, dict):
                variables = value
            elif value is not None:
                raise AriError(400, f"Invalid {name}: expected a JSON object")
            continue
        if ptype != "query":
            continue
        values = query.getall(name, [])
        if values:
            value = ",".join(values)
        elif name in body_obj and not isinstance(body_obj[name], (dict, list)):
            value = body_obj[name]
            value = ("true" if value else "false") if isinstance(value, bool) else str(value)
        elif name in body_obj and isinstance(body_obj[name], list):
            value = ",".join(str(v) for v in body_obj[name])
        else:
            value = None
        nick = op["nickname"]
        if value is None or value == "":
            if p.get("required"):
                raise AriError(400, REQUIRED_MESSAGES.get((nick, name), f"Missing parameter {name}"))
            continue
        dtype = p.get("dataType", "string")
        if dtype in ("int", "long"):
            try:
                value = int(value)
            except ValueError:
                raise AriError(400, f"Invalid {name}: '{value}' is not an integer") from None
        elif dtype == "boolean":
            low = value.lower()
            if low not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
                raise AriError(400, f"Invalid {name}: '{value}' is not a boolean")
            value = low in ("true", "yes", "1", "on")
        allowable = p.get("allowableValues")
        if allowable and (nick, name) not in CHECKED_AFTER_LOOKUP:
            if allowable.get("valueType") == "LIST":
                items = value.split(",") if p.get("allowMultiple") else [value]
                if any(item not in allowable["values"] for item in items):
                    raise AriError(400, ENUM_MESSAGES.get((nick, name), f"Invalid {name}: '{value}'"))
            elif allowable.get("valueType") == "RANGE" and isinstance(value, int):
                lo, hi = allowable.get("min"), allowable.get("max")
                if (lo is not None and value < lo) or (hi is not None and value > hi):
                    raise AriError(400, f"Invalid {name}: {value} out of range")
        params[name] = value
    return params, variables


class EventConnection:
    """One event websocket; events go out in order through a queue so a slow reader never blocks the PBX."""

    def __init__(self, ws: web.WebSocketResponse, apps: list[str], subscribe_all: bool, world):
        self.ws, self.apps, self.subscribe_all, self.world = ws, apps, subscribe_all, world
        self.queue: asyncio.Queue = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write())
        self.sent = 0

    def push(self, text: str) -> None:
        delay = self.world.event_delay
        self.queue.put_nowait((time.monotonic() + delay if delay else 0.0, text))

    async def _write(self) -> None:
        try:
            while True:
                due, text = await self.queue.get()
                try:
                    if due:
                        wait = due - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                    if not self.ws.closed:
                        await self.ws.send_str(text)
                        self.sent += 1
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("event websocket gone: %s", exc)
                finally:
                    self.queue.task_done()
        except asyncio.CancelledError:
            pass

    async def flush(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()


def _json(status: int, body: Any) -> web.Response:
    if status == 204 or body is None:
        return web.Response(status=status)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


class AriServer:
    def __init__(self, sim: "Simulator"):
        self.sim = sim
        self.world = sim.world
        self.docs = load_docs()
        self.routes = build_routes(self.docs)
        token = base64.b64encode(f"{sim.config.user}:{sim.config.password}".encode()).decode()
        self._auth_header = f"Basic {token}"
        self._api_key = f"{sim.config.user}:{sim.config.password}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app) -> None:
        for conn in list(self.world.connections):
            await conn.close()

    # ---- entry -------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/_sim/") or path == "/_sim":
                return await self.sim.control.handle(request)
            if not (path.startswith("/ari/") or path == "/ari"):
                return _json(404, {"message": "Resource not found"})
            return await self._ari(request)
        except AriError as exc:
            return _json(exc.status, exc.body())
        except web.HTTPException:
            raise
        except Exception:  # never crash on a request
            log.exception("simulator request %s %s failed", request.method, path)
            return _json(500, {"message": "Internal Server Error"})

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header == self._auth_header:
            return True
        if header.startswith("Basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                return base64.b64decode(header[6:]).decode() == self._api_key
        return request.query.get("api_key") == self._api_key

    async def _ari(self, request: web.Request) -> web.StreamResponse:
        sub = request.path[4:] or "/"
        raw = b""
        if request.can_read_body:
            raw = await request.read()
        entry = {"method": request.method, "path": request.path,
                 "query": {k: v for k, v in request.query.items()}, "body": None, "status": None,
                 "time": time.time()}
        if raw:
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["body"] = raw[:2000].decode("utf-8", "replace")
        self.sim._log_rest(entry)
        status, response = await self._ari_dispatch(request, sub, raw, entry)
        entry["status"] = status
        if isinstance(response, web.StreamResponse):
            return response
        return _json(status, response)

    async def _ari_dispatch(self, request, sub: str, raw: bytes, entry: dict):
        if sub.startswith("/api-docs/"):
            return self._api_docs(request, sub[len("/api-docs/"):])
        if not self._authorized(request):
            return 401, {"message": "Authentication required"}
        fault = self.sim._take_fault(request.method, request.path)
        if fault is not None:
            return fault, {"message": "Internal Server Error" if fault >= 500 else "Simulated failure"}
        route, match = None, None
        for r in self.routes:
            m = r.regex.match(sub)
            if m:
                route, match = r, m
                break
        if route is None:
            return 404, {"message": "Resource not found"}
        op = route.operations.get(request.method)
        if op is None:
            return 405, {"message": "Invalid method"}
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, {"message": "Error parsing request body"}
        try:
            params, variables = _parse_params(op, request.query, body)
        except AriError as exc:
            return exc.status, exc.body()
        path_params = {k: v for k, v in match.groupdict().items()}
        nick = op["nickname"]
        if nick == "eventWebsocket":
            return 200, await self._websocket(request, params)
        handler = getattr(self.sim.handlers, f"op_{route.path.split('/')[1]}_{nick}", None)
        if handler is None:
            return NOT_IMPLEMENTED_STATUS, {"message": "Not implemented"}
        try:
            result = handler(path_params, params, variables)
            if asyncio.iscoroutine(result):
                result = await result
        except AriError as exc:
            return exc.status, exc.body()
        return result

    def _api_docs(self, request: web.Request, name: str):
        base = name[:-5] if name.endswith(".json") else None
        if base is None or base not in self.docs:
            return 404, {"message": "Resource not found"}
        doc = json.loads(json.dumps(self.docs[base]))
        # Asterisk rewrites basePath to the URL the client used; aioswagger builds every operation URL
        # from it (and the websocket URL by swapping http for ws).
        host = request.headers.get("Host") or f"{self.sim.config.host}:{self.sim.port}"
        doc["basePath"] = f"{request.scheme}://{host}/ari"
        return 200, doc

    async def _websocket(self, request: web.Request, params: dict):
        apps = [a for a in str(params.get("app", "")).split(",") if a]
        if not apps:
            return _json(400, {"message": "Missing parameter app"})
        ws = web.WebSocketResponse(autoping=True)
        if not ws.can_prepare(request).ok:
            return _json(426, {"message": "Upgrade Required"})  # a plain GET on the websocket resource
        await ws.prepare(request)
        conn = EventConnection(ws, apps, bool(params.get("subscribeAll")), self.world)
        self.world.connections.add(conn)
        self.world.changed()
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.world.connections.discard(conn)
            conn.writer.cancel()
            self.world.changed()
        return ws

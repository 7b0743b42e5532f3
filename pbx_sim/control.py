"""HTTP control API under /_sim/..., mirroring the Python API, JSON in and out.

GET  /_sim/state                      channels, bridges, phones, scenario, websocket count
GET  /_sim/history | /_sim/channels   every channel ever | live channels
GET  /_sim/rest_log?limit=N           REST requests received (newest last)
GET  /_sim/media/{channel_id}         media URIs played on a channel
POST /_sim/scenario                   {"mode": "plan", "ring": 2, "talk": 30}
                                      {"mode": "probabilities", "answer": .3, ..., "ring_mean": 9, ...}
POST /_sim/numbers                    {"number": "+39...", "answer_after": 1, "talk": 20, "busy": true, ...}
POST /_sim/phones                     {"ext": "1001", "name": "Alice", "app": "dialer", "auto_answer": true}
GET  /_sim/phones
POST /_sim/phones/{ext}/dial          {"code": "*50"}
POST /_sim/phones/{ext}/press         {"digits": "1234#"}
POST /_sim/phones/{ext}/hangup | /answer | /reject
POST /_sim/channels/{id}/hangup       {"cause": 16}   the customer hangs up
POST /_sim/faults/drop_websockets
POST /_sim/faults/fail_next           {"method": "POST", "path": "^/ari/channels$", "status": 500, "count": 1}
POST /_sim/faults/delay_events        {"seconds": 0.5}
POST /_sim/faults/restart             {"keep_channels": false}
"""
from __future__ import annotations

import asyncio
import inspect
import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from pbx_sim.simulator import Simulator


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _resp(status: int, body: Any) -> web.Response:
    if body is None:
        return web.Response(status=204)
    return web.Response(status=status, text=json.dumps(body, default=str), content_type="application/json")


def _only(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


SCRIPT_FIELDS = {"answer_after", "talk", "busy", "congestion", "no_answer", "invalid", "machine",
                 "hangup_after_answer", "dtmf", "amd"}
PROB_FIELDS = {"answer", "busy", "no_answer", "congestion", "invalid", "machine", "ring_mean", "ring_sd",
               "talk_mean", "talk_sd", "seed"}


class ControlApi:
    def __init__(self, sim: "Simulator"):
        self.sim = sim
        self.routes = [
            ("GET", r"/_sim/state", self.state),
            ("GET", r"/_sim/history", lambda m, b, q: self.sim.history()),
            ("GET", r"/_sim/channels", lambda m, b, q: self.sim.channels()),
            ("GET", r"/_sim/rest_log", self.rest_log),
            ("GET", r"/_sim/media/(?P<cid>[^/]+)", lambda m, b, q: self.sim.media_played(m["cid"])),
            ("POST", r"/_sim/scenario", self.scenario),
            ("POST", r"/_sim/numbers", self.numbers),
            ("GET", r"/_sim/phones", lambda m, b, q: [p.describe() for p in self.sim.world.phones.values()]),
            ("POST", r"/_sim/phones", self.add_phone),
            ("POST", r"/_sim/phones/(?P<ext>[^/]+)/(?P<action>dial|press|hangup|answer|reject)", self.phone_action),
            ("POST", r"/_sim/channels/(?P<cid>[^/]+)/hangup", self.customer_hangup),
            ("POST", r"/_sim/faults/drop_websockets", self.drop),
            ("POST", r"/_sim/faults/fail_next", self.fail_next),
            ("POST", r"/_sim/faults/delay_events", self.delay),
            ("POST", r"/_sim/faults/restart", self.restart),
        ]

    async def handle(self, request: web.Request) -> web.Response:
        path_matched = False
        for method, pattern, fn in self.routes:
            m = re.fullmatch(pattern, request.path)
            if not m:
                continue
            path_matched = True
            if method != request.method:
                continue
            body: Any = {}
            if request.can_read_body:
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return _resp(400, {"message": "request body is not valid JSON"})
            if not isinstance(body, dict):
                return _resp(400, {"message": "request body must be a JSON object"})
            try:
                result = fn(m.groupdict(), body, request.query)
                if inspect.isawaitable(result):
                    result = await result
            except ControlError as exc:
                return _resp(exc.status, {"message": exc.message})
            except (ValueError, TypeError) as exc:
                return _resp(400, {"message": str(exc)})
            except (KeyError, RuntimeError) as exc:
                return _resp(404 if isinstance(exc, KeyError) else 409, {"message": f"{exc}"})
            return _resp(200, result)
        if path_matched:
            return _resp(405, {"message": "Invalid method"})
        return _resp(404, {"message": "Resource not found"})

    def state(self, m, body, q):
        return {"channels": self.sim.channels(), "bridges": self.sim.bridges(),
                "phones": [p.describe() for p in self.sim.world.phones.values()],
                "scenario": self.sim.scenario.describe(), "websockets": self.sim.websocket_count(),
                "time_scale": self.sim.config.time_scale}

    def rest_log(self, m, body, q):
        try:
            limit = int(q.get("limit", "1000"))
        except ValueError:
            raise ControlError(400, f"limit must be an integer, got {q.get('limit')!r}") from None
        entries = list(self.sim.rest_log)
        return entries[-limit:] if limit > 0 else []

    def scenario(self, m, body, q):
        mode = body.get("mode", "plan")
        if mode == "plan":
            _only(body, {"mode", "ring", "talk"})
            self.sim.use_number_plan(ring=body.get("ring"), talk=body.get("talk"))
        elif mode == "probabilities":
            args = _only({k: v for k, v in body.items() if k != "mode"}, PROB_FIELDS)
            self.sim.use_probabilities(**args)
        else:
            raise ControlError(400, f"mode must be 'plan' or 'probabilities', got {mode!r}")
        return self.sim.scenario.describe()

    def numbers(self, m, body, q):
        number = body.get("number")
        if not isinstance(number, str) or not number:
            raise ControlError(400, "number is required")
        args = _only({k: v for k, v in body.items() if k != "number"}, SCRIPT_FIELDS)
        party = self.sim.script_number(number, **args)
        return {"number": number, "kind": party.kind, "ring": party.ring, "talk": party.talk}

    def add_phone(self, m, body, q):
        _only(body, {"ext", "name", "app", "auto_answer"})
        ext = body.get("ext")
        if not isinstance(ext, str):
            raise ControlError(400, "ext is required")
        phone = self.sim.add_phone(ext, body.get("name"), app=body.get("app", "dialer"),
                                   auto_answer=bool(body.get("auto_answer", True)))
        return phone.describe()

    async def phone_action(self, m, body, q):
        phone = self.sim.world.phones.get(m["ext"])
        if phone is None:
            raise ControlError(404, f"no phone {m['ext']}")
        action = m["action"]
        if action == "dial":
            code = body.get("code")
            if not isinstance(code, str) or not code:
                raise ControlError(400, "code is required")
            await phone.dial(code)
        elif action == "press":
            digits = body.get("digits")
            if not isinstance(digits, str) or not re.fullmatch(r"[0-9A-D*#]+", digits):
                raise ControlError(400, f"digits must be DTMF digits, got {digits!r}")
            await phone.press(digits)
        elif action == "hangup":
            await phone.hangup()
        elif action == "answer":
            await phone.answer()
        else:
            await phone.reject()
        return phone.describe()

    def customer_hangup(self, m, body, q):
        cause = body.get("cause", 16)
        if not isinstance(cause, int):
            raise ControlError(400, "cause must be an integer")
        self.sim.customer_hangup(m["cid"], cause)
        return {"hungup": m["cid"]}

    def drop(self, m, body, q):
        n = self.sim.websocket_count()
        self.sim.drop_websockets()
        return {"dropped": n}

    def fail_next(self, m, body, q):
        _only(body, {"method", "path", "status", "count"})
        if not isinstance(body.get("path"), str):
            raise ControlError(400, "path (a regular expression) is required")
        try:
            re.compile(body["path"])
        except re.error as exc:
            raise ControlError(400, f"path is not a valid regular expression: {exc}") from None
        self.sim.fail_next(body.get("method", "*"), body["path"], int(body.get("status", 500)),
                           int(body.get("count", 1)))
        return {"armed": True}

    def delay(self, m, body, q):
        seconds = body.get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ControlError(400, "seconds must be a non-negative number")
        self.sim.delay_events(seconds)
        return {"delay": seconds}

    async def restart(self, m, body, q):
        keep = bool(body.get("keep_channels", False))
        # Answer first, then restart: the restart closes this very HTTP server.
        task = asyncio.get_running_loop().create_task(self._restart_soon(keep))
        self.sim._bg.add(task)
        task.add_done_callback(self.sim._bg.discard)
        return {"restarting": True, "keep_channels": keep}

    async def _restart_soon(self, keep: bool) -> None:
        await asyncio.sleep(0.05)
        await self.sim.restart(keep_channels=keep)

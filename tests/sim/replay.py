"""Replays a recorded Asterisk trace against the simulator and compares what comes back.

The trace's REST calls are sent in the same order, each after the events that preceded it in the
trace have arrived from the simulator (so "GET while ringing" is sent while ringing). Channel,
bridge and playback ids are mapped by *role*: a channel's role is its name without the per-call
counter (Local/100@sim-customers;1, PJSIP/1001, Snoop/<role of spied>) plus an occurrence number.

Compared, per role: the sequence of event types with the channel state, dialstatus, cause and
cause_txt, soft flag, variable name (and value for STASISSTATUS), Stasis args, DTMF digit, dialplan
application, playback state, bridge technology and size; per REST call: the status code, the error
body, and the state of returned channels. Ids, names, timestamps and timings may differ.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp

TRACES = Path(__file__).parent / "traces"


def load_trace(name: str) -> list[dict]:
    with open(TRACES / f"{name}.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _norm_name(name: str) -> str:
    return re.sub(r"-[0-9a-f]{8}(;[12])?$", r"\1", name)


class Roles:
    """Assigns stable roles to the ids of one side (trace or simulator)."""

    def __init__(self):
        self.by_id: dict[str, str] = {}
        self.by_role: dict[str, str] = {}
        self.name_of: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def _new(self, base: str, ident: str) -> str:
        n = self._counts.get(base, 0) + 1
        self._counts[base] = n
        role = f"{base}#{n}"
        self.by_id[ident], self.by_role[role] = role, ident
        return role

    def channel(self, snap: dict) -> str:
        cid, name = snap["id"], snap["name"]
        if cid in self.by_id:
            return self.by_id[cid]
        self.name_of[cid] = name
        if name.endswith(";2"):
            base1 = name[:-2] + ";1"
            for other_id, other_name in self.name_of.items():
                if other_name == base1 and other_id in self.by_id:
                    role = self.by_id[other_id][:-0 or None]
                    role = role.replace(";1#", ";2#")
                    self.by_id[cid], self.by_role[role] = role, cid
                    return role
        if name.startswith("Snoop/"):
            spied = name[len("Snoop/"):].rsplit("-", 1)[0]
            return self._new("Snoop/" + self.by_id.get(spied, "?"), cid)
        return self._new(_norm_name(name), cid)

    def other(self, kind: str, ident: str, base: str) -> str:
        if ident in self.by_id:
            return self.by_id[ident]
        return self._new(f"{kind}:{base}", ident)


def event_role_sig(e: dict, roles: Roles) -> tuple[str, tuple]:
    t = e["type"]
    extra: list[tuple[str, Any]] = []
    for k in ("dialstatus", "cause", "cause_txt", "soft", "tech_cause", "digit", "duration_ms", "dialplan_app"):
        if k in e:
            extra.append((k, e[k]))
    if "args" in e:
        extra.append(("args", tuple(e["args"])))
    if t == "ChannelVarset":
        v = e["variable"]
        extra.append(("variable", v))
        if v in ("STASISSTATUS", "AMDSTATUS"):
            extra.append(("value", e["value"]))
        elif v == "BRIDGEPEER":
            extra.append(("empty", e["value"] == ""))
    if t.startswith("Playback"):
        pb = e["playback"]
        role = roles.other("playback", pb["id"], pb["media_uri"])
        return role, (t, pb["state"])
    if "bridge" in e:
        b = e["bridge"]
        extra.append(("technology", b["technology"]))
        extra.append(("size", len(b["channels"])))
        if t == "BridgeDestroyed":
            return roles.other("bridge", b["id"], "bridge"), (t, tuple(extra))
    snap = e.get("channel") or e.get("peer")
    role = roles.channel(snap)
    return role, (t, snap["state"], tuple(extra))


def _channel_like(obj: Any) -> bool:
    return isinstance(obj, dict) and "id" in obj and "name" in obj and "dialplan" in obj


def _response_sig(status: int, body: Any, roles: Roles) -> tuple:
    if status >= 400:
        return (status, json.dumps(body, sort_keys=True))
    if _channel_like(body):
        return (status, "channel", roles.channel(body), body["state"])
    if isinstance(body, list):
        return (status, "list", tuple(sorted((roles.channel(c), c["state"]) for c in body if _channel_like(c))))
    if isinstance(body, dict) and "bridge_type" in body:
        roles.other("bridge", body["id"], "bridge")
        return (status, "bridge", body["technology"], body["bridge_type"], len(body["channels"]))
    if isinstance(body, dict) and "media_uri" in body:
        roles.other("playback", body["id"], body["media_uri"])
        return (status, "playback", body["media_uri"])  # state: queued/playing is a race in the trace
    return (status, type(body).__name__)


@dataclass
class Replay:
    sim: Any
    trace: list[dict]
    hooks: dict[str, Callable] = field(default_factory=dict)
    timeout: float = 5.0

    def __post_init__(self):
        self.t_roles, self.s_roles = Roles(), Roles()
        self.t_events: dict[str, list] = {}
        self.s_events: dict[str, list] = {}
        self.s_raw: list[dict] = []
        self._s_seen = 0
        self.rest: list[tuple[tuple, tuple, str]] = []
        self._changed = asyncio.Event()

    async def run(self) -> None:
        token = base64.b64encode(b"dialer:dialer").decode()
        headers = {"Authorization": f"Basic {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            self.http = http
            ws = await http.ws_connect(self.sim.base_url + "ari/events?app=dialer")
            reader = asyncio.create_task(self._read(ws))
            try:
                # A request is sent at _t_req_ms; events it causes can arrive before its response (_t_ms).
                ordered = sorted(self.trace, key=lambda r: r.get("_t_req_ms", r.get("_t_ms", 0)))
                for rec in ordered:
                    kind = rec.get("_kind")
                    if kind == "event":
                        role, sig = event_role_sig(rec, self.t_roles)
                        self.t_events.setdefault(role, []).append(sig)
                        await self._wait_role(role, len(self.t_events[role]))
                    elif kind == "rest":
                        await self._rest(rec)
                    elif kind == "note" and rec["text"] in self.hooks:
                        await self.hooks[rec["text"]]()
                await self.sim.flush()
                await asyncio.sleep(0)
                self._digest()
            finally:
                reader.cancel()
                await ws.close()

    async def _read(self, ws) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.s_raw.append(json.loads(msg.data))
                self._changed.set()

    def _digest(self) -> None:
        while self._s_seen < len(self.s_raw):
            e = self.s_raw[self._s_seen]
            self._s_seen += 1
            role, sig = event_role_sig(e, self.s_roles)
            self.s_events.setdefault(role, []).append(sig)

    async def _wait_role(self, role: str, n: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            self._digest()
            if len(self.s_events.get(role, [])) >= n:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"simulator never produced event #{n} for {role}: expected "
                    f"{self.t_events.get(role)}\n got {self.s_events.get(role)}\n all roles: {sorted(self.s_events)}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _map(self, token: str) -> str:
        role = self.t_roles.by_id.get(token)
        if role is not None and role in self.s_roles.by_role:
            return self.s_roles.by_role[role]
        return token

    async def _rest(self, rec: dict) -> None:
        self._digest()
        path = "/".join(self._map(part) for part in rec["path"].split("/"))
        query = {k: ",".join(self._map(v) for v in str(val).split(",")) for k, val in rec["query"].items()}
        kwargs: dict[str, Any] = {"params": query}
        if rec.get("body") is not None:
            kwargs["json"] = rec["body"]
        async with self.http.request(rec["method"], self.sim.base_url.rstrip("/") + path, **kwargs) as resp:
            status = resp.status
            body = await resp.json() if resp.status != 204 and resp.content_length != 0 else None
        expected = _response_sig(rec["status"], rec["response"], self.t_roles)
        got = _response_sig(status, body, self.s_roles)
        self.rest.append((expected, got, f"{rec['method']} {rec['path']} {rec['query']}"))

    # ---- comparison ------------------------------------------------------------------------------
    def event_diffs(self, canonical: Callable[[str, list], list] | None = None) -> list[str]:
        canonical = canonical or (lambda role, seq: seq)
        diffs = []
        for role in sorted(set(self.t_events) | set(self.s_events)):
            want = canonical(role, list(self.t_events.get(role, [])))
            got = canonical(role, list(self.s_events.get(role, [])))
            if want != got:
                lines = [f"{role}:"]
                for i in range(max(len(want), len(got))):
                    w = want[i] if i < len(want) else None
                    g = got[i] if i < len(got) else None
                    lines.append(f"  {'  ' if w == g else '!!'} trace={w}\n       sim  ={g}")
                diffs.append("\n".join(lines))
        return diffs

    def rest_diffs(self) -> list[str]:
        return [f"{what}: trace {want} != sim {got}" for want, got, what in self.rest if want != got]

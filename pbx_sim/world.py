"""The simulated PBX: channels, bridges, playbacks, recordings, and the events they produce.

Everything runs on one asyncio loop with `call_later` timers (no task per channel), so one process
holds thousands of channels. Event order and content follow the Asterisk 22 traces in
`../shared/ari-reference/traces/`; the comments name the trace a sequence comes from.

Errors raised as `AriError(status, message)` become Asterisk-shaped JSON error responses.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from pbx_sim.config import SimConfig
from pbx_sim.scenario import (ANSWER, BUSY, CONGESTION, DTMF, INVALID, MACHINE, NO_ANSWER, SHORT, Party,
                              Scenario)

log = logging.getLogger(__name__)

CAUSE_TEXT = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
    18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected", 26: "Answered elsewhere",
    27: "Destination out of order", 28: "Invalid number format (incomplete number)", 31: "Normal, unspecified",
    34: "Circuit/channel congestion", 38: "Network out of order", 58: "Bearer capability not available",
    127: "Interworking, unspecified",
}
HANGUP_REASONS = {
    "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
    "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
    "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}
CUSTOMER_CONTEXTS = ("sim-customers", "dialer-test-customers")
AGENT_CONTEXTS = ("sim-agents", "dialer-test-agents")
# Sound families of the Asterisk core/extra sound packs; anything else is "not found" (playback fails).
SOUND_PREFIXES = ("agent-", "auth-", "beep", "conf-", "demo-", "digits/", "letters/", "hello-world", "pbx-",
                  "queue-", "silence/", "tt-", "vm-", "ss-", "privacy-", "followme/", "dir-", "custom/",
                  "dialer-", "hangup", "goodbye", "invalid", "please-", "thank-you", "transfer", "pls-",
                  "call-", "you-", "welcome", "ha/", "phonetic/", "minutes", "seconds", "at-tone", "a-",
                  "an-", "number", "extension", "cannot-", "wait-moment", "one-moment", "im-sorry", "auth-")
CONTROLLABLE_SCHEMES = ("sound", "recording", "tone")  # res_stasis_playback: the ones a stop can cut
SOUND_SECONDS = {"hello-world": 1.4, "beep": 0.3, "demo-congrats": 9.0, "vm-intro": 4.5, "tt-monkeys": 12.0,
                 "tt-weasels": 3.0, "agent-pass": 1.1, "agent-incorrect": 1.3, "agent-loginok": 1.0,
                 "vm-goodbye": 0.8, "silence/1": 1.0}
RTP_QOS = (
    ("RTPAUDIOQOS", "ssrc=1;themssrc=2;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;"
                    "rtt=0.000000;rxmes=0.000000;txmes=0.000000"),
    ("RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;"
                          "stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;"
                          "avgtxjitter=000.000000;stdevtxjitter=000.000000;"),
    ("RTPAUDIOQOSLOSS", "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  "
                        "stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  "
                        "avgtxlost=000.000000;  stdevtxlost=000.000000;"),
    ("RTPAUDIOQOSRTT", "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     "
                       "stdevrtt=000.000000;"),
    ("RTPAUDIOQOSMES", "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   "
                       "stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   "
                       "avgtxmes=000.000000;   stdevtxmes=000.000000;"),
)


class AriError(Exception):
    def __init__(self, status: int, message: str, key: str = "message"):
        super().__init__(message)
        self.status, self.message, self.key = status, message, key

    def body(self) -> dict:
        return {self.key: self.message}


def ts(epoch: float | None = None) -> str:
    d = dt.datetime.fromtimestamp(time.time() if epoch is None else epoch, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def parse_caller_id(text: str | None) -> dict:
    if not text:
        return {"name": "", "number": ""}
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return {"name": m.group(1).strip(), "number": m.group(2).strip()}
    return {"name": "", "number": text.strip()}


@dataclass(eq=False)
class Channel:
    id: str
    name: str
    kind: str  # local1, local2, pjsip (trunk customer), phone, snoop
    state: str
    context: str = ""
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    caller: dict = field(default_factory=lambda: {"name": "", "number": ""})
    connected: dict = field(default_factory=lambda: {"name": "", "number": ""})
    protocol_id: str = ""
    created: float = field(default_factory=time.time)
    apps: set = field(default_factory=set)  # Stasis apps subscribed to this channel
    originated: bool = False  # originated by the app: stays subscribed after StasisEnd
    stasis_app: str | None = None
    stasis_args: list = field(default_factory=list)
    stasis_via_dialplan: bool = True
    bridge: Any = None
    peer: "Channel | None" = None  # the other half of a Local channel
    party: Party | None = None
    variables: dict = field(default_factory=dict)
    timers: set = field(default_factory=set)
    endpoint: str = ""
    number: str = ""
    dialstring: str = ""
    dial_mode: str = "originate"  # originate | create (two-step) | none
    dialled: bool = False
    answered: float | None = None
    destroyed: float | None = None
    cause: int | None = None
    cause_txt: str | None = None
    dialstatus: str = ""
    bridges_joined: list = field(default_factory=list)
    phone: Any = None
    hanging_up: bool = False
    playback_queue: deque = field(default_factory=deque)
    playing: Any = None
    recordings: list = field(default_factory=list)
    timeout_handle: Any = None
    snoop: dict | None = None
    app_args_text: str = ""
    dtmf_sent: str = ""
    tech: str = "PJSIP"

    @property
    def alive(self) -> bool:
        return self.destroyed is None

    def dialplan(self) -> dict:
        return {"context": self.context, "exten": self.exten, "priority": self.priority,
                "app_name": self.app_name, "app_data": self.app_data}

    def snapshot(self) -> dict:
        return {"id": self.id, "name": self.name, "state": self.state, "protocol_id": self.protocol_id,
                "caller": dict(self.caller), "connected": dict(self.connected), "accountcode": "",
                "dialplan": self.dialplan(), "creationtime": ts(self.created), "language": "en"}

    def record(self) -> dict:
        return {"id": self.id, "name": self.name, "kind": self.kind, "endpoint": self.endpoint,
                "number": self.number, "state": self.state, "created": self.created, "answered": self.answered,
                "destroyed": self.destroyed, "cause": self.cause, "cause_txt": self.cause_txt,
                "dialstatus": self.dialstatus, "bridges": list(self.bridges_joined),
                "stasis_app": self.stasis_app, "args": list(self.stasis_args), "variables": dict(self.variables),
                "dtmf_sent": self.dtmf_sent, "snoop": self.snoop,
                "party": self.party.kind if self.party else None}


@dataclass(eq=False)
class Bridge:
    id: str
    name: str
    bridge_type: str
    technology: str
    created: float = field(default_factory=time.time)
    channels: list = field(default_factory=list)  # Channel objects, join order
    apps: set = field(default_factory=set)
    playback_queue: deque = field(default_factory=deque)
    playing: Any = None
    moh: str | None = None
    variables: dict = field(default_factory=dict)
    destroyed: bool = False
    recordings: list = field(default_factory=list)

    def snapshot(self) -> dict:
        return {"id": self.id, "technology": self.technology, "bridge_type": self.bridge_type,
                "bridge_class": "stasis", "creator": "Stasis", "name": self.name,
                "channels": [c.id for c in self.channels], "creationtime": ts(self.created),
                "video_mode": "talker" if self.bridge_type == "mixing" else "none"}


@dataclass(eq=False)
class Playback:
    id: str
    media: list
    target: Any  # Channel or Bridge
    language: str = "en"
    state: str = "queued"
    index: int = 0
    handle: Any = None
    controllable: bool = False  # set once a sound, recording or tone item has started

    @property
    def target_uri(self) -> str:
        return ("bridge:" if isinstance(self.target, Bridge) else "channel:") + self.target.id

    def snapshot(self) -> dict:
        d = {"id": self.id, "media_uri": self.media[min(self.index, len(self.media) - 1)],
             "target_uri": self.target_uri, "language": self.language, "state": self.state}
        if self.index + 1 < len(self.media):  # Asterisk names the next item in every state
            d["next_media_uri"] = self.media[self.index + 1]
        return d


@dataclass(eq=False)
class Recording:
    name: str
    format: str
    target: Any
    state: str = "queued"
    started: float = 0.0
    duration: int | None = None
    handle: Any = None

    def snapshot(self) -> dict:
        d = {"name": self.name, "format": self.format,
             "target_uri": ("bridge:" if isinstance(self.target, Bridge) else "channel:") + self.target.id,
             "state": self.state}
        if self.duration is not None:
            d.update(duration=self.duration, talking_duration=self.duration, silence_duration=0)
        return d


class World:
    """The PBX state and every behaviour; the HTTP layer and the Python API only call into it."""

    def __init__(self, config: SimConfig, scenario: Scenario):
        self.config = config
        self.scenario = scenario
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}
        self.recordings: dict[str, Recording] = {}
        self.stored_recordings: dict[str, dict] = {}
        self.history: deque[Channel] = deque(maxlen=config.history_limit)
        self.phones: dict[str, Any] = {}
        self.media_log: dict[str, list[str]] = {}
        self.app_subscriptions: dict[str, set[str]] = {}
        self.snoops: dict[str, list[Channel]] = {}  # spied channel id -> its snoop channels
        self.device_states: dict[str, str] = {}
        self.global_vars: dict[str, str] = {}
        self.connections: set = set()  # event websockets (server.EventConnection)
        self.events: deque = deque(maxlen=20_000)  # (app, event) for debugging/tests
        self.event_delay = 0.0
        self._epoch = int(time.time())
        self._seq = 0
        self._local_seq = 0
        self._chan_seq = 0
        self._snoop_seq = 0
        self._listeners: list[Callable[[], None]] = []
        self.started = time.time()

    # ---- time ------------------------------------------------------------------------------------
    def later(self, seconds: float, fn: Callable, *args, owner: Channel | None = None):
        loop = asyncio.get_running_loop()

        def run():
            if owner is not None:
                owner.timers.discard(handle)
                if not owner.alive:
                    return
            try:
                fn(*args)
            except Exception:  # a bug in one call must not stop the PBX
                log.exception("simulator timer %s failed", getattr(fn, "__name__", fn))

        handle = loop.call_later(max(0.0, seconds) / self.config.time_scale, run)
        if owner is not None:
            owner.timers.add(handle)
        return handle

    # ---- ids -------------------------------------------------------------------------------------
    def next_id(self) -> str:
        self._seq += 1
        return f"{self._epoch}.{self._seq}"

    def _check_new_id(self, cid: str | None) -> None:
        if cid is not None and (cid in self.channels or cid == ""):
            raise AriError(409, "Channel with given unique ID already exists")

    # ---- events ----------------------------------------------------------------------------------
    def on_change(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def changed(self) -> None:
        for fn in self._listeners:
            fn()

    def apps_for_channel(self, ch: Channel) -> set[str]:
        apps = set(ch.apps)
        for app, subs in self.app_subscriptions.items():
            if f"channel:{ch.id}" in subs:
                apps.add(app)
        return apps

    def emit(self, etype: str, apps: set[str], **fields) -> None:
        event = {"type": etype, "timestamp": ts(), **fields}
        targets = set(apps)
        for conn in self.connections:
            if conn.subscribe_all:
                targets.update(conn.apps)
        if targets:
            self.deliver(event, targets)

    def deliver(self, event: dict, apps: set[str]) -> None:
        body = None
        for conn in self.connections:
            for app in conn.apps:
                if app in apps:
                    if body is None:
                        body = json.dumps(event)[:-1]
                    conn.push(f'{body}, "asterisk_id": "{self.config.asterisk_id}", "application": '
                              f'{json.dumps(app)}}}')
                    self.events.append((app, event))
        if self._listeners:
            self.changed()

    def ch_event(self, etype: str, ch: Channel, **fields) -> None:
        self.emit(etype, self.apps_for_channel(ch), **fields, channel=ch.snapshot())

    def app_connected(self, app: str | None) -> bool:
        return bool(app) and any(app in c.apps for c in self.connections)

    def dp(self, ch: Channel, app: str, data: str = "", priority: int | None = None) -> None:
        """The channel runs a dialplan application (ChannelDialplan event)."""
        if priority is not None:
            ch.priority = priority
        else:
            ch.priority += 1
        ch.app_name, ch.app_data = app, data
        self.ch_event("ChannelDialplan", ch, dialplan_app=app, dialplan_app_data=data)

    def varset(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        self.ch_event("ChannelVarset", ch, variable=name, value=value)

    def set_state(self, ch: Channel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            self.ch_event("ChannelStateChange", ch)

    def dial_event(self, ch: Channel, status: str) -> None:
        """Dial event for the channel the app asked for (no caller: originate/dial from ARI)."""
        ch.dialstatus = status or ch.dialstatus
        dialstring = ch.dialstring
        if ch.dial_mode == "create" and status:
            dialstring = ""  # two-step dial: only the first Dial event carries the dialstring (trace)
        self.emit("Dial", self.apps_for_channel(ch), dialstatus=status, forward="", dialstring=dialstring,
                  peer=ch.snapshot())

    def hangup_request(self, ch: Channel, cause: int | None, soft: bool = False, **extra) -> None:
        fields: dict[str, Any] = {}
        if cause is not None:
            fields["cause"] = cause
        if soft:
            fields["soft"] = True
        fields.update(extra)
        self.ch_event("ChannelHangupRequest", ch, **fields)

    # ---- Stasis ----------------------------------------------------------------------------------
    def enter_stasis(self, ch: Channel, app: str, args: list[str], *, via_dialplan: bool = True,
                     quiet_varset: bool = False) -> bool:
        if not self.app_connected(app):
            log.info("Stasis app '%s' doesn't exist (channel %s)", app, ch.id)
            return False
        ch.stasis_app, ch.stasis_args, ch.stasis_via_dialplan = app, list(args), via_dialplan
        ch.apps.add(app)
        if via_dialplan:
            ch.app_name, ch.app_data = "Stasis", ",".join([app, *args])
            if not quiet_varset:
                self.varset(ch, "STASISSTATUS", "")
        self.ch_event("StasisStart", ch, args=list(args))
        return True

    def leave_stasis(self, ch: Channel) -> None:
        if ch.stasis_app is None:
            return
        app = ch.stasis_app
        self.stop_playbacks(ch)
        self.ch_event("StasisEnd", ch)
        if ch.stasis_via_dialplan:
            self.varset(ch, "STASISSTATUS", "SUCCESS")
        ch.stasis_app = None
        if not ch.originated and ch.kind != "phone":
            # Channels the app did not originate are followed only while in Stasis (snoop_listen). Desk
            # phones keep their subscription so the app sees their ChannelDestroyed (runtime contract).
            ch.apps.discard(app)
        if ch.kind in ("local1", "pjsip"):
            ch.app_name, ch.app_data = ("", "") if ch.dial_mode == "create" else ("AppDial2", "(Outgoing Line)")

    def require_stasis(self, ch: Channel, status: int = 409) -> None:
        if ch.stasis_app is None:
            raise AriError(status, "Channel not in Stasis application")

    # ---- channel lookup --------------------------------------------------------------------------
    def channel(self, cid: str, message: str = "Channel not found", status: int = 404) -> Channel:
        ch = self.channels.get(cid)
        if ch is None:
            raise AriError(status, message)
        return ch

    def bridge(self, bid: str) -> Bridge:
        b = self.bridges.get(bid)
        if b is None:
            raise AriError(404, "Bridge not found")
        return b

    def _add_channel(self, ch: Channel) -> Channel:
        self.channels[ch.id] = ch
        self.history.append(ch)
        # No app is subscribed to a channel at creation (the traces have no ChannelCreated); only
        # websockets with subscribeAll=true see it.
        self.emit("ChannelCreated", set(), channel=ch.snapshot())
        return ch

    # ---- originate -------------------------------------------------------------------------------
    def originate(self, p: dict, variables: dict, channel_id: str | None = None, create: bool = False) -> dict:
        endpoint = p.get("endpoint")
        if not endpoint:
            raise AriError(400, "Endpoint must be specified")
        app = p.get("app")
        if not app and not create and not p.get("extension"):
            raise AriError(400, "Application or extension must be specified")
        if create and not app:
            raise AriError(400, "Application must be specified")  # swagger: app is required for create
        if "/" not in endpoint:
            raise AriError(400, "Invalid endpoint specified")
        channel_id = channel_id if channel_id is not None else p.get("channelId")
        self._check_new_id(channel_id)
        other_id = p.get("otherChannelId")
        self._check_new_id(other_id)
        tech, resource = endpoint.split("/", 1)
        args = [a for a in (p.get("appArgs") or "").split(",")] if p.get("appArgs") else []
        caller = parse_caller_id(p.get("callerId"))
        timeout = p.get("timeout")
        timeout = self.config.default_timeout if timeout is None else int(timeout)
        variables = {str(k): str(v) for k, v in (variables or {}).items()}
        tl = tech.lower()
        if tl == "local":
            return self._originate_local(endpoint, resource, app, args, caller, timeout, variables, channel_id,
                                         other_id, create).snapshot()
        if tl == "pjsip":
            return self._originate_pjsip(endpoint, resource, app, args, caller, timeout, variables, channel_id,
                                         create).snapshot()
        raise AriError(500, "Allocation failed", key="error")

    def _new_channel(self, cid: str | None, name: str, kind: str, **kw) -> Channel:
        ch = Channel(id=cid or self.next_id(), name=name, kind=kind, **kw)
        return self._add_channel(ch)

    # Local/<exten>@<context> -------------------------------------------------------------------------
    def _originate_local(self, endpoint, resource, app, args, caller, timeout, variables, channel_id, other_id,
                         create) -> Channel:
        target = resource.split("/", 1)[0]
        exten, _, context = target.partition("@")
        context = context or "default"
        self._local_seq += 1
        base = f"Local/{exten}@{context}-{self._local_seq:08x}"
        c1 = self._new_channel(channel_id, base + ";1", "local1", state="Down", context=context, exten=exten,
                               app_name="AppDial2" if not create else "",
                               app_data="(Outgoing Line)" if not create else "", caller=dict(caller),
                               connected=dict(caller), originated=True, endpoint=endpoint,
                               number=exten, dialstring=target, tech="Local")
        if other_id is None and channel_id is not None:
            other_id = f"{channel_id};2"
        c2 = self._new_channel(other_id, base + ";2", "local2", state="Ring", context=context, exten=exten,
                               caller=dict(caller), connected=dict(caller), number=exten, tech="Local")
        c1.peer, c2.peer = c2, c1
        c1.variables.update(variables)
        c2.variables.update(variables)
        c1.app_args_text = ",".join(args)
        if app:
            c1.apps.add(app)
        c1.stasis_args = args
        c1.pending_app = app  # type: ignore[attr-defined]
        valid = (context in CUSTOMER_CONTEXTS and re.fullmatch(r"\+?\d+", exten)) or \
                (context in AGENT_CONTEXTS and re.fullmatch(r"\w+", exten))
        if not valid:
            c1.party = None
            if create:
                self._stasis_create(c1, app, args)
                return c1
            if app:
                c2.apps.add(app)
            asyncio.get_running_loop().call_soon(self._local_no_exten, c1, c2)
            return c1
        if context in AGENT_CONTEXTS:
            talk = float(variables.get("SIM_TALK_SECS", self.config.agent_talk))
            c1.party = c2.party = Party(ANSWER, ring=0.0, talk=talk, note=f"SIM agent {exten}: answer and stay up")
            c2.agent = True  # type: ignore[attr-defined]
        else:
            party = self.scenario.party_for(exten, variables)
            c1.party = c2.party = party
        if create:
            self._stasis_create(c1, app, args)
            return c1
        if app:
            c2.apps.add(app)  # the app sees the ;2 half's events while originating (traces)
        loop = asyncio.get_running_loop()
        loop.call_soon(self._guard, self._local_begin, c1, c2, variables, caller)
        if timeout > 0:
            c1.timeout_handle = self.later(timeout, self._originate_timeout, c1, owner=c1)
        return c1

    def _guard(self, fn, *args):
        try:
            if all(not isinstance(a, Channel) or a.alive for a in args):
                fn(*args)
        except Exception:
            log.exception("simulator step %s failed", fn.__name__)

    def _local_no_exten(self, c1: Channel, c2: Channel) -> None:
        # originate_invalid_endpoint: Local to a missing context/extension, both halves destroyed, cause 0
        if c2.alive:
            self._destroy(c2, 0)
        if c1.alive:
            self._destroy(c1, 0)

    def _local_begin(self, c1: Channel, c2: Channel, variables: dict, caller: dict) -> None:
        for k, v in variables.items():
            self.varset(c2, k, v)
        if caller["name"] or caller["number"]:
            self.ch_event("ChannelCallerId", c2, caller_presentation=0,
                          caller_presentation_txt="Presentation Allowed, Not Screened")
            self.ch_event("ChannelConnectedLine", c2)
        c1.dialled = True
        self.dial_event(c1, "")
        self._local_dialplan(c1, c2)

    def _local_dialplan(self, c1: Channel, c2: Channel) -> None:
        party = c2.party
        assert party is not None
        if getattr(c2, "agent", False):
            self.dp(c2, "NoOp", party.note, priority=1)
            self.dp(c2, "Answer")
            self._answer_far(c1, c2)
            return
        self.dp(c2, "NoOp", f"SIM customer {c2.exten}: {party.note}", priority=1)
        if party.kind == INVALID:
            self.dp(c2, "Hangup", "1")
            self._local_unanswered_hangup(c1, c2, 1)
            return
        if party.kind in (BUSY, CONGESTION) and party.ring <= 0:
            self._local_busy(c1, c2, party.kind)
            return
        if party.kind == SHORT or (party.answers and party.ring <= 0):
            self.dp(c2, "Answer")
            self._answer_far(c1, c2)
            return
        self.dp(c2, "Ringing")
        self._ringing(c1)
        self.dp(c2, "Wait", f"{party.ring:g}" if party.ring != float("inf") else "3600")
        if party.answers:
            self.later(party.ring, self._local_answer_after_ring, c1, c2, owner=c2)
        elif party.kind == NO_ANSWER:
            if party.ring != float("inf"):
                self.later(party.ring, self._local_noanswer_giveup, c1, c2, owner=c2)
        else:
            self.later(party.ring, self._local_busy, c1, c2, party.kind, owner=c2)

    def _ringing(self, ch: Channel) -> None:
        self.set_state(ch, "Ringing")
        self.dial_event(ch, "RINGING")

    def _local_answer_after_ring(self, c1: Channel, c2: Channel) -> None:
        self.dp(c2, "Answer")
        self._answer_far(c1, c2)

    def _local_noanswer_giveup(self, c1: Channel, c2: Channel) -> None:
        self.dp(c2, "Hangup", "19")
        self._local_unanswered_hangup(c1, c2, 19)

    def _local_busy(self, c1: Channel, c2: Channel, kind: str) -> None:
        """originate_busy / originate_congestion: Busy(5)/Congestion(5) on ;2."""
        cause = 17 if kind == BUSY else 34
        self.dp(c2, "Busy" if kind == BUSY else "Congestion", "5")
        self.set_state(c2, "Busy")
        self.dial_event(c1, "BUSY" if kind == BUSY else "CONGESTION")
        if c1.timeout_handle:
            c1.timeout_handle.cancel()
        if c1.dial_mode == "create":
            # create_dial_busy: ;1 stays in Stasis (Down) until the far end's Busy(5) ends
            self.later(self.config.busy_hold, self._far_hangup_unanswered_create, c1, c2, cause, owner=c1)
            return
        self.hangup_request(c2, 0)
        self._destroy(c1, 0)  # the ;1 half of a Local channel reports cause 0 for busy/congestion (trace)
        self.hangup_request(c2, 16, soft=True)
        self._destroy(c2, cause)

    def _far_hangup_unanswered_create(self, c1: Channel, c2: Channel, cause: int) -> None:
        self.hangup_request(c1, cause)
        self._finish_channel(c1, cause)
        if c2.alive:
            self._destroy(c2, cause)

    def _local_unanswered_hangup(self, c1: Channel, c2: Channel, cause: int) -> None:
        """originate_unallocated: Hangup(<cause>) on ;2 before answer."""
        if c1.timeout_handle:
            c1.timeout_handle.cancel()
        if c1.dial_mode == "create":
            self.hangup_request(c2, 16, soft=True)
            self._destroy(c2, cause)
            self.hangup_request(c1, cause)
            self.dial_event(c1, "NOANSWER")
            self._finish_channel(c1, cause)
            return
        self.hangup_request(c2, 16, soft=True)
        self.hangup_request(c1, cause)
        self._destroy(c2, cause)
        self.dial_event(c1, "NOANSWER")
        self._destroy(c1, cause)

    def _answer_far(self, c1: Channel, c2: Channel) -> None:
        """The far end answered: originate_answered / create_dial_answered."""
        self.set_state(c2, "Up")
        self.set_state(c1, "Up")
        c1.answered = c2.answered = time.time()
        self.dial_event(c1, "ANSWER")
        if c1.timeout_handle:
            c1.timeout_handle.cancel()
            c1.timeout_handle = None
        if c1.dial_mode != "create":
            app = getattr(c1, "pending_app", None)
            if not self.enter_stasis(c1, app, c1.stasis_args):
                # Originate into an app that is not registered: Stasis fails and the channel hangs up.
                self.later(0, self.app_hangup_channel, c1, 16, owner=c1)
                return
        self._after_answer(c1, c2)

    def _after_answer(self, near: Channel, far: Channel) -> None:
        party = far.party
        if party is None:
            return
        settle = self.config.answer_settle
        if party.kind == MACHINE:
            self.later(settle, self._machine_greeting, near, far, owner=far)
        elif party.kind == DTMF:
            self.later(settle, self._dtmf_wait, near, far, owner=far)
        elif party.talk is not None:
            self.later(settle, self.dp, far, "Wait", f"{party.talk:g}", owner=far)
            self.later(party.talk, self._far_hangup_answered, near, far, owner=far)

    def _machine_greeting(self, near: Channel, far: Channel) -> None:
        party = far.party
        if far.kind == "local2":
            self.dp(far, "Playback", "demo-congrats&vm-intro")
        self.later(party.greeting, self._machine_wait, near, far, owner=far)

    def _machine_wait(self, near: Channel, far: Channel) -> None:
        if far.kind == "local2":
            self.varset(far, "PLAYBACKSTATUS", "SUCCESS")
            self.dp(far, "Playback", "beep")
            self.dp(far, "Wait", f"{self.config.machine_wait:g}")
        rest = max(0.0, (far.party.talk or 0) - far.party.greeting)
        self.later(rest, self._far_hangup_answered, near, far, owner=far)

    def _dtmf_wait(self, near: Channel, far: Channel) -> None:
        party = far.party
        if far.kind == "local2":
            self.dp(far, "Wait", f"{party.dtmf_after:g}")
        self.later(party.dtmf_after, self._send_dtmf_far, near, far, owner=far)

    def _send_dtmf_far(self, near: Channel, far: Channel) -> None:
        party = far.party
        c = self.config
        if far.kind == "local2":
            self.dp(far, "SendDTMF", f"{party.dtmf},{int(c.dtmf_between * 1000)},{c.dtmf_duration_ms}")
        step = c.dtmf_between + c.dtmf_duration_ms / 1000.0
        for i, digit in enumerate(party.dtmf):
            self.later(0.2 + i * step, self.dtmf_received, near, digit, c.dtmf_duration_ms, owner=near)
        done = 0.2 + len(party.dtmf) * step
        if party.talk is not None:
            if far.kind == "local2":
                self.later(done, self.dp, far, "Wait", f"{party.talk:g}", owner=far)
            self.later(done + party.talk, self._far_hangup_answered, near, far, owner=far)

    def dtmf_received(self, ch: Channel, digit: str, duration_ms: int) -> None:
        if ch.alive:
            self.ch_event("ChannelDtmfReceived", ch, digit=digit, duration_ms=duration_ms)

    def _far_hangup_answered(self, near: Channel, far: Channel) -> None:
        """The customer hangs up an answered call."""
        if not near.alive:
            return
        if far.kind == "local2":
            # answered_then_customer_hangup: Hangup(16) on ;2
            self.dp(far, "Hangup", "16")
            self.hangup_request(far, 16, soft=True)
            self.hangup_request(near, 16)
            self._destroy(far, 16)
            self._finish_channel(near, 16)
        else:
            # pjsip_remote_hangup: a plain BYE, no cause in the request, ChannelDestroyed 0 "Unknown"
            self.remote_hangup(near, None)

    def remote_hangup(self, ch: Channel, cause: int | None, destroyed_cause: int | None = None) -> None:
        """A SIP party (customer on a trunk, or a desk phone) hangs up."""
        if not ch.alive or ch.hanging_up:
            return
        if ch.kind in ("pjsip", "phone") and ch.answered and ch.originated:
            for name, value in RTP_QOS:
                self.varset(ch, name, value)
        self.hangup_request(ch, cause)
        self._finish_channel(ch, destroyed_cause if destroyed_cause is not None else (cause or 0))

    def _finish_channel(self, ch: Channel, cause: int) -> None:
        """Leave bridge and Stasis, then ChannelDestroyed (the order of bridge_customer_to_agent)."""
        if not ch.alive:
            return
        ch.hanging_up = True
        self.leave_bridge(ch)
        self.stop_playbacks(ch)
        self.stop_recordings(ch)
        if ch.stasis_app is not None:
            self.leave_stasis(ch)
        self._destroy(ch, cause)

    def _destroy(self, ch: Channel, cause: int) -> None:
        if not ch.alive:
            return
        ch.hanging_up = True
        if ch.bridge is not None:
            self.leave_bridge(ch)
        if ch.stasis_app is not None:
            self.leave_stasis(ch)
        for h in list(ch.timers):
            h.cancel()
        ch.timers.clear()
        if ch.kind == "local2":
            ch.app_name, ch.app_data = "", ""
        ch.cause, ch.cause_txt = cause, CAUSE_TEXT.get(cause, "Unknown")
        ch.destroyed = time.time()
        fields: dict[str, Any] = {"cause": cause, "cause_txt": ch.cause_txt}
        tech_cause = getattr(ch, "tech_cause", None)
        if tech_cause is not None:
            fields["tech_cause"] = tech_cause
        self.ch_event("ChannelDestroyed", ch, **fields)
        self.channels.pop(ch.id, None)
        for snoop in self.snoops.pop(ch.id, ()):
            if snoop.alive:  # a snoop channel ends with the channel it spies on
                self.later(0, self.app_hangup_channel, snoop, 16, owner=snoop)
        if ch.phone is not None:
            ch.phone._channel_gone(ch)
        self.changed()

    def _originate_timeout(self, c1: Channel) -> None:
        """The originate/dial timeout fires while the far end rings (originate_noanswer, pjsip_noanswer)."""
        c1.timeout_handle = None
        if not c1.alive or c1.answered:
            return
        if c1.kind == "local1":
            c2 = c1.peer
            if c1.dial_mode == "create":
                self.hangup_request(c1, 32, soft=True)
                self._finish_channel(c1, 19)
                if c2 and c2.alive:
                    self._destroy(c2, 19)
                return
            if c2 and c2.alive:
                self.hangup_request(c2, 19)
            self._destroy(c1, 19)
            if c2 and c2.alive:
                self.hangup_request(c2, 16, soft=True)
                self._destroy(c2, 19)
            return
        c1.tech_cause = 480  # type: ignore[attr-defined]
        if c1.phone is not None:
            c1.phone._incoming_gone(c1)
        if c1.dial_mode == "create":
            self.hangup_request(c1, 32, soft=True)
            self._finish_channel(c1, 19)
            return
        self._destroy(c1, 19)

    # PJSIP/<number>@<trunk>, PJSIP/<phone ext> ------------------------------------------------------
    def _originate_pjsip(self, endpoint, resource, app, args, caller, timeout, variables, channel_id,
                         create) -> Channel:
        target, _, uri = resource.partition("/")
        number, _, trunk = target.partition("@")
        phone = self.phones.get(number) if not trunk else None
        if trunk:
            if trunk not in self.config.trunks:
                raise AriError(500, "Allocation failed", key="error")
            ep_name = trunk
        elif phone is not None:
            ep_name = number
        else:
            raise AriError(500, "Allocation failed", key="error")  # pjsip_invalid_endpoint: PJSIP/9999
        self._chan_seq += 1
        own_caller = dict(caller) if (caller["name"] or caller["number"]) else (
            {"name": phone.name, "number": phone.ext} if phone is not None else {"name": "", "number": ""})
        ch = self._new_channel(channel_id, f"PJSIP/{ep_name}-{self._chan_seq:08x}", "pjsip" if trunk else "phone",
                               state="Down", context="from-sip", exten="s",
                               app_name="AppDial2" if not create else "",
                               app_data="(Outgoing Line)" if not create else "", caller=own_caller,
                               connected=dict(caller), protocol_id=str(uuid.uuid4()), originated=True,
                               endpoint=endpoint, number=number, dialstring=resource)
        ch.variables.update(variables)
        ch.pending_app = app  # type: ignore[attr-defined]
        ch.stasis_args = args
        if app:
            ch.apps.add(app)
        if uri:
            ch.party = Party("sip_timeout", ring=32.0)  # pjsip_invalid_endpoint: nothing answers at that URI
        elif phone is not None:
            ch.phone = phone
        else:
            ch.party = self.scenario.party_for(number, variables)
        if create:
            self._stasis_create(ch, app, args)
            return ch
        asyncio.get_running_loop().call_soon(self._guard, self._pjsip_begin, ch, variables)
        if timeout > 0:
            ch.timeout_handle = self.later(timeout, self._originate_timeout, ch, owner=ch)
        return ch

    def _pjsip_begin(self, ch: Channel, variables: dict) -> None:
        if ch.dial_mode != "create":
            for k, v in variables.items():
                self.varset(ch, k, v)
        ch.dialled = True
        self.dial_event(ch, "")
        if ch.phone is not None:
            self._ringing(ch)
            ch.phone._incoming(ch)
            return
        party = ch.party
        assert party is not None
        if party.kind == "sip_timeout":
            self.later(party.ring, self._pjsip_fail, ch, 18, 408, "NOANSWER", owner=ch)
            return
        if party.kind == INVALID:
            self._pjsip_fail(ch, 1, 404, "NOANSWER")
            return
        if party.kind in (BUSY, CONGESTION) and party.ring <= 0:
            self._pjsip_busy(ch, party.kind)
            return
        self._ringing(ch)
        if party.answers:
            self.later(party.ring, self.answer_pjsip, ch, owner=ch)
        elif party.kind == NO_ANSWER:
            if party.ring != float("inf"):
                self.later(party.ring, self._pjsip_fail, ch, 19, 480, "NOANSWER", owner=ch)
        else:
            self.later(party.ring, self._pjsip_busy, ch, party.kind, owner=ch)

    def _pjsip_busy(self, ch: Channel, kind: str) -> None:
        if kind == BUSY:
            self._pjsip_fail(ch, 17, 486, "BUSY")  # pjsip_rejected
        else:
            self._pjsip_fail(ch, 34, 503, "CONGESTION")

    def _pjsip_fail(self, ch: Channel, cause: int, tech_cause: int, dialstatus: str) -> None:
        if not ch.alive or ch.answered:
            return
        if ch.timeout_handle:
            ch.timeout_handle.cancel()
            ch.timeout_handle = None
        ch.tech_cause = tech_cause  # type: ignore[attr-defined]
        self.hangup_request(ch, cause, tech_cause=tech_cause)
        self.dial_event(ch, dialstatus)
        if ch.phone is not None:
            ch.phone._incoming_gone(ch)
        self._finish_channel(ch, cause)

    def answer_pjsip(self, ch: Channel) -> None:
        """The SIP party answered (pjsip_originate_answered)."""
        if not ch.alive or ch.answered:
            return
        self.set_state(ch, "Up")
        ch.answered = time.time()
        self.dial_event(ch, "ANSWER")
        if ch.timeout_handle:
            ch.timeout_handle.cancel()
            ch.timeout_handle = None
        if ch.dial_mode != "create":
            if not self.enter_stasis(ch, getattr(ch, "pending_app", None), ch.stasis_args):
                self.later(0, self.app_hangup_channel, ch, 16, owner=ch)
                return
        if ch.party is not None:
            self._after_answer(ch, ch)

    # ---- two-step originate ------------------------------------------------------------------------
    def _stasis_create(self, ch: Channel, app: str, args: list[str]) -> None:
        """create_dial_*: the channel enters the app at once, in state Down."""
        ch.dial_mode = "create"
        if ch.peer is not None:
            ch.peer.dial_mode = "create"
        ch.app_name, ch.app_data = "", ""
        if not self.app_connected(app):
            return  # like Asterisk: the channel exists but nothing reaches an app that is not there
        ch.stasis_app = app
        ch.apps.add(app)
        ch.priority = 1
        self.dp(ch, "Stasis", ",".join([app, *args]), priority=1)
        self.varset(ch, "STASISSTATUS", "")
        ch.stasis_via_dialplan = True
        ch.stasis_args = list(args)
        self.ch_event("StasisStart", ch, args=list(args))

    def dial(self, ch: Channel, p: dict) -> None:
        self.require_stasis(ch)
        if ch.dial_mode != "create" or ch.dialled:
            raise AriError(409, "Channel is not in the Down state" if ch.state != "Down" else
                           "Channel is already being dialed")
        timeout = int(p.get("timeout") or 0)
        ch.dialled = True
        if p.get("caller"):
            ch.dial_caller = p["caller"]  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        if ch.kind == "local1":
            c2 = ch.peer
            if ch.party is None:
                loop.call_soon(self._guard, self._create_dial_no_exten, ch)
            else:
                loop.call_soon(self._guard, self._create_dial_local, ch, c2)
        else:
            loop.call_soon(self._guard, self._pjsip_begin, ch, {})
        if timeout > 0:
            ch.timeout_handle = self.later(timeout, self._originate_timeout, ch, owner=ch)

    def _create_dial_no_exten(self, ch: Channel) -> None:
        self.dial_event(ch, "")
        self.dial_event(ch, "CHANUNAVAIL")
        self.hangup_request(ch, 0)
        self._finish_channel(ch, 0)
        if ch.peer and ch.peer.alive:
            self._destroy(ch.peer, 0)

    def _create_dial_local(self, c1: Channel, c2: Channel) -> None:
        self.dial_event(c1, "")
        self._local_dialplan(c1, c2)

    # ---- app-side hangup ---------------------------------------------------------------------------
    def app_hangup(self, ch: Channel, reason: str | None, reason_code: str | None = None) -> None:
        cause = 16
        if reason and reason_code:
            raise AriError(400, "Only one of reason and reason_code can be specified")
        if reason_code:
            try:
                cause = int(reason_code)
            except ValueError:
                raise AriError(400, "Invalid reason for hangup provided") from None
        elif reason:
            if reason not in HANGUP_REASONS:
                raise AriError(400, "Invalid reason for hangup provided")
            cause = HANGUP_REASONS[reason]
        self.app_hangup_channel(ch, cause)

    def app_hangup_channel(self, ch: Channel, cause: int = 16) -> None:
        if not ch.alive or ch.hanging_up:
            return
        ch.hanging_up = True
        if ch.timeout_handle:
            ch.timeout_handle.cancel()
        if ch.kind in ("pjsip", "phone") and ch.answered and ch.originated:
            for name, value in RTP_QOS:
                self.varset(ch, name, value)
        self.hangup_request(ch, 32, soft=True)
        if not ch.answered and ch.dialled and ch.stasis_app is None and ch.kind in ("local1", "pjsip", "phone"):
            self.dial_event(ch, "NOANSWER")  # originate_invalid_endpoint: DELETE of a ringing originate
        if ch.kind == "phone" and ch.phone is not None:
            ch.phone._incoming_gone(ch)
        self.leave_bridge(ch)
        self.stop_playbacks(ch)
        self.stop_recordings(ch)
        if ch.stasis_app is not None:
            self.leave_stasis(ch)
        peer = ch.peer
        if peer is not None and peer.alive:
            self.hangup_request(peer, 16)
        if ch.kind == "snoop":
            # snoop_listen: after DELETE of the snoop channel the app gets no ChannelDestroyed
            ch.apps.clear()
        self._destroy(ch, cause)
        if peer is not None and peer.alive:
            if peer.kind == "local2" and peer.party and peer.party.kind == MACHINE and peer.answered:
                self.varset(peer, "PLAYBACKSTATUS", "SUCCESS")
            self.hangup_request(peer, 16, soft=True)
            self._destroy(peer, 16)

    # ---- answer, continue, AMD ---------------------------------------------------------------------
    def answer(self, ch: Channel) -> None:
        self.require_stasis(ch)
        if ch.state != "Up":
            self.set_state(ch, "Up")
            ch.answered = ch.answered or time.time()

    def continue_in_dialplan(self, ch: Channel, p: dict) -> None:
        self.require_stasis(ch)
        context = p.get("context") or ch.context
        extension = p.get("extension") or ch.exten
        app = ch.stasis_app
        self.leave_bridge(ch)
        self.leave_stasis(ch)
        ch.context, ch.exten, ch.priority = context, extension, int(p.get("priority") or 1) - 1
        loop = asyncio.get_running_loop()
        if context == "dialer-amd":
            loop.call_soon(self._guard, self._amd, ch, app)
        else:
            # Nothing of ours in that context: the dialplan falls through to Hangup().
            loop.call_soon(self._guard, self._dialplan_hangup, ch)

    def _amd(self, ch: Channel, app: str) -> None:
        attempt = ch.variables.get("DIALER_ATTEMPT", "")
        self.dp(ch, "NoOp", f"Dialer AMD for attempt {attempt}")
        self.dp(ch, "AMD", "")
        party = ch.party or (ch.peer.party if ch.peer else None)
        status = party.amd if party else "HUMAN"
        delay = self.config.amd_machine if status == "MACHINE" else self.config.amd_human
        self.later(delay, self._amd_done, ch, app, attempt, status, owner=ch)

    def _amd_done(self, ch: Channel, app: str, attempt: str, status: str) -> None:
        self.varset(ch, "AMDSTATUS", status)
        self.varset(ch, "AMDCAUSE", "HUMAN-500-500" if status == "HUMAN" else "LONGGREETING-1500-1500")
        self.dp(ch, "Stasis", f"{app},customer-amd,{attempt},{status}")
        if not self.enter_stasis(ch, app, ["customer-amd", attempt, status]):
            self._dialplan_hangup(ch)

    def _dialplan_hangup(self, ch: Channel) -> None:
        if not ch.alive:
            return
        self.dp(ch, "Hangup", "")
        self.hangup_request(ch, 16, soft=True)
        peer = ch.peer
        if peer is not None and peer.alive:
            self.hangup_request(peer, 16)
        self._finish_channel(ch, 16)
        if peer is not None and peer.alive:
            self.hangup_request(peer, 16, soft=True)
            self._destroy(peer, 16)

    def redirect(self, ch: Channel, endpoint: str) -> None:
        self.require_stasis(ch)
        if "/" not in endpoint:
            raise AriError(400, "Invalid endpoint specified")
        self.leave_bridge(ch)
        self.leave_stasis(ch)
        self.later(0, self._dialplan_hangup, ch, owner=ch)

    def move(self, ch: Channel, app: str, args: list[str]) -> None:
        self.require_stasis(ch)
        old = ch.stasis_app
        self.ch_event("StasisEnd", ch)
        ch.stasis_app = None
        if not ch.originated:
            ch.apps.discard(old)
        if not self.enter_stasis(ch, app, args, quiet_varset=True):
            ch.stasis_app = old
            ch.apps.add(old)
            self.emit("ApplicationMoveFailed", {old}, channel=ch.snapshot(), destination=app, args=args)

    # ---- snoop ---------------------------------------------------------------------------------------
    def snoop(self, spied: Channel, p: dict, snoop_id: str | None) -> dict:
        spy, whisper = p.get("spy") or "none", p.get("whisper") or "none"
        if spy == "none" and whisper == "none":
            raise AriError(400, "Sanity check failed")
        app = p.get("app")
        if not app:
            raise AriError(400, "Application must be specified")
        self._check_new_id(snoop_id)
        self._snoop_seq += 1
        ch = self._new_channel(snoop_id, f"Snoop/{spied.id}-{self._snoop_seq:08x}", "snoop", state="Up",
                               context="default", exten="s")
        ch.answered = time.time()
        ch.snoop = {"spied": spied.id, "spy": spy, "whisper": whisper}
        self.snoops.setdefault(spied.id, []).append(ch)
        if spied.bridge is not None:
            # Attaching the snoop makes the bridge re-announce BRIDGEPEER on its members (snoop_listen).
            self._peer_vars(spied.bridge)
        args = p.get("appArgs").split(",") if p.get("appArgs") else []
        asyncio.get_running_loop().call_soon(self._guard, self._snoop_start, ch, app, args)
        return ch.snapshot()

    def _snoop_start(self, ch: Channel, app: str, args: list[str]) -> None:
        if not self.enter_stasis(ch, app, args, via_dialplan=False):
            self._destroy(ch, 16)

    # ---- bridges -----------------------------------------------------------------------------------
    def create_bridge(self, p: dict, bridge_id: str | None) -> dict:
        types = [t.strip() for t in (p.get("type") or "mixing").split(",") if t.strip()]
        allowed = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label"}
        if not types or any(t not in allowed for t in types):
            raise AriError(500, "Unable to create bridge. Possible duplicate bridge id '(null)'")
        bid = bridge_id or p.get("bridgeId") or str(uuid.uuid4())
        if bid in self.bridges:
            b = self.bridges[bid]
            return b.snapshot()  # POST /bridges/{id} on an existing bridge updates it (Asterisk)
        holding = "holding" in types
        b = Bridge(id=bid, name=p.get("name") or "", bridge_type="holding" if holding else "mixing",
                   technology="holding_bridge" if holding else "simple_bridge")
        self.bridges[bid] = b
        self.emit("BridgeCreated", set(), bridge=b.snapshot())  # subscribeAll only (no app owns it yet)
        return b.snapshot()

    def _bridge_apps(self, b: Bridge, ch: Channel | None = None) -> set[str]:
        apps = set(b.apps)
        for app, subs in self.app_subscriptions.items():
            if f"bridge:{b.id}" in subs:
                apps.add(app)
        if ch is not None:
            apps |= self.apps_for_channel(ch)
        return apps

    def _retech(self, b: Bridge) -> None:
        if b.bridge_type == "mixing":
            b.technology = "softmix" if len(b.channels) > 2 else "simple_bridge"

    def _peer_vars(self, b: Bridge) -> None:
        if b.bridge_type != "mixing" or len(b.channels) < 2:
            return
        order = list(reversed(b.channels))
        for ch in b.channels:
            others = [o.name for o in order if o is not ch]
            self.varset(ch, "BRIDGEPEER", ",".join(others))

    def add_to_bridge(self, b: Bridge, ids: list[str]) -> None:
        chans = []
        for cid in ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise AriError(400, "Channel not found")
            if ch.stasis_app is None:
                raise AriError(422, "Channel not in Stasis application")
            chans.append(ch)
        for ch in chans:
            if ch.bridge is b:
                continue
            if ch.bridge is not None:
                self.leave_bridge(ch)
            b.channels.append(ch)
            ch.bridge = b
            ch.bridges_joined.append(b.id)
            b.apps |= {ch.stasis_app} if ch.stasis_app else set()
            self.emit("ChannelEnteredBridge", self._bridge_apps(b, ch), bridge=b.snapshot(), channel=ch.snapshot())
        self._retech(b)
        self._peer_vars(b)
        if b.playing is not None:
            for ch in chans:
                self.media_log.setdefault(ch.id, []).append(b.playing.media[b.playing.index])

    def remove_from_bridge(self, b: Bridge, ids: list[str]) -> None:
        chans = []
        for cid in ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise AriError(400, "Channel not found")
            if ch.stasis_app is None:
                raise AriError(422, "Channel not in Stasis application")
            if ch.bridge is not b:
                raise AriError(422, "Channel not in this bridge")
            chans.append(ch)
        for ch in chans:
            self.leave_bridge(ch)

    def leave_bridge(self, ch: Channel) -> None:
        b = ch.bridge
        if b is None:
            return
        if ch.variables.get("BRIDGEPEER"):
            self.varset(ch, "BRIDGEPEER", "")
        b.channels.remove(ch)
        ch.bridge = None
        self.emit("ChannelLeftBridge", self._bridge_apps(b, ch), bridge=b.snapshot(), channel=ch.snapshot())
        self._retech(b)
        self._peer_vars(b)

    def destroy_bridge(self, b: Bridge) -> None:
        for ch in list(b.channels):
            self.leave_bridge(ch)
        self.stop_playbacks(b)
        self.stop_recordings(b)
        b.destroyed = True
        self.bridges.pop(b.id, None)
        self.emit("BridgeDestroyed", self._bridge_apps(b), bridge=b.snapshot())

    # ---- playbacks -----------------------------------------------------------------------------------
    def sound_seconds(self, uri: str) -> float | None:
        """Length of a media URI, or None when Asterisk would not find it."""
        scheme, _, rest = uri.partition(":")
        if scheme == "sound":
            name = rest
            for known, seconds in self.config.sound_lengths:
                if name == known:
                    return seconds
            if name in SOUND_SECONDS:
                return SOUND_SECONDS[name]
            if name in self.config.extra_sounds or name.startswith(SOUND_PREFIXES):
                return 0.5 * max(1, len(name.split("&")))
            return None
        if scheme in ("digits", "number", "characters"):
            return 0.5 * max(1, len(rest))
        if scheme == "tone":
            return 1.0
        if scheme == "recording":
            return 1.0 if rest in self.stored_recordings else None
        return None

    def play(self, target, media: list[str], playback_id: str | None, lang: str | None) -> dict:
        if isinstance(target, Channel):
            self.require_stasis(target)
        media = [m for m in media if m]
        if not media:
            raise AriError(400, "Missing parameter media")
        if any(":" not in m for m in media):
            raise AriError(400, "Invalid media URI")  # not Asterisk-verified wording
        pid = playback_id or str(uuid.uuid4())
        if pid in self.playbacks:
            raise AriError(409, "Playback with given ID already exists")  # sic: not Asterisk-verified
        pb = Playback(id=pid, media=list(media), target=target, language=lang or "en")
        self.playbacks[pid] = pb
        snap = pb.snapshot()
        target.playback_queue.append(pb)
        if target.playing is None:
            asyncio.get_running_loop().call_soon(self._guard, self._next_playback, target)
        return snap

    def _playback_apps(self, pb: Playback) -> set[str]:
        t = pb.target
        return self._bridge_apps(t) if isinstance(t, Bridge) else self.apps_for_channel(t)

    def _record_media(self, pb: Playback, uri: str) -> None:
        t = pb.target
        if isinstance(t, Bridge):
            self.media_log.setdefault(t.id, []).append(uri)
            for ch in t.channels:
                self.media_log.setdefault(ch.id, []).append(uri)
        else:
            self.media_log.setdefault(t.id, []).append(uri)

    def _next_playback(self, target) -> None:
        if target.playing is not None or not target.playback_queue:
            return
        if isinstance(target, Channel) and not target.alive:
            return
        pb = target.playback_queue.popleft()
        if pb.state == "done":  # stopped while queued (canceled): finished on its turn, never started
            self.emit("PlaybackFinished", self._playback_apps(pb), playback=pb.snapshot())
            self.playbacks.pop(pb.id, None)
            asyncio.get_running_loop().call_soon(self._guard, self._next_playback, target)
            return
        target.playing = pb
        self._play_item(pb)

    def _play_item(self, pb: Playback) -> None:
        """One item of the media list, as res_stasis_playback plays it: PlaybackStarted names the
        item (and the next), a missing sound fails the item at once."""
        pb.state = "playing"
        self.emit("PlaybackStarted", self._playback_apps(pb), playback=pb.snapshot())
        uri = pb.media[pb.index]
        if uri.partition(":")[0] in CONTROLLABLE_SCHEMES:
            pb.controllable = True  # and it stays so for the rest of the list (Asterisk's flag)
        seconds = self.sound_seconds(uri)
        if seconds is None and uri.startswith("sound:"):
            self._item_done(pb, ok=False)
            return
        if seconds is None:  # a missing recording or an unknown scheme: skipped without a word
            self._skip_item(pb)
            return
        self._record_media(pb, uri)
        pb.handle = asyncio.get_running_loop().call_later(seconds / self.config.time_scale, self._guard,
                                                          self._item_done, pb, True)

    def _item_done(self, pb: Playback, ok: bool) -> None:
        """playback_final_update: the last item (or a failed last item) finishes the playback,
        any other item is reported continuing (naming the item that ended) and the next starts."""
        pb.handle = None
        if pb.state not in ("playing", "continuing"):
            return
        if pb.index + 1 >= len(pb.media):
            pb.state = "done" if ok else "failed"
            self._finish_playback(pb)
            return
        pb.state = "continuing"
        self.emit("PlaybackContinuing", self._playback_apps(pb), playback=pb.snapshot())
        pb.index += 1
        self._play_item(pb)

    def _skip_item(self, pb: Playback) -> None:
        """res_stasis_playback `continue`s past such an item: no Continuing for it, and if it was
        the last one the playback ends with no PlaybackFinished at all."""
        if pb.index + 1 < len(pb.media):
            pb.index += 1
            self._play_item(pb)
            return
        self._release_target(pb)

    def _finish_playback(self, pb: Playback) -> None:
        if pb.handle is not None:
            pb.handle.cancel()
            pb.handle = None
        self.emit("PlaybackFinished", self._playback_apps(pb), playback=pb.snapshot())
        self._release_target(pb)

    def _release_target(self, pb: Playback) -> None:
        """The playback is over: forget it and let the target's next queued playback start."""
        self.playbacks.pop(pb.id, None)
        t = pb.target
        if t.playing is pb:
            t.playing = None
            if t.playback_queue:
                asyncio.get_running_loop().call_soon(self._guard, self._next_playback, t)

    def stop_playback(self, pb: Playback) -> None:
        """DELETE /playbacks/{id} as Asterisk 22 does it (checked against a real one):
        - queued: canceled; it reads "done" at once and finishes, without starting, on its turn;
        - playing a sound, recording or tone: cut; PlaybackFinished "done" (not "stopped"), and the
          rest of the list is dropped;
        - nothing controllable played yet (digits:, number:, characters: only): 500, plays on;
        - a digits:/number:/characters: item of a list that had a sound: accepted but not cut, the
          item and the rest of the list play on (the stop frame is lost)."""
        t = pb.target
        if pb in t.playback_queue:
            pb.state = "done"
            return
        if pb.state not in ("playing", "continuing"):
            return
        if not pb.controllable:
            raise AriError(500, "Could not stop playback")
        if pb.media[pb.index].partition(":")[0] not in CONTROLLABLE_SCHEMES:
            return
        pb.state = "done"
        self._finish_playback(pb)

    def stop_playbacks(self, target) -> None:
        for pb in list(target.playback_queue):
            self.playbacks.pop(pb.id, None)
        target.playback_queue.clear()
        if target.playing is not None:
            pb = target.playing
            pb.state = "done"
            target.playing = None
            if pb.handle is not None:
                pb.handle.cancel()
            self.emit("PlaybackFinished", self._playback_apps(pb), playback=pb.snapshot())
            self.playbacks.pop(pb.id, None)

    # ---- recordings ----------------------------------------------------------------------------------
    def record(self, target, p: dict) -> dict:
        if isinstance(target, Channel):
            self.require_stasis(target)
        name, fmt = p.get("name"), p.get("format")
        if not name:
            raise AriError(400, "Recording name is required")  # not Asterisk-verified wording
        if not fmt:
            raise AriError(400, "Recording format is required")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "g722", "wav16", "slin"):
            raise AriError(422, f"Format '{fmt}' not supported")
        if name in self.recordings:
            raise AriError(409, "Recording with the same name already in progress")
        if name in self.stored_recordings and (p.get("ifExists") or "fail") == "fail":
            raise AriError(422, "Recording already exists")
        rec = Recording(name=name, format=fmt, target=target)
        self.recordings[name] = rec
        target.recordings.append(rec)
        snap = rec.snapshot()
        asyncio.get_running_loop().call_soon(self._guard, self._recording_start, rec,
                                             int(p.get("maxDurationSeconds") or 0))
        return snap

    def _rec_apps(self, rec: Recording) -> set[str]:
        t = rec.target
        return self._bridge_apps(t) if isinstance(t, Bridge) else self.apps_for_channel(t)

    def _recording_start(self, rec: Recording, max_seconds: int) -> None:
        if rec.name not in self.recordings:
            return
        rec.state, rec.started = "recording", time.monotonic()
        self.emit("RecordingStarted", self._rec_apps(rec), recording=rec.snapshot())
        if max_seconds > 0:
            rec.handle = asyncio.get_running_loop().call_later(max_seconds / self.config.time_scale, self._guard,
                                                               self.stop_recording, rec)

    def stop_recording(self, rec: Recording, cancel: bool = False) -> None:
        if self.recordings.get(rec.name) is not rec:
            return
        if rec.handle:
            rec.handle.cancel()
        self.recordings.pop(rec.name, None)
        if rec in rec.target.recordings:
            rec.target.recordings.remove(rec)
        rec.duration = int(round((time.monotonic() - rec.started) * self.config.time_scale)) if rec.started else 0
        rec.state = "canceled" if cancel else "done"
        if not cancel:
            self.stored_recordings[rec.name] = {"name": rec.name, "format": rec.format}
        self.emit("RecordingFinished", self._rec_apps(rec), recording=rec.snapshot())

    def stop_recordings(self, target) -> None:
        for rec in list(target.recordings):
            self.stop_recording(rec)

    # ---- misc ----------------------------------------------------------------------------------------
    def send_dtmf(self, ch: Channel, digits: str) -> None:
        self.require_stasis(ch)
        if not digits:
            raise AriError(400, "DTMF is required")
        if not re.fullmatch(r"[0-9A-Da-d*#wW,]+", digits):
            raise AriError(400, "Invalid DTMF")  # not Asterisk-verified wording
        ch.dtmf_sent += digits
        if ch.phone is not None:
            ch.phone.received_dtmf += digits

    def get_var(self, ch: Channel, name: str | None) -> dict:
        if not name:
            raise AriError(400, "Variable name is required")
        special = {"CALLERID(num)": ch.caller["number"], "CALLERID(name)": ch.caller["name"],
                   "CHANNEL(name)": ch.name, "UNIQUEID": ch.id, "CHANNEL(uniqueid)": ch.id}
        if name in special:
            return {"value": special[name]}
        if name in ch.variables:
            return {"value": ch.variables[name]}
        raise AriError(404, "Provided variable was not found")

    def set_var(self, ch: Channel, name: str | None, value: str | None) -> None:
        if not name:
            raise AriError(400, "Variable name is required")
        self.varset(ch, name, value or "")

    def endpoints(self) -> list[dict]:
        eps = []
        for trunk in self.config.trunks:
            eps.append({"technology": "PJSIP", "resource": trunk, "state": "online",
                        "channel_ids": [c.id for c in self.channels.values()
                                        if c.kind == "pjsip" and c.name.startswith(f"PJSIP/{trunk}-")]})
        for ext, phone in self.phones.items():
            eps.append({"technology": "PJSIP", "resource": ext, "state": "online" if phone.registered else "offline",
                        "channel_ids": [c.id for c in self.channels.values() if c.phone is phone]})
        return eps

    def applications(self) -> list[dict]:
        names = sorted({a for c in self.connections for a in c.apps})
        return [self.application(n) for n in names]

    def application(self, name: str) -> dict:
        if not any(name in c.apps for c in self.connections):
            raise AriError(404, "Application not found")
        subs = self.app_subscriptions.get(name, set())
        return {"name": name,
                "channel_ids": sorted({c.id for c in self.channels.values() if name in c.apps} |
                                      {s[8:] for s in subs if s.startswith("channel:")}),
                "bridge_ids": sorted({b.id for b in self.bridges.values() if name in b.apps} |
                                     {s[7:] for s in subs if s.startswith("bridge:")}),
                "endpoint_ids": sorted(s[9:] for s in subs if s.startswith("endpoint:")),
                "device_names": sorted(s[13:] for s in subs if s.startswith("deviceState:")),
                "events_allowed": [], "events_disallowed": []}

    def subscribe(self, app: str, sources: list[str], on: bool) -> dict:
        self.application(app)
        subs = self.app_subscriptions.setdefault(app, set())
        for src in sources:
            kind, _, ident = src.partition(":")
            if kind == "channel" and ident not in self.channels:
                raise AriError(422, "Event source does not exist")
            if kind == "bridge" and ident not in self.bridges:
                raise AriError(422, "Event source does not exist")
            if kind not in ("channel", "bridge", "endpoint", "deviceState") or not ident:
                raise AriError(400, "Invalid event source URI scheme")
            if on:
                subs.add(src)
            elif src in subs:
                subs.discard(src)
            else:
                raise AriError(409, "Application not subscribed to event source")
        return self.application(app)

    def info(self) -> dict:
        return {"build": {"os": "Linux", "kernel": "sim", "options": "", "machine": "x86_64",
                          "date": "2026-11-22 00:00:00 UTC", "user": "pbx_sim"},
                "system": {"version": "22.10.1", "entity_id": self.config.asterisk_id},
                "config": {"name": "pbx_sim", "default_language": "en", "max_channels": 0, "max_open_files": 0,
                           "max_load": 0.0, "setid": {"user": "", "group": ""}},
                "status": {"startup_time": ts(self.started), "last_reload_time": ts(self.started)}}

    def wipe(self) -> None:
        """An Asterisk restart: every channel, bridge and playback is gone, without events."""
        for ch in list(self.channels.values()):
            for h in list(ch.timers):
                h.cancel()
            ch.timers.clear()
            if ch.timeout_handle:
                ch.timeout_handle.cancel()
            ch.destroyed = time.time()
            ch.cause, ch.cause_txt = None, "PBX restart"
            if ch.phone is not None:
                ch.phone._channel_gone(ch)
        for pb in self.playbacks.values():
            if pb.handle:
                pb.handle.cancel()
        for rec in self.recordings.values():
            if rec.handle:
                rec.handle.cancel()
        self.channels.clear()
        self.bridges.clear()
        self.playbacks.clear()
        self.recordings.clear()
        self.app_subscriptions.clear()
        self.snoops.clear()
        self._epoch = int(time.time())
        self.started = time.time()
        self.changed()

    # ---- desk phones dialling in -------------------------------------------------------------------
    FEATURE_CODES = (
        (re.compile(r"\*50"), lambda m: ["agent-login"]),
        (re.compile(r"\*50(\d+)"), lambda m: ["agent-login", m.group(1)]),
        (re.compile(r"\*222(\d+)"), lambda m: ["supervise", "listen", m.group(1)]),
        (re.compile(r"\*223(\d+)"), lambda m: ["supervise", "whisper", m.group(1)]),
        (re.compile(r"\*224(\d+)"), lambda m: ["supervise", "barge", m.group(1)]),
    )

    def phone_dial(self, phone, code: str) -> Channel:
        """A desk phone dials a feature code of dialplan/extensions_dialer.conf ([dialer-features])."""
        self._chan_seq += 1
        ch = self._new_channel(None, f"PJSIP/{phone.ext}-{self._chan_seq:08x}", "phone", state="Ring",
                               context="dialer-features", exten=code, caller={"name": phone.name, "number": phone.ext},
                               protocol_id=str(uuid.uuid4()), endpoint=f"PJSIP/{phone.ext}", number=code,
                               dial_mode="none")
        ch.phone = phone
        args = None
        for pattern, build in self.FEATURE_CODES:
            m = pattern.fullmatch(code)
            if m:
                args = build(m)
        if args is None:
            self._destroy(ch, 1)  # no such extension: the call fails
            return ch
        ch.priority = 2
        ch.app_name = "Answer"
        ch.state = "Up"
        ch.answered = time.time()
        ch.priority = 3
        if not self.enter_stasis(ch, phone.app, args, quiet_varset=True):
            self._destroy(ch, 16)  # Stasis app not registered: the dialplan goes on to Hangup()
        return ch

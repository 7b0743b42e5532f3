"""Typed ARI events. Raw websocket dicts stop at ``parse_event``; the domain never sees them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    name: str
    state: str
    caller_number: str = ""
    caller_name: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "ChannelInfo":
        caller = raw.get("caller") or {}
        return cls(
            id=raw.get("id", ""),
            name=raw.get("name", ""),
            state=raw.get("state", ""),
            caller_number=caller.get("number", "") or "",
            caller_name=caller.get("name", "") or "",
        )


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class StasisStart(Event):
    channel: ChannelInfo
    args: tuple[str, ...]


@dataclass(frozen=True)
class StasisEnd(Event):
    channel_id: str


@dataclass(frozen=True)
class ChannelStateChange(Event):
    channel: ChannelInfo


@dataclass(frozen=True)
class Dial(Event):
    peer_id: str
    dialstatus: str


@dataclass(frozen=True)
class ChannelHangupRequest(Event):
    channel_id: str
    cause: int | None
    soft: bool


@dataclass(frozen=True)
class ChannelDestroyed(Event):
    channel_id: str
    cause: int
    cause_txt: str


@dataclass(frozen=True)
class DtmfReceived(Event):
    channel_id: str
    digit: str


@dataclass(frozen=True)
class PlaybackFinished(Event):
    playback_id: str
    target: str  # "channel:<id>" or "bridge:<id>"
    state: str  # "done", "failed", "stopped"


@dataclass(frozen=True)
class ChannelEnteredBridge(Event):
    bridge_id: str
    channel_id: str


@dataclass(frozen=True)
class ChannelLeftBridge(Event):
    bridge_id: str
    channel_id: str


def parse_event(raw: Mapping[str, Any]) -> Event | None:
    """Turn one websocket message into a typed event; None for events the app does not use."""
    kind = raw.get("type")
    channel = raw.get("channel") or {}
    match kind:
        case "StasisStart":
            return StasisStart(ChannelInfo.from_json(channel), tuple(raw.get("args") or ()))
        case "StasisEnd":
            return StasisEnd(channel.get("id", ""))
        case "ChannelStateChange":
            return ChannelStateChange(ChannelInfo.from_json(channel))
        case "Dial":
            return Dial((raw.get("peer") or {}).get("id", ""), raw.get("dialstatus", "") or "")
        case "ChannelHangupRequest":
            return ChannelHangupRequest(channel.get("id", ""), raw.get("cause"), bool(raw.get("soft")))
        case "ChannelDestroyed":
            return ChannelDestroyed(channel.get("id", ""), int(raw.get("cause") or 0), raw.get("cause_txt", "") or "")
        case "ChannelDtmfReceived":
            return DtmfReceived(channel.get("id", ""), raw.get("digit", ""))
        case "PlaybackFinished":
            pb = raw.get("playback") or {}
            return PlaybackFinished(pb.get("id", ""), pb.get("target_uri", ""), pb.get("state", ""))
        case "ChannelEnteredBridge":
            return ChannelEnteredBridge((raw.get("bridge") or {}).get("id", ""), channel.get("id", ""))
        case "ChannelLeftBridge":
            return ChannelLeftBridge((raw.get("bridge") or {}).get("id", ""), channel.get("id", ""))
    return None

"""Our ARI port: typed commands out, typed events in. Services depend on this, never on aioari."""
from __future__ import annotations

from typing import Awaitable, Callable, Mapping, Protocol, Sequence

from ari_app.ari.events import ChannelInfo, Event


class AriError(Exception):
    """Asterisk answered a request with an error status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"ARI {status}: {message}")
        self.status = status
        self.message = message


class AriUnavailable(Exception):
    """Asterisk cannot be reached (connection refused, reset, timeout)."""


EventHandler = Callable[[Event], None]
ConnectedHandler = Callable[[], Awaitable[None]]


class AriPort(Protocol):
    app: str

    async def run(self, on_event: EventHandler, on_connected: ConnectedHandler) -> None:
        """Connect the event websocket and deliver events until ``close()``; reconnects with backoff
        and calls ``on_connected`` after every (re)connect, once the websocket is listening."""

    async def close(self) -> None: ...

    async def originate(
        self,
        *,
        channel_id: str,
        endpoint: str,
        app_args: Sequence[str],
        caller_id: str | None,
        timeout: int,
        variables: Mapping[str, str] | None = None,
    ) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    async def answer(self, channel_id: str) -> None: ...

    async def play(self, channel_id: str, media: str | Sequence[str], playback_id: str) -> None: ...

    async def stop_playback(self, playback_id: str) -> None: ...

    async def create_bridge(self, bridge_id: str, bridge_type: str = "mixing") -> None: ...

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None: ...

    async def remove_from_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...

    async def list_channels(self) -> list[ChannelInfo]: ...

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str, priority: int = 1) -> None: ...

    async def snoop(
        self, channel_id: str, snoop_id: str, *, spy: str, whisper: str, app_args: Sequence[str]
    ) -> None: ...

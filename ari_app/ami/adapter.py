"""AMI through panoramisk, for what ARI cannot tell: the carrier trunks' outbound registrations.

ARI shows endpoints and channels but not whether an outbound PJSIP registration to the carrier is
up; `dialer check` asks AMI (PJSIPShowRegistrationsOutbound) so an admin sees why no call leaves.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from panoramisk import Manager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    name: str
    server_uri: str
    status: str


class AmiAdapter:
    def __init__(self, host: str, port: int, username: str, secret: str, *, timeout: float = 5.0):
        self._manager = Manager(host=host, port=port, username=username, secret=secret, ping_delay=0,
                                reconnect_timeout=timeout, forgetable_actions=())
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"AmiAdapter({self._manager.config.get('host')}:{self._manager.config.get('port')})"

    async def connect(self) -> None:
        await asyncio.wait_for(self._manager.connect(), self._timeout)

    async def close(self) -> None:
        self._manager.close()

    async def outbound_registrations(self) -> list[Registration]:
        messages = await asyncio.wait_for(
            self._manager.send_action({"Action": "PJSIPShowRegistrationsOutbound"}), self._timeout
        )
        if not isinstance(messages, list):
            messages = [messages]
        return [
            Registration(m.get("ObjectName", ""), m.get("ServerUri", ""), m.get("Status", ""))
            for m in messages
            if m.get("Event") == "OutboundRegistrationDetail"
        ]

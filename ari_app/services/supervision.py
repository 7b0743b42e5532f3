"""Supervisors on desk phones: listen, whisper and barge with ARI snoop channels and bridges.

The agent's phone stays in the app between calls, in the agent's own bridge where customers join
it. So a snoop on the agent's channel hears every call the agent takes until the supervisor hangs
up (following the agent from call to call comes for free), and barging means joining the agent's
bridge, where the next customer will join too.

    listen:  snoop(spy=both, whisper=none) + supervisor in bridge "sup-<channel>"  (heard by nobody)
    whisper: snoop(spy=both, whisper=out)  + supervisor in that bridge             (heard by the agent)
    barge:   supervisor in the agent's bridge                                     (heard by both)

Keys while monitoring: 1 listen, 2 whisper, 3 barge. A switch sets up the new path before the old
one is torn down, so the audio does not drop.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import insert, text, update

from ari_app.ari import events as ev
from ari_app.ari.port import AriError
from ari_app.db.tables import MonitoringEvent, MonitoringSession

if TYPE_CHECKING:
    from ari_app.services.dialer import DialerService
    from ari_app.services.live import AgentLive

log = logging.getLogger(__name__)

MODES = {"1": "listen", "2": "whisper", "3": "barge"}
PROMPT_NOT_ALLOWED = "sound:dialer-not-allowed"
PROMPT_AGENT_NOT_LOGGED_IN = "sound:dialer-agent-not-logged-in"
PROMPT_TONE = "sound:beep"


@dataclass
class Monitor:
    channel_id: str
    extension: str
    target_ext: str
    mode: str
    phase: str = "pin"  # pin -> waiting (agent not logged in) -> active
    digits: str = ""
    pin_tries: int = 0
    supervisor_id: int | None = None
    session_id: int | None = None
    bridge_id: str = ""
    snoop_id: str | None = None
    old_snoop_id: str | None = None
    in_agent_bridge: str | None = None
    followed_attempts: set[int] = field(default_factory=set)


class Supervision:
    def __init__(self, service: "DialerService"):
        self.svc = service
        self.monitors: dict[str, Monitor] = {}  # by supervisor channel
        self.snoops: dict[str, Monitor] = {}  # by snoop channel

    def owns(self, channel_id: str) -> bool:
        return channel_id in self.monitors or channel_id in self.snoops

    # --- entry -----------------------------------------------------------------------------

    async def on_start(self, channel: ev.ChannelInfo, args: tuple[str, ...]) -> None:
        if args and args[0] == "snoop":
            await self._snoop_started(channel, args)
            return
        mode = args[1] if len(args) > 1 else "listen"
        target = args[2] if len(args) > 2 else ""
        if mode not in MODES.values() or not target:
            await self.svc._hangup(channel.id)
            return
        mon = Monitor(channel.id, channel.caller_number, target, mode)
        self.monitors[channel.id] = mon
        with contextlib.suppress(AriError):
            await self.svc.ari.answer(channel.id)
        await self.svc._play(channel.id, "sound:agent-pass")

    async def on_key(self, channel_id: str, digit: str) -> None:
        mon = self.monitors.get(channel_id)
        if mon is None:
            return
        if mon.phase == "pin":
            if digit == "#":
                await self._check(mon)
            elif digit.isdigit():
                mon.digits += digit
        elif mon.phase == "active" and digit in MODES and MODES[digit] != mon.mode:
            await self._switch(mon, MODES[digit])

    async def _check(self, mon: Monitor) -> None:
        from ari_app.services.pins import verify_pin

        pin, mon.digits = mon.digits, ""
        async with self.svc.db.transaction() as s:
            sup = (await s.execute(text("select id, pin_hash, roles, active from agents where extension = :e"),
                                   {"e": mon.extension})).first()
            ok = sup is not None and sup.active and await asyncio.to_thread(verify_pin, sup.pin_hash, pin)
            allowed = False
            if ok:
                roles = set(sup.roles or ())
                target = (await s.execute(text("select id from agents where extension = :e"), {"e": mon.target_ext})).first()
                if target is not None and "admin" in roles:
                    allowed = True
                elif target is not None and "supervisor" in roles:
                    allowed = bool((await s.execute(text(
                        "select 1 where exists (select 1 from agent_groups g1 join agent_groups g2 on g1.group_id = g2.group_id "
                        "                       where g1.agent_id = :s and g2.agent_id = :a) "
                        "   or exists (select 1 from campaign_agents c1 join campaign_agents c2 on c1.campaign_id = c2.campaign_id "
                        "              where c1.agent_id = :s and c2.agent_id = :a)"),
                        {"s": sup.id, "a": target.id})).first())
        if not ok:
            mon.pin_tries += 1
            if mon.pin_tries >= 3:
                await self.svc._play(mon.channel_id, "sound:agent-incorrect", then=lambda: self.svc._hangup(mon.channel_id))
            else:
                await self.svc._play(mon.channel_id, ["sound:agent-incorrect", "sound:agent-pass"])
            return
        if not allowed:
            log.info("supervisor %s may not monitor agent %s", mon.extension, mon.target_ext)
            await self.svc._play(mon.channel_id, PROMPT_NOT_ALLOWED, then=lambda: self.svc._hangup(mon.channel_id))
            return
        mon.supervisor_id = sup.id
        mon.bridge_id = f"sup-{uuid.uuid4().hex[:12]}"
        await self.svc.ari.create_bridge(mon.bridge_id)
        await self.svc.ari.add_to_bridge(mon.bridge_id, [mon.channel_id])
        agent = self._agent(mon)
        if agent is None:
            mon.phase = "waiting"
            await self.svc._play(mon.channel_id, PROMPT_AGENT_NOT_LOGGED_IN)
            return
        await self._attach(mon, agent)

    def _agent(self, mon: Monitor) -> "AgentLive | None":
        return next((a for a in self.svc.agents.values() if a.extension == mon.target_ext and a.session_id), None)

    async def _attach(self, mon: Monitor, agent: "AgentLive") -> None:
        now = self.svc.now()
        async with self.svc.db.transaction() as s:
            mon.session_id = (await s.execute(insert(MonitoringSession).values(
                supervisor_id=mon.supervisor_id, agent_id=agent.agent_id, channel_id=mon.channel_id, started_at=now,
            ).returning(MonitoringSession.id))).scalar_one()
        mon.phase = "active"
        await self._enter_mode(mon, agent, mon.mode)
        log.info("supervisor %s %ss agent %s", mon.extension, mon.mode, agent.extension)

    async def _audit(self, mon: Monitor, agent: "AgentLive") -> None:
        attempt = agent.call.attempt_id if agent.call is not None and agent.call.connected_at else None
        if attempt is not None:
            mon.followed_attempts.add(attempt)
        async with self.svc.db.transaction() as s:
            await s.execute(insert(MonitoringEvent).values(session_id=mon.session_id, at=self.svc.now(),
                                                           mode=mon.mode, attempt_id=attempt))

    async def _enter_mode(self, mon: Monitor, agent: "AgentLive", mode: str) -> None:
        mon.mode = mode
        if mode == "barge":
            if mon.in_agent_bridge is None:
                with contextlib.suppress(AriError):
                    await self.svc.ari.remove_from_bridge(mon.bridge_id, [mon.channel_id])
                await self.svc.ari.add_to_bridge(agent.bridge_id, [mon.channel_id])
                mon.in_agent_bridge = agent.bridge_id
            await self._drop_snoop(mon, mon.snoop_id)
            mon.snoop_id = None
        else:
            mon.old_snoop_id = mon.snoop_id
            mon.snoop_id = f"snoop-{uuid.uuid4().hex[:16]}"
            self.snoops[mon.snoop_id] = mon
            await self.svc.ari.snoop(agent.channel_id, mon.snoop_id, spy="both",
                                     whisper="out" if mode == "whisper" else "none",
                                     app_args=["snoop", mon.channel_id])
            # The old path is torn down once the new snoop is in the bridge (_snoop_started).
        if mode in ("whisper", "barge") and self._tone_wanted(agent):
            await self.svc._play(agent.channel_id, PROMPT_TONE)
        await self._audit(mon, agent)

    def _tone_wanted(self, agent: "AgentLive") -> bool:
        return any(self.svc.campaigns[c].supervisor_tone for c in agent.campaign_ids if c in self.svc.campaigns)

    async def _snoop_started(self, channel: ev.ChannelInfo, args: tuple[str, ...]) -> None:
        mon = self.snoops.get(channel.id)
        if mon is None or mon.channel_id not in self.monitors:
            await self.svc._hangup(channel.id)
            return
        if mon.in_agent_bridge is not None:  # coming back from barge
            with contextlib.suppress(AriError):
                await self.svc.ari.remove_from_bridge(mon.in_agent_bridge, [mon.channel_id])
            mon.in_agent_bridge = None
            await self.svc.ari.add_to_bridge(mon.bridge_id, [channel.id, mon.channel_id])
        else:
            await self.svc.ari.add_to_bridge(mon.bridge_id, [channel.id])
        await self._drop_snoop(mon, mon.old_snoop_id)
        mon.old_snoop_id = None

    async def _drop_snoop(self, mon: Monitor, snoop_id: str | None) -> None:
        if snoop_id is None:
            return
        self.snoops.pop(snoop_id, None)
        await self.svc._hangup(snoop_id)

    async def _switch(self, mon: Monitor, mode: str) -> None:
        agent = self._agent(mon)
        if agent is None:
            mon.mode = mode
            return
        await self._enter_mode(mon, agent, mode)

    # --- what happens around the monitor ---------------------------------------------------

    async def on_agent_connected(self, agent: "AgentLive") -> None:
        """The followed agent took a new call: the audit notes which one."""
        for mon in self.monitors.values():
            if mon.phase == "active" and mon.target_ext == agent.extension:
                await self._audit(mon, agent)

    async def on_agent_login(self, agent: "AgentLive") -> None:
        for mon in list(self.monitors.values()):
            if mon.phase == "waiting" and mon.target_ext == agent.extension:
                await self._attach(mon, agent)

    async def on_agent_gone(self, agent: "AgentLive") -> None:
        """The agent logged out: monitors wait for their next login (their snoop died with the channel)."""
        for mon in self.monitors.values():
            if mon.target_ext == agent.extension and mon.phase == "active":
                await self._drop_snoop(mon, mon.snoop_id)
                mon.snoop_id, mon.in_agent_bridge = None, None
                await self._end_session(mon)
                mon.phase = "waiting"
                with contextlib.suppress(AriError):
                    await self.svc.ari.add_to_bridge(mon.bridge_id, [mon.channel_id])

    async def on_channel_gone(self, channel_id: str) -> None:
        if channel_id in self.snoops:
            mon = self.snoops.pop(channel_id)
            if mon.snoop_id == channel_id:
                mon.snoop_id = None
            return
        mon = self.monitors.pop(channel_id, None)
        if mon is None:
            return
        await self._drop_snoop(mon, mon.snoop_id)
        await self._drop_snoop(mon, mon.old_snoop_id)
        if mon.bridge_id:
            with contextlib.suppress(AriError):
                await self.svc.ari.destroy_bridge(mon.bridge_id)
        await self._end_session(mon)
        log.info("supervisor %s stopped monitoring %s", mon.extension, mon.target_ext)

    async def _end_session(self, mon: Monitor) -> None:
        if mon.session_id is None:
            return
        async with self.svc.db.transaction() as s:
            await s.execute(update(MonitoringSession).where(MonitoringSession.id == mon.session_id)
                            .values(ended_at=self.svc.now()))
        mon.session_id = None

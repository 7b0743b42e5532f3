"""The Stasis application's use cases: dialing loop, customer calls, agent phones.

Every input (ARI event, timer, tick, originate result) goes through one queue and is handled by one
consumer task, so the state of a call or an agent is only ever changed by one handler at a time.
Handlers are thin: look up the live object, advance its state machine, call the port, write the
ledger. Timers never sleep in a handler; they post an event back into the queue.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ari_app.ari import events as ev
from ari_app.ari.port import AriError, AriPort, AriUnavailable
from ari_app.db import store
from ari_app.db.claim import claim_entries, release_expired_leases, renew_leases
from ari_app.db.runtime import Database
from ari_app.domain.attempt import AttemptEvent, AttemptState
from ari_app.domain.campaign import CampaignConfig
from ari_app.domain.enums import AgentState, CampaignMode, CampaignState, EntryState, Outcome, SystemStatus
from ari_app.domain.outcomes import unanswered_outcome
from ari_app.domain.phones import PhoneError, normalise_one
from ari_app.domain.status_effects import StatusView, apply_status, automatic_status
from ari_app.domain.time_rules import schedule_open, zone
from ari_app.services.live import WRAP_UP_PHASES, AgentLive, CallbackDraft, CallLive, Offer, Phase
from ari_app.services.pacing_bridge import PacingBridge
from ari_app.services.supervision import Supervision
from ari_app.scheduling.callbacks import CallbackDue, CallbackScheduler
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

CONNECT_WINDOW = 2.0  # seconds from answer to agent: the legal limit
PIN_MAX_TRIES = 3
LOCKOUT_AFTER = 5  # consecutive failures across calls
LOCKOUT = dt.timedelta(minutes=15)
PUSH_TIMEOUTS_BEFORE_INACTIVE = 3
SKIP_DELAY = dt.timedelta(minutes=10)


class Prompt:
    PIN = "sound:agent-pass"
    PIN_WRONG = "sound:agent-incorrect"
    LOCKED = "sound:dialer-locked-out"
    LOGIN_OK = "sound:agent-loginok"
    NO_CAMPAIGN = "sound:dialer-no-campaign"
    LOGGED_OUT = "sound:agent-loggedoff"
    PAUSED = "sound:dialer-paused"
    READY = "sound:dialer-ready"
    STATUS = "sound:dialer-enter-status"
    STATUS_INVALID = "sound:dialer-invalid-status"
    STATUS_SAVED = "sound:dialer-status-saved"
    PREVIEW = "sound:dialer-preview-record"
    PUSH = "sound:dialer-push-record"
    CALLBACK = "sound:dialer-callback"
    PERSONAL_CALLBACK = "sound:dialer-personal-callback"
    CALLBACK_WHO = "sound:dialer-callback-1-mine-2-any-agent"
    CALLBACK_NUMBER = "sound:dialer-callback-number"  # "# for the same number, or key another number and #"
    NUMBER_INVALID = "sound:dialer-invalid-number"
    NUMBER_DNC = "sound:dialer-number-on-dnc"
    DATE = "sound:dialer-enter-date"
    DATE_INVALID = "sound:dialer-invalid-date"
    DATE_PAST = "sound:dialer-date-in-past"
    DATE_OUTSIDE_HOURS = "sound:dialer-outside-calling-hours"
    DATE_READBACK = "sound:dialer-you-entered"
    DATE_CONFIRM = "sound:dialer-press-1-to-confirm-2-to-change"

    @staticmethod
    def digits(text: str) -> list[str]:
        """A number read out digit by digit, one `sound:digits/N` per digit: the files Asterisk's
        `digits:` scheme plays (say.c), but stoppable. Asterisk refuses to stop a `digits:`
        playback (500) and loses the stop when a sound came before it, so a skipped record would
        be read to its last digit ahead of the next prompt."""
        return [f"sound:digits/{d}" for d in text if d.isdigit()]


# --- internal events ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick(ev.Event):
    pass


@dataclass(frozen=True)
class Timer(ev.Event):
    kind: str
    key: Any
    token: int = 0


@dataclass(frozen=True)
class OriginateFailed(ev.Event):
    channel_id: str
    status: int
    message: str


@dataclass(frozen=True)
class Stop(ev.Event):
    pass


@dataclass(frozen=True)
class PinChecked(ev.Event):
    channel_id: str
    agent_id: int | None
    display_name: str
    ok: bool
    locked: bool
    campaigns: frozenset[int]


@dataclass
class Metrics:
    # Bounded: the service runs for months; these keep the recent samples benchmarks read.
    connect_latency_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20_000))
    loop_lag_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=20_000))
    ticks: int = 0
    originates: int = 0
    calls_ended: int = 0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DialerService:
    def __init__(
        self,
        db: Database,
        ari: AriPort,
        *,
        instance_id: str,
        tick_seconds: float = 0.5,
        lease_seconds: int = 120,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
    ):
        self.db = db
        self.ari = ari
        self.instance_id = instance_id
        self.tick_seconds = tick_seconds
        self.lease_seconds = lease_seconds
        self.now = clock
        self.rng = rng or random.Random()
        self.queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self.calls: dict[str, CallLive] = {}  # by customer channel id
        self.agents: dict[str, AgentLive] = {}  # by agent channel id
        self.campaigns: dict[int, CampaignConfig] = {}
        self.pacing = PacingBridge()
        self.metrics = Metrics()
        self._playback_done: dict[str, Callable[[], Any]] = {}
        self._offer_prompts: dict[str, str] = {}  # agent channel -> playback announcing its offer
        self._tasks: set[asyncio.Task] = set()
        self._last: dict[str, float] = collections.defaultdict(float)
        self._stopping = False
        self.connected = asyncio.Event()
        self.callback_scheduler = CallbackScheduler(db, self.post, clock=clock)
        self.waiting_callbacks: dict[int, store.DueCallback] = {}
        self._reserved: dict[int, int] = {}  # campaign -> agents kept for callbacks due soon
        self.supervision = Supervision(self)

    # --- plumbing ---------------------------------------------------------------------------

    def post(self, event: ev.Event) -> None:
        self.queue.put_nowait(event)

    def _later(self, delay: float, event: ev.Event) -> None:
        asyncio.get_running_loop().call_later(max(0.0, delay), self.post, event)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def run(self) -> None:
        """Consume events until stop(); the ARI adapter and the ticker feed the queue."""
        ticker = asyncio.create_task(self._ticker())
        ari_task = asyncio.create_task(self.ari.run(self.post, self._on_connected))
        await self.callback_scheduler.start()
        try:
            while True:
                event = await self.queue.get()
                if isinstance(event, Stop):
                    break
                try:
                    await self.handle(event)
                except (AriUnavailable, ConnectionError) as exc:
                    log.warning("ARI unavailable while handling %s: %s", type(event).__name__, exc)
                except Exception:
                    log.exception("handler for %s failed", type(event).__name__)
        finally:
            self._stopping = True
            await self.callback_scheduler.stop()
            ticker.cancel()
            await self.ari.close()
            ari_task.cancel()
            # Owned tasks get one bounded grace period together, then are cancelled.
            tasks = {ticker, ari_task, *self._tasks}
            _, late = await asyncio.wait(tasks, timeout=5)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2)

    def stop(self) -> None:
        self.post(Stop())

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.tick_seconds)
            self.metrics.loop_lag_ms.append((loop.time() - start - self.tick_seconds) * 1000)
            self.metrics.ticks += 1
            if self.connected.is_set():
                self.post(Tick())

    async def _play(self, channel_id: str, media: str | list[str], then: Callable[[], Any] | None = None) -> str | None:
        playback_id = f"pb-{uuid.uuid4().hex[:16]}"
        if then is not None:
            self._playback_done[playback_id] = then
        try:
            await self.ari.play(channel_id, media, playback_id)
        except AriError as exc:
            self._playback_done.pop(playback_id, None)
            log.info("play on %s failed: %s", channel_id, exc)
            return None
        return playback_id

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.hangup(channel_id)

    # --- dispatch ---------------------------------------------------------------------------

    async def handle(self, event: ev.Event) -> None:
        match event:
            case Tick():
                await self.on_tick()
            case ev.StasisStart(channel=channel, args=args):
                await self.on_stasis_start(channel, args)
            case ev.StasisEnd(channel_id=cid) if cid in self.agents:
                await self.on_agent_gone(self.agents[cid], "hung up")
            case ev.StasisEnd(channel_id=cid) if self.supervision.owns(cid):
                await self.supervision.on_channel_gone(cid)
            case ev.DtmfReceived(channel_id=cid, digit=digit) if cid in self.supervision.monitors:
                await self.supervision.on_key(cid, digit)
            case ev.Dial(peer_id=cid, dialstatus=status) if cid in self.calls:
                self.on_dial(self.calls[cid], status)
            case ev.ChannelDestroyed(channel_id=cid, cause=cause, cause_txt=txt) if cid in self.calls:
                await self.on_customer_gone(self.calls[cid], cause, txt)
            case ev.DtmfReceived(channel_id=cid, digit=digit) if cid in self.agents:
                await self.on_agent_key(self.agents[cid], digit)
            case ev.PlaybackFinished(playback_id=pid):
                then = self._playback_done.pop(pid, None)
                if then is not None:
                    result = then()
                    if asyncio.iscoroutine(result):
                        await result
            case OriginateFailed(channel_id=cid, status=status, message=message) if cid in self.calls:
                await self.on_originate_failed(self.calls[cid], status, message)
            case Timer(kind=kind, key=key, token=token):
                await self.on_timer(kind, key, token)
            case CallbackDue(callback_id=cb_id):
                await self.on_callback_due(cb_id)
            case PinChecked(channel_id=cid) if cid in self.agents and self.agents[cid].phase is Phase.LOGIN:
                await self._pin_checked(self.agents[cid], event)

    # --- connect and reconcile --------------------------------------------------------------

    async def _on_connected(self) -> None:
        """After every (re)connect: compare what the database says is open with Asterisk's channels."""
        await self.reload_campaigns()
        # Events keep flowing while this runs: a phone that logs in or a call placed after the
        # listing is alive by its own StasisStart/originate, so only what was known before the
        # listing can be declared gone by it.
        known_agents, known_calls = set(self.agents), set(self.calls)
        live = {c.id: c for c in await self.ari.list_channels()}
        now = self.now()
        async with self.db.transaction() as s:
            attempts = await store.open_attempts(s, self.instance_id)
            sessions = await store.open_sessions(s, self.instance_id)
        # Agent phones first: a connected call can only be kept with its agent.
        for sess in sessions:
            if sess.channel_id in live and sess.channel_id not in self.agents:
                await self._adopt_agent(sess, live[sess.channel_id])
            elif sess.channel_id not in live and not self._after_listing(sess.channel_id, self.agents, known_agents):
                async with self.db.transaction() as s:
                    await store.close_agent_sessions(s, sess.agent_id, now, reason="channel gone (reconcile)")
                self.agents.pop(sess.channel_id, None)
        for agent in [a for cid, a in self.agents.items() if cid in known_agents]:
            if agent.channel_id not in live:
                await self.on_agent_gone(agent, "channel gone (reconcile)")
        for att in attempts:
            call = self.calls.get(att.channel_id)
            if att.channel_id not in live:
                if self._after_listing(att.channel_id, self.calls, known_calls) \
                        or (call is not None and call.state is AttemptState.CREATED):
                    continue  # placed after the listing, or its originate is still on its way
                if call is None:
                    call = self._call_from_row(att)
                    self.calls[att.channel_id] = call
                await self.end_call(call, Outcome.LOST, None, "channel gone while disconnected")
            elif call is None:
                await self._adopt_call(att, live[att.channel_id])
        for call in [c for cid, c in self.calls.items() if cid in known_calls]:
            if call.channel_id not in live and call.state is not AttemptState.CREATED:
                await self.end_call(call, Outcome.LOST, None, "channel gone while disconnected")
        await self._settle_orphaned_dispositions()
        self.connected.set()
        log.info("reconciled: %d agents, %d calls kept", len(self.agents), len(self.calls))

    @staticmethod
    def _after_listing(channel_id: str, current: dict, known: set) -> bool:
        """Tracked now but not before GET /channels: its absence from the listing proves nothing."""
        return channel_id in current and channel_id not in known

    async def _settle_orphaned_dispositions(self) -> None:
        """A wrap-up lost with a crashed process: the campaign's default status, as on a wrap-up timeout."""
        busy = [a.call.attempt_id for a in self.agents.values() if a.call is not None]
        now = self.now()
        async with self.db.transaction() as s:
            for row in await store.orphaned_dispositions(s, self.instance_id, busy):
                campaign = self.campaigns.get(row.campaign_id)
                if campaign is None:
                    continue
                status = campaign.default_status
                call = CallLive(row.attempt_id, "", row.campaign_id, row.entry_id, row.phone_e164, None, now)
                await store.set_disposition(s, row.attempt_id, status.id if status else None, now)
                await self._apply(s, campaign, call, Outcome(row.outcome), status, now)
                log.info("attempt %s: wrap-up lost in a restart, default status %s applied", row.attempt_id,
                         status.name if status else None)

    def _call_from_row(self, att) -> CallLive:
        return CallLive(
            attempt_id=att.id, channel_id=att.channel_id, campaign_id=att.campaign_id, entry_id=att.entry_id,
            phone=att.phone_e164, timezone=None, placed_at=att.originated_at or att.created_at,
            state=AttemptState.ORIGINATING, answered_at=att.answered_at, connected_at=att.connected_at,
            agent_id=att.agent_id,
        )

    async def _adopt_call(self, att, channel: ev.ChannelInfo) -> None:
        call = self._call_from_row(att)
        self.calls[call.channel_id] = call
        agent = next((a for a in self.agents.values() if a.agent_id == att.agent_id), None)
        if att.connected_at is not None and agent is not None:
            call.state = AttemptState.CONNECTED
            agent.call, agent.phase = call, Phase.ON_CALL
            await self._set_agent_state(agent, AgentState.ON_CALL, "call kept after reconnect")
        elif channel.state == "Up":
            # Answered but never given an agent while we were away: too late for the 2 s rule.
            call.state = AttemptState.ABANDONING
            call.abandoned = True
            await self._hangup(call.channel_id)
        # still ringing: Dial / StasisStart events will follow

    async def _adopt_agent(self, sess, channel: ev.ChannelInfo) -> None:
        agent = AgentLive(channel_id=sess.channel_id, extension=channel.caller_number, agent_id=sess.agent_id,
                          session_id=sess.id, bridge_id=f"agent-{sess.id}", state=AgentState(sess.state),
                          since=sess.state_since, phase=Phase.IDLE, campaign_ids=set(sess.campaign_ids or ()))
        self.agents[agent.channel_id] = agent
        try:
            await self.ari.add_to_bridge(agent.bridge_id, [agent.channel_id])
        except AriError:
            await self.ari.create_bridge(agent.bridge_id)
            await self.ari.add_to_bridge(agent.bridge_id, [agent.channel_id])
        if agent.state not in (AgentState.PAUSED, AgentState.READY):
            await self._set_agent_state(agent, AgentState.READY, "resumed after reconnect")

    async def reload_campaigns(self) -> None:
        async with self.db.transaction() as s:
            campaigns = await store.load_campaigns(s)
            completed = await store.complete_exhausted_campaigns(s, self.now())
        self.campaigns = {c.id: c for c in campaigns if c.id not in completed}
        for cid in completed:
            log.info("campaign %s completed: no dialable entry left and no open call", cid)
        for c in self.campaigns.values():
            if c.mode is CampaignMode.PREDICTIVE and not self.pacing.knows(c.id):
                async with self.db.transaction() as s:
                    history = await store.recent_finished(s, c.id)
                self.pacing.seed(c, history)

    # --- the dialing loop -------------------------------------------------------------------

    def _every(self, name: str, seconds: float) -> bool:
        now = time.monotonic()
        if now - self._last[name] >= seconds:
            self._last[name] = now
            return True
        return False

    async def on_tick(self) -> None:
        now = self.now()
        if self._every("campaigns", 2.0):
            await self.reload_campaigns()
            await self._refresh_agent_campaigns()
        if self._every("commands", 0.5):
            await self._run_agent_commands(now)
        if self._every("leases", 10.0):
            async with self.db.transaction() as s:
                await renew_leases(s, self.instance_id, now, self.lease_seconds)
                released = await release_expired_leases(s, now)
            if released:
                log.info("released %d entries whose claim lapsed", len(released))
        if self._every("ledger", 5.0):
            for c in self.campaigns.values():
                if c.mode is CampaignMode.PREDICTIVE:
                    async with self.db.transaction() as s:
                        live, abandons = await store.abandon_ledger(s, c.id, c.window_start(now))
                    self.pacing.set_ledger(c, live, abandons, c.window_start(now))
            async with self.db.transaction() as s:
                for c in self.campaigns.values():
                    self._reserved[c.id] = await store.callbacks_due_soon(s, c.id, now, dt.timedelta(seconds=60))
        for campaign in list(self.campaigns.values()):
            if campaign.state is not CampaignState.ACTIVE:
                continue
            if not schedule_open(campaign.schedule, campaign.timezone, now):
                continue
            await self.dial_campaign(campaign, now)

    def _agents_of(self, campaign: CampaignConfig) -> list[AgentLive]:
        return [a for a in self.agents.values() if a.session_id and campaign.id in a.campaign_ids]

    async def dial_campaign(self, campaign: CampaignConfig, now: dt.datetime) -> None:
        agents = self._agents_of(campaign)
        if not agents:
            return  # inactive: no agent logged in
        ready = [a for a in agents if a.state is AgentState.READY and a.phase is Phase.IDLE]
        if campaign.mode in (CampaignMode.PREVIEW, CampaignMode.PUSH_PREVIEW):
            for agent in ready:
                await self.offer_record(agent, campaign, now)
            return
        pooled = [c for c in self.calls.values() if c.campaign_id == campaign.id and c.in_flight and c.reserved_for is None]
        # Callbacks due within a minute keep agents free for them, in every mode.
        reserved = min(self._reserved.get(campaign.id, 0), len(ready))
        free = len(ready) - reserved - len(pooled)
        if campaign.mode is CampaignMode.PROGRESSIVE:
            wanted = free
        else:
            wanted = self.pacing.decide(campaign, agents, pooled, now, reserved_capacity=reserved)
        if wanted <= 0:
            return
        guaranteed = max(0, min(wanted, free))
        await self.place_calls(campaign, now, guaranteed, guaranteed=True)
        if wanted > guaranteed:
            await self.place_calls(campaign, now, wanted - guaranteed, guaranteed=False)

    def _claim_kwargs(self, campaign: CampaignConfig, now: dt.datetime) -> dict:
        return dict(
            campaign_id=campaign.id, now=now, max_attempts=campaign.max_attempts,
            calling_hours=campaign.calling_hours,
            campaign_zone_open=campaign.calling_hours.allows(campaign.timezone, now),
            lease_owner=self.instance_id, lease_seconds=self.lease_seconds, rule_72h=campaign.rule_72h,
            region_rules=campaign.region_rules, campaign_tz=campaign.timezone,
        )

    async def place_calls(self, campaign: CampaignConfig, now: dt.datetime, count: int, *, guaranteed: bool) -> int:
        """Claim entries, commit one attempt row each, then originate: nothing is dialled unrecorded."""
        async with self.db.transaction() as s:
            entries = await claim_entries(s, limit=min(count, 50), guaranteed=guaranteed,
                                          **self._claim_kwargs(campaign, now))
            attempts = await store.create_attempts(s, campaign, entries, instance_id=self.instance_id, now=now, rng=self.rng)
        by_entry = {e.id: e for e in entries}
        for att in attempts:
            entry = by_entry[att.entry_id]
            call = CallLive(att.id, att.channel_id, campaign.id, att.entry_id, att.phone_e164, entry.timezone, now)
            self.calls[call.channel_id] = call
            self._spawn(self._originate(campaign, call, att.caller_id))
        return len(attempts)

    async def _originate(self, campaign: CampaignConfig, call: CallLive, caller_id: str | None) -> None:
        call.advance(AttemptEvent.ORIGINATE_SENT)
        self.metrics.originates += 1
        # Write-ahead, in this task rather than the event consumer: after a crash, an attempt still
        # 'created' certainly never reached Asterisk; one 'originating' may have (so no second call).
        async with self.db.transaction() as s:
            await store.mark_attempt_originated(s, call.attempt_id)
        try:
            await self.ari.originate(
                channel_id=call.channel_id, endpoint=campaign.dial_string(call.phone),
                app_args=["customer", str(call.attempt_id)], caller_id=caller_id,
                timeout=campaign.ring_timeout, variables={"DIALER_ATTEMPT": str(call.attempt_id)},
            )
        except AriError as exc:
            self.post(OriginateFailed(call.channel_id, exc.status, exc.message))
        except (AriUnavailable, OSError) as exc:
            # We cannot know whether Asterisk created the channel: reconcile will tell.
            log.warning("originate of attempt %s not confirmed: %s", call.attempt_id, exc)

    async def on_originate_failed(self, call: CallLive, status: int, message: str) -> None:
        log.info("attempt %s: originate refused (%s %s)", call.attempt_id, status, message)
        outcome = Outcome.INVALID_NUMBER if status == 400 else Outcome.FAILED
        await self.end_call(call, outcome, None, f"originate refused: {message}")

    def on_dial(self, call: CallLive, status: str) -> None:
        if status:
            call.dialstatus = status
        if status == "RINGING" and call.state in (AttemptState.ORIGINATING, AttemptState.RINGING):
            call.advance(AttemptEvent.RINGING)

    # --- customer calls ---------------------------------------------------------------------

    async def on_stasis_start(self, channel: ev.ChannelInfo, args: tuple[str, ...]) -> None:
        kind = args[0] if args else ""
        match kind:
            case "customer":
                call = self.calls.get(channel.id)
                if call is None:
                    log.warning("StasisStart for unknown customer channel %s: hanging up", channel.id)
                    await self._hangup(channel.id)
                    return
                await self.on_customer_answered(call)
            case "customer-amd":
                call = self.calls.get(channel.id)
                if call is not None:
                    await self.on_amd_result(call, args[2] if len(args) > 2 else "NOTSURE")
            case "agent-login":
                await self.on_agent_login(channel, args[1] if len(args) > 1 else None)
            case "supervise" | "snoop":
                await self.supervision.on_start(channel, args)
            case _:
                log.warning("channel %s entered the app with unknown arguments %r", channel.id, args)
                await self._hangup(channel.id)

    async def on_customer_answered(self, call: CallLive) -> None:
        if call.state not in (AttemptState.ORIGINATING, AttemptState.RINGING):
            return
        call.advance(AttemptEvent.ANSWERED)
        call.answered_at = self.now()
        call.answered_mono = asyncio.get_running_loop().time()
        campaign = self.campaigns.get(call.campaign_id)
        if campaign is not None and campaign.amd_enabled:
            call.advance(AttemptEvent.AMD_STARTED)
            await self.ari.continue_in_dialplan(call.channel_id, "dialer-amd", "s", 1)
            return
        await self._connect_or_wait(call)

    async def on_amd_result(self, call: CallLive, verdict: str) -> None:
        if call.state is not AttemptState.DETECTING:
            return
        campaign = self.campaigns.get(call.campaign_id)
        if verdict == "MACHINE":
            call.advance(AttemptEvent.MACHINE)
            call.machine = True
            if campaign and campaign.machine_action == "message" and campaign.machine_message:
                await self._play(call.channel_id, campaign.machine_message, then=lambda: self._hangup(call.channel_id))
            else:
                await self._hangup(call.channel_id)
            return
        call.advance(AttemptEvent.HUMAN)
        # The 2 seconds run from the moment a person is known to be on the line.
        call.answered_mono = asyncio.get_running_loop().time()
        await self._connect_or_wait(call)

    def _free_agent_for(self, call: CallLive) -> AgentLive | None:
        if call.reserved_for is not None:
            return next((a for a in self.agents.values() if a.agent_id == call.reserved_for
                         and a.phase is Phase.CALLING and a.call is call), None)
        candidates = [a for a in self.agents.values()
                      if a.session_id and call.campaign_id in a.campaign_ids
                      and a.state is AgentState.READY and a.phase is Phase.IDLE]
        if not candidates:
            return None
        return min(candidates, key=lambda a: a.since or dt.datetime.min.replace(tzinfo=dt.timezone.utc))

    async def _connect_or_wait(self, call: CallLive) -> None:
        agent = self._free_agent_for(call)
        if agent is not None and await self._connect(call, agent):
            return
        loop = asyncio.get_running_loop()
        remaining = CONNECT_WINDOW - (loop.time() - (call.answered_mono or loop.time()))
        self._later(remaining, Timer("abandon", call.channel_id))
        # Only now, off the connect path: supervisors see the call waiting for an agent.
        async with self.db.transaction() as s:
            await store.mark_attempt(s, call.attempt_id, answered_at=call.answered_at, state="answered")

    async def _connect(self, call: CallLive, agent: AgentLive) -> bool:
        """Bridge the customer into the agent's bridge. False when Asterisk refuses (the customer
        hung up a moment ago): the agent stays free and the ChannelDestroyed closes the call."""
        try:
            await self.ari.add_to_bridge(agent.bridge_id, [call.channel_id])
        except AriError as exc:
            log.info("attempt %s: not bridged to agent %s (%s)", call.attempt_id, agent.extension, exc.message)
            return False
        call.advance(AttemptEvent.BRIDGED)
        if call.answered_mono is not None:
            self.metrics.connect_latency_ms.append((asyncio.get_running_loop().time() - call.answered_mono) * 1000)
        call.connected_at = self.now()
        call.agent_id = agent.agent_id
        agent.call, agent.phase = call, Phase.ON_CALL
        agent.offer = None
        agent.bump()
        async with self.db.transaction() as s:
            await store.mark_attempt(s, call.attempt_id, answered_at=call.answered_at, connected_at=call.connected_at,
                                     agent_id=agent.agent_id, state="connected")
        await self._set_agent_state(agent, AgentState.ON_CALL, f"attempt {call.attempt_id}")
        log.info("attempt %s connected to agent %s", call.attempt_id, agent.extension)
        await self.supervision.on_agent_connected(agent)
        return True

    async def _serve_waiting(self, agent: AgentLive) -> bool:
        """An agent just became ready: the oldest answered call waiting for one gets them."""
        waiting = [c for c in self.calls.values() if c.state is AttemptState.ANSWERED and c.reserved_for is None
                   and c.campaign_id in agent.campaign_ids]
        for call in sorted(waiting, key=lambda c: c.answered_mono or 0.0):
            if await self._connect(call, agent):
                return True
        return False

    async def _abandon(self, call: CallLive) -> None:
        if call.state is not AttemptState.ANSWERED:
            return
        call.advance(AttemptEvent.NO_AGENT)
        call.abandoned = True
        campaign = self.campaigns.get(call.campaign_id)
        log.info("attempt %s: no agent within %.0f s, playing the information message", call.attempt_id, CONNECT_WINDOW)
        message = campaign.abandon_message if campaign else None
        if message:
            await self._play(call.channel_id, message, then=lambda: self._hangup(call.channel_id))
        else:
            await self._hangup(call.channel_id)

    async def on_customer_gone(self, call: CallLive, cause: int, cause_txt: str) -> None:
        match call.state:
            case AttemptState.CONNECTED:
                outcome = Outcome.ANSWERED
            case AttemptState.ABANDONING | AttemptState.ANSWERED:
                outcome = Outcome.ABANDONED
                call.abandoned = True
            case AttemptState.MACHINE:
                outcome = Outcome.MACHINE
            case AttemptState.DETECTING:
                outcome = Outcome.MACHINE if call.machine else Outcome.ANSWERED
            case _:
                outcome = unanswered_outcome(call.dialstatus, cause)
        await self.end_call(call, outcome, cause, cause_txt)

    async def end_call(self, call: CallLive, outcome: Outcome, cause: int | None, cause_txt: str | None) -> None:
        """Close the attempt in the ledger and decide the entry's future, in one transaction."""
        if call.state is AttemptState.ENDED:
            return
        call.advance(AttemptEvent.ENDED)
        self.calls.pop(call.channel_id, None)
        self.metrics.calls_ended += 1
        now = self.now()
        campaign = self.campaigns.get(call.campaign_id)
        agent = next((a for a in self.agents.values() if a.call is call), None)
        needs_disposition = outcome is Outcome.ANSWERED and agent is not None
        async with self.db.transaction() as s:
            rearmed = outcome is Outcome.LOST and await store.rearm_callback(s, call.attempt_id, now)
            await store.close_attempt(
                s, call.attempt_id, now=now, outcome=outcome, cause=cause, cause_txt=cause_txt,
                dialstatus=call.dialstatus, abandoned=call.abandoned, agent_id=call.agent_id,
                answered_at=call.answered_at, connected_at=call.connected_at,
            )
            if not needs_disposition and not rearmed and campaign is not None and call.entry_id is not None:
                status = automatic_status(campaign.statuses, outcome)
                if outcome is Outcome.ANSWERED and status is None:
                    status = campaign.default_status
                await self._apply(s, campaign, call, outcome, status, now)
        self.pacing.record(call, outcome, now)
        log.info("attempt %s ended: %s (cause %s %s)", call.attempt_id, outcome, cause, cause_txt or "")
        if agent is None:
            return
        if needs_disposition:
            await self._start_wrapup(agent, campaign)
        elif agent.phase is Phase.CALLING:
            # A preview call that did not reach a person: the agent is free again.
            agent.call = None
            await self._agent_ready(agent, "preview call ended")

    async def _apply(self, s, campaign: CampaignConfig, call: CallLive, outcome: Outcome, status: StatusView | None,
                     now: dt.datetime, *, agent_id: int | None = None, when: dt.datetime | None = None,
                     personal: bool = True, callback_phone: str | None = None) -> None:
        facts = await store.entry_facts(s, call.entry_id, outcome, campaign.max_attempts, campaign.id)
        upd = apply_status(facts, outcome, status, campaign.retry_rules, now, agent_id=agent_id, when=when,
                           personal=personal, callback_phone=callback_phone)
        await store.apply_entry_update(s, call.entry_id, upd, now=now, outcome=outcome,
                                       status_id=status.id if status else None, phone_e164=call.phone,
                                       source=f"status {status.name}" if status else "dialer", campaign_id=campaign.id)

    # --- agents -----------------------------------------------------------------------------

    async def _set_agent_state(self, agent: AgentLive, state: AgentState, reason: str | None = None) -> None:
        agent.state, agent.since = state, self.now()
        if agent.session_id is None:
            return
        async with self.db.transaction() as s:
            await store.change_agent_state(s, agent.session_id, agent.agent_id, state, agent.since, reason)

    async def on_agent_login(self, channel: ev.ChannelInfo, campaign_arg: str | None) -> None:
        agent = AgentLive(channel_id=channel.id, extension=channel.caller_number, name=channel.caller_name)
        if campaign_arg and campaign_arg.isdigit():
            agent.login_campaign = int(campaign_arg)
        self.agents[channel.id] = agent
        with contextlib.suppress(AriError):
            await self.ari.answer(channel.id)
        await self._play(channel.id, Prompt.PIN)
        self._later(20.0, Timer("pin", channel.id, agent.bump()))

    async def _check_pin(self, agent: AgentLive) -> None:
        """Verify off the event loop: argon2 costs ~0.1 s of CPU per PIN, and a team logging in at
        9:00 must not stall the calls already in progress."""
        pin, agent.digits = agent.digits, ""
        agent.bump()
        self._spawn(self._verify_pin(agent.channel_id, agent.extension, pin))

    async def _verify_pin(self, channel_id: str, extension: str, pin: str) -> None:
        """Two short transactions around the hash check: no pooled connection is held while argon2
        runs, or a team logging in at once would starve the event consumer of connections."""
        from ari_app.services.pins import verify_pin

        now = self.now()
        async with self.db.transaction() as s:
            row = await store.agent_by_extension(s, extension)
            facts = (row.id, row.display_name, row.pin_hash, row.active, row.locked_until) if row else None
        if facts is None:
            self.post(PinChecked(channel_id, None, "", False, False, frozenset()))
            return
        agent_id, name, pin_hash, active, locked_until = facts
        if locked_until and locked_until > now:
            self.post(PinChecked(channel_id, agent_id, name, False, True, frozenset()))
            return
        ok = active and await asyncio.to_thread(verify_pin, pin_hash, pin)
        async with self.db.transaction() as s:
            locked = await store.record_pin_result(s, agent_id, ok, now, lock_after=LOCKOUT_AFTER, lockout=LOCKOUT)
            campaigns = frozenset(await store.agent_campaigns(s, agent_id)) if ok else frozenset()
        self.post(PinChecked(channel_id, agent_id, name, ok, locked, campaigns))

    async def _pin_checked(self, agent: AgentLive, result: "PinChecked") -> None:
        locked, ok, campaigns = result.locked, result.ok, set(result.campaigns)
        now = self.now()
        if locked:
            log.warning("agent %s: login locked out", agent.extension)
            await self._play(agent.channel_id, Prompt.LOCKED, then=lambda: self._hangup(agent.channel_id))
            return
        if not ok:
            agent.pin_tries += 1
            log.info("agent %s: wrong PIN (%d)", agent.extension, agent.pin_tries)
            if agent.pin_tries >= PIN_MAX_TRIES:
                await self._play(agent.channel_id, Prompt.PIN_WRONG, then=lambda: self._hangup(agent.channel_id))
            else:
                await self._play(agent.channel_id, [Prompt.PIN_WRONG, Prompt.PIN])
                self._later(20.0, Timer("pin", agent.channel_id, agent.bump()))
            return
        if agent.login_campaign is not None:
            campaigns &= {agent.login_campaign}
        if not campaigns:
            await self._play(agent.channel_id, Prompt.NO_CAMPAIGN, then=lambda: self._hangup(agent.channel_id))
            return
        agent.agent_id, agent.name, agent.campaign_ids = result.agent_id, result.display_name, campaigns
        async with self.db.transaction() as s:
            agent.session_id = await store.open_agent_session(s, agent.agent_id, agent.channel_id, self.instance_id,
                                                              campaigns, now)
        # Any other live phone of this agent on this instance is replaced.
        for other in [a for a in self.agents.values() if a.agent_id == agent.agent_id and a is not agent]:
            self.agents.pop(other.channel_id, None)
            await self._hangup(other.channel_id)
        agent.bridge_id = f"agent-{agent.session_id}"
        try:
            await self.ari.create_bridge(agent.bridge_id)
            await self.ari.add_to_bridge(agent.bridge_id, [agent.channel_id])
        except AriError as exc:
            # No bridge, no calls: undo the login rather than leave a ready agent nobody can reach.
            log.warning("agent %s: login failed setting up the bridge (%s)", agent.extension, exc.message)
            await self.on_agent_gone(agent, f"bridge set-up failed: {exc.message}")
            await self._hangup(agent.channel_id)
            return
        agent.state, agent.since, agent.phase = AgentState.READY, now, Phase.IDLE
        agent.bump()
        log.info("agent %s logged in to campaigns %s", agent.extension, sorted(campaigns))
        await self._play(agent.channel_id, Prompt.LOGIN_OK)
        await self.supervision.on_agent_login(agent)
        if not await self._serve_waiting(agent):
            self._offer_waiting_callbacks(agent)

    async def on_agent_gone(self, agent: AgentLive, reason: str) -> None:
        self.agents.pop(agent.channel_id, None)
        agent.bump()
        call = agent.call
        if call is not None and call.state is not AttemptState.ENDED:
            # The customer must not stay alone in the bridge.
            await self._hangup(call.channel_id)
        if agent.phase in WRAP_UP_PHASES and call is not None:
            await self._end_wrapup(agent, "agent left during wrap-up")
        if agent.offer is not None:
            await self._release_offer(agent, top=True)
        if agent.session_id is not None:
            async with self.db.transaction() as s:
                await store.close_agent_sessions(s, agent.agent_id, self.now(), reason=reason)
        await self.supervision.on_agent_gone(agent)
        if agent.bridge_id:
            with contextlib.suppress(AriError, AriUnavailable):
                await self.ari.destroy_bridge(agent.bridge_id)
        log.info("agent %s logged out: %s", agent.extension, reason)

    async def on_agent_key(self, agent: AgentLive, digit: str) -> None:
        match agent.phase:
            case Phase.LOGIN:
                if digit == "#":
                    await self._check_pin(agent)
                elif digit.isdigit():
                    agent.digits += digit
            case Phase.IDLE:
                if digit == "*":
                    if agent.state is AgentState.PAUSED:
                        await self._agent_ready(agent, "unpaused by key")
                    else:
                        await self._set_agent_state(agent, AgentState.PAUSED, "paused by key")
                        await self._play(agent.channel_id, Prompt.PAUSED)
                elif digit == "0":
                    await self._play(agent.channel_id, Prompt.LOGGED_OUT, then=lambda: self._hangup(agent.channel_id))
            case Phase.OFFER:
                await self._offer_key(agent, digit)
            case Phase.ON_CALL:
                if digit == "#" and agent.call is not None:
                    await self._hangup(agent.call.channel_id)
                elif digit == "*":
                    agent.pause_requested = True
            case Phase.CALLING:
                if digit == "*":
                    agent.pause_requested = True
            case Phase.WRAP_UP:
                await self._wrapup_key(agent, digit)
            case Phase.DATE:
                await self._date_key(agent, digit)
            case Phase.CALLBACK_WHO:
                await self._callback_who_key(agent, digit)
            case Phase.CALLBACK_NUMBER:
                await self._callback_number_key(agent, digit)

    async def _agent_ready(self, agent: AgentLive, reason: str) -> None:
        agent.call, agent.offer, agent.pending_status, agent.digits = None, None, None, ""
        agent.pending_when = agent.callback = None
        agent.phase = Phase.IDLE
        agent.bump()
        if agent.pause_requested:
            agent.pause_requested = False
            await self._set_agent_state(agent, AgentState.PAUSED, "pause requested during the call")
            await self._play(agent.channel_id, Prompt.PAUSED)
            return
        await self._set_agent_state(agent, AgentState.READY, reason)
        if not await self._serve_waiting(agent):
            self._offer_waiting_callbacks(agent)

    def _offer_waiting_callbacks(self, agent: AgentLive) -> None:
        """A due callback waiting for an agent is re-examined as soon as one becomes ready."""
        for cb in list(self.waiting_callbacks.values()):
            if cb.campaign_id in agent.campaign_ids:
                self.post(CallbackDue(cb.id))

    # --- live control from the CLI (dialer agent pause|unpause|login|logout|end-wrapup) ------

    async def _refresh_agent_campaigns(self) -> None:
        """Assignments an admin changed reach the live sessions within a reload."""
        live = [a for a in self.agents.values() if a.session_id]
        if not live:
            return
        async with self.db.transaction() as s:
            assigned = await store.assigned_campaigns(s, [a.agent_id for a in live])
            for agent in live:
                wanted = (assigned.get(agent.agent_id, set()) | agent.extra_campaigns)
                if agent.login_campaign is not None:
                    wanted &= {agent.login_campaign} | agent.extra_campaigns
                if wanted != agent.campaign_ids:
                    agent.campaign_ids = wanted
                    await store.set_session_campaigns(s, agent.session_id, wanted)

    async def _run_agent_commands(self, now: dt.datetime) -> None:
        by_id = {a.agent_id: a for a in self.agents.values() if a.session_id}
        if not by_id:
            return
        async with self.db.transaction() as s:
            commands = await store.open_agent_commands(s, list(by_id))
            results = []
            for cmd in commands:
                results.append((cmd.id, await self._agent_command(by_id[cmd.agent_id], cmd)))
            for cid, result in results:
                await store.finish_agent_command(s, cid, result, now)

    async def _save_session_campaigns(self, agent: AgentLive) -> None:
        """The session row says which campaigns the agent works now (`dialer monitor` shows it)."""
        async with self.db.transaction() as s:
            await store.set_session_campaigns(s, agent.session_id, agent.campaign_ids)

    async def _agent_command(self, agent: AgentLive, cmd) -> str:
        reason = cmd.reason or f"{cmd.command} by supervisor"
        match cmd.command:
            case "pause":
                if agent.phase is Phase.IDLE and agent.state is AgentState.READY:
                    await self._set_agent_state(agent, AgentState.PAUSED, reason)
                    await self._play(agent.channel_id, Prompt.PAUSED)
                    return "paused"
                if agent.state is AgentState.PAUSED:
                    return "already paused"
                agent.pause_requested = True
                return "will pause when the current call ends"
            case "unpause":
                if agent.state is AgentState.PAUSED and agent.phase is Phase.IDLE:
                    agent.pause_requested = False
                    await self._agent_ready(agent, reason)
                    return "ready"
                agent.pause_requested = False
                return "not paused"
            case "end-wrapup":
                if agent.phase in WRAP_UP_PHASES:
                    await self._end_wrapup(agent, reason)
                    return "wrap-up ended"
                return "not in wrap-up"
            case "login":
                if cmd.campaign_id is None:
                    return "no campaign given"
                agent.extra_campaigns.add(cmd.campaign_id)
                agent.campaign_ids.add(cmd.campaign_id)
                await self._save_session_campaigns(agent)
                return "logged in to campaign"
            case "logout":
                if cmd.campaign_id is not None:
                    agent.extra_campaigns.discard(cmd.campaign_id)
                    agent.campaign_ids.discard(cmd.campaign_id)
                    await self._save_session_campaigns(agent)
                    if agent.login_campaign == cmd.campaign_id or not agent.campaign_ids:
                        await self._hangup(agent.channel_id)
                    return "logged out of campaign"
                await self._play(agent.channel_id, Prompt.LOGGED_OUT, then=lambda: self._hangup(agent.channel_id))
                return "logged out"
        return f"unknown command {cmd.command}"

    # --- callbacks --------------------------------------------------------------------------

    def _agent_for_callback(self, cb: "store.DueCallback", campaign: CampaignConfig, now: dt.datetime) -> AgentLive | None:
        idle = [a for a in self.agents.values() if a.session_id and campaign.id in a.campaign_ids
                and a.state is AgentState.READY and a.phase is Phase.IDLE]
        if cb.owner_agent_id is not None:
            owner = next((a for a in idle if a.agent_id == cb.owner_agent_id), None)
            grace_over = now >= cb.due_at + dt.timedelta(seconds=campaign.callback_grace_seconds)
            if owner is not None or not (cb.escalate and grace_over):
                return owner
        if not idle:
            return None
        return min(idle, key=lambda a: a.since or now)

    async def on_callback_due(self, callback_id: int) -> None:
        now = self.now()
        async with self.db.transaction() as s:
            cb = await store.load_callback(s, callback_id)
        if cb is None or cb.state != "pending":
            self.waiting_callbacks.pop(callback_id, None)
            return
        campaign = self.campaigns.get(cb.campaign_id)
        if campaign is None or campaign.state is not CampaignState.ACTIVE \
                or not schedule_open(campaign.schedule, campaign.timezone, now) \
                or not campaign.calling_hours.allows(cb.timezone or campaign.timezone, now):
            self.waiting_callbacks[callback_id] = cb
            self._later(30.0, CallbackDue(callback_id))
            return
        agent = self._agent_for_callback(cb, campaign, now)
        if agent is None:
            first_wait = callback_id not in self.waiting_callbacks
            self.waiting_callbacks[callback_id] = cb
            if first_wait and cb.owner_agent_id is not None and cb.escalate:
                grace_end = cb.due_at + dt.timedelta(seconds=campaign.callback_grace_seconds)
                self._later((grace_end - now).total_seconds() + 0.05, CallbackDue(callback_id))
            return
        try:
            async with self.db.transaction() as s:
                attempt = await store.fire_callback(s, cb, campaign, agent_id=agent.agent_id,
                                                    instance_id=self.instance_id, now=now, rng=self.rng)
        except IntegrityError:
            # A call to that number is still open (another campaign or instance): try again shortly.
            self._later(10.0, CallbackDue(callback_id))
            return
        self.waiting_callbacks.pop(callback_id, None)
        if attempt is None:
            return  # another instance fired it
        log.info("callback %s fired for agent %s (due %s)", cb.id, agent.extension, cb.due_at.isoformat())
        personal = cb.owner_agent_id is not None and cb.owner_agent_id == agent.agent_id
        media = [Prompt.PERSONAL_CALLBACK if personal else Prompt.CALLBACK, *Prompt.digits(cb.phone_e164)]
        await self._play(agent.channel_id, media)
        await self._start_agent_call(agent, campaign, attempt, cb.timezone)

    # --- wrap-up and statuses ---------------------------------------------------------------

    async def _start_wrapup(self, agent: AgentLive, campaign: CampaignConfig | None) -> None:
        agent.phase, agent.digits = Phase.WRAP_UP, ""
        await self._set_agent_state(agent, AgentState.WRAP_UP, f"attempt {agent.call.attempt_id if agent.call else '?'}")
        await self._play(agent.channel_id, Prompt.STATUS)
        seconds = campaign.wrapup_seconds if campaign else 30
        self._later(seconds, Timer("wrapup", agent.channel_id, agent.bump()))

    async def _wrapup_key(self, agent: AgentLive, digit: str) -> None:
        if digit == "*":
            agent.pause_requested = True
            return
        if digit != "#":
            agent.digits += digit
            return
        code, agent.digits = agent.digits, ""
        campaign = self.campaigns.get(agent.call.campaign_id) if agent.call else None
        status = campaign.status_by_code(code) if campaign else None
        if status is None:
            log.info("agent %s keyed unknown status code %r", agent.extension, code)
            await self._play(agent.channel_id, [Prompt.STATUS_INVALID, Prompt.STATUS])
            return
        if status.system_status in (SystemStatus.NOT_BEFORE, SystemStatus.MY_RECORD):
            agent.phase, agent.pending_status = Phase.DATE, status
            await self._play(agent.channel_id, Prompt.DATE)
            return
        await self._dispose(agent, status)

    async def _date_key(self, agent: AgentLive, digit: str) -> None:
        """Keyed YYYYMMDDHHMM# in the contact's time; read back; 1 confirms, 2 keys it again."""
        call = agent.call
        campaign = self.campaigns.get(call.campaign_id) if call else None
        if agent.pending_when is not None:  # waiting for the confirmation
            if digit == "1":
                when, agent.pending_when = agent.pending_when, None
                if agent.pending_status is not None and agent.pending_status.system_status is SystemStatus.MY_RECORD:
                    agent.callback, agent.phase = CallbackDraft(when), Phase.CALLBACK_WHO
                    await self._play(agent.channel_id, Prompt.CALLBACK_WHO)
                else:
                    await self._dispose(agent, agent.pending_status, when=when)
            elif digit == "2":
                agent.pending_when, agent.digits = None, ""
                await self._play(agent.channel_id, Prompt.DATE)
            return
        if digit != "#":
            agent.digits += digit
            return
        text, agent.digits = agent.digits, ""
        tz = (call.timezone if call else None) or (campaign.timezone if campaign else "UTC")
        when = parse_keyed_datetime(text, tz)
        if when is None:
            await self._play(agent.channel_id, [Prompt.DATE_INVALID, Prompt.DATE])
        elif when <= self.now():
            await self._play(agent.channel_id, [Prompt.DATE_PAST, Prompt.DATE])
        elif campaign is not None and not campaign.calling_hours.allows(tz, when):
            await self._play(agent.channel_id, [Prompt.DATE_OUTSIDE_HOURS, Prompt.DATE])
        else:
            agent.pending_when = when
            await self._play(agent.channel_id, [Prompt.DATE_READBACK, *Prompt.digits(text), Prompt.DATE_CONFIRM])

    async def _callback_who_key(self, agent: AgentLive, digit: str) -> None:
        """1: the callback is the agent's own; 2: any agent of the campaign may take it."""
        if digit not in ("1", "2") or agent.callback is None:
            return
        agent.callback.personal = digit == "1"
        agent.phase, agent.digits = Phase.CALLBACK_NUMBER, ""
        await self._play(agent.channel_id, Prompt.CALLBACK_NUMBER)

    async def _callback_number_key(self, agent: AgentLive, digit: str) -> None:
        """# alone keeps the entry's number; another number then # is read back, 1 confirms, 2 keys it again."""
        draft = agent.callback
        if draft is None:
            return
        if draft.keyed is not None:
            if digit == "1":
                draft.phone, draft.keyed = draft.keyed, None
                await self._dispose_callback(agent, "callback keyed")
            elif digit == "2":
                draft.keyed, agent.digits = None, ""
                await self._play(agent.channel_id, Prompt.CALLBACK_NUMBER)
            return
        if digit != "#":
            if digit.isdigit():
                agent.digits += digit
            return
        keyed, agent.digits = agent.digits, ""
        if not keyed:
            await self._dispose_callback(agent, "callback keyed")
            return
        campaign = self.campaigns.get(agent.call.campaign_id) if agent.call else None
        try:
            e164 = normalise_one(keyed, campaign.default_region if campaign else "US")
        except PhoneError:
            await self._play(agent.channel_id, [Prompt.NUMBER_INVALID, Prompt.CALLBACK_NUMBER])
            return
        async with self.db.transaction() as s:
            listed = await store.on_dnc(s, e164)
        if listed:
            await self._play(agent.channel_id, [Prompt.NUMBER_DNC, Prompt.CALLBACK_NUMBER])
            return
        draft.keyed = e164
        await self._play(agent.channel_id, [Prompt.DATE_READBACK, *Prompt.digits(e164), Prompt.DATE_CONFIRM])

    async def _end_wrapup(self, agent: AgentLive, reason: str) -> None:
        """Wrap-up ended without a status keyed to the end: the campaign's default status, unless a
        callback's time was already confirmed, which is kept (personal, same number, unless keyed)."""
        if agent.callback is not None:
            await self._dispose_callback(agent, reason)
        else:
            await self._dispose(agent, None, reason=reason)

    async def _dispose_callback(self, agent: AgentLive, reason: str) -> None:
        draft = agent.callback
        await self._dispose(agent, agent.pending_status, when=draft.when, personal=draft.personal,
                            callback_phone=draft.phone, reason=reason)

    async def _dispose(self, agent: AgentLive, status: StatusView | None, *, when: dt.datetime | None = None,
                       personal: bool = True, callback_phone: str | None = None, reason: str = "") -> None:
        agent.callback = agent.pending_when = None
        call = agent.call
        campaign = self.campaigns.get(call.campaign_id) if call else None
        if call is None or campaign is None:
            await self._agent_ready(agent, "wrap-up without a call")
            return
        if status is None or (status.system_status in (SystemStatus.NOT_BEFORE, SystemStatus.MY_RECORD) and when is None):
            status = campaign.default_status
        now = self.now()
        async with self.db.transaction() as s:
            await store.set_disposition(s, call.attempt_id, status.id if status else None, now)
            await self._apply(s, campaign, call, Outcome.ANSWERED, status, now, agent_id=agent.agent_id, when=when,
                              personal=personal, callback_phone=callback_phone)
        log.info("attempt %s: agent %s gave status %s%s", call.attempt_id, agent.extension,
                 status.name if status else None, f" ({reason})" if reason else "")
        if agent.channel_id in self.agents:
            await self._play(agent.channel_id, Prompt.STATUS_SAVED)
            await self._agent_ready(agent, "status given")

    # --- preview and push-preview -----------------------------------------------------------

    async def offer_record(self, agent: AgentLive, campaign: CampaignConfig, now: dt.datetime) -> None:
        async with self.db.transaction() as s:
            entries = await claim_entries(s, limit=1, guaranteed=True, for_agent=agent.agent_id,
                                          new_state=EntryState.RESERVED, **self._claim_kwargs(campaign, now))
        if not entries:
            return
        entry = entries[0]
        push = campaign.mode is CampaignMode.PUSH_PREVIEW
        agent.offer = Offer(campaign.id, entry, push)
        agent.phase = Phase.OFFER
        await self._set_agent_state(agent, AgentState.RESERVED, f"entry {entry.id}")
        media = [Prompt.PUSH if push else Prompt.PREVIEW]
        if entry.owner_agent_id is not None:
            media.append(Prompt.CALLBACK)
        media.extend(Prompt.digits(entry.phone_e164))
        prompt = await self._play(agent.channel_id, media)
        if prompt is not None:
            self._offer_prompts[agent.channel_id] = prompt
        token = agent.bump()
        if push:
            self._later(campaign.push_timeout_seconds, Timer("push", agent.channel_id, token))
        else:
            self._later(campaign.bcw_seconds, Timer("bcw", agent.channel_id, token))

    async def _offer_key(self, agent: AgentLive, digit: str) -> None:
        offer = agent.offer
        if offer is None:
            return
        if digit == "1":
            agent.push_timeouts = 0
            await self._dial_offer(agent)
        elif digit == "2":
            await self._release_offer(agent, top=offer.push)
            await self._agent_ready(agent, "record skipped" if not offer.push else "record rejected")
        elif digit == "3" and not offer.push:
            now = self.now()
            async with self.db.transaction() as s:
                await store.add_to_dnc(s, offer.entry.phone_e164, source=f"agent {agent.extension} (preview)", now=now)
                await store.set_entry_state(s, offer.entry.id, EntryState.DNC, now, offer.campaign_id)
            await self._stop_offer_prompt(agent)
            await self._agent_ready(agent, "record marked do-not-call")

    async def _stop_offer_prompt(self, agent: AgentLive) -> None:
        """An offer is over (taken, skipped, timed out): the rest of its announcement is stale.
        Asterisk plays a channel's prompts one after another, so left alone it would still be read
        out, ahead of the next record's, long after the agent answered it."""
        prompt = self._offer_prompts.pop(agent.channel_id, None)
        if prompt is not None:
            with contextlib.suppress(AriError):  # 404: it had finished
                await self.ari.stop_playback(prompt)

    async def _release_offer(self, agent: AgentLive, *, top: bool) -> None:
        await self._stop_offer_prompt(agent)
        offer, agent.offer = agent.offer, None
        if offer is None:
            return
        now = self.now()
        async with self.db.transaction() as s:
            if top:  # back to the top of the list
                await store.release_entry(s, offer.entry.id, now=now, next_attempt_at=None, priority_delta=1,
                                          campaign_id=offer.campaign_id)
            else:  # skipped: later
                await store.release_entry(s, offer.entry.id, now=now, next_attempt_at=now + SKIP_DELAY,
                                          campaign_id=offer.campaign_id)

    async def _dial_offer(self, agent: AgentLive) -> None:
        await self._stop_offer_prompt(agent)
        offer, agent.offer = agent.offer, None
        campaign = self.campaigns.get(offer.campaign_id)
        now = self.now()
        async with self.db.transaction() as s:
            # The list first: a number listed while the agent held its record may also have been the
            # campaign's last, and the campaign completed meanwhile; the agent still hears why.
            listed = await store.on_dnc(s, offer.entry.phone_e164)
            if listed:
                await store.set_entry_state(s, offer.entry.id, EntryState.DNC, now, offer.campaign_id)
            elif campaign is not None:
                await store.set_entry_state(s, offer.entry.id, EntryState.DIALING, now, offer.campaign_id)
                attempts = await store.create_attempts(s, campaign, [offer.entry], instance_id=self.instance_id,
                                                       now=now, rng=self.rng, agent_id=agent.agent_id)
        if listed:
            await self._play(agent.channel_id, Prompt.NUMBER_DNC)
            await self._agent_ready(agent, "record put on the do-not-call list while offered")
            return
        if campaign is None:
            await self._agent_ready(agent, "campaign no longer active")
            return
        await self._start_agent_call(agent, campaign, attempts[0], offer.entry.timezone)

    async def _start_agent_call(self, agent: AgentLive, campaign: CampaignConfig, att: "store.NewAttempt",
                                timezone: str | None) -> None:
        """Originate a call that belongs to one agent (preview, push-preview, callback): no abandon risk."""
        call = CallLive(att.id, att.channel_id, campaign.id, att.entry_id, att.phone_e164, timezone, self.now(),
                        reserved_for=agent.agent_id)
        self.calls[call.channel_id] = call
        agent.call, agent.phase, agent.offer = call, Phase.CALLING, None
        agent.bump()
        if agent.state is not AgentState.RESERVED:
            await self._set_agent_state(agent, AgentState.RESERVED, f"attempt {att.id}")
        self._spawn(self._originate(campaign, call, att.caller_id))

    # --- timers -----------------------------------------------------------------------------

    async def on_timer(self, kind: str, key: Any, token: int) -> None:
        if kind == "abandon":
            call = self.calls.get(key)
            if call is not None:
                await self._abandon(call)
            return
        agent = self.agents.get(key)
        if agent is None or agent.token != token:
            return  # the phase it was set for is over
        match kind:
            case "pin" if agent.phase is Phase.LOGIN:
                await self._play(agent.channel_id, Prompt.PIN_WRONG, then=lambda: self._hangup(agent.channel_id))
            case "bcw" if agent.phase is Phase.OFFER:
                await self._dial_offer(agent)  # BCW limit: dial without a key
            case "push" if agent.phase is Phase.OFFER:
                agent.push_timeouts += 1
                await self._release_offer(agent, top=True)
                if agent.push_timeouts >= PUSH_TIMEOUTS_BEFORE_INACTIVE:
                    agent.push_timeouts = 0
                    agent.phase = Phase.IDLE
                    await self._set_agent_state(agent, AgentState.PAUSED, "inactive: push-preview timeouts")
                    await self._play(agent.channel_id, Prompt.PAUSED)
                else:
                    await self._agent_ready(agent, "push-preview timeout")
            case "wrapup" if agent.phase in WRAP_UP_PHASES:
                await self._end_wrapup(agent, "wrap-up time over")


def parse_keyed_datetime(text: str, tz: str) -> dt.datetime | None:
    """YYYYMMDDHHMM keyed on the phone, in the contact's zone."""
    if len(text) != 12 or not text.isdigit():
        return None
    try:
        local = dt.datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]))
    except ValueError:
        return None
    return local.replace(tzinfo=zone(tz)).astimezone(dt.timezone.utc)

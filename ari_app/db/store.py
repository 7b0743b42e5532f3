"""The runtime's units of work on the database. Each function runs inside the caller's transaction."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ari_app.db.claim import ClaimedEntry
from ari_app.db.tables import (
    Agent,
    AgentGroup,
    AgentSession,
    AgentStateChange,
    Attempt,
    Campaign,
    CampaignAgent,
    CampaignEntry,
    CampaignStatus,
    DncNumber,
)
from ari_app.domain.campaign import CampaignConfig
from ari_app.domain.enums import (
    AbandonWindow,
    AgentState,
    CallerIdRotation,
    CampaignMode,
    CampaignState,
    EntryState,
    Goal,
    Outcome,
    SystemStatus,
)
from ari_app.domain.status_effects import EntryFacts, EntryUpdate, StatusView
from ari_app.domain.time_rules import CallingHours


async def load_campaigns(session: AsyncSession, states: Sequence[str] = ("active", "paused")) -> list[CampaignConfig]:
    campaigns = (await session.execute(select(Campaign).where(Campaign.state.in_(states)))).scalars().all()
    if not campaigns:
        return []
    ids = [c.id for c in campaigns]
    statuses: dict[int, list[StatusView]] = {cid: [] for cid in ids}
    # campaigns.default_status_id names a dictionary status; the runtime needs the campaign's copy.
    by_dictionary: dict[tuple[int, int], int] = {}
    for st in (await session.execute(select(CampaignStatus).where(CampaignStatus.campaign_id.in_(ids)))).scalars():
        statuses[st.campaign_id].append(
            StatusView(st.id, st.name, SystemStatus(st.system_status), tuple(st.auto_on or ()), st.dtmf_code)
        )
        if st.status_id is not None:
            by_dictionary[(st.campaign_id, st.status_id)] = st.id
    agents: dict[int, set[int]] = {cid: set() for cid in ids}
    for cid, aid in (await session.execute(select(CampaignAgent.campaign_id, CampaignAgent.agent_id).where(CampaignAgent.campaign_id.in_(ids)))).all():
        agents[cid].add(aid)
    routing = {c.id: c.routing_group_id for c in campaigns if c.routing_group_id}
    if routing:
        rows = (await session.execute(select(AgentGroup.group_id, AgentGroup.agent_id).where(AgentGroup.group_id.in_(set(routing.values()))))).all()
        for cid, gid in routing.items():
            agents[cid].update(aid for g, aid in rows if g == gid)
    out = []
    for c in campaigns:
        out.append(
            CampaignConfig(
                id=c.id, name=c.name, mode=CampaignMode(c.mode), state=CampaignState(c.state), goal=Goal(c.goal),
                timezone=c.timezone, schedule=c.schedule or {},
                calling_hours=CallingHours(c.calling_hours_start, c.calling_hours_end),
                dial_template=c.dial_template, caller_ids=tuple(c.caller_ids or ()),
                caller_id_rotation=CallerIdRotation(c.caller_id_rotation),
                ring_timeout_seconds=c.ring_timeout_seconds, max_attempts=c.max_attempts,
                retry_rules=c.retry_rules or {}, wrapup_seconds=c.wrapup_seconds, bcw_seconds=c.bcw_seconds,
                push_timeout_seconds=c.push_timeout_seconds, pickup_rate=c.pickup_rate,
                target_abandon_rate=c.target_abandon_rate, abandon_window=AbandonWindow(c.abandon_window),
                max_lines_per_agent=c.max_lines_per_agent, abandon_message=c.abandon_message,
                machine_action=c.machine_action, machine_message=c.machine_message, amd_enabled=c.amd_enabled,
                default_status_id=by_dictionary.get((c.id, c.default_status_id)),
                callback_grace_seconds=int((c.options or {}).get("callback_grace_seconds", 300)),
                supervisor_tone=bool((c.options or {}).get("supervisor_tone", False)),
                rule_72h=bool((c.options or {}).get("rule_72h", False)),
                region_rules=tuple((c.options or {}).get("region_rules") or ()),
                default_region=c.default_region or "US",
                statuses=tuple(statuses[c.id]), agent_ids=frozenset(agents[c.id]),
            )
        )
    return out


@dataclass(frozen=True)
class NewAttempt:
    id: int
    channel_id: str
    entry_id: int
    phone_e164: str
    caller_id: str | None


async def create_attempts(
    session: AsyncSession,
    campaign: CampaignConfig,
    entries: Sequence[ClaimedEntry],
    *,
    instance_id: str,
    now: dt.datetime,
    rng: random.Random,
    agent_id: int | None = None,
) -> list[NewAttempt]:
    """Write one attempt row per claimed entry (committed by the caller before any originate)."""
    if not entries:
        return []
    rows = [
        {
            "entry_id": e.id,
            "campaign_id": campaign.id,
            "contact_id": e.contact_id,
            "phone_e164": e.phone_e164,
            "channel_id": f"dialer-{uuid.uuid4().hex}",
            "caller_id": campaign.caller_id(rng),
            "state": "created",
            "instance_id": instance_id,
            "created_at": now,
            "originated_at": now,
            "agent_id": agent_id,
        }
        for e in entries
    ]
    result = await session.execute(
        insert(Attempt).returning(Attempt.id, Attempt.channel_id, Attempt.entry_id, Attempt.phone_e164, Attempt.caller_id),
        rows,
    )
    await session.execute(
        update(CampaignEntry)
        .where(CampaignEntry.campaign_id == campaign.id, CampaignEntry.id.in_([e.id for e in entries]))
        .values(attempts=CampaignEntry.attempts + 1, updated_at=now)
    )
    return [NewAttempt(*r) for r in result.all()]


async def mark_attempt(session: AsyncSession, attempt_id: int, **values) -> None:
    await session.execute(update(Attempt).where(Attempt.id == attempt_id).values(**values))


async def close_attempt(
    session: AsyncSession,
    attempt_id: int,
    *,
    now: dt.datetime,
    outcome: Outcome,
    cause: int | None,
    cause_txt: str | None,
    dialstatus: str | None,
    abandoned: bool,
    agent_id: int | None,
    answered_at: dt.datetime | None = None,
    connected_at: dt.datetime | None = None,
) -> None:
    values = dict(
        ended_at=now, outcome=str(outcome), hangup_cause=cause, hangup_cause_txt=cause_txt,
        dialstatus=dialstatus or None, abandoned=abandoned, agent_id=agent_id, state="ended",
    )
    if answered_at is not None:
        values["answered_at"] = answered_at
    if connected_at is not None:
        values["connected_at"] = connected_at
    await session.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.ended_at.is_(None)).values(**values))


def _entry(entry_id: int, campaign_id: int | None):
    """The condition for one entry: with its campaign, PostgreSQL plans and probes that campaign's
    partition only (with 100 campaigns, an update by id alone took 1.9 ms instead of 0.9)."""
    if campaign_id is None:
        return CampaignEntry.id == entry_id
    return and_(CampaignEntry.id == entry_id, CampaignEntry.campaign_id == campaign_id)


async def _update_entry(session: AsyncSession, entry_id: int, campaign_id: int | None, **values) -> None:
    """Update one entry, looked up in ``campaign_id``'s partition; an entry moved to another
    campaign meanwhile (a preview record held by an agent can be) is found by its id alone."""
    result = await session.execute(update(CampaignEntry).where(_entry(entry_id, campaign_id)).values(**values))
    if result.rowcount == 0 and campaign_id is not None:
        await session.execute(update(CampaignEntry).where(CampaignEntry.id == entry_id).values(**values))


async def entry_facts(session: AsyncSession, entry_id: int, outcome: Outcome, max_attempts: int,
                      campaign_id: int | None = None) -> EntryFacts:
    attempts = (await session.execute(select(CampaignEntry.attempts).where(_entry(entry_id, campaign_id)))).scalar()
    if attempts is None:  # moved meanwhile
        attempts = (await session.execute(select(CampaignEntry.attempts).where(CampaignEntry.id == entry_id))).scalar_one()
    count = (await session.execute(text("select count(*) from attempts where entry_id = :id and outcome = :o"),
                                   {"id": entry_id, "o": str(outcome)})).scalar_one()
    return EntryFacts(attempts=attempts, max_attempts=max_attempts, outcome_count=count)


async def apply_entry_update(
    session: AsyncSession,
    entry_id: int,
    upd: EntryUpdate,
    *,
    now: dt.datetime,
    outcome: Outcome | None,
    status_id: int | None,
    phone_e164: str,
    source: str,
    campaign_id: int | None = None,
) -> None:
    values = dict(
        state=str(upd.state), next_attempt_at=upd.next_attempt_at, progressive_only=upd.progressive_only,
        lease_owner=None, lease_until=None, updated_at=now, last_status_id=status_id,
    )
    if outcome is not None:
        values["last_outcome"] = str(outcome)
    if upd.not_before is not None:
        values["not_before"] = upd.not_before
    if upd.owner_agent_id is not None or upd.callback_at is not None:
        values["owner_agent_id"] = upd.owner_agent_id  # a callback for any agent clears an earlier owner
    await _update_entry(session, entry_id, campaign_id, **values)
    if upd.add_to_dnc:
        await add_to_dnc(session, phone_e164, source=source, now=now)
    if upd.callback_at is not None:
        await session.execute(text(
            "insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id, created_by) "
            "select campaign_id, id, contact_id, :p, :due, :owner, :by from campaign_entries where id = :e"),
            {"p": upd.callback_phone or phone_e164, "due": upd.callback_at, "owner": upd.owner_agent_id, "by": source,
             "e": entry_id})


async def on_dnc(session: AsyncSession, e164: str) -> bool:
    return (await session.execute(text("select 1 from dnc_numbers where e164 = :p limit 1"), {"p": e164})).first() is not None


_MARK_DNC_ENTRIES = text(
    "update campaign_entries set state = 'dnc', updated_at = :now "
    "where phone_e164 = any(:phones) and state not in ('dnc', 'dialing')"
)
_CANCEL_DNC_CALLBACKS = text(
    "update callbacks set state = 'cancelled', cancelled_reason = 'number on do-not-call list' "
    "where phone_e164 = any(:phones) and state = 'pending'"
)


async def mark_dnc(session: AsyncSession, phones: list[str], now: dt.datetime) -> tuple[int, int]:
    """Numbers just put on a do-not-call list: every campaign stops dialling them at once (an entry
    whose call is open stays the dialer's until hang-up) and their pending callbacks are cancelled.
    One rule for the CLI and the runtime. Returns (entries marked, callbacks cancelled)."""
    marked = (await session.execute(_MARK_DNC_ENTRIES, {"phones": phones, "now": now})).rowcount
    cancelled = (await session.execute(_CANCEL_DNC_CALLBACKS, {"phones": phones})).rowcount
    return marked, cancelled


async def add_to_dnc(session: AsyncSession, e164: str, *, source: str, now: dt.datetime) -> None:
    await session.execute(
        text(
            "insert into dnc_numbers (list_id, e164, source, added_at) "
            "select id, :p, :s, :now from dnc_lists where name = 'default' on conflict do nothing"
        ),
        {"p": e164, "s": source, "now": now},
    )
    await mark_dnc(session, [e164], now)


async def set_disposition(session: AsyncSession, attempt_id: int, status_id: int | None, now: dt.datetime) -> None:
    await session.execute(
        update(Attempt).where(Attempt.id == attempt_id).values(disposition_status_id=status_id, disposition_at=now)
    )


async def release_entry(session: AsyncSession, entry_id: int, *, now: dt.datetime, next_attempt_at: dt.datetime | None,
                        priority_delta: int = 0, undo_attempt: bool = False, campaign_id: int | None = None) -> None:
    values = dict(state="ready", lease_owner=None, lease_until=None, updated_at=now, next_attempt_at=next_attempt_at,
                  priority=CampaignEntry.priority + priority_delta)
    await _update_entry(session, entry_id, campaign_id, **values)


# --- agents -----------------------------------------------------------------------------------


async def agent_by_extension(session: AsyncSession, extension: str) -> Agent | None:
    return (await session.execute(select(Agent).where(Agent.extension == extension))).scalar_one_or_none()


async def open_agent_session(
    session: AsyncSession, agent_id: int, channel_id: str, instance_id: str, campaign_ids: Iterable[int], now: dt.datetime
) -> int:
    # A session left open by a crash or another phone is closed first: one open session per agent.
    await close_agent_sessions(session, agent_id, now, reason="replaced by a new login")
    session_id = (
        await session.execute(
            insert(AgentSession)
            .values(agent_id=agent_id, channel_id=channel_id, instance_id=instance_id, state=str(AgentState.READY),
                    state_since=now, campaign_ids=sorted(campaign_ids), logged_in_at=now)
            .returning(AgentSession.id)
        )
    ).scalar_one()
    await session.execute(insert(AgentStateChange).values(session_id=session_id, agent_id=agent_id,
                                                          state=str(AgentState.READY), at=now, reason="login"))
    return session_id


async def change_agent_state(session: AsyncSession, session_id: int, agent_id: int, state: AgentState,
                             now: dt.datetime, reason: str | None = None) -> None:
    await session.execute(update(AgentSession).where(AgentSession.id == session_id).values(state=str(state), state_since=now))
    await session.execute(insert(AgentStateChange).values(session_id=session_id, agent_id=agent_id, state=str(state),
                                                          at=now, reason=reason))


async def close_agent_sessions(session: AsyncSession, agent_id: int, now: dt.datetime, reason: str) -> None:
    rows = (await session.execute(
        update(AgentSession).where(AgentSession.agent_id == agent_id, AgentSession.logged_out_at.is_(None))
        .values(logged_out_at=now, state=str(AgentState.LOGGED_OUT), state_since=now).returning(AgentSession.id)
    )).scalars().all()
    for sid in rows:
        await session.execute(insert(AgentStateChange).values(session_id=sid, agent_id=agent_id,
                                                              state=str(AgentState.LOGGED_OUT), at=now, reason=reason))


async def agent_campaigns(session: AsyncSession, agent_id: int) -> set[int]:
    """Active or paused campaigns the agent takes calls for: assigned, or routed to one of its groups."""
    rows = await session.execute(
        text(
            "select c.id from campaigns c where c.state in ('active','paused') and ("
            " exists(select 1 from campaign_agents ca where ca.campaign_id = c.id and ca.agent_id = :a) or"
            " exists(select 1 from agent_groups g where g.group_id = c.routing_group_id and g.agent_id = :a))"
        ),
        {"a": agent_id},
    )
    return {r[0] for r in rows}


# --- pacing and reconcile ---------------------------------------------------------------------


async def abandon_ledger(session: AsyncSession, campaign_id: int, since: dt.datetime) -> tuple[int, int]:
    """(live answers, abandons) in the compliance window: machines are not live answers."""
    row = (
        await session.execute(
            text(
                "select count(*) filter (where outcome in ('answered','abandoned')), "
                "count(*) filter (where abandoned) from attempts where campaign_id = :c and ended_at >= :s"
            ),
            {"c": campaign_id, "s": since},
        )
    ).one()
    return int(row[0]), int(row[1])


async def recent_finished(session: AsyncSession, campaign_id: int, limit: int = 2000) -> list[Attempt]:
    rows = await session.execute(
        select(Attempt).where(Attempt.campaign_id == campaign_id, Attempt.ended_at.is_not(None))
        .order_by(Attempt.ended_at.desc()).limit(limit)
    )
    return list(reversed(rows.scalars().all()))


async def open_attempts(session: AsyncSession, instance_id: str) -> list[Attempt]:
    rows = await session.execute(select(Attempt).where(Attempt.ended_at.is_(None), Attempt.instance_id == instance_id))
    return list(rows.scalars().all())


async def open_sessions(session: AsyncSession, instance_id: str) -> list[AgentSession]:
    rows = await session.execute(
        select(AgentSession).where(AgentSession.logged_out_at.is_(None), AgentSession.instance_id == instance_id)
    )
    return list(rows.scalars().all())


async def complete_exhausted_campaigns(session: AsyncSession, now: dt.datetime) -> list[int]:
    """Goal `exhaust`: an active campaign with no entry left to dial and no open call completes."""
    rows = await session.execute(
        text(
            "update campaigns c set state = 'completed', updated_at = :now "
            "where c.state = 'active' and c.goal = 'exhaust' "
            # two checks, each answered by an index (the claim's, and ix_entries_in_flight)
            "and not exists (select 1 from campaign_entries e where e.campaign_id = c.id and e.state = 'ready') "
            "and not exists (select 1 from campaign_entries e where e.campaign_id = c.id "
            "                and e.state in ('reserved','dialing','callback')) "
            "and not exists (select 1 from attempts a where a.campaign_id = c.id and a.ended_at is null) "
            "and exists (select 1 from campaign_entries e where e.campaign_id = c.id) "
            "returning c.id"
        ),
        {"now": now},
    )
    return [r[0] for r in rows]


async def set_entry_state(session: AsyncSession, entry_id: int, state: EntryState, now: dt.datetime,
                          campaign_id: int | None = None) -> None:
    await _update_entry(session, entry_id, campaign_id, state=str(state), updated_at=now)


@dataclass(frozen=True)
class DueCallback:
    id: int
    campaign_id: int
    entry_id: int
    contact_id: int
    phone_e164: str
    due_at: dt.datetime
    owner_agent_id: int | None
    escalate: bool
    timezone: str | None
    state: str


async def load_callback(session: AsyncSession, callback_id: int) -> DueCallback | None:
    row = (await session.execute(text(
        "select cb.id, cb.campaign_id, cb.entry_id, cb.contact_id, cb.phone_e164, cb.due_at, cb.owner_agent_id, "
        "cb.escalate, e.timezone, cb.state from callbacks cb "
        "join campaign_entries e on e.id = cb.entry_id and e.campaign_id = cb.campaign_id "  # they move together
        "where cb.id = :id"), {"id": callback_id})).first()
    return DueCallback(*row) if row else None


async def fire_callback(session: AsyncSession, cb: DueCallback, campaign: CampaignConfig, *, agent_id: int,
                        instance_id: str, now: dt.datetime, rng: random.Random) -> NewAttempt | None:
    """pending -> fired and the attempt row, in one transaction: a callback fires exactly once."""
    won = (await session.execute(text(
        "update callbacks set state = 'fired', fired_at = :now where id = :id and state = 'pending' returning id"),
        {"id": cb.id, "now": now})).first()
    if not won:
        return None
    await _update_entry(session, cb.entry_id, cb.campaign_id, state=str(EntryState.DIALING), lease_owner=instance_id,
                        updated_at=now)
    entry = ClaimedEntry(cb.entry_id, cb.contact_id, cb.phone_e164, cb.timezone, 0, cb.owner_agent_id, False, 0)
    (attempt,) = await create_attempts(session, campaign, [entry], instance_id=instance_id, now=now, rng=rng,
                                       agent_id=agent_id)
    await session.execute(text("update callbacks set attempt_id = :a where id = :id"), {"a": attempt.id, "id": cb.id})
    return attempt


async def callbacks_due_soon(session: AsyncSession, campaign_id: int, now: dt.datetime, within: dt.timedelta) -> int:
    return int((await session.execute(text(
        "select count(*) from callbacks where campaign_id = :c and state = 'pending' and due_at < :until"),
        {"c": campaign_id, "until": now + within})).scalar())


async def assigned_campaigns(session: AsyncSession, agent_ids: Sequence[int]) -> dict[int, set[int]]:
    """Active or paused campaigns each agent takes calls for (assignment or routing group)."""
    out: dict[int, set[int]] = {a: set() for a in agent_ids}
    if not agent_ids:
        return out
    rows = await session.execute(
        text(
            "select a.id, c.id from agents a join campaigns c on c.state in ('active','paused') "
            "where a.id = any(:ids) and ("
            " exists(select 1 from campaign_agents ca where ca.campaign_id = c.id and ca.agent_id = a.id) or"
            " exists(select 1 from agent_groups g where g.group_id = c.routing_group_id and g.agent_id = a.id))"
        ),
        {"ids": list(agent_ids)},
    )
    for aid, cid in rows:
        out[aid].add(cid)
    return out


async def open_agent_commands(session: AsyncSession, agent_ids: Sequence[int]) -> list:
    if not agent_ids:
        return []
    rows = await session.execute(
        text("select id, agent_id, command, campaign_id, reason from agent_commands "
             "where done_at is null and agent_id = any(:ids) order by id for update skip locked"),
        {"ids": list(agent_ids)},
    )
    return list(rows.all())


async def finish_agent_command(session: AsyncSession, command_id: int, result: str, now: dt.datetime) -> None:
    await session.execute(text("update agent_commands set done_at = :now, result = :r where id = :id"),
                          {"now": now, "r": result, "id": command_id})


async def set_session_campaigns(session: AsyncSession, session_id: int, campaign_ids: Iterable[int]) -> None:
    await session.execute(update(AgentSession).where(AgentSession.id == session_id)
                          .values(campaign_ids=sorted(campaign_ids)))


async def orphaned_dispositions(session: AsyncSession, instance_id: str, exclude_attempts: Sequence[int]) -> list:
    """Entries this instance left waiting for a disposition whose agent's wrap-up was lost (crash):
    their last attempt is closed and no live agent here is wrapping it up."""
    rows = await session.execute(text(
        "select e.id as entry_id, a.id as attempt_id, a.outcome, a.campaign_id, a.phone_e164, a.agent_id "
        "from campaign_entries e "
        "join lateral (select * from attempts x where x.entry_id = e.id order by x.id desc limit 1) a on true "
        "where e.state = 'dialing' and e.lease_owner = :me and a.ended_at is not null "
        "  and a.disposition_at is null and not (a.id = any(:busy))"),
        {"me": instance_id, "busy": list(exclude_attempts)})
    return list(rows.all())


async def record_pin_result(session: AsyncSession, agent_id: int, ok: bool, now: dt.datetime, *,
                            lock_after: int, lockout: dt.timedelta) -> bool:
    """Count consecutive failures; lock the login after ``lock_after`` of them. Returns: locked now."""
    if ok:
        await session.execute(update(Agent).where(Agent.id == agent_id).values(failed_pin_count=0, locked_until=None))
        return False
    failed = (await session.execute(
        update(Agent).where(Agent.id == agent_id).values(failed_pin_count=Agent.failed_pin_count + 1)
        .returning(Agent.failed_pin_count))).scalar_one()
    if failed >= lock_after:
        await session.execute(update(Agent).where(Agent.id == agent_id)
                              .values(failed_pin_count=0, locked_until=now + lockout))
        return True
    return False


async def rearm_callback(session: AsyncSession, attempt_id: int, now: dt.datetime) -> bool:
    """A callback whose attempt never reached the originate (the process died after writing the
    attempt, before marking it 'originating') has not happened: it goes back to pending, due now.
    Once marked, the customer may have been called, so it is not re-armed: never a second call (the
    entry is retried by the campaign's rule for 'lost' instead)."""
    row = (await session.execute(text(
        "update callbacks set state = 'pending', fired_at = null, attempt_id = null, due_at = least(due_at, :now) "
        "where attempt_id = :a and state = 'fired' "
        "  and exists (select 1 from attempts where id = :a and state = 'created') "  # never left for Asterisk
        "returning entry_id, campaign_id"), {"a": attempt_id, "now": now})).first()
    if row is None:
        return False
    await _update_entry(session, row[0], row[1], state=str(EntryState.CALLBACK), lease_owner=None, lease_until=None,
                        updated_at=now)
    return True


async def mark_attempt_originated(session: AsyncSession, attempt_id: int) -> None:
    await session.execute(text("update attempts set state = 'originating' where id = :a and state = 'created'"),
                          {"a": attempt_id})

"""Claiming the next dialable entries: one statement, FOR UPDATE SKIP LOCKED, with a lease.

Two dialer instances on one database never take the same entry (SKIP LOCKED + the state change in
the same statement), and a dead instance's claim lapses when its lease expires
(``release_expired_leases``). The rules are those of ari_app/domain/dialability.py, in SQL.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ari_app.domain.enums import EntryState
from ari_app.domain.time_rules import CallingHours

# How it stays fast on 10 million entries: campaign_id = :campaign_id picks the campaign's partition
# (migration 0005), whose claim index is ordered by zone first (zone_id, priority desc, due_at, id)
# where state = 'ready' (zone_id: the zone's number in time_zones, migration 0007). A recursive
# loose index scan lists the zones the campaign actually has (a few index probes), those outside
# calling hours are dropped (checked in SQL for those few zones only), and each open zone
# contributes its own top-N in index order (a lateral LIMIT), which are merged. Entries of closed
# zones are never read, however many pile up while their night lasts.
_CLAIM_SQL = """
with recursive zones(zone_id) as (
  (select e.zone_id from campaign_entries e
    where e.campaign_id = :campaign_id and e.state = 'ready' and e.zone_id is not null
    order by e.zone_id limit 1)
  union all
  select (select e.zone_id from campaign_entries e
           where e.campaign_id = :campaign_id and e.state = 'ready' and e.zone_id > zones.zone_id
           order by e.zone_id limit 1)
    from zones where zones.zone_id is not null
),
named_zones(zone_id, name) as materialized (  -- the names of the campaign's zones only
  select z.zone_id, (select t.name from time_zones t where t.id = z.zone_id) from zones z where z.zone_id is not null
),
open_zones(zone_id) as (
  -- calling hours by the contact's local wall clock (PostgreSQL's tz database handles DST)
  select zone_id from named_zones
   where (cast(:now as timestamptz) at time zone name)::time >= cast(:hours_start as time)
     and (cast(:now as timestamptz) at time zone name)::time < cast(:hours_end as time)
),
candidates as (
  select c.* from open_zones z cross join lateral ({branch_zone}) c
  union all
  select c.* from ({branch_null}) c where cast(:campaign_zone_open as boolean)
),
picked as (
  select id from candidates order by {order} limit :limit
)
update campaign_entries e
   set state = :new_state, lease_owner = :lease_owner, lease_until = :lease_until, updated_at = :now
  from picked
 where e.id = picked.id and e.campaign_id = :campaign_id
returning e.id, e.contact_id, e.phone_e164, e.timezone, e.attempts, e.owner_agent_id, e.progressive_only,
          e.priority
"""

_BRANCH = """
    select e.id, e.priority, e.due_at, e.owner_agent_id
      from campaign_entries e
     where e.campaign_id = :campaign_id and e.state = 'ready' and {zone_rule}
       and e.due_at <= :now
       and e.attempts < :max_attempts
       and {owner_rule}
       and (not e.progressive_only or cast(:guaranteed as boolean))
       and not exists (select 1 from dnc_numbers d where d.e164 = e.phone_e164)
       and not exists (select 1 from attempts a where a.phone_e164 = e.phone_e164 and a.ended_at is null)
       and not exists (select 1 from callbacks cb where cb.state = 'pending' and cb.campaign_id = e.campaign_id
                         and cb.contact_id = e.contact_id)
       and not (cast(:rule_72h as boolean) and not cast(:guaranteed as boolean) and exists (
             select 1 from (select a.abandoned, a.ended_at from attempts a where a.phone_e164 = e.phone_e164
                             order by a.id desc limit 1) last
              where last.abandoned and last.ended_at > cast(:now as timestamptz) - interval '72 hours'))
       {region_clause}
     order by {order}
     limit :limit
       for update of e skip locked
"""

# Stricter rules for numbers with a prefix (a US state's hours, a cap on calls per 24 h). Only in
# the statement when the campaign has rules, so campaigns without them pay nothing.
_REGION_CLAUSE = """
       and not exists (
             select 1 from jsonb_to_recordset(cast(:region_rules as jsonb))
                           as r(prefix text, start_at text, end_at text, max_calls int)
              where e.phone_e164 like r.prefix || '%'
                and ((r.start_at is not null and not (
                        (cast(:now as timestamptz) at time zone coalesce(e.timezone, cast(:campaign_tz as text)))::time
                            >= cast(r.start_at as time)
                        and (cast(:now as timestamptz) at time zone coalesce(e.timezone, cast(:campaign_tz as text)))::time
                            < cast(r.end_at as time)))
                  or (r.max_calls is not null and
                      (select count(*) from attempts a where a.phone_e164 = e.phone_e164
                          and a.created_at > cast(:now as timestamptz) - interval '24 hours') >= r.max_calls)))
"""


def _claim_statement(owner_rule: str, order: str, region: bool = False):
    def branch(zone_rule: str) -> str:
        return _BRANCH.format(zone_rule=zone_rule, owner_rule=owner_rule, order=order,
                              region_clause=_REGION_CLAUSE if region else "")

    return text(_CLAIM_SQL.format(branch_zone=branch("e.zone_id = z.zone_id"), branch_null=branch("e.zone_id is null"),
                                  order=order.replace("e.", "")))


_POOLED = ("e.owner_agent_id is null", "e.priority desc, e.due_at, e.id")
_FOR_AGENT = ("(e.owner_agent_id is null or e.owner_agent_id = cast(:for_agent as integer))",
              "(e.owner_agent_id is not null) desc, e.priority desc, e.due_at, e.id")
# Pooled dialing never takes an owned entry; for one agent, that agent's own records come first.
_STATEMENTS = {(agent, region): _claim_statement(*(_FOR_AGENT if agent else _POOLED), region=region)
               for agent in (False, True) for region in (False, True)}


# Planning the claim (four anti-joins under two lateral branches) takes longer than running it
# (~1.1 ms against ~1.3 ms on 10 million entries), and PostgreSQL's plan cache keeps re-planning it
# for each call's parameters because the generic plan's estimated cost is not lower. The plan is
# the same for every call (index order on the claim index, one probe per candidate), so the
# transaction asks for the generic plan, which psycopg's server-side prepared statement (after its
# prepare_threshold of executions) then keeps. SET LOCAL: it ends with the claim's short transaction.
_GENERIC_PLAN = text("set local plan_cache_mode = force_generic_plan")


@dataclass(frozen=True)
class ClaimedEntry:
    id: int
    contact_id: int
    phone_e164: str
    timezone: str | None
    attempts: int
    owner_agent_id: int | None
    progressive_only: bool
    priority: int


async def claim_entries(
    session: AsyncSession,
    *,
    campaign_id: int,
    limit: int,
    now: dt.datetime,
    max_attempts: int,
    calling_hours: CallingHours,
    campaign_zone_open: bool,
    lease_owner: str,
    lease_seconds: int,
    guaranteed: bool = False,
    for_agent: int | None = None,
    new_state: EntryState = EntryState.DIALING,
    rule_72h: bool = False,
    region_rules: Sequence[dict] = (),
    campaign_tz: str = "UTC",
) -> list[ClaimedEntry]:
    """Claim up to ``limit`` entries; the caller commits (short transaction)."""
    if limit <= 0:
        return []
    params = {
        "campaign_id": campaign_id,
        "now": now,
        "max_attempts": max_attempts,
        "hours_start": calling_hours.start,
        "hours_end": calling_hours.end,
        "campaign_zone_open": campaign_zone_open,
        "for_agent": for_agent,
        "guaranteed": guaranteed,
        "rule_72h": rule_72h,
        "limit": limit,
        "new_state": str(new_state),
        "lease_owner": lease_owner,
        "lease_until": now + dt.timedelta(seconds=lease_seconds),
    }
    if for_agent is None:
        del params["for_agent"]
    if region_rules:
        params["region_rules"] = json.dumps(list(region_rules))
        params["campaign_tz"] = campaign_tz
    await session.execute(_GENERIC_PLAN)
    result = await session.execute(_STATEMENTS[(for_agent is not None, bool(region_rules))], params)
    return [ClaimedEntry(*row) for row in result.all()]


_RELEASE = text(
    """
update campaign_entries e
   set state = 'ready', lease_owner = null, lease_until = null, updated_at = :now
 where e.state in ('dialing', 'reserved')
   and e.lease_until < :now
   and not exists (select 1 from attempts a where a.entry_id = e.id and a.ended_at is null)
returning e.id
"""
)


async def release_expired_leases(session: AsyncSession, now: dt.datetime) -> list[int]:
    """Entries whose claimer died (lease lapsed, no open attempt) become dialable again."""
    result = await session.execute(_RELEASE, {"now": now})
    return [row[0] for row in result.all()]


async def renew_leases(session: AsyncSession, lease_owner: str, now: dt.datetime, lease_seconds: int) -> None:
    await session.execute(
        text(
        "update campaign_entries set lease_until = :until "
        "where lease_owner = :owner and state in ('dialing', 'reserved')"
        ),
        {"owner": lease_owner, "until": now + dt.timedelta(seconds=lease_seconds)},
    )

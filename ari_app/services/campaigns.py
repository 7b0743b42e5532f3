"""Campaign administration: create, edit, state changes, clone, statistics.

Each function is one unit of work: a UserError raised anywhere rolls the whole change back.
Option values arrive raw from the CLI (strings, numbers, tuples) and are parsed by
``ari_app.domain.campaign_settings``; names of groups and statuses are resolved here.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ari_app.db.partitions import ensure_entries_partition
from ari_app.db.runtime import Database
from ari_app.domain import campaign_settings as cs
from ari_app.domain.dialability import campaign_activity
from ari_app.domain.enums import CampaignState
from ari_app.errors import NotFound, UserError

log = logging.getLogger(__name__)

BUILTIN_STATUSES = ("Call", "Do not call")

# action -> (states it may start from, resulting state)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"draft", "paused"}), "active"),
    "pause": (frozenset({"active"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "stop": (frozenset({"draft", "active", "paused"}), "stopped"),
}

# Columns copied by clone and printed by show (everything an admin sets).
SETTING_COLUMNS = (
    "mode", "bcw_seconds", "push_timeout_seconds", "pickup_rate", "target_abandon_rate", "abandon_window",
    "max_lines_per_agent", "routing_group_id", "goal", "caller_ids", "caller_id_rotation", "dial_template",
    "ring_timeout_seconds", "max_attempts", "retry_rules", "wrapup_seconds", "timezone", "schedule",
    "calling_hours_start", "calling_hours_end", "default_region", "abandon_message", "machine_action",
    "machine_message", "amd_enabled", "default_status_id", "options",
)
_JSON_COLUMNS = {"retry_rules", "schedule", "options"}


def next_state(name: str, state: str, action: str) -> str:
    """The state after ``action``, or a UserError saying why the change is not allowed."""
    allowed, target = TRANSITIONS[action]
    if state in allowed:
        return target
    if state == CampaignState.STOPPED and action in ("start", "resume"):
        raise UserError(f'campaign "{name}" is stopped and cannot be started again; clone it to run it again')
    if state == target:
        raise UserError(f'campaign "{name}" is already {state}')
    need = " or ".join(sorted(allowed))
    article = "an" if need[0] in "aeiou" else "a"
    raise UserError(f'cannot {action} campaign "{name}" because it is {state} ({action} needs {article} {need} campaign)')


# --- option parsing --------------------------------------------------------------------------------

def parse_options(opts: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """CLI option values (None = not given) -> column values. ``current`` is the stored row on edit."""
    out: dict[str, Any] = {}
    g = {k: v for k, v in opts.items() if v is not None and v != ()}
    if "mode" in g:
        out["mode"] = cs.parse_mode(g["mode"])
    if "bcw" in g:
        out["bcw_seconds"] = cs.check_int("BCW", g["bcw"], maximum=3600, unit="seconds")
    if "push_timeout" in g:
        out["push_timeout_seconds"] = cs.check_int("push timeout", g["push_timeout"], minimum=1, maximum=600, unit="seconds")
    if "pickup_rate" in g:
        out["pickup_rate"] = cs.check_rate("pickup rate", g["pickup_rate"])
    if "target_abandon_rate" in g:
        out["target_abandon_rate"] = cs.check_rate("target abandon rate", g["target_abandon_rate"], allow_zero=True)
    if "abandon_window" in g:
        out["abandon_window"] = cs.parse_abandon_window(g["abandon_window"])
    if "max_lines" in g:
        out["max_lines_per_agent"] = cs.check_max_lines(g["max_lines"])
    if "goal" in g:
        out["goal"] = cs.parse_goal(g["goal"])
    if "caller_id" in g:
        out["caller_ids"] = cs.parse_caller_ids(g["caller_id"])
    if "rotation" in g:
        out["caller_id_rotation"] = cs.parse_rotation(g["rotation"])
    if "dial_template" in g:
        out["dial_template"] = cs.check_dial_template(g["dial_template"])
    if "ring_timeout" in g:
        out["ring_timeout_seconds"] = cs.check_ring_timeout(g["ring_timeout"])
    if "max_attempts" in g:
        out["max_attempts"] = cs.check_int("max attempts", g["max_attempts"], minimum=1, maximum=100)
    if "retry" in g:
        out["retry_rules"] = cs.parse_retry_rules(g["retry"])
    if "wrapup" in g:
        out["wrapup_seconds"] = cs.check_int("wrap-up", g["wrapup"], maximum=3600, unit="seconds")
    if "timezone" in g:
        out["timezone"] = cs.check_timezone(g["timezone"])
    if "calling_hours" in g:
        out["calling_hours_start"], out["calling_hours_end"] = cs.parse_calling_hours(g["calling_hours"])
    if "region" in g:
        out["default_region"] = cs.check_region(g["region"])
    if "abandon_message" in g:
        out["abandon_message"] = cs.check_media("abandon message", g["abandon_message"])
    if "machine_action" in g:
        out["machine_action"] = cs.parse_machine_action(g["machine_action"])
    if "machine_message" in g:
        out["machine_message"] = cs.check_media("machine message", g["machine_message"])
    if "amd" in g:
        out["amd_enabled"] = bool(g["amd"])
    # schedule: --hours replaces the week; --closed/--exception add dates; --clear-exceptions empties them
    if any(k in g for k in ("hours", "closed", "exception")) or g.get("clear_exceptions"):
        schedule = dict((current or {}).get("schedule") or {})
        if "hours" in g:
            weekly = cs.parse_weekly(g["hours"])
            if weekly:
                schedule["weekly"] = weekly
            else:
                schedule.pop("weekly", None)
        exceptions = {} if g.get("clear_exceptions") else dict(schedule.get("exceptions") or {})
        exceptions.update(cs.parse_exceptions(g.get("closed", ()), g.get("exception", ())))
        if exceptions:
            schedule["exceptions"] = dict(sorted(exceptions.items()))
        else:
            schedule.pop("exceptions", None)
        out["schedule"] = schedule
    options = dict((current or {}).get("options") or {})
    changed = False
    if "rule_72h" in g:
        options["rule_72h"], changed = bool(g["rule_72h"]), True
    if "supervisor_tone" in g:
        options["supervisor_tone"], changed = bool(g["supervisor_tone"]), True
    if "callback_grace" in g:
        options["callback_grace_seconds"] = cs.check_int("callback grace", g["callback_grace"], maximum=86400, unit="seconds")
        changed = True
    if g.get("region_rule"):
        options["region_rules"] = [cs.parse_region_rule(r) for r in g["region_rule"]]
        changed = True
    if g.get("clear_region_rules"):
        options["region_rules"], changed = [], True
    if changed:
        out["options"] = options
    return out


# --- lookups ---------------------------------------------------------------------------------------

async def get_campaign(session, name: str, *, lock: bool = False) -> dict:
    suffix = " for no key update" if lock else ""
    row = (await session.execute(text(f"select * from campaigns where name = :n{suffix}"), {"n": name})).mappings().first()
    if row is None:
        raise NotFound(f'campaign "{name}" does not exist')
    return dict(row)


async def group_id(session, name: str) -> int:
    gid = (await session.execute(text("select id from groups where name = :n"), {"n": name})).scalar()
    if gid is None:
        raise NotFound(f'group "{name}" does not exist')
    return gid


async def _default_status_id(session, campaign_id: int, name: str) -> int:
    row = (await session.execute(
        text("select status_id from campaign_statuses where campaign_id = :c and name = :n"),
        {"c": campaign_id, "n": name},
    )).first()
    if row is None:
        raise UserError(f'default status "{name}" is not a status of this campaign')
    if row[0] is None:
        raise UserError(f'default status "{name}" is the campaign\'s own status; the default must be a dictionary status')
    return row[0]


def _write_params(values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    params = {k: (json.dumps(v) if k in _JSON_COLUMNS else v) for k, v in values.items()}
    return ", ".join(f"{k} = cast(:{k} as jsonb)" if k in _JSON_COLUMNS else f"{k} = :{k}" for k in values), params


# --- commands --------------------------------------------------------------------------------------

async def create_campaign(db: Database, name: str, opts: Mapping[str, Any]) -> dict:
    cs.check_name("campaign", name)
    if not opts.get("mode"):
        raise UserError("mode is required: preview, push_preview, progressive or predictive")
    values = parse_options(opts)
    defaults = {"caller_ids": [], "caller_id_rotation": "fixed", "machine_action": "hangup", "machine_message": None,
                "calling_hours_start": dt.time(8), "calling_hours_end": dt.time(21)}
    cs.check_cross_fields({**defaults, **values})
    async with db.transaction() as s:
        if (await s.execute(text("select 1 from campaigns where name = :n"), {"n": name})).first():
            raise UserError(f'campaign "{name}" already exists')
        if opts.get("routing"):
            values["routing_group_id"] = await group_id(s, opts["routing"])
        values["name"] = name
        cols = list(values)
        params = {k: (json.dumps(v) if k in _JSON_COLUMNS else v) for k, v in values.items()}
        marks = ", ".join(f"cast(:{k} as jsonb)" if k in _JSON_COLUMNS else f":{k}" for k in cols)
        try:
            cid = (await s.execute(
                text(f"insert into campaigns ({', '.join(cols)}) values ({marks}) returning id"), params
            )).scalar_one()
        except IntegrityError as exc:
            raise _integrity(exc, name) from None
        await _copy_dictionary_statuses(s, cid)
        default_name = opts.get("default_status") or "Call"
        await s.execute(text("update campaigns set default_status_id = :d where id = :c"),
                        {"d": await _default_status_id(s, cid, default_name), "c": cid})
        log.info("campaign %s created (id %s, mode %s)", name, cid, values["mode"])
        return await get_campaign(s, name)


async def _copy_dictionary_statuses(session, campaign_id: int) -> None:
    """Statuses marked for new campaigns (plus the two built-ins, always), DTMF 1, 2, 3... in id order."""
    rows = (await session.execute(text(
        "select id, name, system_status, auto_on from statuses "
        "where (add_to_new_campaigns and active) or protected order by id"
    ))).mappings().all()
    for code, row in enumerate(rows, start=1):
        await session.execute(text(
            "insert into campaign_statuses (campaign_id, status_id, name, system_status, auto_on, dtmf_code) "
            "values (:c, :s, :n, :sys, :auto, :d)"
        ), {"c": campaign_id, "s": row["id"], "n": row["name"], "sys": row["system_status"],
            "auto": list(row["auto_on"] or []), "d": str(code) if code < 1000 else None})


def _integrity(exc: IntegrityError, name: str) -> UserError:
    msg = str(exc.orig)
    if "ck_campaign_random_needs_two" in msg:
        return UserError("caller ID rotation random needs at least 2 numbers")
    if "ck_campaign_ring_timeout_min" in msg:
        return UserError(f"ring timeout is below the minimum of {cs.MIN_RING_SECONDS} seconds")
    if "campaigns_name_key" in msg or "unique" in msg.lower():
        return UserError(f'campaign "{name}" already exists')
    return UserError(f'campaign "{name}" could not be saved: {msg.splitlines()[0]}')


async def edit_campaign(db: Database, name: str, opts: Mapping[str, Any]) -> dict:
    async with db.transaction() as s:
        current = await get_campaign(s, name, lock=True)
        values = parse_options(opts, current)
        new_name = opts.get("new_name")
        if new_name and new_name != name:
            cs.check_name("campaign", new_name)
            if (await s.execute(text("select 1 from campaigns where name = :n"), {"n": new_name})).first():
                raise UserError(f'campaign "{new_name}" already exists')
            values["name"] = new_name
        if opts.get("routing") is not None:
            values["routing_group_id"] = None if opts["routing"] in ("", "none") else await group_id(s, opts["routing"])
        if opts.get("default_status"):
            values["default_status_id"] = await _default_status_id(s, current["id"], opts["default_status"])
        if not values:
            raise UserError("nothing to change: give at least one option")
        cs.check_cross_fields({**current, **values})
        assignments, params = _write_params(values)
        params["id"] = current["id"]
        try:
            await s.execute(text(f"update campaigns set {assignments}, updated_at = now() where id = :id"), params)
        except IntegrityError as exc:
            raise _integrity(exc, new_name or name) from None
        log.info("campaign %s edited: %s", name, ", ".join(sorted(values)))
        return await get_campaign(s, values.get("name", name))


async def change_state(db: Database, name: str, action: str) -> tuple[str, str]:
    async with db.transaction() as s:
        row = await get_campaign(s, name, lock=True)
        target = next_state(name, row["state"], action)
        await s.execute(text("update campaigns set state = :st, updated_at = now() where id = :id"),
                        {"st": target, "id": row["id"]})
        log.info("campaign %s (id %s): %s -> %s", name, row["id"], row["state"], target)
        return row["state"], target


async def clone_campaign(db: Database, source: str, new_name: str, *, with_contacts: bool = False) -> dict:
    cs.check_name("campaign", new_name)
    async with db.transaction() as s:
        src = await get_campaign(s, source)
        if (await s.execute(text("select 1 from campaigns where name = :n"), {"n": new_name})).first():
            raise UserError(f'campaign "{new_name}" already exists')
        cols = ", ".join(SETTING_COLUMNS)
        new_id = (await s.execute(text(
            f"insert into campaigns (name, state, {cols}) select :n, 'draft', {cols} from campaigns where id = :src returning id"
        ), {"n": new_name, "src": src["id"]})).scalar_one()
        await s.execute(text(
            "insert into campaign_statuses (campaign_id, status_id, name, system_status, auto_on, dtmf_code) "
            "select :new, status_id, name, system_status, auto_on, dtmf_code from campaign_statuses "
            "where campaign_id = :src order by id"
        ), {"new": new_id, "src": src["id"]})
        await s.execute(text(
            "insert into campaign_agents (campaign_id, agent_id) select :new, agent_id from campaign_agents where campaign_id = :src"
        ), {"new": new_id, "src": src["id"]})
        entries = 0
        if with_contacts:
            await ensure_entries_partition(s, new_id)
            result = await s.execute(text(
                "insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, state, attempts, priority) "
                "select :new, contact_id, phone_e164, timezone, 'ready', 0, priority from campaign_entries "
                "where campaign_id = :src order by id"
            ), {"new": new_id, "src": src["id"]})
            entries = result.rowcount
        log.info("campaign %s cloned from %s (id %s, %s entries)", new_name, source, new_id, entries)
        return {"id": new_id, "name": new_name, "source": source, "entries": entries}


async def list_campaigns(db: Database) -> list[dict]:
    async with db.transaction() as s:
        rows = (await s.execute(text(
            "select c.id, c.name, c.mode, c.state, c.goal, g.name as routing, "
            "  (select count(*) from campaign_entries e where e.campaign_id = c.id) as entries, "
            "  (select count(*) from campaign_entries e where e.campaign_id = c.id and e.state = 'ready') as ready "
            "from campaigns c left join groups g on g.id = c.routing_group_id order by c.name"
        ))).mappings().all()
        return [dict(r) for r in rows]


async def campaign_details(db: Database, name: str, now: dt.datetime) -> dict:
    """Every setting and the statistics, as one record for ``campaign show``."""
    async with db.transaction() as s:
        c = await get_campaign(s, name)
        routing = None
        if c["routing_group_id"]:
            routing = (await s.execute(text("select name from groups where id = :g"), {"g": c["routing_group_id"]})).scalar()
        default_status = None
        if c["default_status_id"]:
            default_status = (await s.execute(text("select name from statuses where id = :i"), {"i": c["default_status_id"]})).scalar()
        statuses = [dict(r) for r in (await s.execute(text(
            "select name, system_status, dtmf_code, auto_on, status_id is null as own from campaign_statuses "
            "where campaign_id = :c order by dtmf_code is null, length(dtmf_code), dtmf_code, name"
        ), {"c": c["id"]})).mappings()]
        agents = list((await s.execute(text(
            "select a.extension from campaign_agents ca join agents a on a.id = ca.agent_id where ca.campaign_id = :c order by a.extension"
        ), {"c": c["id"]})).scalars())
        stats = await campaign_stats(s, c, now)
        logged_in = (await s.execute(text(
            "select count(*) from agent_sessions where logged_out_at is null and :c = any(campaign_ids)"
        ), {"c": c["id"]})).scalar()
    options = c["options"] or {}
    settings = {
        "name": c["name"], "id": c["id"], "mode": c["mode"], "state": c["state"],
        "activity": campaign_activity(CampaignState(c["state"]), c["schedule"] or {}, c["timezone"], now, logged_in),
        "goal": c["goal"],
        "bcw_seconds": c["bcw_seconds"], "push_timeout_seconds": c["push_timeout_seconds"],
        "pickup_rate": c["pickup_rate"], "target_abandon_rate": c["target_abandon_rate"],
        "abandon_window": c["abandon_window"], "max_lines_per_agent": c["max_lines_per_agent"],
        "routing_group": routing, "caller_ids": list(c["caller_ids"] or []),
        "caller_id_rotation": c["caller_id_rotation"], "dial_template": c["dial_template"],
        "ring_timeout_seconds": c["ring_timeout_seconds"], "max_attempts": c["max_attempts"],
        "retry_rules": c["retry_rules"] or {}, "wrapup_seconds": c["wrapup_seconds"], "timezone": c["timezone"],
        "schedule": c["schedule"] or {}, "opening_hours": cs.format_weekly(c["schedule"] or {}),
        "calling_hours": f"{c['calling_hours_start']:%H:%M}-{c['calling_hours_end']:%H:%M}",
        "default_region": c["default_region"], "abandon_message": c["abandon_message"],
        "machine_action": c["machine_action"], "machine_message": c["machine_message"],
        "amd_enabled": c["amd_enabled"], "default_status": default_status,
        "rule_72h": bool(options.get("rule_72h", False)),
        "region_rules": options.get("region_rules", []),
        "supervisor_tone": bool(options.get("supervisor_tone", False)),
        "callback_grace_seconds": int(options.get("callback_grace_seconds", 300)),
        "statuses": statuses, "agents": agents,
        "created_at": c["created_at"], "updated_at": c["updated_at"],
    }
    return {"settings": settings, "stats": stats}


async def campaign_stats(session, c: Mapping[str, Any], now: dt.datetime) -> dict:
    cid = c["id"]
    by_state = {r[0]: r[1] for r in (await session.execute(text(
        "select state, count(*) from campaign_entries where campaign_id = :c group by state order by state"
    ), {"c": cid})).all()}
    by_outcome = {(r[0] or "open"): r[1] for r in (await session.execute(text(
        "select outcome, count(*) from attempts where campaign_id = :c group by outcome order by outcome nulls last"
    ), {"c": cid})).all()}
    total_entries = sum(by_state.values())
    handled = by_state.get("done", 0) + by_state.get("dnc", 0)
    local = now.astimezone(ZoneInfo(c["timezone"]))
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    today = (await session.execute(text(
        "select count(*) filter (where abandoned) as abandoned, "
        "       count(*) filter (where answered_at is not null and coalesce(outcome, '') <> 'machine') as live "
        "from attempts where campaign_id = :c and created_at >= :start and created_at <= :now"
    ), {"c": cid, "start": day_start, "now": now})).mappings().one()
    live = today["live"]
    return {
        "entries_total": total_entries,
        "entries_by_state": by_state,
        "attempts_total": sum(by_outcome.values()),
        "attempts_by_outcome": by_outcome,
        "handled": handled,
        "not_completed": total_entries - handled,
        "abandoned_today": today["abandoned"],
        "live_answered_today": live,
        "abandon_rate_today": (today["abandoned"] / live) if live else 0.0,
    }


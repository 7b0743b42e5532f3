"""Agents, groups, campaign assignments, and the PIN check the runtime uses.

PINs are 4-8 digits, stored only as argon2 hashes (``ari_app.services.pins``), never printed.
Supervisors supervise the groups they are members of; nothing more is recorded for that.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Iterable

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ari_app.db.runtime import Database
from ari_app.domain.enums import AgentRole
from ari_app.errors import NotFound, UserError
from ari_app.services.campaigns import get_campaign
from ari_app.services.pins import hash_pin
from ari_app.services.pins import verify_pin as _verify

log = logging.getLogger(__name__)


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True when ``pin`` matches the stored argon2 hash (False for a wrong PIN or a broken hash)."""
    return _verify(pin_hash, pin)


def check_pin(pin: str) -> str:
    # The PIN itself never goes into a message.
    if not re.fullmatch(r"\d{4,8}", pin or ""):
        raise UserError("PIN must be 4 to 8 digits")
    return pin


def check_extension(ext: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z_.+-]{1,32}", ext or ""):
        raise UserError(f"extension {ext!r} must be 1 to 32 letters, digits or . _ + -")
    return ext


def parse_roles(values: Iterable[str]) -> list[str]:
    allowed = [r.value for r in AgentRole]
    out: list[str] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if part not in allowed:
                raise UserError(f"role {part!r} is not one of {', '.join(allowed)}")
            if part not in out:
                out.append(part)
    return out or ["agent"]


async def _agent(session, ext: str, *, lock: bool = False) -> dict:
    suffix = " for update" if lock else ""
    row = (await session.execute(text(f"select * from agents where extension = :e{suffix}"), {"e": ext})).mappings().first()
    if row is None:
        raise NotFound(f'agent "{ext}" does not exist')
    return dict(row)


async def _group(session, name: str) -> dict:
    row = (await session.execute(text("select * from groups where name = :n"), {"n": name})).mappings().first()
    if row is None:
        raise NotFound(f'group "{name}" does not exist')
    return dict(row)


async def _public(session, agent_id: int) -> dict:
    row = (await session.execute(text(
        "select a.id, a.extension, a.display_name as name, a.roles, a.active, a.locked_until, "
        "  coalesce(array(select g.name from agent_groups ag join groups g on g.id = ag.group_id "
        "                 where ag.agent_id = a.id order by g.name), '{}') as groups, "
        "  coalesce(array(select c.name from campaign_agents ca join campaigns c on c.id = ca.campaign_id "
        "                 where ca.agent_id = a.id order by c.name), '{}') as campaigns "
        "from agents a where a.id = :id"
    ), {"id": agent_id})).mappings().one()
    return {**row, "roles": list(row["roles"]), "groups": list(row["groups"]), "campaigns": list(row["campaigns"])}


# --- agents ----------------------------------------------------------------------------------------

async def create_agent(db: Database, ext: str, name: str, pin: str, roles: Iterable[str] = (),
                       groups: Iterable[str] = ()) -> dict:
    check_extension(ext)
    if not name or not name.strip():
        raise UserError("agent name must not be empty")
    check_pin(pin)
    role_list = parse_roles(roles)
    pin_hash = await asyncio.to_thread(hash_pin, pin)  # argon2 is deliberately slow
    async with db.transaction() as s:
        if (await s.execute(text("select 1 from agents where extension = :e"), {"e": ext})).first():
            raise UserError(f'agent "{ext}" already exists')
        group_ids = [(await _group(s, g))["id"] for g in dict.fromkeys(groups)]
        try:
            aid = (await s.execute(text(
                "insert into agents (extension, display_name, pin_hash, roles) values (:e, :n, :h, :r) returning id"
            ), {"e": ext, "n": name.strip(), "h": pin_hash, "r": role_list})).scalar_one()
        except IntegrityError:
            raise UserError(f'agent "{ext}" already exists') from None
        for gid in group_ids:
            await s.execute(text("insert into agent_groups (agent_id, group_id) values (:a, :g)"), {"a": aid, "g": gid})
        log.info("agent %s created (roles %s)", ext, ",".join(role_list))
        return await _public(s, aid)


async def list_agents(db: Database) -> list[dict]:
    async with db.transaction() as s:
        ids = (await s.execute(text("select id from agents order by extension"))).scalars().all()
        return [await _public(s, i) for i in ids]


async def show_agent(db: Database, ext: str) -> dict:
    async with db.transaction() as s:
        return await _public(s, (await _agent(s, ext))["id"])


async def edit_agent(db: Database, ext: str, *, name: str | None = None, pin: str | None = None,
                     roles: Iterable[str] = (), active: bool | None = None) -> dict:
    values: dict = {}
    if name is not None:
        if not name.strip():
            raise UserError("agent name must not be empty")
        values["display_name"] = name.strip()
    if roles:
        values["roles"] = parse_roles(roles)
    if active is not None:
        values["active"] = active
    if pin is not None:
        check_pin(pin)
        values["pin_hash"] = await asyncio.to_thread(hash_pin, pin)
        # a new PIN also lifts a lockout
        values["failed_pin_count"] = 0
        values["locked_until"] = None
    if not values:
        raise UserError("nothing to change: give at least one option")
    async with db.transaction() as s:
        row = await _agent(s, ext, lock=True)
        await s.execute(text(f"update agents set {', '.join(f'{k} = :{k}' for k in values)} where id = :id"),
                        dict(values, id=row["id"]))
        log.info("agent %s edited: %s", ext, ", ".join(k for k in sorted(values) if k != "pin_hash") or "pin")
        return await _public(s, row["id"])


async def delete_agent(db: Database, ext: str) -> None:
    async with db.transaction() as s:
        row = await _agent(s, ext, lock=True)
        if (await s.execute(text("select 1 from agent_sessions where agent_id = :a and logged_out_at is null"),
                            {"a": row["id"]})).first():
            raise UserError(f'agent "{ext}" is logged in; log it out before deleting it')
        # The attempts ledger and the supervision audit keep who handled each call: such an agent
        # stays (closed attempts are immutable, a trigger refuses even ON DELETE SET NULL).
        if (await s.execute(text("select 1 from attempts where agent_id = :a limit 1"), {"a": row["id"]})).first():
            raise UserError(f'agent "{ext}" has calls in the attempts ledger and cannot be deleted; make it inactive instead')
        if (await s.execute(text(
            "select 1 from monitoring_sessions where supervisor_id = :a or agent_id = :a limit 1"
        ), {"a": row["id"]})).first():
            raise UserError(f'agent "{ext}" appears in the supervision audit and cannot be deleted; make it inactive instead')
        await s.execute(text("delete from agents where id = :a"), {"a": row["id"]})
        log.info("agent %s deleted", ext)


async def assign(db: Database, ext: str, campaign: str) -> None:
    async with db.transaction() as s:
        a, c = await _agent(s, ext), await get_campaign(s, campaign)
        done = await s.execute(text(
            "insert into campaign_agents (campaign_id, agent_id) values (:c, :a) on conflict do nothing"
        ), {"c": c["id"], "a": a["id"]})
        if done.rowcount == 0:
            raise UserError(f'agent "{ext}" is already assigned to campaign "{campaign}"')


async def unassign(db: Database, ext: str, campaign: str) -> None:
    async with db.transaction() as s:
        a, c = await _agent(s, ext), await get_campaign(s, campaign)
        done = await s.execute(text("delete from campaign_agents where campaign_id = :c and agent_id = :a"),
                               {"c": c["id"], "a": a["id"]})
        if done.rowcount == 0:
            raise UserError(f'agent "{ext}" is not assigned to campaign "{campaign}"')


# --- groups ----------------------------------------------------------------------------------------

async def create_group(db: Database, name: str) -> dict:
    if not name or name != name.strip():
        raise UserError(f"group name {name!r} must not be empty or start or end with spaces")
    async with db.transaction() as s:
        if (await s.execute(text("select 1 from groups where name = :n"), {"n": name})).first():
            raise UserError(f'group "{name}" already exists')
        try:
            gid = (await s.execute(text("insert into groups (name) values (:n) returning id"), {"n": name})).scalar_one()
        except IntegrityError:
            raise UserError(f'group "{name}" already exists') from None
        return {"id": gid, "name": name}


async def list_groups(db: Database) -> list[dict]:
    async with db.transaction() as s:
        rows = (await s.execute(text(
            "select g.id, g.name, "
            "  coalesce(array(select a.extension from agent_groups ag join agents a on a.id = ag.agent_id "
            "                 where ag.group_id = g.id order by a.extension), '{}') as members, "
            "  coalesce(array(select c.name from campaigns c where c.routing_group_id = g.id order by c.name), '{}') as routes "
            "from groups g order by g.name"
        ))).mappings().all()
        return [{**r, "members": list(r["members"]), "routes": list(r["routes"])} for r in rows]


async def delete_group(db: Database, name: str) -> None:
    async with db.transaction() as s:
        g = await _group(s, name)
        routed = (await s.execute(text(
            "select name from campaigns where routing_group_id = :g order by name limit 1"
        ), {"g": g["id"]})).scalar()
        if routed:
            raise UserError(f'group "{name}" takes the calls of campaign "{routed}"; change that campaign\'s routing first')
        await s.execute(text("delete from groups where id = :g"), {"g": g["id"]})


async def add_member(db: Database, group: str, ext: str) -> None:
    async with db.transaction() as s:
        g, a = await _group(s, group), await _agent(s, ext)
        done = await s.execute(text(
            "insert into agent_groups (agent_id, group_id) values (:a, :g) on conflict do nothing"
        ), {"a": a["id"], "g": g["id"]})
        if done.rowcount == 0:
            raise UserError(f'agent "{ext}" is already a member of group "{group}"')


async def remove_member(db: Database, group: str, ext: str) -> None:
    async with db.transaction() as s:
        g, a = await _group(s, group), await _agent(s, ext)
        done = await s.execute(text("delete from agent_groups where agent_id = :a and group_id = :g"),
                               {"a": a["id"], "g": g["id"]})
        if done.rowcount == 0:
            raise UserError(f'agent "{ext}" is not a member of group "{group}"')

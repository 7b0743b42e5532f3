"""The status dictionary and each campaign's statuses (with their DTMF codes).

A campaign status is either a link to a dictionary status (``status_id`` set, name/system/auto-on
copied so the runtime reads one table) or the campaign's own. DTMF codes are 1-3 digits, unique per
campaign; a clash is reported naming the code and the status that already has it.
"""
from __future__ import annotations

import logging
from typing import Iterable

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ari_app.db.runtime import Database
from ari_app.domain import campaign_settings as cs
from ari_app.domain.enums import AUTO_STATUS_TRIGGERS, SystemStatus
from ari_app.errors import NotFound, UserError
from ari_app.services.campaigns import BUILTIN_STATUSES, get_campaign

log = logging.getLogger(__name__)


def parse_system(value: str) -> str:
    allowed = [s.value for s in SystemStatus]
    if value not in allowed:
        raise UserError(f"system status {value!r} is not one of {', '.join(allowed)}")
    return value


def parse_auto_on(value: str | None) -> list[str]:
    allowed = [o.value for o in AUTO_STATUS_TRIGGERS]
    out: list[str] = []
    for part in filter(None, (p.strip() for p in (value or "").split(","))):
        if part not in allowed:
            raise UserError(f"auto-on event {part!r} is not one of {', '.join(allowed)}")
        if part not in out:
            out.append(part)
    return out


async def _status(session, name: str, *, lock: bool = False) -> dict:
    suffix = " for update" if lock else ""
    row = (await session.execute(text(f"select * from statuses where name = :n{suffix}"), {"n": name})).mappings().first()
    if row is None:
        raise NotFound(f'status "{name}" does not exist')
    return dict(row)


async def _campaign_status(session, campaign_id: int, campaign: str, name: str) -> dict:
    row = (await session.execute(
        text("select * from campaign_statuses where campaign_id = :c and name = :n"), {"c": campaign_id, "n": name}
    )).mappings().first()
    if row is None:
        raise NotFound(f'status "{name}" is not a status of campaign "{campaign}"')
    return dict(row)


async def _check_dtmf_free(session, campaign_id: int, code: str, *, except_id: int | None = None) -> None:
    cs.check_dtmf(code)
    holder = (await session.execute(
        text("select id, name from campaign_statuses where campaign_id = :c and dtmf_code = :d"),
        {"c": campaign_id, "d": code},
    )).first()
    if holder is not None and holder[0] != except_id:
        raise UserError(f'DTMF code {code} is already used by status "{holder[1]}" in this campaign')


async def _next_dtmf(session, campaign_id: int) -> str | None:
    used = set((await session.execute(
        text("select dtmf_code from campaign_statuses where campaign_id = :c and dtmf_code is not null"),
        {"c": campaign_id},
    )).scalars())
    return next((str(n) for n in range(1, 1000) if str(n) not in used), None)


# --- dictionary ------------------------------------------------------------------------------------

async def create_status(db: Database, name: str, system: str, *, auto_on: str | None = None,
                        add_to_new: bool = False, hidden: bool = False, active: bool = True) -> dict:
    cs.check_name("status", name)
    values = {"n": name, "sys": parse_system(system), "auto": parse_auto_on(auto_on), "add": add_to_new,
              "hidden": hidden, "active": active}
    async with db.transaction() as s:
        if (await s.execute(text("select 1 from statuses where name = :n"), {"n": name})).first():
            raise UserError(f'status "{name}" already exists')
        try:
            row = (await s.execute(text(
                "insert into statuses (name, system_status, auto_on, add_to_new_campaigns, hidden, active) "
                "values (:n, :sys, :auto, :add, :hidden, :active) returning *"
            ), values)).mappings().one()
        except IntegrityError:
            raise UserError(f'status "{name}" already exists') from None
        log.info("status %s created (%s)", name, system)
        return dict(row)


async def list_statuses(db: Database) -> list[dict]:
    async with db.transaction() as s:
        rows = (await s.execute(text(
            "select s.id, s.name, s.system_status, s.auto_on, s.add_to_new_campaigns, s.hidden, s.active, "
            "s.protected as builtin, (select count(*) from campaign_statuses cs where cs.status_id = s.id) as campaigns "
            "from statuses s order by s.id"
        ))).mappings().all()
        return [dict(r) for r in rows]


async def edit_status(db: Database, name: str, *, new_name: str | None = None, system: str | None = None,
                      auto_on: str | None = None, add_to_new: bool | None = None, hidden: bool | None = None,
                      active: bool | None = None) -> dict:
    async with db.transaction() as s:
        row = await _status(s, name, lock=True)
        values: dict = {}
        if new_name is not None and new_name != name:
            cs.check_name("status", new_name)
            if row["protected"]:
                raise UserError(f'built-in status "{name}" cannot be renamed')
            if (await s.execute(text("select 1 from statuses where name = :n"), {"n": new_name})).first():
                raise UserError(f'status "{new_name}" already exists')
            values["name"] = new_name
        if system is not None:
            if row["protected"] and system != row["system_status"]:
                raise UserError(f'built-in status "{name}" keeps its system status {row["system_status"]}')
            values["system_status"] = parse_system(system)
        if auto_on is not None:
            values["auto_on"] = parse_auto_on(auto_on)
        if add_to_new is not None:
            values["add_to_new_campaigns"] = add_to_new
        if hidden is not None:
            values["hidden"] = hidden
        if active is not None:
            if row["protected"] and not active:
                raise UserError(f'built-in status "{name}" cannot be made inactive')
            values["active"] = active
        if not values:
            raise UserError("nothing to change: give at least one option")
        params = dict(values, id=row["id"])
        await s.execute(text(f"update statuses set {', '.join(f'{k} = :{k}' for k in values)} where id = :id"), params)
        # The campaigns' copies follow the dictionary, so the runtime sees one truth.
        copied = {k: v for k, v in values.items() if k in ("name", "system_status", "auto_on")}
        if copied:
            try:
                await s.execute(text(
                    f"update campaign_statuses set {', '.join(f'{k} = :{k}' for k in copied)} where status_id = :id"
                ), dict(copied, id=row["id"]))
            except IntegrityError:
                raise UserError(
                    f'status "{new_name}" clashes with a campaign\'s own status of that name; rename that one first'
                ) from None
        return await _status(s, values.get("name", name))


async def delete_status(db: Database, name: str) -> None:
    async with db.transaction() as s:
        row = await _status(s, name, lock=True)
        if row["protected"]:
            raise UserError(f'built-in status "{name}" cannot be deleted')
        used = (await s.execute(text(
            "select c.name from campaigns c where c.default_status_id = :id order by c.name limit 1"
        ), {"id": row["id"]})).scalar()
        if used:
            raise UserError(f'status "{name}" is the default status of campaign "{used}"; change that first')
        keyed = (await s.execute(text(
            "select count(*) from attempts a join campaign_statuses cs on cs.id = a.disposition_status_id "
            "where cs.status_id = :id"
        ), {"id": row["id"]})).scalar()
        if keyed:
            raise UserError(f'status "{name}" is the disposition of {keyed} calls in the ledger and cannot be deleted; '
                            f'make it inactive instead')
        # Linked campaign statuses go with it (FK cascade).
        await s.execute(text("delete from statuses where id = :id"), {"id": row["id"]})
        log.info("status %s deleted", name)


# --- campaign statuses -----------------------------------------------------------------------------

async def add_to_campaign(db: Database, status: str, campaign: str, dtmf: str | None = None) -> dict:
    async with db.transaction() as s:
        c = await get_campaign(s, campaign, lock=True)
        st = await _status(s, status)
        if (await s.execute(text("select 1 from campaign_statuses where campaign_id = :c and name = :n"),
                            {"c": c["id"], "n": st["name"]})).first():
            raise UserError(f'status "{status}" is already in campaign "{campaign}"')
        return await _insert_campaign_status(s, c, st["id"], st["name"], st["system_status"], list(st["auto_on"] or []), dtmf)


async def campaign_create(db: Database, name: str, campaign: str, system: str, *, auto_on: str | None = None,
                          dtmf: str | None = None) -> dict:
    cs.check_name("status", name)
    sys_status, auto = parse_system(system), parse_auto_on(auto_on)
    async with db.transaction() as s:
        c = await get_campaign(s, campaign, lock=True)
        if (await s.execute(text("select 1 from campaign_statuses where campaign_id = :c and name = :n"),
                            {"c": c["id"], "n": name})).first():
            raise UserError(f'status "{name}" is already in campaign "{campaign}"')
        return await _insert_campaign_status(s, c, None, name, sys_status, auto, dtmf)


async def _insert_campaign_status(s, c: dict, status_id: int | None, name: str, system: str,
                                  auto_on: Iterable[str], dtmf: str | None) -> dict:
    if dtmf is not None:
        await _check_dtmf_free(s, c["id"], dtmf)
    else:
        dtmf = await _next_dtmf(s, c["id"])
    try:
        row = (await s.execute(text(
            "insert into campaign_statuses (campaign_id, status_id, name, system_status, auto_on, dtmf_code) "
            "values (:c, :s, :n, :sys, :auto, :d) returning id, name, system_status, dtmf_code"
        ), {"c": c["id"], "s": status_id, "n": name, "sys": system, "auto": list(auto_on), "d": dtmf})).mappings().one()
    except IntegrityError as exc:
        if "uq_campaign_status_dtmf" in str(exc.orig):
            raise UserError(f"DTMF code {dtmf} is already used by another status in this campaign") from None
        raise UserError(f'status "{name}" is already in campaign "{c["name"]}"') from None
    log.info("campaign %s: status %s added with DTMF %s", c["name"], name, dtmf)
    return dict(row, campaign=c["name"])


async def campaign_list(db: Database, campaign: str) -> list[dict]:
    async with db.transaction() as s:
        c = await get_campaign(s, campaign)
        rows = (await s.execute(text(
            "select cs.dtmf_code as dtmf, cs.name, cs.system_status, cs.auto_on, "
            "  case when cs.status_id is null then 'campaign' else 'dictionary' end as source, "
            "  (cs.status_id is not null and cs.status_id = :d) as is_default "
            "from campaign_statuses cs where cs.campaign_id = :c "
            "order by cs.dtmf_code is null, length(cs.dtmf_code), cs.dtmf_code, cs.name"
        ), {"c": c["id"], "d": c["default_status_id"]})).mappings().all()
        return [dict(r) for r in rows]


async def set_dtmf(db: Database, status: str, campaign: str, dtmf: str) -> dict:
    async with db.transaction() as s:
        c = await get_campaign(s, campaign, lock=True)
        st = await _campaign_status(s, c["id"], campaign, status)
        await _check_dtmf_free(s, c["id"], dtmf, except_id=st["id"])
        await s.execute(text("update campaign_statuses set dtmf_code = :d where id = :id"), {"d": dtmf, "id": st["id"]})
        return {"campaign": campaign, "name": status, "dtmf_code": dtmf}


async def remove_from_campaign(db: Database, status: str, campaign: str) -> None:
    async with db.transaction() as s:
        c = await get_campaign(s, campaign, lock=True)
        st = await _campaign_status(s, c["id"], campaign, status)
        if st["name"] in BUILTIN_STATUSES and st["status_id"] is not None:
            raise UserError(f'built-in status "{status}" cannot be removed from a campaign')
        if st["status_id"] is not None and st["status_id"] == c["default_status_id"]:
            raise UserError(f'status "{status}" is the default status of campaign "{campaign}"; change the default first')
        keyed = (await s.execute(text("select count(*) from attempts where disposition_status_id = :id"),
                                 {"id": st["id"]})).scalar()
        if keyed:
            # the FK would set the ledger's disposition to null: the record of what was keyed would be lost
            raise UserError(f'status "{status}" is the disposition of {keyed} calls in campaign "{campaign}" '
                            f'and cannot be removed from it')
        await s.execute(text("delete from campaign_statuses where id = :id"), {"id": st["id"]})

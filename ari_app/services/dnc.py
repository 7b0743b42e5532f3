"""Do-not-call lists: numbers in E.164, one or more named lists (``default`` always exists).

Adding a number stops every campaign from dialling it at once: the entries with that number go to
state ``dnc`` (except an entry whose call is open right now: the dialer owns it until hang-up, and
the claim query never picks a number on a do-not-call list again) and pending callbacks to it are
cancelled. Removing a number leaves entries in state ``dnc``: re-enabling them is a deliberate act.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from ari_app.db import store
from ari_app.db.runtime import Database
from ari_app.domain.phones import PhoneError, PhoneNormaliser
from ari_app.errors import NotFound, UserError

log = logging.getLogger(__name__)


def to_e164(number: str, region: str | None) -> str:
    """An admin-typed number in E.164; UserError naming the number when it is not one."""
    raw = number.strip()
    if not raw.startswith("+") and not region:
        raise UserError(f'number "{number}" is not in international format (+...); add --region such as IT')
    try:
        return PhoneNormaliser(region or "US").normalise(raw).e164
    except PhoneError as exc:
        raise UserError(str(exc).replace("phone ", "number ", 1)) from None
    except ValueError as exc:
        raise UserError(f"--region: {exc}") from None


async def _list_id(session, name: str, *, create: bool) -> int:
    row = (await session.execute(text("select id from dnc_lists where name = :n"), {"n": name})).first()
    if row is not None:
        return row[0]
    if not create:
        raise NotFound(f"do-not-call list {name!r} does not exist")
    return (await session.execute(text("insert into dnc_lists (name) values (:n) returning id"), {"n": name})).scalar_one()


async def add_number(db: Database, number: str, *, list_name: str = "default", source: str | None = None,
                     region: str | None = None, now: dt.datetime) -> dict:
    e164 = to_e164(number, region)
    async with db.transaction() as s:
        lid = await _list_id(s, list_name, create=True)
        added = (await s.execute(text(
            "insert into dnc_numbers (list_id, e164, source, added_at) values (:l, :p, :s, :now) "
            "on conflict do nothing"), {"l": lid, "p": e164, "s": source, "now": now})).rowcount
        marked, cancelled = await store.mark_dnc(s, [e164], now)
    log.info("dnc add %s to list %s (new %s); %s entries marked, %s callbacks cancelled",
             e164, list_name, bool(added), marked, cancelled)
    return {"number": e164, "list": list_name, "added": bool(added), "entries_marked": marked,
            "callbacks_cancelled": cancelled}


@dataclass
class DncImportReport:
    file: str
    list: str
    read: int = 0
    added: int = 0
    already: int = 0
    entries_marked: int = 0
    callbacks_cancelled: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"file": self.file, "list": self.list, "read": self.read, "added": self.added,
                "already_listed": self.already, "entries_marked": self.entries_marked,
                "callbacks_cancelled": self.callbacks_cancelled, "rejected": len(self.rejected),
                "problems": self.rejected}


async def import_numbers(db: Database, path: str | Path, *, list_name: str = "default", region: str | None = None,
                         source: str | None = None, now: dt.datetime) -> DncImportReport:
    """One number per line (or the first field of a , ; or tab separated line); a first line without
    digits is a header. Bad lines are reported and skipped; the rest is added in one transaction."""
    from ari_app.services.contacts_import import decode

    try:
        data = Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise UserError(f"file {path} does not exist") from None
    content, _codec = decode(data, str(path), None)
    report = DncImportReport(str(path), list_name)
    norm = PhoneNormaliser(region) if region else None
    plus_only = PhoneNormaliser("US")
    numbers: dict[str, None] = {}
    for lineno, line in enumerate(content.splitlines(), start=1):
        cell = line
        for sep in (",", ";", "\t"):
            cell = cell.split(sep, 1)[0]
        cell = cell.strip().strip('"').strip()
        if not cell:
            continue
        if lineno == 1 and not any(ch.isdigit() for ch in cell):
            continue  # header
        report.read += 1
        try:
            if cell.startswith("+"):
                e164 = plus_only.normalise(cell).e164
            elif norm is not None:
                e164 = norm.normalise(cell).e164
            else:
                report.rejected.append(f'line {lineno}: number "{cell}" is not in international format (+...); '
                                       f"add --region")
                continue
        except PhoneError as exc:
            report.rejected.append(f"line {lineno}: {str(exc).replace('phone ', 'number ', 1)}")
            continue
        numbers[e164] = None
    if report.read == 0:
        raise UserError(f"{path} has no numbers; nothing was added")
    phones = list(numbers)
    async with db.transaction() as s:
        lid = await _list_id(s, list_name, create=True)
        added = await s.execute(text(
            "insert into dnc_numbers (list_id, e164, source, added_at) "
            "select :l, p, :s, :now from unnest(cast(:phones as text[])) p on conflict do nothing returning e164"),
            {"l": lid, "s": source or f"import {Path(path).name}", "now": now, "phones": phones})
        report.added = len(added.all())
        report.already = len(phones) - report.added
        report.entries_marked, report.callbacks_cancelled = await store.mark_dnc(s, phones, now)
    return report


async def check_number(db: Database, number: str, *, region: str | None = None) -> dict:
    e164 = to_e164(number, region)
    async with db.transaction() as s:
        rows = (await s.execute(text(
            "select l.name as list, n.source, n.added_at from dnc_numbers n join dnc_lists l on l.id = n.list_id "
            "where n.e164 = :p order by l.name"), {"p": e164})).mappings().all()
    return {"number": e164, "on_dnc": bool(rows), "lists": [dict(r) for r in rows]}


async def remove_number(db: Database, number: str, *, list_name: str | None = None,
                        region: str | None = None) -> dict:
    e164 = to_e164(number, region)
    async with db.transaction() as s:
        if list_name is not None:
            lid = await _list_id(s, list_name, create=False)
            n = (await s.execute(text("delete from dnc_numbers where list_id = :l and e164 = :p"),
                                 {"l": lid, "p": e164})).rowcount
        else:
            n = (await s.execute(text("delete from dnc_numbers where e164 = :p"), {"p": e164})).rowcount
    if n == 0:
        where = f"list {list_name!r}" if list_name else "any do-not-call list"
        raise NotFound(f"number {e164} is not on {where}")
    return {"number": e164, "removed_from": n}


async def list_numbers(db: Database, *, list_name: str | None = None) -> list[dict]:
    async with db.transaction() as s:
        if list_name is not None:
            await _list_id(s, list_name, create=False)
        rows = (await s.execute(text(
            "select n.e164 as number, l.name as list, n.source, n.added_at from dnc_numbers n "
            "join dnc_lists l on l.id = n.list_id where (cast(:l as text) is null or l.name = :l) "
            "order by l.name, n.e164"), {"l": list_name})).mappings().all()
    return [dict(r) for r in rows]

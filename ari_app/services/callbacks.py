"""Callbacks: add, move, cancel, list. The database is the only source of truth; the runtime's
scheduler rebuilds itself from these rows (and is woken by the NOTIFY trigger on every change)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import text

from ari_app.db.runtime import Database
from ari_app.domain.time_rules import CallingHours, zone
from ari_app.errors import NotFound, UserError


@dataclass(frozen=True)
class CallbackRow:
    id: int
    campaign: str
    phone: str
    contact_zone: str
    due_at: dt.datetime
    owner: str | None
    state: str
    escalate: bool

    def as_dict(self, admin_zone: str) -> dict:
        return {
            "id": self.id,
            "campaign": self.campaign,
            "phone": self.phone,
            "owner": self.owner or "(any agent)",
            "due_contact_time": self.due_at.astimezone(zone(self.contact_zone)).strftime("%Y-%m-%d %H:%M %Z"),
            "due_admin_time": self.due_at.astimezone(zone(admin_zone)).strftime("%Y-%m-%d %H:%M %Z"),
            "due_at": self.due_at.isoformat(),
            "state": self.state,
            "escalate": self.escalate,
        }


def parse_due(text_value: str, contact_zone: str) -> dt.datetime:
    """'2026-11-23 15:00' is contact-local time; a value with an offset is taken as given."""
    try:
        value = dt.datetime.fromisoformat(text_value.strip().replace("T", " "))
    except ValueError:
        raise UserError(f"due time {text_value!r} is not a date and time such as 2026-11-23 15:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(contact_zone))
    return value.astimezone(dt.timezone.utc)


def _e164(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise UserError(f"phone {number!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise UserError(f"phone {number!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_ENTRY = text(
    "select e.id, e.contact_id, e.phone_e164, coalesce(e.timezone, c.timezone) as tz, e.state, "
    "       c.id as campaign_id, c.default_region, c.calling_hours_start, c.calling_hours_end "
    "from campaign_entries e join campaigns c on c.id = e.campaign_id "
    "where c.name = :campaign and e.phone_e164 = :phone"
)


def _check_due(due: dt.datetime, now: dt.datetime, hours: CallingHours, tz: str) -> None:
    if due <= now:
        raise UserError(f"due time {due.astimezone(zone(tz)):%Y-%m-%d %H:%M %Z} is in the past")
    if not hours.allows(tz, due):
        raise UserError(
            f"due time {due.astimezone(zone(tz)):%H:%M %Z} is outside calling hours "
            f"{hours.start:%H:%M}-{hours.end:%H:%M} in the contact's time zone"
        )


async def _agent_id(s, extension: str | None) -> int | None:
    if extension is None:
        return None
    row = (await s.execute(text("select id from agents where extension = :e"), {"e": extension})).first()
    if row is None:
        raise NotFound(f"agent {extension!r} does not exist")
    return row[0]


async def add_callback(db: Database, *, campaign: str, phone: str, due: str, now: dt.datetime,
                       agent: str | None = None, number: str | None = None, escalate: bool = True,
                       created_by: str = "cli") -> int:
    async with db.transaction() as s:
        region = (await s.execute(text("select default_region from campaigns where name = :n"), {"n": campaign})).scalar()
        if region is None:
            raise NotFound(f"campaign {campaign!r} does not exist")
        entry = (await s.execute(_ENTRY, {"campaign": campaign, "phone": _e164(phone, region)})).mappings().first()
        if entry is None:
            raise NotFound(f"phone {phone} is not in campaign {campaign!r}")
        if entry["state"] in ("dnc", "done", "exhausted"):
            raise UserError(f"the entry for {entry['phone_e164']} is {entry['state']} and cannot get a callback")
        target = _e164(number, region) if number else entry["phone_e164"]
        on_dnc = (await s.execute(text("select 1 from dnc_numbers where e164 = :p"), {"p": target})).first()
        if on_dnc:
            raise UserError(f"number {target} is on the do-not-call list")
        due_at = parse_due(due, entry["tz"] or "UTC")
        _check_due(due_at, now, CallingHours(entry["calling_hours_start"], entry["calling_hours_end"]), entry["tz"] or "UTC")
        pending = (await s.execute(text("select id from callbacks where entry_id = :e and state = 'pending'"),
                                   {"e": entry["id"]})).first()
        if pending:
            raise UserError(f"the entry for {entry['phone_e164']} already has pending callback {pending[0]}; move or cancel it")
        owner = await _agent_id(s, agent)
        cb_id = (await s.execute(text(
            "insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id, escalate, created_by) "
            "values (:c, :e, :k, :p, :d, :o, :x, :by) returning id"),
            {"c": entry["campaign_id"], "e": entry["id"], "k": entry["contact_id"], "p": target, "d": due_at,
             "o": owner, "x": escalate, "by": created_by})).scalar_one()
        await s.execute(text("update campaign_entries set state = 'callback', updated_at = :now "
                             "where id = :e and campaign_id = :c and state = 'ready'"),
                        {"e": entry["id"], "c": entry["campaign_id"], "now": now})
    return cb_id


async def _pending(s, callback_id: int):
    row = (await s.execute(text(
        "select cb.*, coalesce(e.timezone, c.timezone) as tz, c.calling_hours_start, c.calling_hours_end, c.default_region "
        "from callbacks cb join campaign_entries e on e.id = cb.entry_id and e.campaign_id = cb.campaign_id join campaigns c on c.id = cb.campaign_id "
        "where cb.id = :id for update of cb"), {"id": callback_id})).mappings().first()
    if row is None:
        raise NotFound(f"callback {callback_id} does not exist")
    if row["state"] != "pending":
        raise UserError(f"callback {callback_id} is {row['state']} and can no longer be changed")
    return row


async def move_callback(db: Database, callback_id: int, *, now: dt.datetime, due: str | None = None,
                        agent: str | None = None, number: str | None = None, any_agent: bool = False) -> None:
    async with db.transaction() as s:
        row = await _pending(s, callback_id)
        values: dict = {}
        if due is not None:
            due_at = parse_due(due, row["tz"] or "UTC")
            _check_due(due_at, now, CallingHours(row["calling_hours_start"], row["calling_hours_end"]), row["tz"] or "UTC")
            values["due_at"] = due_at
        if agent is not None:
            values["owner_agent_id"] = await _agent_id(s, agent)
        if any_agent:
            values["owner_agent_id"] = None
        if number is not None:
            values["phone_e164"] = _e164(number, row["default_region"])
        if not values:
            raise UserError("nothing to change: give --due, --agent, --any-agent or --number")
        sets = ", ".join(f"{k} = :{k}" for k in values)
        await s.execute(text(f"update callbacks set {sets} where id = :id"), {**values, "id": callback_id})


async def cancel_callback(db: Database, callback_id: int, *, now: dt.datetime, reason: str = "cancelled") -> None:
    async with db.transaction() as s:
        row = await _pending(s, callback_id)
        await s.execute(text("update callbacks set state = 'cancelled', cancelled_reason = :r where id = :id"),
                        {"r": reason, "id": callback_id})
        await s.execute(text("update campaign_entries set state = 'ready', updated_at = :now "
                             "where id = :e and campaign_id = :c and state = 'callback'"),
                        {"e": row["entry_id"], "c": row["campaign_id"], "now": now})


async def list_callbacks(db: Database, *, now: dt.datetime, campaign: str | None = None, agent: str | None = None,
                         due_before: dt.datetime | None = None, due_after: dt.datetime | None = None,
                         overdue: bool = False, state: str = "pending") -> list[CallbackRow]:
    where = ["cb.state = :state"]
    params: dict = {"state": state}
    if campaign:
        where.append("c.name = :campaign")
        params["campaign"] = campaign
    if agent:
        where.append("a.extension = :agent")
        params["agent"] = agent
    if due_before:
        where.append("cb.due_at < :before")
        params["before"] = due_before
    if due_after:
        where.append("cb.due_at > :after")
        params["after"] = due_after
    if overdue:
        where.append("cb.due_at < :now")
        params["now"] = now
    # joined by the entry's id alone: only pending callbacks move with their entry to another campaign
    async with db.transaction() as s:
        rows = (await s.execute(text(
            "select cb.id, c.name as campaign, cb.phone_e164, coalesce(e.timezone, c.timezone) as tz, cb.due_at, "
            "a.extension as owner, cb.state, cb.escalate "
            "from callbacks cb join campaigns c on c.id = cb.campaign_id join campaign_entries e on e.id = cb.entry_id "
            "left join agents a on a.id = cb.owner_agent_id where " + " and ".join(where) + " order by cb.due_at"),
            params)).all()
    return [CallbackRow(r[0], r[1], r[2], r[3] or "UTC", r[4], r[5], r[6], r[7]) for r in rows]

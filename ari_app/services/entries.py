"""Campaign entries: add directory contacts by filter, list, move between campaigns, delete.

Moving keeps an entry's history: the row keeps its id and only its campaign changes, so the
attempts that reference it follow (attempt rows keep the campaign the call was made in: the ledger
tells what happened where). Deleting keeps the ledger too: attempts.entry_id becomes NULL.
Both refuse, in one sentence and without changing anything, an entry whose call is open (state
``dialing``); moving also refuses when the target campaign already has the number.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import exists, func, insert, literal, not_, select, text

from ari_app.db.partitions import ensure_entries_partition
from ari_app.db.runtime import Database
from ari_app.db.tables import CampaignEntry, Contact, DncNumber
from ari_app.errors import NotFound, UserError
from ari_app.services import filters as flt
from ari_app.services.contacts_import import find_campaign

log = logging.getLogger(__name__)

ENTRY_STATES = ("ready", "reserved", "dialing", "callback", "done", "exhausted", "dnc")


@dataclass(frozen=True)
class Selector:
    ids: tuple[int, ...] = ()
    campaign: str | None = None
    filter: str | None = None
    state: str | None = None

    def check(self) -> None:
        if self.ids and (self.campaign or self.filter or self.state):
            raise UserError("--ids cannot be combined with --campaign, --filter or --state")
        if not self.ids:
            if not self.campaign:
                raise UserError("say which entries: --ids 1,2,3, or --campaign C with --filter EXPR or --state S")
            if not self.filter and not self.state:
                raise UserError("--campaign needs --filter EXPR or --state S to select entries")
        if self.state and self.state not in ENTRY_STATES:
            raise UserError(f"--state {self.state!r} is not one of {', '.join(ENTRY_STATES)}")


def parse_ids(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit():
            raise UserError(f"--ids item {part!r} is not an entry id (use --ids 1,2,3)")
        out.append(int(part))
    return tuple(dict.fromkeys(out))


async def _select_entries(session, sel: Selector) -> list[dict]:
    sel.check()
    q = (select(CampaignEntry.id, CampaignEntry.campaign_id, CampaignEntry.phone_e164, CampaignEntry.state)
         .join(Contact, Contact.id == CampaignEntry.contact_id))
    if sel.ids:
        q = q.where(CampaignEntry.id.in_(sel.ids))
    else:
        camp = await find_campaign(session, sel.campaign)
        q = q.where(CampaignEntry.campaign_id == camp["id"])
        if sel.state:
            q = q.where(CampaignEntry.state == sel.state)
        if sel.filter:
            q = q.where(flt.compile_filter(await flt.resolve(session, sel.filter), flt.ENTRIES))
    rows = [dict(r) for r in (await session.execute(
        q.order_by(CampaignEntry.id).with_for_update(of=CampaignEntry))).mappings()]
    if sel.ids:
        missing = sorted(set(sel.ids) - {r["id"] for r in rows})
        if missing:
            raise NotFound(f"entry {missing[0]} does not exist; nothing was changed")
    if not rows:
        raise NotFound("no entry matches; nothing was changed")
    return rows


def _refuse_open_calls(rows: list[dict], verb: str) -> None:
    busy = [r for r in rows if r["state"] == "dialing"]
    if busy:
        more = f" (and {len(busy) - 1} more)" if len(busy) > 1 else ""
        raise UserError(f"entry {busy[0]['id']}{more} has an open call (state dialing); nothing was {verb}")


async def move_entries(db: Database, sel: Selector, to: str) -> dict:
    async with db.transaction() as s:
        target = await find_campaign(s, to, lock=True)
        rows = await _select_entries(s, sel)
        if any(r["campaign_id"] == target["id"] for r in rows):
            first = next(r for r in rows if r["campaign_id"] == target["id"])
            raise UserError(f"entry {first['id']} is already in campaign {target['name']}; nothing was moved")
        _refuse_open_calls(rows, "moved")
        seen: dict[str, int] = {}
        for r in rows:
            if r["phone_e164"] in seen:
                raise UserError(f"entries {seen[r['phone_e164']]} and {r['id']} have the same number "
                                f"{r['phone_e164']}, which campaign {target['name']} can hold once; nothing was moved")
            seen[r["phone_e164"]] = r["id"]
        clash = (await s.execute(text(
            "select phone_e164 from campaign_entries where campaign_id = :t and phone_e164 = any(:p) limit 1"),
            {"t": target["id"], "p": list(seen)})).first()
        if clash:
            raise UserError(f"campaign {target['name']} already has number {clash[0]} (entry {seen[clash[0]]}); "
                            f"nothing was moved")
        ids = [r["id"] for r in rows]
        await ensure_entries_partition(s, target["id"])
        await s.execute(text("update campaign_entries set campaign_id = :t, updated_at = now() where id = any(:ids)"),
                        {"t": target["id"], "ids": ids})
        # A pending callback belongs to the entry's campaign: it follows the entry.
        await s.execute(text("update callbacks set campaign_id = :t where entry_id = any(:ids) and state = 'pending'"),
                        {"t": target["id"], "ids": ids})
    log.info("moved %s entries to campaign %s (id %s)", len(ids), target["name"], target["id"])
    return {"moved": len(ids), "to": target["name"], "ids": ids}


async def delete_entries(db: Database, sel: Selector) -> dict:
    async with db.transaction() as s:
        rows = await _select_entries(s, sel)
        _refuse_open_calls(rows, "deleted")
        ids = [r["id"] for r in rows]
        # The ledger rows stay: a trigger sets their entry_id to NULL (migration 0005).
        await s.execute(text("delete from campaign_entries where id = any(:ids)"), {"ids": ids})
    log.info("deleted %s entries", len(ids))
    return {"deleted": len(ids), "ids": ids}


async def list_entries(db: Database, campaign: str, state: str | None = None, limit: int | None = None) -> list[dict]:
    if state and state not in ENTRY_STATES:
        raise UserError(f"--state {state!r} is not one of {', '.join(ENTRY_STATES)}")
    async with db.transaction() as s:
        camp = await find_campaign(s, campaign)
        q = (select(CampaignEntry.id, CampaignEntry.phone_e164.label("phone"), Contact.name,
                    CampaignEntry.state, CampaignEntry.attempts, CampaignEntry.timezone,
                    CampaignEntry.next_attempt_at, CampaignEntry.contact_id)
             .join(Contact, Contact.id == CampaignEntry.contact_id)
             .where(CampaignEntry.campaign_id == camp["id"]).order_by(CampaignEntry.id))
        if state:
            q = q.where(CampaignEntry.state == state)
        if limit:
            q = q.limit(limit)
        return [dict(r) for r in (await s.execute(q)).mappings()]


async def add_to_campaign(db: Database, campaign: str, expression: str, *, dry_run: bool = False) -> dict:
    """Add the directory contacts matching ``expression`` to ``campaign`` (their first number).

    Contacts whose number is already in the campaign, repeats another selected contact's number
    (the lowest contact id wins), or is on a do-not-call list are counted and skipped. Set-based:
    one counting query and one INSERT ... SELECT, whatever the size of the directory.
    """
    async with db.transaction() as s:
        camp = await find_campaign(s, campaign, lock=True)
        cond = flt.compile_filter(await flt.resolve(s, expression), flt.CONTACTS)
        first_phone = Contact.phones[1]  # the number a contact's entries dial
        in_campaign = exists().where(CampaignEntry.campaign_id == camp["id"],
                                     CampaignEntry.phone_e164 == first_phone)
        on_dnc = exists().where(DncNumber.e164 == first_phone)
        matched = (select(Contact.id.label("contact_id"), first_phone.label("e164"), Contact.timezone,
                          func.row_number().over(partition_by=first_phone, order_by=Contact.id).label("rank"),
                          in_campaign.label("in_campaign"), on_dnc.label("on_dnc"))
                   .where(first_phone.is_not(None), cond).subquery())
        m = matched.c
        total, already, repeated, dnc = (await s.execute(select(
            func.count(),
            func.count().filter(m.in_campaign),
            func.count().filter(not_(m.in_campaign), m.rank > 1),
            func.count().filter(not_(m.in_campaign), m.rank == 1, m.on_dnc)))).one()
        added = total - already - repeated - dnc
        if added and not dry_run:
            await ensure_entries_partition(s, camp["id"])
            await s.execute(insert(CampaignEntry).from_select(
                ["campaign_id", "contact_id", "phone_e164", "timezone", "state"],
                select(literal(camp["id"]), m.contact_id, m.e164, m.timezone, literal("ready"))
                .where(not_(m.in_campaign), m.rank == 1, not_(m.on_dnc))))
        if dry_run:
            await s.rollback()
    return {"campaign": camp["name"], "matched": total, "added": added, "already_in_campaign": already,
            "same_number_as_another_contact": repeated, "dnc_skipped": dnc, "dry_run": dry_run}

"""`dialer campaign explain`: would this entry be dialled now, and if not, which rule blocks it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select, text

from ari_app.db.runtime import Database
from ari_app.db.tables import Campaign, CampaignEntry
from ari_app.domain.dialability import CampaignFacts, EntryFactsForDial, Verdict, explain_entry
from ari_app.domain.enums import CampaignState, EntryState
from ari_app.domain.time_rules import CallingHours, local_time_text
from ari_app.errors import NotFound, UserError


@dataclass(frozen=True)
class Explanation:
    campaign: str
    phone: str
    entry_id: int
    verdict: Verdict
    contact_local_time: str
    contact_zone: str | None

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign,
            "phone": self.phone,
            "entry_id": self.entry_id,
            "dialable": self.verdict.dialable,
            "rule": self.verdict.rule,
            "detail": self.verdict.detail,
            "flags": list(self.verdict.flags),
            "contact_zone": self.contact_zone,
            "contact_local_time": self.contact_local_time,
        }


def _e164(phone: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise UserError(f"phone {phone!r} is not a phone number") from None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def explain(db: Database, campaign_name: str, phone: str, now: dt.datetime) -> Explanation:
    async with db.transaction() as s:
        campaign = (await s.execute(select(Campaign).where(Campaign.name == campaign_name))).scalar_one_or_none()
        if campaign is None:
            raise NotFound(f"campaign {campaign_name!r} does not exist")
        e164 = _e164(phone, campaign.default_region)
        entry = (
            await s.execute(
                select(CampaignEntry).where(CampaignEntry.campaign_id == campaign.id, CampaignEntry.phone_e164 == e164)
            )
        ).scalar_one_or_none()
        if entry is None:
            raise NotFound(f"phone {e164} is not in campaign {campaign_name!r}")
        row = (
            await s.execute(
                text(
                    "select exists(select 1 from dnc_numbers where e164 = :p) as on_dnc, "
                    "exists(select 1 from attempts where phone_e164 = :p and ended_at is null) as open_call, "
                    "coalesce((select array_agg(agent_id) from agent_sessions "
                    "          where logged_out_at is null and state = 'ready'), '{}') as ready, "
                    "(select cb.due_at from callbacks cb where cb.state = 'pending' and cb.campaign_id = :c "
                    "   and cb.contact_id = :k order by cb.due_at limit 1) as callback_due, "
                    "(select a.extension from callbacks cb join agents a on a.id = cb.owner_agent_id "
                    "  where cb.state = 'pending' and cb.campaign_id = :c and cb.contact_id = :k "
                    "  order by cb.due_at limit 1) as callback_owner, "
                    "(select case when a.abandoned then a.ended_at end from attempts a where a.phone_e164 = :p "
                    "  order by a.id desc limit 1) as last_abandoned_at, "
                    "(select count(*) from attempts a where a.phone_e164 = :p "
                    "  and a.created_at > cast(:now as timestamptz) - interval '24 hours') as calls_24h"
                ),
                {"p": e164, "c": campaign.id, "k": entry.contact_id, "now": now},
            )
        ).one()
    facts = CampaignFacts(
        state=CampaignState(campaign.state),
        timezone=campaign.timezone,
        schedule=campaign.schedule or {},
        calling_hours=CallingHours(campaign.calling_hours_start, campaign.calling_hours_end),
        max_attempts=campaign.max_attempts,
    )
    entry_facts = EntryFactsForDial(
        state=EntryState(entry.state),
        attempts=entry.attempts,
        next_attempt_at=entry.next_attempt_at,
        not_before=entry.not_before,
        owner_agent_id=entry.owner_agent_id,
        timezone=entry.timezone,
        progressive_only=entry.progressive_only,
    )
    zone = entry.timezone or campaign.timezone
    pending = None
    if row.callback_due is not None:
        who = f"agent {row.callback_owner}" if row.callback_owner else "any agent"
        pending = f"a callback for {who} is pending, due {local_time_text(zone, row.callback_due)} (contact time)"
    verdict = explain_entry(
        facts, entry_facts, now, on_dnc=row.on_dnc, open_call=row.open_call, agents_ready=frozenset(row.ready),
        pending_callback=pending, rule_72h=bool((campaign.options or {}).get("rule_72h")),
        last_abandoned_at=row.last_abandoned_at,
        region_rules=(campaign.options or {}).get("region_rules") or (), phone=e164, calls_24h=row.calls_24h,
    )
    return Explanation(campaign.name, e164, entry.id, verdict, local_time_text(zone, now), entry.timezone)

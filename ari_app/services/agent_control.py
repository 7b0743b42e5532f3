"""Live agent control and the live view, from the database (works with any number of instances)."""
from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import text

from ari_app.db.runtime import Database
from ari_app.errors import NotFound, UserError

COMMANDS = ("login", "logout", "pause", "unpause", "end-wrapup")


async def send_agent_command(db: Database, extension: str, command: str, *, campaign: str | None = None,
                             reason: str | None = None, wait: float = 5.0) -> str:
    """Queue a command for the instance that holds the agent's phone and wait for its result."""
    async with db.transaction() as s:
        agent = (await s.execute(text("select id from agents where extension = :e"), {"e": extension})).first()
        if agent is None:
            raise NotFound(f"agent {extension!r} does not exist")
        campaign_id = None
        if campaign is not None:
            campaign_id = (await s.execute(text("select id from campaigns where name = :n"), {"n": campaign})).scalar()
            if campaign_id is None:
                raise NotFound(f"campaign {campaign!r} does not exist")
        if command == "login" and campaign_id is None:
            raise UserError("agent login needs --campaign: the phone logs in with *50, a supervisor adds campaigns")
        live = (await s.execute(text("select 1 from agent_sessions where agent_id = :a and logged_out_at is null"),
                                {"a": agent.id})).first()
        if live is None:
            raise UserError(f"agent {extension} is not logged in on a phone")
        cmd_id = (await s.execute(text(
            "insert into agent_commands (agent_id, command, campaign_id, reason) values (:a, :c, :k, :r) returning id"),
            {"a": agent.id, "c": command, "k": campaign_id, "r": reason})).scalar_one()
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        async with db.transaction() as s:
            result = (await s.execute(text("select result from agent_commands where id = :id and done_at is not null"),
                                      {"id": cmd_id})).scalar()
        if result is not None:
            return result
        await asyncio.sleep(0.1)
    async with db.transaction() as s:
        await s.execute(text("update agent_commands set done_at = now(), result = 'expired' where id = :id and done_at is null"),
                        {"id": cmd_id})
    raise UserError(f"no running dialer took the command for agent {extension} within {wait:.0f} seconds")


async def live_view(db: Database, now: dt.datetime, campaign: str | None = None) -> dict:
    params = {"now": now, "campaign": campaign}
    async with db.transaction() as s:
        agents = (await s.execute(text(
            "select a.extension, a.display_name, s.state, extract(epoch from :now - s.state_since)::int as in_state_s, "
            "       (select string_agg(c.name, ',' order by c.name) from campaigns c where c.id = any(s.campaign_ids)) as campaigns, "
            "       t.phone_e164 as call_number, extract(epoch from :now - t.connected_at)::int as call_s "
            "from agent_sessions s join agents a on a.id = s.agent_id "
            "left join lateral (select phone_e164, connected_at from attempts "
            "                   where agent_id = s.agent_id and ended_at is null order by id desc limit 1) t on true "
            "where s.logged_out_at is null and (cast(:campaign as text) is null or exists "
            "      (select 1 from campaigns c where c.name = :campaign and c.id = any(s.campaign_ids))) "
            "order by a.extension"), params)).mappings().all()
        campaigns = (await s.execute(text(
            "select c.name, c.mode, c.state, "
            "  (select count(*) from attempts a where a.campaign_id = c.id and a.ended_at is null) as lines, "
            "  (select count(*) from attempts a where a.campaign_id = c.id and a.ended_at is null "
            "     and a.answered_at is not null and a.connected_at is null) as waiting, "
            "  (select count(*) filter (where abandoned)::float / nullif(count(*) filter (where outcome in ('answered','abandoned')), 0) "
            "     from attempts a where a.campaign_id = c.id and a.ended_at >= date_trunc('day', :now)) as abandon_rate_today "
            "from campaigns c where c.state in ('active', 'paused') and (cast(:campaign as text) is null or c.name = :campaign) "
            "order by c.name"), params)).mappings().all()
    return {"agents": [dict(r) for r in agents], "campaigns": [dict(r) for r in campaigns]}

"""`dialer demo` (what `make demo` runs): the embedded database, the PBX simulator and the service,
a predictive campaign with 10 simulated agents and a few hundred contacts, and a live view.

Everything is real but the far ends: the service talks ARI over HTTP and WebSocket to the simulator,
and the simulated agents press keys on simulated desk phones.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import sys
import time

import click

from admin_cli.context import CliContext, pass_ctx

AGENT_PIN = "1234"


def register(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--agents", default=10, show_default=True, help="Simulated agents.")
@click.option("--contacts", default=400, show_default=True, help="Contacts in the demo campaign.")
@click.option("--time-scale", default=4.0, show_default=True, help="Simulated seconds per real second.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--seed", default=7, show_default=True)
@pass_ctx
def demo(ctx: CliContext, agents: int, contacts: int, time_scale: float, duration: float | None, seed: int) -> None:
    """Run a predictive campaign against the PBX simulator and show it live."""
    logging.getLogger().setLevel(logging.WARNING)
    url = ctx.database_url(migrate=True)
    asyncio.run(_demo(url, agents, contacts, time_scale, duration, seed))


async def _seed_campaign(db, name: str, agents: int, contacts: int, rng: random.Random) -> tuple[int, list[str]]:
    from sqlalchemy import text

    from ari_app.db.partitions import ensure_entries_partition
    from ari_app.services.pins import hash_pin

    exts = [f"2{i:03d}" for i in range(1, agents + 1)]
    async with db.transaction() as s:
        cid = (await s.execute(text(
            "insert into campaigns (name, mode, state, goal, dial_template, caller_ids, ring_timeout_seconds, "
            " wrapup_seconds, max_attempts, timezone, calling_hours_start, calling_hours_end, pickup_rate, "
            " retry_rules) values (:n, 'predictive', 'active', 'none', 'PJSIP/{number}@carrier', '{+390600000000}', "
            " 25, 15, 3, 'Europe/Rome', '00:00', '23:59:59', 0.3, "
            " '{\"busy\": {\"delay_seconds\": 120, \"max\": 3}, \"no_answer\": {\"delay_seconds\": 300, \"max\": 3}}') "
            "returning id"), {"n": name})).scalar_one()
        await s.execute(text(
            "insert into campaign_statuses (campaign_id, status_id, name, system_status, auto_on, dtmf_code) "
            "select :c, id, name, system_status, auto_on, case name when 'Call' then '1' else '9' end "
            "from statuses where name in ('Call', 'Do not call')"), {"c": cid})
        await s.execute(text(
            "insert into campaign_statuses (campaign_id, name, system_status, dtmf_code) "
            "values (:c, 'Sale', 'do_not_call', '2'), (:c, 'Busy', 'call_again', null)"), {"c": cid})
        await s.execute(text("update campaign_statuses set auto_on = '{busy}' where campaign_id = :c and name = 'Busy'"), {"c": cid})
        for ext in exts:
            agent_id = (await s.execute(text(
                "insert into agents (extension, display_name, pin_hash) values (:e, :n, :p) "
                "on conflict (extension) do update set pin_hash = excluded.pin_hash, active = true returning id"),
                {"e": ext, "n": f"Demo agent {ext}", "p": hash_pin(AGENT_PIN)})).scalar_one()
            await s.execute(text("insert into campaign_agents values (:c, :a)"), {"c": cid, "a": agent_id})
        contact_id = (await s.execute(text("insert into contacts (name) values ('demo') returning id"))).scalar_one()
        numbers = rng.sample(range(10_000_000), contacts)
        await ensure_entries_partition(s, cid)
        await s.execute(text(
            "insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) "
            "select :c, :k, '+3906' || lpad(n::text, 8, '0'), 'Europe/Rome' from unnest(cast(:nums as int[])) n"),
            {"c": cid, "k": contact_id, "nums": numbers})
    return cid, exts


async def _demo(url: str, n_agents: int, n_contacts: int, time_scale: float, duration: float | None, seed: int) -> None:
    from pbx_sim import SimConfig, Simulator

    from ari_app.ari.aioari_adapter import AioariAdapter
    from ari_app.db.runtime import Database
    from ari_app.domain.enums import AgentState
    from ari_app.services.dialer import DialerService
    from ari_app.services.live import Phase

    rng = random.Random(seed)
    db = Database(url)
    name = f"demo-{dt.datetime.now():%Y%m%d-%H%M%S}"
    cid, exts = await _seed_campaign(db, name, n_agents, n_contacts, rng)
    sim = Simulator(SimConfig(port=0, time_scale=time_scale, seed=seed))
    await sim.start()
    sim.use_probabilities(answer=0.30, busy=0.15, no_answer=0.30, congestion=0.05, invalid=0.05, machine=0.15,
                          ring_mean=9, ring_sd=5, talk_mean=120, talk_sd=90)
    ari = AioariAdapter(sim.base_url, "dialer", "dialer", "dialer")
    service = DialerService(db, ari, instance_id=f"demo-{name}", tick_seconds=0.25)
    runner = asyncio.create_task(service.run())
    await asyncio.wait_for(service.connected.wait(), 10)
    phones = []
    for ext in exts:
        phone = sim.add_phone(ext, name=f"Agent {ext}")
        await phone.dial("*50")
        await phone.press(AGENT_PIN + "#")
        phones.append(phone)

    wrap_due: dict[str, float] = {}
    started = time.monotonic()
    interactive = sys.stdout.isatty()
    try:
        while duration is None or time.monotonic() - started < duration:
            await asyncio.sleep(1.0)
            # Simulated agents key a status code some seconds into wrap-up (scaled like the simulator).
            for agent in list(service.agents.values()):
                if agent.phase is Phase.WRAP_UP:
                    due = wrap_due.setdefault(agent.channel_id, time.monotonic() + rng.uniform(2, 10) / time_scale)
                    if time.monotonic() >= due:
                        wrap_due.pop(agent.channel_id, None)
                        phone = next((p for p in phones if p.channel_id == agent.channel_id), None)
                        if phone is not None:
                            await phone.press(rng.choice(["1", "1", "2"]) + "#")
            stats = await _stats(db, cid)
            _render(service, stats, name, time.monotonic() - started, interactive, AgentState)
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        service.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 10)
        await sim.stop()
        await db.dispose()


async def _stats(db, cid: int) -> dict:
    from sqlalchemy import text

    async with db.transaction() as s:
        row = (await s.execute(text(
            "select count(*) as placed, count(*) filter (where connected_at is not null or abandoned) as live, "
            "count(*) filter (where abandoned) as abandoned, count(*) filter (where ended_at is null) as open, "
            "count(*) filter (where outcome = 'machine') as machine "
            "from attempts where campaign_id = :c"), {"c": cid})).one()
        occ = (await s.execute(text(
            "with x as (select agent_id, state, at, lead(at, 1, now()) over (partition by session_id order by at) as nxt "
            "           from agent_state_changes) "
            "select coalesce(sum(extract(epoch from nxt - at)) filter (where state in ('on_call','wrap_up')), 0) / "
            "       nullif(sum(extract(epoch from nxt - at)) filter (where state <> 'logged_out'), 0) from x"))).scalar()
    return {**row._asdict(), "occupancy": float(occ or 0.0)}


def _render(service, stats: dict, name: str, elapsed: float, interactive: bool, AgentState) -> None:
    by_state: dict[str, int] = {}
    for agent in service.agents.values():
        if agent.session_id:
            by_state[str(agent.state)] = by_state.get(str(agent.state), 0) + 1
    lines_in_use = len(service.calls)
    rate = stats["abandoned"] / stats["live"] if stats["live"] else 0.0
    out = [
        f"Dialer demo - campaign {name} - {elapsed:5.0f} s  (Ctrl-C to stop)",
        "agents:  " + "  ".join(f"{s}={by_state.get(str(s), 0)}" for s in
                                (AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.PAUSED)),
        f"lines in use: {lines_in_use:3d}   placed: {stats['placed']:4d}   answered (live): {stats['live']:4d}   "
        f"machines: {stats['machine']:4d}",
        f"abandoned: {stats['abandoned']:3d}   abandon rate: {rate:6.2%}   occupancy: {stats['occupancy']:6.2%}",
    ]
    if interactive:
        click.echo("\x1b[2J\x1b[H" + "\n".join(out))
    else:
        click.echo(" | ".join(out[1:]))

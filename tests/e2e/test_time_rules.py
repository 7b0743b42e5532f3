"""Calling hours and schedules on daylight-saving change days, with the service's clock moved by the
test (the service reads time only through its clock; nothing sleeps until 8 o'clock)."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from ari_app.ari.aioari_adapter import AioariAdapter
from ari_app.services.dialer import DialerService
from tests.e2e.conftest import login
from tests.world import add_agent, add_entries, create_campaign, eventually

UTC = dt.timezone.utc


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def _service(db, sim, clock):
    service = DialerService(db, AioariAdapter(sim.base_url, "dialer", "dialer", "dialer"), instance_id="dst",
                            tick_seconds=0.05, clock=clock)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.connected.wait(), 15)
    return service, task


async def _ticks(service, n=15):
    start = service.metrics.ticks
    await eventually(lambda: service.metrics.ticks >= start + n, what=f"{n} ticks")


def _originated(sim):
    return [e for e in sim.rest_log if e["method"] == "POST" and e["path"] == "/ari/channels"]


@pytest.mark.parametrize(
    "zone, before, after",
    [
        # New York springs forward on 2026-03-08: 08:00 EDT is 12:00 UTC (13:00 UTC the day before).
        ("America/New_York", dt.datetime(2026, 3, 8, 11, 59, 30, tzinfo=UTC), dt.datetime(2026, 3, 8, 12, 0, 30, tzinfo=UTC)),
        # New York falls back on 2026-11-01: 08:00 EST is 13:00 UTC (12:00 UTC the day before).
        ("America/New_York", dt.datetime(2026, 11, 1, 12, 59, 30, tzinfo=UTC), dt.datetime(2026, 11, 1, 13, 0, 30, tzinfo=UTC)),
        # Rome springs forward on 2026-03-29 and falls back on 2026-10-25.
        ("Europe/Rome", dt.datetime(2026, 3, 29, 5, 59, 30, tzinfo=UTC), dt.datetime(2026, 3, 29, 6, 0, 30, tzinfo=UTC)),
        ("Europe/Rome", dt.datetime(2026, 10, 25, 6, 59, 30, tzinfo=UTC), dt.datetime(2026, 10, 25, 7, 0, 30, tzinfo=UTC)),
    ],
)
async def test_given_dst_change_day_then_first_call_is_at_8_local_not_an_hour_off(db, sql, sim, zone, before, after):
    cid = create_campaign(sql, mode="progressive", timezone="UTC", calling_hours_start="08:00", calling_hours_end="21:00")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+12125550100", busy=True)
    add_entries(sql, cid, ["+12125550100"], tz=zone)
    clock = Clock(before)
    service, task = await _service(db, sim, clock)
    try:
        await login(sim, service, "1001")
        await _ticks(service)
        assert _originated(sim) == []  # 07:59 local: not yet
        clock.now = after
        await eventually(lambda: _originated(sim), what="first call at 08:00 local")
        row = sql("select created_at from attempts")[0]
        assert row["created_at"] == after
    finally:
        service.stop()
        await asyncio.wait_for(task, 15)


async def test_given_schedule_in_campaign_zone_on_dst_day_then_it_opens_at_local_opening_time(db, sql, sim):
    # Sunday 2026-03-29, Rome springs forward: opening 09:00 CEST is 07:00 UTC.
    schedule = {"weekly": {"sun": [["09:00", "12:00"]]}}
    cid = create_campaign(sql, mode="progressive", timezone="Europe/Rome", schedule=schedule,
                          calling_hours_start="00:00", calling_hours_end="23:59:59")
    add_agent(sql, "1001", campaigns=[cid])
    sim.script_number("+390611119901", busy=True)
    add_entries(sql, cid, ["+390611119901"], tz="Europe/Rome")
    clock = Clock(dt.datetime(2026, 3, 29, 6, 59, 30, tzinfo=UTC))
    service, task = await _service(db, sim, clock)
    try:
        await login(sim, service, "1001")
        await _ticks(service)
        assert _originated(sim) == []
        clock.now = dt.datetime(2026, 3, 29, 7, 0, 30, tzinfo=UTC)
        await eventually(lambda: _originated(sim), what="campaign opens at 09:00 Rome time")
    finally:
        service.stop()
        await asyncio.wait_for(task, 15)

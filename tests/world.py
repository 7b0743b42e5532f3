"""Building a world for end-to-end tests: campaigns, statuses, agents and entries, in plain SQL."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable, Callable, TypeVar

from argon2 import PasswordHasher

T = TypeVar("T")
_ph = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def daytime_zone() -> str:
    """A fixed-offset time zone where it is about midday now. Tests whose campaign has real calling
    hours (08:00-21:00) and must place a call at once use it for the campaign and its contacts, so
    they pass at any hour of the day (in Europe/Rome they failed from 21:00 to 08:00)."""
    import datetime as dt

    hour = dt.datetime.now(dt.timezone.utc).hour
    offset = (12 - hour + 12) % 24 - 12  # UTC offset in hours, -12..11, that makes it 12:xx there
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-2 is UTC+2


def local_to_utc(text: str, zone: str) -> str:
    """'2030-01-15 10:00' in ``zone`` as the ISO string of the same instant in UTC."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(dt.timezone.utc).isoformat()


def create_campaign(sql, name="c1", mode="progressive", **settings) -> int:
    cols = {"name": name, "mode": mode, "state": "active", "dial_template": "PJSIP/{number}@carrier",
            "timezone": "Europe/Rome", "calling_hours_start": "00:00", "calling_hours_end": "23:59:59",
            "wrapup_seconds": 5, "ring_timeout_seconds": 15, "caller_ids": ["+390600000001"]}
    cols.update(settings)
    for key in ("retry_rules", "schedule", "options"):
        if key in cols and not isinstance(cols[key], str):
            cols[key] = json.dumps(cols[key])
    names = ", ".join(cols)
    marks = ", ".join(["%s"] * len(cols))
    cid = sql(f"insert into campaigns ({names}) values ({marks}) returning id", tuple(cols.values()))[0]["id"]
    sql(
        "insert into campaign_statuses (campaign_id, status_id, name, system_status, dtmf_code) "
        "select %s, id, name, system_status, case name when 'Call' then '1' else '9' end from statuses "
        "where name in ('Call', 'Do not call')",
        (cid,),
    )
    return cid


def add_status(sql, cid: int, name: str, system: str, dtmf: str | None = None, auto_on=()) -> int:
    return sql(
        "insert into campaign_statuses (campaign_id, name, system_status, dtmf_code, auto_on) values (%s,%s,%s,%s,%s) returning id",
        (cid, name, system, dtmf, list(auto_on)),
    )[0]["id"]


def add_agent(sql, ext: str, pin: str = "1234", campaigns=(), name=None) -> int:
    aid = sql(
        "insert into agents (extension, display_name, pin_hash) values (%s, %s, %s) returning id",
        (ext, name or f"Agent {ext}", _ph.hash(pin)),
    )[0]["id"]
    for cid in campaigns:
        sql("insert into campaign_agents values (%s, %s)", (cid, aid))
    return aid


def add_entries(sql, cid: int, numbers, tz="Europe/Rome", **cols) -> list[int]:
    contact = sql("insert into contacts (name) values ('test') returning id")[0]["id"]
    ids = []
    sql("select dialer_entries_partition(%s)", (cid,))  # the campaign's partition (migration 0005)
    for number in numbers:
        extra = ", ".join(cols)
        marks = ", ".join(["%s"] * len(cols))
        q = (f"insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone{', ' + extra if cols else ''}) "
             f"values (%s, %s, %s, %s{', ' + marks if cols else ''}) returning id")
        ids.append(sql(q, (cid, contact, number, tz, *cols.values()))[0]["id"])
    return ids


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 10.0, what: str = "condition") -> T:
    """Wait for ``check()`` to return something truthy (polling a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def read_out(media: list[str]) -> str:
    """The digits a channel heard read out, in order: the dialer speaks a number as one
    `sound:digits/N` prompt per digit (Asterisk cannot stop a `digits:` playback)."""
    return "".join(m[len("sound:digits/"):] for m in media if m.startswith("sound:digits/"))

"""When may a campaign dial, and when may a contact be called. Pure: every function takes ``now``.

Wall-clock comparisons happen in the relevant zone (campaign zone for the schedule, contact zone for
calling hours), so daylight-saving changes need no special case: 08:00 local is 08:00 local whether
the day has 23, 24 or 25 hours.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _hm(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def _in_ranges(ranges: Iterable[Iterable[str]], t: dt.time) -> bool:
    for start, end in ranges:
        s, e = _hm(start), _hm(end)
        if e == dt.time(0, 0) or end == "24:00":
            e = dt.time.max
        if s <= t < e:
            return True
    return False


def schedule_open(schedule: Mapping[str, Any] | None, tz: str, now: dt.datetime) -> bool:
    """Is the campaign's weekly schedule (with exception dates) open at ``now``?"""
    weekly = (schedule or {}).get("weekly")
    exceptions = (schedule or {}).get("exceptions") or {}
    local = now.astimezone(zone(tz))
    day_key = local.date().isoformat()
    if day_key in exceptions:
        return _in_ranges(exceptions[day_key], local.time())
    if not weekly:
        return True
    return _in_ranges(weekly.get(DAYS[local.weekday()], []), local.time())


def next_schedule_open(
    schedule: Mapping[str, Any] | None, tz: str, now: dt.datetime, horizon_days: int = 14
) -> dt.datetime | None:
    """The first minute at or after ``now`` when the schedule is open (None if not within the horizon)."""
    if schedule_open(schedule, tz, now):
        return now
    local = now.astimezone(zone(tz))
    candidates: list[dt.datetime] = []
    weekly = (schedule or {}).get("weekly") or {}
    exceptions = (schedule or {}).get("exceptions") or {}
    for offset in range(horizon_days + 1):
        day = local.date() + dt.timedelta(days=offset)
        key = day.isoformat()
        ranges = exceptions[key] if key in exceptions else weekly.get(DAYS[day.weekday()], [])
        for start, _end in ranges:
            t = _hm(start)
            at = dt.datetime.combine(day, t, tzinfo=zone(tz))
            if at > now and schedule_open(schedule, tz, at):
                candidates.append(at)
        if candidates:
            return min(candidates).astimezone(dt.timezone.utc)
    return None


@dataclass(frozen=True)
class CallingHours:
    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)

    def allows(self, tz: str, now: dt.datetime) -> bool:
        local = now.astimezone(zone(tz)).time()
        return self.start <= local < self.end


def local_time_text(tz: str, now: dt.datetime) -> str:
    return now.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M %Z")

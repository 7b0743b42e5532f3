import datetime as dt

import pytest

from ari_app.domain.time_rules import CallingHours, next_schedule_open, schedule_open

UTC = dt.timezone.utc
HOURS = CallingHours()


def at(y, mo, d, h, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


@pytest.mark.parametrize(
    "zone, now, allowed",
    [
        # New York, spring forward 2026-03-08 (02:00 EST -> 03:00 EDT): 08:00 local is 12:00 UTC.
        ("America/New_York", at(2026, 3, 8, 11, 59), False),
        ("America/New_York", at(2026, 3, 8, 12, 0), True),
        # 21:00 EDT is 01:00 UTC next day
        ("America/New_York", at(2026, 3, 9, 0, 59), True),
        ("America/New_York", at(2026, 3, 9, 1, 0), False),
        # New York, fall back 2026-11-01: 08:00 EST is 13:00 UTC.
        ("America/New_York", at(2026, 11, 1, 12, 59), False),
        ("America/New_York", at(2026, 11, 1, 13, 0), True),
        # Rome, spring forward 2026-03-29: 08:00 CEST is 06:00 UTC.
        ("Europe/Rome", at(2026, 3, 29, 5, 59), False),
        ("Europe/Rome", at(2026, 3, 29, 6, 0), True),
        # Rome, fall back 2026-10-25: 21:00 CET is 20:00 UTC.
        ("Europe/Rome", at(2026, 10, 25, 19, 59), True),
        ("Europe/Rome", at(2026, 10, 25, 20, 0), False),
    ],
)
def test_given_dst_change_day_when_checking_calling_hours_then_local_wall_clock_counts(zone, now, allowed):
    assert HOURS.allows(zone, now) is allowed


SCHEDULE = {
    "weekly": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["14:00", "18:00"]]},
    "exceptions": {"2026-11-24": [], "2026-11-29": [["10:00", "11:00"]]},
}


@pytest.mark.parametrize(
    "now, is_open",
    [
        (at(2026, 11, 23, 8, 0), True),  # Monday 09:00 Rome
        (at(2026, 11, 23, 7, 59), False),  # Monday 08:59 Rome
        (at(2026, 11, 23, 17, 0), False),  # Monday 18:00 Rome: end is exclusive
        (at(2026, 11, 24, 9, 0), False),  # Tuesday, but an exception closes the day
        (at(2026, 11, 25, 9, 0), False),  # Wednesday: not in the weekly plan
        (at(2026, 11, 29, 9, 30), True),  # Sunday opened by an exception, 10:30 Rome
    ],
)
def test_given_weekly_schedule_with_exceptions_then_open_only_inside_ranges(now, is_open):
    assert schedule_open(SCHEDULE, "Europe/Rome", now) is is_open


def test_given_empty_schedule_then_always_open():
    assert schedule_open({}, "Europe/Rome", at(2026, 11, 25, 3, 0))


def test_given_closed_schedule_then_next_open_is_the_next_range_start():
    nxt = next_schedule_open(SCHEDULE, "Europe/Rome", at(2026, 11, 23, 17, 30))  # Monday 18:30 Rome
    assert nxt == at(2026, 11, 29, 9, 0)  # Tue 24th closed, Wed-Sat not planned, Sun 29th opens 10:00 Rome

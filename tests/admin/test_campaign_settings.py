"""The pure parsing of campaign settings: the stored shapes the runtime reads, and the sentences."""
from __future__ import annotations

import datetime as dt

import pytest

from ari_app.domain import campaign_settings as cs
from ari_app.domain.time_rules import schedule_open
from ari_app.errors import UserError


def test_given_hours_text_when_parsed_then_weekly_shape_has_every_day_and_closed_days_empty():
    weekly = cs.parse_weekly("mon-fri 09:00-18:00; sat 10:00-14:00")
    assert weekly == {
        "mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]],
        "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]], "sun": [],
    }


def test_given_split_day_and_day_list_when_parsed_then_ranges_are_kept_per_day():
    weekly = cs.parse_weekly("mon,wed 09:00-12:00,13:00-17:00")
    assert weekly["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]] == weekly["wed"]
    assert weekly["tue"] == []


def test_given_parsed_schedule_when_runtime_reads_it_then_open_and_closed_times_follow_it():
    schedule = {"weekly": cs.parse_weekly("mon-fri 09:00-18:00"),
                "exceptions": cs.parse_exceptions(["2026-12-25"], ["2026-12-24 09:00-13:00"])}
    prague = "Europe/Prague"
    at = lambda s: dt.datetime.fromisoformat(s)  # noqa: E731
    assert schedule_open(schedule, prague, at("2026-12-23T09:30:00+01:00"))  # Wednesday
    assert not schedule_open(schedule, prague, at("2026-12-25T10:00:00+01:00"))  # closed date
    assert schedule_open(schedule, prague, at("2026-12-24T12:00:00+01:00"))
    assert not schedule_open(schedule, prague, at("2026-12-24T14:00:00+01:00"))  # exception ends 13:00
    assert not schedule_open(schedule, prague, at("2026-12-26T10:00:00+01:00"))  # Saturday


def test_given_retry_text_when_parsed_then_stored_shape_in_seconds():
    assert cs.parse_retry_rules("busy=10m/3,no_answer=1h/5,machine=2d/1,failed=45s/2") == {
        "busy": {"delay_seconds": 600, "max": 3},
        "no_answer": {"delay_seconds": 3600, "max": 5},
        "machine": {"delay_seconds": 172800, "max": 1},
        "failed": {"delay_seconds": 45, "max": 2},
    }


def test_given_calling_hours_when_parsed_then_times():
    assert cs.parse_calling_hours("08:00-21:00") == (dt.time(8), dt.time(21))


@pytest.mark.parametrize("fn, value, message", [
    (cs.parse_weekly, "mon-fri 9-18", "opening hours time '9' is not a time such as 09:00"),
    (cs.parse_weekly, "mnday 09:00-18:00", "opening hours day 'mnday' is not a day such as mon, mon-fri or sat,sun"),
    (cs.parse_weekly, "fri-mon 09:00-18:00", "opening hours day range 'fri-mon' runs backwards"),
    (cs.parse_weekly, "mon 18:00-09:00", "opening hours '18:00-09:00' ends before it starts"),
    (cs.parse_retry_rules, "busy=10m", "retry rule 'busy=10m' is not OUTCOME=DELAY/MAX such as busy=10m/3"),
    (cs.parse_retry_rules, "bsy=10m/3", "retry rule outcome 'bsy' is not one of answered, busy, no_answer, "
                                         "congestion, invalid_number, failed, machine, abandoned, lost"),
    (cs.parse_retry_rules, "busy=10w/3", "retry delay for busy '10w' is not a duration such as 90s, 10m, 1h or 2d"),
    (cs.check_timezone, "Europe/Rom", 'time zone "Europe/Rom" is not a known IANA zone'),
    (cs.check_region, "XX", 'default region "XX" is not an ISO 3166 alpha-2 country code with a phone numbering plan'),
    (cs.check_dial_template, "PJSIP/{num}@carrier", "dial template 'PJSIP/{num}@carrier' must contain {number}"),
    (cs.check_dial_template, "PJSIP/{number@carrier",
     "dial template 'PJSIP/{number@carrier' is not a valid template; use {number} for the number"),
    (cs.check_media, "dialer-abandon", "abandon message 'dialer-abandon' is not a media URI such as sound:dialer-abandon-info"),
    (cs.check_ring_timeout, 10, "ring timeout 10 is below the minimum of 15 seconds"),
    (cs.check_dtmf, "12a", "DTMF code '12a' must be 1 to 3 digits"),
    (cs.check_dtmf, "1234", "DTMF code '1234' must be 1 to 3 digits"),
    (cs.parse_calling_hours, "21:00-08:00", "calling hours '21:00-08:00' ends before it starts"),
])
def test_given_bad_setting_when_parsed_then_one_sentence_names_it(fn, value, message):
    if fn is cs.check_media:
        call = lambda: fn("abandon message", value)  # noqa: E731
    else:
        call = lambda: fn(value)  # noqa: E731
    with pytest.raises(UserError) as err:
        call()
    assert str(err.value) == message


def test_given_random_rotation_with_one_number_when_checked_then_refused():
    with pytest.raises(UserError, match="caller ID rotation random needs at least 2 numbers, the campaign has 1"):
        cs.check_cross_fields({"caller_ids": ["+1555"], "caller_id_rotation": "random"})

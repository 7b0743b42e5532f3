"""Campaign settings as an admin types them: parse, validate, and produce the stored shapes.

Pure: no I/O. Every error is a UserError whose message is one sentence naming the field and value.
The stored shapes are read by the runtime (``time_rules``, ``status_effects``), so they are fixed:

* schedule: ``{"weekly": {"mon": [["09:00", "18:00"]], ...}, "exceptions": {"2026-12-25": []}}``
* retry_rules: ``{"busy": {"delay_seconds": 600, "max": 3}, ...}``
"""
from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ari_app.domain.enums import AbandonWindow, CallerIdRotation, CampaignMode, Goal, Outcome
from ari_app.errors import UserError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_RING_SECONDS = 15
DEFAULT_RING_SECONDS = 25
MACHINE_ACTIONS = ("hangup", "message")
# ARI media URI schemes (POST /channels/{id}/play).
MEDIA_SCHEMES = ("sound", "recording", "number", "digits", "characters", "tone")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_HM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DTMF = re.compile(r"^\d{1,3}$")


def _choice(field: str, value: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if value not in allowed:
        raise UserError(f"{field} {value!r} is not one of {', '.join(allowed)}")
    return value


def parse_mode(value: str) -> str:
    return _choice("mode", value, [m.value for m in CampaignMode])


def parse_goal(value: str) -> str:
    return _choice("goal", value, [g.value for g in Goal])


def parse_abandon_window(value: str) -> str:
    return _choice("abandon window", value, [w.value for w in AbandonWindow])


def parse_rotation(value: str) -> str:
    return _choice("caller ID rotation", value, [r.value for r in CallerIdRotation])


def parse_machine_action(value: str) -> str:
    return _choice("machine action", value, MACHINE_ACTIONS)


def parse_duration(text: str, field: str = "duration") -> int:
    """``90``, ``90s``, ``10m``, ``1h``, ``2d`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text or "")
    if not m:
        raise UserError(f"{field} {text!r} is not a duration such as 90s, 10m, 1h or 2d")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


def check_int(field: str, value: int, *, minimum: int = 0, maximum: int | None = None, unit: str = "") -> int:
    suffix = f" {unit}" if unit else ""
    if value < minimum:
        raise UserError(f"{field} {value} is below the minimum of {minimum}{suffix}")
    if maximum is not None and value > maximum:
        raise UserError(f"{field} {value} is above the maximum of {maximum}{suffix}")
    return value


def check_ring_timeout(value: int) -> int:
    if value < MIN_RING_SECONDS:
        raise UserError(f"ring timeout {value} is below the minimum of {MIN_RING_SECONDS} seconds")
    return check_int("ring timeout", value, maximum=600, unit="seconds")


def check_rate(field: str, value: float, *, allow_zero: bool = False) -> float:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        bound = "from 0 to 1" if allow_zero else "above 0 and at most 1"
        raise UserError(f"{field} {value:g} must be a fraction {bound} (for example 0.03 for 3%)")
    return float(value)


def check_max_lines(value: float) -> float:
    if not 1 <= value <= 20:
        raise UserError(f"max lines per agent {value:g} must be between 1 and 20")
    return float(value)


def check_timezone(name: str) -> str:
    try:
        if not name or name != name.strip():
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise UserError(f'time zone "{name}" is not a known IANA zone') from None
    return name


def check_region(code: str) -> str:
    import phonenumbers

    upper = (code or "").strip().upper()
    if upper not in phonenumbers.SUPPORTED_REGIONS:
        raise UserError(f'default region "{code}" is not an ISO 3166 alpha-2 country code with a phone numbering plan')
    return upper


def check_media(field: str, uri: str) -> str:
    scheme, sep, rest = (uri or "").partition(":")
    if not sep or scheme not in MEDIA_SCHEMES or not rest.strip():
        raise UserError(f"{field} {uri!r} is not a media URI such as sound:dialer-abandon-info")
    return uri


def check_dial_template(template: str) -> str:
    fields = set()
    try:
        for _text, name, spec, conv in string.Formatter().parse(template or ""):
            if name is not None:
                fields.add(name)
                if spec or conv:
                    raise ValueError
    except ValueError:
        raise UserError(f"dial template {template!r} is not a valid template; use {{number}} for the number") from None
    if "number" not in fields:
        raise UserError(f"dial template {template!r} must contain {{number}}")
    unknown = fields - {"number", "digits", "e164"}
    if unknown:
        raise UserError(
            f"dial template {template!r} uses unknown field {{{sorted(unknown)[0]}}}; use {{number}}, {{digits}} or {{e164}}"
        )
    return template


def parse_caller_ids(values: Iterable[str]) -> list[str]:
    """Repeatable or comma-separated numbers: digits with an optional leading +."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            number = part.strip()
            if not number:
                continue
            if not re.fullmatch(r"\+?\d{2,20}", number):
                raise UserError(f"caller ID {number!r} is not a phone number (digits with an optional leading +)")
            if number not in out:
                out.append(number)
    return out


def check_caller_ids(caller_ids: list[str], rotation: str) -> None:
    if rotation == CallerIdRotation.RANDOM and len(caller_ids) < 2:
        raise UserError(f"caller ID rotation random needs at least 2 numbers, the campaign has {len(caller_ids)}")


def _hm(text: str, field: str) -> str:
    value = text.strip()
    if re.fullmatch(r"\d:\d\d", value):
        value = "0" + value
    if not _HM.match(value):
        raise UserError(f"{field} time {text.strip()!r} is not a time such as 09:00")
    return value


def parse_range(text: str, field: str) -> list[str]:
    """``09:00-18:00`` -> ``["09:00", "18:00"]`` (end after start)."""
    start, sep, end = text.strip().partition("-")
    if not sep:
        raise UserError(f"{field} {text.strip()!r} is not a time range such as 09:00-18:00")
    s, e = _hm(start, field), _hm(end, field)
    if e != "24:00" and e <= s:
        raise UserError(f"{field} {text.strip()!r} ends before it starts")
    return [s, e]


def parse_calling_hours(text: str) -> tuple[dt.time, dt.time]:
    s, e = parse_range(text, "calling hours")
    if e == "24:00":
        raise UserError(f"calling hours {text.strip()!r} must end by 23:59")
    return dt.time.fromisoformat(s), dt.time.fromisoformat(e)


def _days(spec: str) -> list[str]:
    out: list[str] = []
    for part in spec.lower().split(","):
        part = part.strip()
        a, sep, b = part.partition("-")
        if a not in DAYS or (sep and b not in DAYS):
            raise UserError(f"opening hours day {part!r} is not a day such as mon, mon-fri or sat,sun")
        if sep:
            i, j = DAYS.index(a), DAYS.index(b)
            if j < i:
                raise UserError(f"opening hours day range {part!r} runs backwards")
            out.extend(DAYS[i : j + 1])
        else:
            out.append(a)
    return out


def parse_weekly(text: str) -> dict[str, list[list[str]]]:
    """``mon-fri 09:00-18:00; sat 10:00-14:00`` -> weekly dict (days not named are closed).

    A day may have several ranges: ``mon 09:00-12:00,13:00-18:00``. ``always`` means open all week.
    """
    if text.strip().lower() in {"always", "24/7"}:
        return {}
    weekly: dict[str, list[list[str]]] = {}
    for clause in filter(None, (c.strip() for c in text.split(";"))):
        days, sep, ranges = clause.partition(" ")
        if not sep or not ranges.strip():
            raise UserError(f"opening hours {clause!r} is not days and times such as mon-fri 09:00-18:00")
        parsed = [parse_range(r, "opening hours") for r in ranges.replace(" ", "").split(",") if r]
        if ranges.strip().lower() == "closed":
            parsed = []
        for day in _days(days):
            weekly.setdefault(day, []).extend(parsed)
    if not weekly:
        raise UserError(f"opening hours {text!r} name no day")
    for day in DAYS:
        weekly.setdefault(day, [])
        weekly[day].sort()
    return {d: weekly[d] for d in DAYS}


def _date(text: str, field: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise UserError(f"{field} date {text.strip()!r} is not a date such as 2026-12-25") from None


def parse_exceptions(closed: Iterable[str], exceptions: Iterable[str]) -> dict[str, list[list[str]]]:
    """``--closed 2026-12-25`` and ``--exception "2026-12-24 09:00-13:00[,14:00-16:00]"``."""
    out: dict[str, list[list[str]]] = {}
    for text in closed:
        out[_date(text, "closed")] = []
    for text in exceptions:
        day, sep, ranges = text.strip().partition(" ")
        if not sep or not ranges.strip():
            raise UserError(f"exception {text!r} is not a date and times such as 2026-12-24 09:00-13:00")
        key = _date(day, "exception")
        if key in out and not out[key]:
            raise UserError(f"exception date {key} is also given as closed")
        out.setdefault(key, []).extend(
            parse_range(r, "exception") for r in ranges.replace(" ", "").split(",") if r
        )
    return dict(sorted(out.items()))


def parse_retry_rules(text: str) -> dict[str, dict[str, int]]:
    """``busy=10m/3,no_answer=1h/5`` -> ``{"busy": {"delay_seconds": 600, "max": 3}, ...}``."""
    outcomes = [o.value for o in Outcome]
    rules: dict[str, dict[str, int]] = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        outcome, sep, rest = item.partition("=")
        outcome = outcome.strip()
        if not sep:
            raise UserError(f"retry rule {item!r} is not OUTCOME=DELAY/MAX such as busy=10m/3")
        if outcome not in outcomes:
            raise UserError(f"retry rule outcome {outcome!r} is not one of {', '.join(outcomes)}")
        delay, sep, count = rest.partition("/")
        if not sep or not count.strip().isdigit():
            raise UserError(f"retry rule {item!r} is not OUTCOME=DELAY/MAX such as busy=10m/3")
        seconds = parse_duration(delay, f"retry delay for {outcome}")
        if outcome in rules:
            raise UserError(f"retry rule outcome {outcome!r} is given twice")
        rules[outcome] = {"delay_seconds": seconds, "max": int(count)}
    return rules


def format_retry_rules(rules: Mapping[str, Any]) -> str:
    def dur(s: int) -> str:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s and s % size == 0:
                return f"{s // size}{unit}"
        return f"{s}s"

    return ",".join(f"{k}={dur(int(v['delay_seconds']))}/{v['max']}" for k, v in rules.items())


def format_weekly(schedule: Mapping[str, Any]) -> str:
    weekly = (schedule or {}).get("weekly")
    if not weekly:
        return "always open"
    parts = []
    for day in DAYS:
        ranges = weekly.get(day) or []
        parts.append(f"{day} " + (",".join(f"{a}-{b}" for a, b in ranges) if ranges else "closed"))
    return "; ".join(parts)


def check_dtmf(code: str) -> str:
    if not _DTMF.match(code or ""):
        raise UserError(f"DTMF code {code!r} must be 1 to 3 digits")
    return code


def check_name(field: str, name: str) -> str:
    if not name or not name.strip():
        raise UserError(f"{field} name must not be empty")
    if name != name.strip():
        raise UserError(f"{field} name {name!r} must not start or end with spaces")
    return name


def check_cross_fields(settings: Mapping[str, Any]) -> None:
    """Rules that span several settings, checked on the merged result of a create or an edit."""
    check_caller_ids(list(settings.get("caller_ids") or []), settings.get("caller_id_rotation", "fixed"))
    if settings.get("machine_action") == "message" and not settings.get("machine_message"):
        raise UserError("machine action message needs a machine message such as sound:dialer-machine-info")
    start, end = settings.get("calling_hours_start"), settings.get("calling_hours_end")
    if start is not None and end is not None and end <= start:
        raise UserError(f"calling hours {start:%H:%M}-{end:%H:%M} end before they start")


def parse_region_rule(text: str) -> dict:
    """``+1212 08:00-20:00 max=3`` -> ``{"prefix": "+1212", "start_at": "08:00", "end_at": "20:00",
    "max_calls": 3}``: numbers starting with the prefix are called only in those contact-local hours
    and at most ``max`` times in any 24 hours (either part may be left out)."""
    parts = text.split()
    if not parts or not re.fullmatch(r"\+\d{1,15}", parts[0]):
        raise UserError(f"region rule {text.strip()!r} must start with a number prefix such as +1212")
    rule: dict = {"prefix": parts[0], "start_at": None, "end_at": None, "max_calls": None}
    for part in parts[1:]:
        if part.startswith("max="):
            rule["max_calls"] = check_int("region rule max", _int(part[4:], text), minimum=1, unit="calls")
        else:
            rule["start_at"], rule["end_at"] = parse_range(part, "region rule hours")
    if rule["start_at"] is None and rule["max_calls"] is None:
        raise UserError(f"region rule {text.strip()!r} needs hours such as 08:00-20:00 or a limit such as max=3")
    return rule


def _int(value: str, text: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UserError(f"region rule {text.strip()!r}: max must be a whole number") from None

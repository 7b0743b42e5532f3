"""Phone numbers: what a CSV cell may contain, E.164 normalisation and the contact's time zone.

Pure functions over the ``phonenumbers`` metadata; no I/O.

``phonenumbers.parse`` + ``is_valid_number`` + ``time_zones_for_number`` cost ~50 µs per number,
which alone would cap an import at ~20 000 rows/s. :class:`PhoneNormaliser` therefore has a fast
path for the shapes real files contain (``+39 347 123 4567``, ``347-123-4567`` in a region without a
national prefix such as IT, PL, CZ, PT): it builds the national significant number itself and
checks it against the *same* metadata patterns ``_number_type_helper`` uses, pre-grouped by length.
Everything else (national prefixes to strip, ``00`` international prefixes, odd punctuation,
non-geographic codes) goes through ``phonenumbers.parse`` unchanged. tests/contacts/test_phones.py
checks that both paths agree on thousands of generated inputs.
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import re
from dataclasses import dataclass
from typing import Callable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber
from phonenumbers import phonenumberutil as pnu
from phonenumbers import timezone as pntz
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

# What an admin may write in a phone cell: digits, spaces and ( ) + - .
_ALLOWED = re.compile(r"[0-9 ()+\-.]*")
_NOT_DIGIT = re.compile(r"\D")
# Shapes the fast path understands exactly: an optional leading "+", then digits with separators.
_FAST_SHAPE = re.compile(r" *(\+)? *[0-9(][0-9 ()\-.]*")
_DROP_SEPARATORS = str.maketrans("", "", " +()-.")
_FIRST3 = operator.itemgetter(slice(0, 3))
_CODE = operator.itemgetter(0)
_NO_SPLIT = (0, 0)  # a cell the fast path does not take: country code 0, which no number is valid in

UNKNOWN_ZONE = "Etc/Unknown"
# The zone rule compares offsets at two instants so that summer time differences count.
_PROBES = (dt.datetime(2025, 1, 15, 12, tzinfo=dt.timezone.utc), dt.datetime(2025, 7, 15, 12, tzinfo=dt.timezone.utc))

_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
               "voicemail", "fixed_line", "mobile")


def _shown(raw: str) -> str:
    """A cell as quoted in a message: one line, not too long."""
    raw = " ".join(raw.split())
    return raw if len(raw) <= 40 else raw[:37] + "..."


class PhoneError(ValueError):
    """Why a phone cell was rejected; the message completes 'line N: ...'."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    zone: str | None  # None: the number's zones have different clocks (see pick_zone)


def has_only_allowed_chars(raw: str) -> bool:
    return _ALLOWED.fullmatch(raw) is not None


# --- time zones ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def pick_zone(zones: tuple[str, ...]) -> str | None:
    """The contact's zone from the zones a number maps to, or None when it cannot be told.

    Several zones that keep the same clock all year (Europe/Rome and Europe/Vatican) are one zone
    for calling hours: take the first. Zones with different clocks (a US mobile number maps to every
    US zone) are ambiguous: None, so the campaign's zone is used and the contact is flagged.
    """
    zones = tuple(z for z in zones if z != UNKNOWN_ZONE)
    if not zones:
        return None
    if len(zones) == 1:
        return zones[0]
    try:
        offsets = {tuple(p.astimezone(ZoneInfo(z)).utcoffset() for p in _PROBES) for z in zones}
    except ZoneInfoNotFoundError:
        return None
    return zones[0] if len(offsets) == 1 else None


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=None)
def _constant_zones(cc: int) -> tuple[str, ...] | None:
    """The zones of every valid number of country code ``cc`` when the data has one entry for it."""
    key = str(cc)
    keys = [k for k in TIMEZONE_DATA if k.startswith(key)]
    if keys == [key]:
        return tuple(TIMEZONE_DATA[key])
    return None


def _prefix_zones(digits: str) -> tuple[str, ...]:
    for n in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        zones = TIMEZONE_DATA.get(digits[:n])
        if zones is not None:
            return tuple(zones)
    return (UNKNOWN_ZONE,)


@functools.lru_cache(maxsize=None)
def _zone_exceptions(cc: int) -> tuple[str | None, tuple[tuple[int, frozenset[str]], ...]]:
    """The zone of the country code, and the prefixes (grouped by length) whose zone differs."""
    key = str(cc)
    default = pick_zone(_prefix_zones(key))
    by_len: dict[int, set[str]] = {}
    for k, zones in TIMEZONE_DATA.items():
        if k.startswith(key) and k != key and pick_zone(tuple(zones)) != default:
            by_len.setdefault(len(k), set()).add(k)
    return default, tuple((n, frozenset(v)) for n, v in sorted(by_len.items()))


@functools.lru_cache(maxsize=200_000)
def _geo_pick(prefix: str) -> str | None:
    return pick_zone(_prefix_zones(prefix))


def _zone_fast(cc: int, nsn: str) -> str | None:
    """``pick_zone(time_zones_for_number(n))`` for a valid number, without the library's type check
    unless the answer depends on it (geographic lookup and country-level lookup disagree)."""
    constant = _constant_zones(cc)
    if constant is not None:
        return pick_zone(constant)
    digits = f"{cc}{nsn}"
    default, exceptions = _zone_exceptions(cc)
    if not any(digits[:n] in keys for n, keys in exceptions):
        return default  # every prefix this number can match gives the country's zone
    geographic = _geo_pick(digits[:TIMEZONE_LONGEST_PREFIX])
    country = _geo_pick(str(cc))
    if geographic == country:
        return country
    num = PhoneNumber(country_code=cc, national_number=int(nsn))
    if len(nsn) > 1 and nsn[0] == "0":
        num.italian_leading_zero = True
        zeros = len(nsn) - len(nsn.lstrip("0"))
        zeros = min(zeros, len(nsn) - 1)
        if zeros != 1:
            num.number_of_leading_zeros = zeros
    return pick_zone(tuple(pntz.time_zones_for_number(num)))


def _zone_column(codes: list[int], nsns: list[str], full: list[str]) -> list[str | None]:
    """``[_zone_fast(cc, nsn) for cc, nsn in zip(codes, nsns)]`` (``full``: code + number), without a
    call per number when its country has one zone or it starts with none of the prefixes whose
    zone differs from the country's."""
    zones = list(map({cc: _zone_exceptions(cc)[0] if _constant_zones(cc) is None else pick_zone(_constant_zones(cc))
                      for cc in set(codes)}.__getitem__, codes))
    for cc in set(codes):
        if _constant_zones(cc) is not None:
            continue
        for length, prefixes in _zone_exceptions(cc)[1]:
            for k in itertools.compress(range(len(full)), map(prefixes.__contains__,
                                                             map(operator.itemgetter(slice(0, length)), full))):
                zones[k] = _zone_fast(cc, nsns[k])
    return zones


# --- validation ------------------------------------------------------------------------------------

class _RegionPatterns:
    """The patterns ``_number_type_helper`` tries, grouped by number length (one regex per length)."""

    def __init__(self, meta: PhoneMetadata):
        general = meta.general_desc
        self.general_lengths = frozenset(general.possible_length or ())
        self.general_source = general.national_number_pattern or None
        self.general = re.compile(self.general_source) if self.general_source else None
        by_length: dict[int, list[str]] = {}
        any_length: list[str] = []
        for attr in _TYPE_DESCS:
            desc = getattr(meta, attr, None)
            if desc is None or not desc.national_number_pattern:
                continue
            if desc.possible_length:
                for n in desc.possible_length:
                    by_length.setdefault(n, []).append(desc.national_number_pattern)
            else:
                any_length.append(desc.national_number_pattern)
        self.any_length_source = "(?:" + ")|(?:".join(any_length) + ")" if any_length else None
        self.any_length = re.compile(self.any_length_source) if any_length else None
        self.by_length_source = {n: "(?:" + ")|(?:".join(p) + ")" for n, p in by_length.items()}
        self.by_length = {n: re.compile(p) for n, p in self.by_length_source.items()}
        self.leading_digits_source = meta.leading_digits or None
        self.leading_digits = re.compile(meta.leading_digits) if meta.leading_digits else None

    def known_type_source(self, length: int) -> str | None:
        """A pattern whose fullmatch of a number of ``length`` digits is :meth:`known_type`; None
        when no number of that length is (a lookahead for the general pattern, then the type
        patterns of that length)."""
        if self.general_source is None or (self.general_lengths and length not in self.general_lengths):
            return None
        alternatives = [p for p in (self.by_length_source.get(length), self.any_length_source) if p]
        if not alternatives:
            return None
        return f"(?=(?:{self.general_source})\\Z)(?:" + "|".join(alternatives) + ")"

    def known_type(self, nsn: str) -> bool:
        n = len(nsn)
        if self.general is None or (self.general_lengths and n not in self.general_lengths):
            return False
        if not self.general.fullmatch(nsn):
            return False
        rx = self.by_length.get(n)
        if rx is not None and rx.fullmatch(nsn):
            return True
        return self.any_length is not None and self.any_length.fullmatch(nsn) is not None


@functools.lru_cache(maxsize=None)
def _patterns(region: str) -> _RegionPatterns | None:
    meta = PhoneMetadata.metadata_for_region(region, None)
    return _RegionPatterns(meta) if meta is not None else None


def _fast_valid(cc: int, nsn: str) -> bool:
    """``is_valid_number`` for a number given as country code + national significant number."""
    regions = pnu.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    chosen = None
    if len(regions) == 1:
        chosen = regions[0]
    else:  # region_code_for_number: leading digits first, else the first region that knows the type
        for region in regions:
            pats = _patterns(region)
            if pats is None:
                continue
            if pats.leading_digits is not None:
                if pats.leading_digits.match(nsn):
                    chosen = region
                    break
            elif pats.known_type(nsn):
                return True  # region_code_for_number chose it because the number is valid there
    if chosen is None:
        return False
    pats = _patterns(chosen)
    return pats is not None and pats.known_type(nsn)


def _never(_: str) -> None:
    return None


@functools.lru_cache(maxsize=None)
def _validators(cc: int) -> list[Callable[[str], re.Match | None]]:
    """By length of the national significant number (0 to 17), a fullmatch that is :func:`_fast_valid`
    for ``cc``: the regions of the code in order, a region with leading digits deciding alone for
    the numbers it claims, one without them accepting the numbers of a type it knows. One pattern
    per length: a few times faster than one that tests the length itself."""
    regions = [(r, _patterns(r)) for r in pnu.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())]
    out: list[Callable[[str], re.Match | None]] = []
    for length in range(18):
        if len(regions) == 1:
            pats = regions[0][1]
            source = pats.known_type_source(length) if pats is not None else None
        else:
            source = "(?!)"
            for _, pats in reversed(regions):
                if pats is None:
                    continue
                known = pats.known_type_source(length) or "(?!)"
                if pats.leading_digits_source is not None:
                    lead = pats.leading_digits_source
                    source = f"(?=(?:{lead}))(?:{known})|(?!(?:{lead}))(?:{source})"
                else:
                    source = f"(?:{known})|(?:{source})"
        out.append(re.compile(source).fullmatch if source else _never)
    return out


# Of a digit string that follows "+", its country code and that code's length, by the first three
# digits (country codes are prefix-free), for the codes whose numbers the fast path takes.
@functools.lru_cache(maxsize=None)
def _cc_by_prefix() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for n in range(100, 1000):
        split = _split_cc(str(n))
        if split is not None and _fast_cc_ok(split[0]):
            out[str(n)] = (split[0], len(str(n)) - len(split[1]))
    return out


@functools.lru_cache(maxsize=None)
def _fast_cc_ok(cc: int) -> bool:
    """Whether parse() would leave the digits after this country code untouched."""
    regions = pnu.COUNTRY_CODE_TO_REGION_CODE.get(cc)
    if not regions or regions[0] == pnu.REGION_CODE_FOR_NON_GEO_ENTITY:
        return False
    meta = PhoneMetadata.metadata_for_region(regions[0], None)
    return meta is not None and not meta.national_prefix_for_parsing


def _split_cc(digits: str) -> tuple[int, str] | None:
    if digits.startswith("0"):
        return None
    for i in range(1, 4):
        cc = int(digits[:i]) if len(digits) >= i else None
        if cc is not None and cc in pnu.COUNTRY_CODE_TO_REGION_CODE:
            return cc, digits[i:]
    return None


class PhoneNormaliser:
    """Normalises numbers for one default region; reuse one instance for a whole file."""

    def __init__(self, region: str):
        region = region.upper()
        meta = PhoneMetadata.metadata_for_region(region, None)
        if meta is None:
            raise ValueError(f"region {region!r} is not a known ISO 3166 country code such as IT or PL")
        self.region = region
        self.cc = meta.country_code
        self._cc_digits = str(meta.country_code)
        self._intl = re.compile(meta.international_prefix) if meta.international_prefix else None
        self._national_fast = not meta.national_prefix_for_parsing
        # A national number the fast path takes: 2 to 17 digits that start neither with an
        # international prefix nor with the country code (parse() might strip those).
        intl = f"(?!(?:{meta.international_prefix}))" if meta.international_prefix else ""
        self._national_shape = (re.compile(f"{intl}(?!{self._cc_digits})\\d{{2,17}}").fullmatch
                                if self._national_fast else None)

    def normalise(self, raw: str) -> Phone:
        """The E.164 form and candidate zones of ``raw``; raises PhoneError with the reason."""
        if not has_only_allowed_chars(raw):
            raise PhoneError(f'phone "{_shown(raw)}" has characters other than digits, spaces and ( ) + - .')
        digits = _NOT_DIGIT.sub("", raw)
        if not digits:
            raise PhoneError(f'phone "{_shown(raw)}" has no digits')
        fast = self._fast(raw, digits)
        if fast is not None:
            return fast
        return self._slow(raw)

    def _fast(self, raw: str, digits: str) -> Phone | None:
        m = _FAST_SHAPE.fullmatch(raw)
        if m is None or len(digits) > 17:
            return None
        if m.group(1):
            split = _split_cc(digits)
            if split is None:
                return None
            cc, nsn = split
            if not _fast_cc_ok(cc):
                return None
        else:
            if (not self._national_fast or (self._intl is not None and self._intl.match(digits))
                    or digits.startswith(self._cc_digits)):
                return None  # parse() might strip a prefix or a country code here
            cc, nsn = self.cc, digits
        if len(nsn) < 2:
            return None
        if not _fast_valid(cc, nsn):
            raise PhoneError(self._invalid(raw))
        return Phone(f"+{cc}{nsn}", _zone_fast(cc, nsn))

    def normalise_all(self, raws: list[str]) -> tuple[list[str | None], list[str | None], dict[int, str]]:
        """:meth:`normalise` of every cell of a column at once: the E.164 numbers, the zones and,
        by position, the reason of each cell refused. An empty cell gives None and no reason.

        The same answers as one call per cell (tests/contacts/test_phones.py compares them), at a
        small fraction of the cost: the shapes the fast path takes go through C-level passes over
        the whole column (a shape match, one translate of the joined column, the country code by
        the first three digits, the validity pattern of the code and length, the zone by country);
        cells of any other shape take :meth:`normalise` one by one.
        """
        n = len(raws)
        errors: dict[int, str] = {}
        shapes = list(map(_FAST_SHAPE.fullmatch, raws))
        if None not in shapes:
            fast: Sequence[int] = range(n)
            cells = raws
        else:
            fast = list(itertools.compress(range(n), shapes))
            cells = [raws[i] for i in fast]
        # The shape admits only " +()-." besides digits, so the joined column splits back by line.
        digits = "\n".join(cells).translate(_DROP_SEPARATORS).split("\n") if cells else []
        plus = list(map(str.__contains__, cells, itertools.repeat("+")))
        national = list(map(self._national_shape, digits)) if self._national_shape else itertools.repeat(None)
        # Each cell as country code + national number ("" when the fast path does not take it).
        ccd = self._cc_digits
        full = [d if p else (ccd + d if f else "") for d, p, f in zip(digits, plus, national)]
        splits = list(map(_cc_by_prefix().get, map(_FIRST3, full)))  # (code, its length) or None
        take = [s is not None and len(f) - s[1] >= 2 and (len(f) <= 17 or not p)
                for f, s, p in zip(full, splits, plus)]
        if False in take:
            for k in itertools.compress(range(len(take)), map(operator.not_, take)):
                full[k] = ""
                splits[k] = _NO_SPLIT
        codes = list(map(_CODE, splits))
        # the national number: a national cell's digits as they are, after "+" those past the code
        nsns = [d if f and not p else f[s[1]:] for f, s, p, d in zip(full, splits, plus, digits)]
        checks = {(cc, length): check for cc in set(codes) for length, check in enumerate(_validators(cc))}
        valid = list(map(operator.call, map(checks.__getitem__, zip(codes, map(len, nsns))), nsns))
        e164: list[str | None] = list(map("+".__add__, full))
        zones = _zone_column(codes, nsns, full)
        if None in valid:
            for k in itertools.compress(range(len(valid)), map(operator.not_, valid)):
                e164[k] = zones[k] = None
                if take[k]:
                    errors[fast[k]] = self._invalid(cells[k])
        if isinstance(fast, range) and False not in take:
            return e164, zones, errors
        out_e164: list[str | None] = [None] * n
        out_zones: list[str | None] = [None] * n
        for k, i in enumerate(fast):
            out_e164[i], out_zones[i] = e164[k], zones[k]
        for i in itertools.compress(range(n), map(operator.not_, shapes)):
            if raws[i]:
                self._one(raws, i, out_e164, out_zones, errors)
        for k in itertools.compress(range(len(take)), map(operator.not_, take)):
            self._one(raws, fast[k], out_e164, out_zones, errors)
        return out_e164, out_zones, errors

    def _one(self, raws, i, e164, zones, errors) -> None:
        try:
            phone = self.normalise(raws[i])
        except PhoneError as exc:
            errors[i] = str(exc)
        else:
            e164[i], zones[i] = phone.e164, phone.zone

    def _slow(self, raw: str) -> Phone:
        try:
            num = phonenumbers.parse(raw, self.region)
        except phonenumbers.NumberParseException:
            raise PhoneError(self._invalid(raw)) from None
        if not phonenumbers.is_valid_number(num):
            raise PhoneError(self._invalid(raw))
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        return Phone(e164, pick_zone(tuple(pntz.time_zones_for_number(num))))

    def _invalid(self, raw: str) -> str:
        return f'phone "{_shown(raw)}" is not a valid number for region {self.region}'

    def slow(self, raw: str) -> Phone | None:
        """The library's own answer (tests compare it with the fast path)."""
        try:
            return self._slow(raw)
        except PhoneError:
            return None


def normalise_one(raw: str, region: str) -> str:
    """One number typed by an admin (``dnc add``): E.164 or PhoneError."""
    raw = raw.strip()
    return PhoneNormaliser(region).normalise(raw).e164


def parse_phone_number(e164: str) -> PhoneNumber:
    return phonenumbers.parse(e164, None)

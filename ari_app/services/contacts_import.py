"""Import a CSV file of contacts into a campaign.

Policy (what an admin can rely on):

* FILE-level problems abort the whole import with one sentence and write nothing: a file that is
  empty, not text, not decodable with the given or sniffed encoding, has unbalanced quotes, has a row
  whose number of fields differs from the header's (a value with an unquoted delimiter shifts every
  column after it), has a header but no rows, or a ``--map`` naming a column the file does not have
  or no phone column at all.
* ROW-level problems reject that row only: a phone cell with characters other than digits, spaces
  and ``( ) + - .``, a number that is not valid for the region, an empty phone, an email without
  ``@``, an unknown time zone, a cell longer than ``MAX_CELL`` characters. Each is reported as
  ``line N: reason``. Numbers already in the campaign or repeated in the file are reported as
  duplicates (the first occurrence wins); numbers on any do-not-call list are skipped and reported.
* Accepted rows are written in one transaction (all or none). The import succeeds (exit 0) when at
  least one row was imported or no row was rejected (re-importing a file only finds duplicates);
  when rows were rejected and none imported, it fails (exit 1) after printing the report.
* ``dry_run`` does everything, including the duplicate and do-not-call checks against the
  database, and rolls back before writing.

Speed (benchmarks/import_bench.py): rows are validated in Python in batches of ``BATCH_ROWS`` in a
worker thread, while the event loop writes the previous batch, already turned into COPY text, with
COPY straight into contacts, contact_phones and campaign_entries (no staging table, no INSERT ...
SELECT). Contact ids are reserved from the sequence in one statement up front so the three tables'
lines can be written without a round trip. Duplicates against the campaign and do-not-call numbers
are found per batch with one statement (an index probe per number) before the batch is written.
Foreign-key checks that cannot fail are skipped when the role may (see _skip_redundant_fk_checks);
the cyclic garbage collector is paused during the import. All batches share one transaction.
"""
from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import gc
import io
import itertools
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ari_app.db.runtime import Database
from ari_app.domain.phones import PhoneError, PhoneNormaliser, valid_zone
from ari_app.errors import NotFound, UserError

log = logging.getLogger(__name__)

MAX_CELL = 4000  # characters; longer cells are rejected (a broken export, or abuse)
_SNIFF_LINES = 50
_DELIMITERS = (";", ",", "\t", "|")
_MAP_KEY = re.compile(r"phone\d*|name|email|timezone")
COPY_CHUNK = 2000


class NothingImported(UserError):
    """Every usable row was rejected: the report was printed, the command fails."""

    exit_code = 1


# --- decoding --------------------------------------------------------------------------------------

# Letters of the languages our users write. A byte >= 0x80 decoded as cp1250 and as latin-1 is
# scored by which decoding yields one of these letters.
_CENTRAL = set("ąćęłńóśźżáčďéěíňóřšťúůýž" + "ĄĆĘŁŃÓŚŹŻÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ")
_WESTERN = set("àèéìíîòóùúãõçáâêôüÀÈÉÌÍÎÒÓÙÚÃÕÇÁÂÊÔÜ")


def _western(data: bytes) -> str:
    """ISO-8859-1, or its Windows superset cp1252 when the file uses its extra characters (’ “ ” €)."""
    if any(0x80 <= b <= 0x9F for b in data):
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "iso-8859-1"


def _cp1250_or_latin1(data: bytes) -> str:
    """cp1250 (Polish, Czech) or ISO-8859-1/cp1252 (Italian, Portuguese) for bytes that are not UTF-8.

    Each byte >= 0x80 that decodes to different characters counts for the side on which it is a
    letter of our users' languages; when it is one on both sides (è/č, ì/ě, ò/ň, ù/ů), Italian
    accents end words and Czech ones sit inside them.
    """
    western = _western(data)
    try:
        as_cp = data.decode("cp1250")
    except UnicodeDecodeError:
        return western
    as_w = data.decode(western)
    central_score = western_score = 0
    n = len(as_w)
    for i, byte in enumerate(data):
        if byte < 0x80:
            continue
        c, w = as_cp[i], as_w[i]
        if c == w:
            continue
        in_c, in_w = c in _CENTRAL, w in _WESTERN
        if in_c and not in_w:
            central_score += 1
        elif in_w and not in_c:
            western_score += 1
        elif in_c and in_w:
            end_of_word = i + 1 >= n or not as_w[i + 1].isalpha()
            if end_of_word:
                western_score += 1
            else:
                central_score += 1
    return "cp1250" if central_score > western_score else western


def decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """The file's text and the encoding used; UserError when it cannot be read as text."""
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise UserError(f"--encoding {encoding!r} is not an encoding Python knows") from None
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UserError(f"{name} is not valid {codec}: byte 0x{data[exc.start]:02x} on line {line} "
                            f"cannot be decoded; nothing was imported") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise UserError(f"{name} starts with a UTF-16 mark but is not valid UTF-16; nothing was imported") from None
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise UserError(f"{name} is not a text file (NUL byte on line {line}); nothing was imported")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UserError(f"{name} starts with a UTF-8 mark but byte 0x{data[exc.start]:02x} on line {line} "
                            f"is not UTF-8; nothing was imported") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = _cp1250_or_latin1(data)
    decoded = data.decode(codec)
    bad = re.search(r"[\x80-\x9f]", decoded)
    if bad:  # C1 controls: neither cp1250 nor latin-1 text
        line = decoded.count("\n", 0, bad.start()) + 1
        raise UserError(f"{name} is not UTF-8, cp1250 or ISO-8859-1 text (byte 0x{ord(bad.group()):02x} on line "
                        f"{line}); pass --encoding; nothing was imported")
    return decoded, codec


# --- CSV structure ---------------------------------------------------------------------------------

def sniff_delimiter(text_: str) -> str:
    """The delimiter that splits the first lines into the same number (> 1) of fields."""
    head = text_[:_SNIFF_LINES * (MAX_CELL + 1)]  # splitlines of a 50 MB file costs more than the sniffing
    sample = head.splitlines()[:_SNIFF_LINES]
    best, best_key = ",", (0, 0, 0)
    for rank, delim in enumerate(_DELIMITERS):
        try:
            counts = [len(r) for r in csv.reader(sample, delimiter=delim) if r]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        key = (consistent, counts[0], -rank)
        if key > best_key:
            best, best_key = delim, key
    return best


def _delim_name(d: str) -> str:
    return {"\t": "tab", " ": "space"}.get(d, d)


def _records(text_: str, delim: str, has_header: bool):
    """Header (None: no non-blank row), width and (line, cells) rows; UserError for a broken structure."""
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delim, strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    width = 0
    prev = 0
    try:
        for cells in reader:
            line = prev + 1
            prev = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue  # blank lines and rows of empty cells
            if header is None and width == 0:
                width = len(cells)
                if has_header:
                    header = [c.strip() for c in cells]
                    continue
                header = [f"col{i}" for i in range(1, width + 1)]
            if len(cells) != width:
                what = "the header has" if has_header else "the first row has"
                raise UserError(
                    f"line {line} has {len(cells)} fields but {what} {width}, so its columns would shift "
                    f"(an unquoted {_delim_name(delim)!r} inside a value, or the wrong --delimiter); nothing was imported")
            rows.append((line, cells))
    except csv.Error:
        line = prev + 1
        raise UserError(f"line {line} has unbalanced quotes (a quoted value that starts there is not closed "
                        f"properly); nothing was imported") from None
    return header, width, rows


def _records_fast(text_: str, delim: str, has_header: bool):
    """What :func:`_records` returns, for the usual file whose records are one line each and of
    one width, in C-level passes (csv into a list, widths through ``map``) instead of a Python
    loop per row; ``(None, 0, [])`` for anything else, which then takes the exact path."""
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delim, strict=True)
    try:
        records = list(reader)
    except csv.Error:
        return None, 0, []
    if reader.line_num != len(records) or not records:
        return None, 0, []  # a quoted value spans lines: line numbers need the exact path
    if any([not "".join(r).strip() for r in records]):
        return None, 0, []  # blank rows are skipped and shift the line numbers
    width = len(records[0])
    if set(map(len, records)) != {width}:
        return None, 0, []  # the exact path names the first line that differs
    if has_header:
        header = [c.strip() for c in records[0]]
        rows = list(zip(range(2, len(records) + 1), records[1:]))
    else:
        header = [f"col{i}" for i in range(1, width + 1)]
        rows = list(zip(range(1, len(records) + 1), records))
    return header, width, rows


@dataclass
class Table:
    header: list[str]  # column names (col<N> without a header)
    has_header: bool
    rows: list[tuple[int, list[str]]]  # (line number, cells)
    encoding: str
    delimiter: str


def read_table(path: str | Path, *, has_header: bool = True, delimiter: str | None = None,
               encoding: str | None = None, display_name: str | None = None) -> Table:
    name = display_name or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"file {name} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{name} is a directory, not a CSV file") from None
    except PermissionError:
        raise UserError(f"file {name} cannot be read (permission denied)") from None
    if not data.strip(b" \t\r\n") or data.strip(b" \t\r\n") == codecs.BOM_UTF8:
        raise UserError(f"{name} is empty; nothing was imported")
    text_, codec = decode(data, name, encoding)
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UserError(f"--delimiter {delimiter!r} must be one character (or 'tab')")
    delim = delimiter or sniff_delimiter(text_)
    header, width, rows = _records_fast(text_, delim, has_header)
    if header is None:
        header, width, rows = _records(text_, delim, has_header)
    if header is None:
        raise UserError(f"{name} is empty; nothing was imported")
    if has_header:
        seen: dict[str, int] = {}
        for i, col in enumerate(header):
            if not col:
                header[i] = col = f"col{i + 1}"
            if col in seen:
                raise UserError(f"column {col!r} appears twice in the header of {name}; nothing was imported")
            seen[col] = i
        if not rows:
            raise UserError(f"{name} has a header but no data rows; nothing was imported")
    return Table(header, has_header, rows, codec, delim)


# --- mapping ---------------------------------------------------------------------------------------

@dataclass
class Mapping:
    phones: list[int]  # column indexes, entry number first
    phone_names: list[str]
    name: int | None = None
    email: int | None = None
    timezone: int | None = None
    custom: list[tuple[int, str]] = field(default_factory=list)


def parse_mapping(spec: str | None, table: Table) -> Mapping:
    pairs: dict[str, str] = {}
    if spec:
        for part in spec.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise UserError(f"--map item {part.strip()!r} is not KEY=COLUMN (e.g. phone=Tel)")
            if not _MAP_KEY.fullmatch(key):
                raise UserError(f"--map key {key!r} is not one of phone, phone2.., name, email, timezone")
            if key in pairs:
                raise UserError(f"--map names {key!r} twice")
            pairs[key] = value
    elif table.has_header:  # columns named like the keys map themselves
        lowered = {c.lower(): c for c in table.header}
        for key in ("phone", "name", "email", "timezone"):
            if key in lowered:
                pairs[key] = lowered[key]
    if "phone" not in pairs:
        raise UserError("--map has no phone=COLUMN, so no column holds the phone number; nothing was imported")

    def column(key: str, value: str) -> int:
        if not table.has_header:
            if not value.isdigit() or not 1 <= int(value) <= len(table.header):
                raise UserError(f"--map {key}={value}: without a header columns are numbers from 1 to "
                                f"{len(table.header)}; nothing was imported")
            return int(value) - 1
        if value in table.header:
            return table.header.index(value)
        folded = [i for i, c in enumerate(table.header) if c.casefold() == value.casefold()]
        if len(folded) == 1:
            return folded[0]
        cols = ", ".join(table.header)
        raise UserError(f"--map {key}={value}: the file has no column {value!r} (columns: {cols}); nothing was imported")

    phone_keys = sorted((k for k in pairs if k.startswith("phone")), key=lambda k: int(k[5:] or 1))
    m = Mapping(phones=[column(k, pairs[k]) for k in phone_keys], phone_names=phone_keys)
    for key in ("name", "email", "timezone"):
        if key in pairs:
            setattr(m, key, column(key, pairs[key]))
    used = set(m.phones) | {i for i in (m.name, m.email, m.timezone) if i is not None}
    if len(used) < len(m.phones) + sum(i is not None for i in (m.name, m.email, m.timezone)):
        raise UserError("--map uses one column for two keys; nothing was imported")
    m.custom = [(i, c) for i, c in enumerate(table.header) if i not in used]
    return m


# --- rows ------------------------------------------------------------------------------------------

@dataclass
class Problem:
    line: int
    kind: str  # rejected | duplicate | dnc
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "kind": self.kind, "message": self.message}


@dataclass
class ImportReport:
    file: str
    campaign: str
    encoding: str
    delimiter: str
    region: str
    dry_run: bool
    read: int = 0
    imported: int = 0
    timezone_unknown: int = 0
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for benchmarks
    fk_checks_skipped: bool = False  # see _skip_redundant_fk_checks

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def as_dict(self) -> dict:
        return {
            "file": self.file, "campaign": self.campaign, "dry_run": self.dry_run, "encoding": self.encoding,
            "delimiter": self.delimiter, "region": self.region, "read": self.read, "imported": self.imported,
            "rejected": self.count("rejected"), "duplicates": self.count("duplicate"),
            "dnc_skipped": self.count("dnc"), "timezone_unknown": self.timezone_unknown,
            "problems": [p.as_dict() for p in sorted(self.problems, key=lambda p: p.line)],
        }


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_NULL = "\\N"


def _c(value: str | None) -> str:
    """A value in COPY text format."""
    if value is None:
        return "\\N"
    if _NEEDS_ESCAPE.search(value):
        return value.translate(_COPY_ESCAPES)
    return value


@dataclass
class Batch:
    """Validated rows of one chunk, already as COPY text lines (one string per row, '\n' included).

    ``phones``, ``lines``, ``contacts`` and ``unknown_zone`` are in file order; ``sorted_phones``,
    ``phone_rows`` and ``entries`` in phone order (a row's ``phone_rows`` item holds its extra numbers
    too)."""

    phones: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    unknown_zone: list[bool] = field(default_factory=list)
    sorted_phones: list[str] = field(default_factory=list)
    phone_rows: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    done: int = 0  # rows of the file read so far (accepted or not)


def _json_object_encoder(names: list[str]) -> Callable[[list[str]], str]:
    """``json.dumps({name: value for non-empty values}, ensure_ascii=False, separators=(",", ":"))``
    for a fixed list of keys, with the keys encoded once (the C string encoder does the values):
    the generic encoder's per-row set-up cost as much as validating the phone."""
    from json.encoder import encode_basestring

    keys = [encode_basestring(n) + ":" for n in names]

    def encode(values: list[str]) -> str:
        return "{" + ",".join([k + encode_basestring(v) for k, v in zip(keys, values) if v]) + "}"

    return encode


def stage_rows(table: Table, mapping: Mapping, region: str, report: ImportReport,
               progress: Callable[[int], None] | None = None, chunk: int = COPY_CHUNK, *,
               contact_ids: Iterator[int] | None = None, campaign_id: int = 0) -> Iterator[Batch]:
    """Validate and normalise rows, drop repeats within the file; yield the accepted rows in
    chunks as COPY text lines for contacts, contact_phones and campaign_entries. Pure (no I/O):
    contact ids come from ``contact_ids`` (reserved from the sequence by the caller)."""
    normalise = PhoneNormaliser(region).normalise
    ids = contact_ids if contact_ids is not None else itertools.count(1)
    seen: dict[str, int] = {}
    phone_cols = list(zip(mapping.phones, mapping.phone_names))
    name_i, email_i, tz_i = mapping.name, mapping.email, mapping.timezone
    custom_idx = [i for i, _ in mapping.custom]
    custom_json = _json_object_encoder([n for _, n in mapping.custom])
    problems = report.problems
    header = table.header
    cid = str(campaign_id)
    needs_escape = _NEEDS_ESCAPE.search
    batch = Batch()
    by_phone: list[tuple[str, str, str]] = []  # (e164, phone rows, entry line)
    done = 0

    def finish(b: Batch) -> Batch:
        by_phone.sort()
        b.sorted_phones = [r[0] for r in by_phone]
        b.phone_rows = [r[1] for r in by_phone]
        b.entries = [r[2] for r in by_phone]
        by_phone.clear()
        b.done = done
        report.read = done
        return b

    for line, cells in table.rows:
        done += 1
        if progress is not None and done % 10000 == 0:
            progress(10000)
        if max(map(len, cells)) > MAX_CELL:
            long = next(i for i, c in enumerate(cells) if len(c) > MAX_CELL)
            problems.append(Problem(line, "rejected", f"line {line}: column {header[long]!r} is "
                                                      f"{len(cells[long])} characters long (at most {MAX_CELL})"))
            continue
        error = None
        first = None
        extras: list[tuple[str, str]] = []
        for col, key in phone_cols:
            raw = cells[col].strip()
            if not raw:
                continue
            try:
                p = normalise(raw)
            except PhoneError as exc:
                reason = str(exc)
                if key != "phone":  # name the column: 'phone2 "12ab" has ...'
                    reason = key + reason[len("phone"):]
                error = f"line {line}: {reason}"
                break
            if first is None:
                first, first_raw, zone = p.e164, raw, p.zone
            else:
                extras.append((p.e164, raw))
        if error is None and first is None:
            error = f"line {line}: phone is empty"
        email = cells[email_i].strip() if email_i is not None else ""
        if error is None and email and "@" not in email:
            error = f'line {line}: email "{email}" has no @'
        override = False
        if error is None and tz_i is not None:
            tz_value = cells[tz_i].strip()
            if tz_value:
                if not valid_zone(tz_value):
                    error = f'line {line}: timezone "{tz_value}" is not a known IANA zone such as Europe/Rome'
                else:
                    zone, override = tz_value, True
        if error is not None:
            problems.append(Problem(line, "rejected", error))
            continue
        earlier = seen.get(first)
        if earlier is not None:
            problems.append(Problem(line, "duplicate", f"line {line}: phone {first} repeats line {earlier}"))
            continue
        seen[first] = line
        name = cells[name_i].strip() if name_i is not None else ""
        custom = custom_json([cells[i].strip() for i in custom_idx])
        zone_c = _NULL if zone is None else zone
        contact_id = str(next(ids))
        text_cols = name + email + custom + first_raw + zone_c
        if needs_escape(text_cols):  # rare: escape each value for COPY
            name, email, custom, first_raw, zone_c = (_c(name), _c(email), _c(custom), _c(first_raw),
                                                       _c(zone) if zone is not None else zone_c)
        contact = (f"{contact_id}\t{name or _NULL}\t{email or _NULL}\t{custom}\t{zone_c}\t"
                   f"{'t' if override else 'f'}\n")
        phone_rows = f"{contact_id}\t{first}\t{first_raw}\t0\n"
        for pos, (e, r) in enumerate(extras, start=1):
            phone_rows += f"{contact_id}\t{e}\t{_c(r)}\t{pos}\n"
        batch.phones.append(first)
        batch.lines.append(line)
        batch.contacts.append(contact)
        batch.unknown_zone.append(zone is None)
        by_phone.append((first, phone_rows, f"{cid}\t{contact_id}\t{first}\t{zone_c}\n"))
        if len(batch.phones) >= chunk:
            yield finish(batch)
            batch = Batch()
    report.read = done
    if progress is not None and done % 10000:
        progress(done % 10000)
    if batch.phones:
        yield finish(batch)


# --- database --------------------------------------------------------------------------------------

ENTRIES_LOCK = 0x454E5452  # advisory lock class: writers of one campaign's entries


async def find_campaign(session, ref: str, *, lock: bool = False) -> dict:
    """The campaign named ``ref`` (or with id ``ref``). With ``lock``, writers of its entries
    (imports, moves into it, add-to-campaign) are serialised by an advisory lock, so duplicate
    checks stay true until commit, while the campaign row itself stays free for the dialer and
    ``campaign`` commands (only a key-share lock: it cannot be deleted meanwhile)."""
    cols = "select id, name, state, default_region, timezone from campaigns"
    suffix = " for key share" if lock else ""
    row = (await session.execute(text(f"{cols} where name = :ref{suffix}"), {"ref": ref})).mappings().first()
    if row is None and ref.isdigit():
        row = (await session.execute(text(f"{cols} where id = :id{suffix}"), {"id": int(ref)})).mappings().first()
    if row is None:
        raise NotFound(f"campaign {ref!r} does not exist")
    if lock:
        await session.execute(text("select pg_advisory_xact_lock(:k, :id)"), {"k": ENTRIES_LOCK, "id": row["id"]})
    return dict(row)


async def _reserve_ids(session, seq: str, n: int) -> range | list[int]:
    """``n`` ids taken from the sequence ``seq`` in one statement, for rows written with COPY.

    When they are consecutive (no concurrent nextval interleaved, increment 1: the usual case)
    only the first and last travel; otherwise the whole list is fetched.
    """
    lo, hi = (await session.execute(text(
        "select min(v), max(v) from (select nextval(cast(:seq as regclass)) as v "
        "from generate_series(1, :n)) x"), {"seq": seq, "n": n})).one()
    if lo is not None and hi - lo + 1 == n:
        return range(lo, hi + 1)
    return (await session.execute(text("select nextval(cast(:seq as regclass)) from generate_series(1, :n)"),
                                  {"seq": seq, "n": n})).scalars().all()


async def _skip_redundant_fk_checks(session) -> bool:
    """Let the COPYs skip foreign-key checks that cannot fail, when the role may.

    The rows reference only the campaign (held FOR KEY SHARE since the start) and contacts this
    transaction inserts itself; the owner and status references are null. The per-row checks
    (one SPI query each, ~40 % of the write time) would therefore all pass. session_replication_role
    = replica is what pg_restore uses for the same reason; it needs a superuser (the embedded
    server) or, from PostgreSQL 15, GRANT SET ON PARAMETER. Without it the checks simply run.
    The tables written have no triggers of their own (a trigger added later would be skipped
    too: keep this in mind, tests/contacts/test_import.py checks there is none).
    """
    try:
        async with session.begin_nested():
            await session.execute(text("set local session_replication_role = replica"))
    except DBAPIError:
        return False
    return True


async def import_contacts(db: Database, path: str | Path, *, campaign: str, mapping: str | None = None,
                          has_header: bool = True, delimiter: str | None = None, encoding: str | None = None,
                          region: str | None = None, dry_run: bool = False,
                          progress: Callable[[int], None] | None = None,
                          on_start: Callable[[int], None] | None = None) -> ImportReport:
    """Import ``path`` into ``campaign``: the service behind ``dialer contacts import``."""
    # A million rows are millions of live lists and strings: the cyclic collector, triggered by
    # the allocations, rescans them again and again (CSV parsing alone took 4x longer). Nothing
    # here makes cycles; the collector runs again as soon as the import returns.
    with _collector_paused():
        return await _import(db, path, campaign=campaign, mapping=mapping, has_header=has_header,
                             delimiter=delimiter, encoding=encoding, region=region, dry_run=dry_run,
                             progress=progress, on_start=on_start)


@contextlib.contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    # The validation thread holds the GIL while the event loop feeds COPY; the loop wakes each
    # time the socket drains and then waited up to the default 5 ms switch interval for the GIL,
    # which throttled COPY to half the server's speed. A short interval keeps the server fed.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0002))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if enabled:
            gc.enable()


async def _import(db: Database, path: str | Path, *, campaign: str, mapping: str | None, has_header: bool,
                  delimiter: str | None, encoding: str | None, region: str | None, dry_run: bool,
                  progress: Callable[[int], None] | None,
                  on_start: Callable[[int], None] | None) -> ImportReport:
    started = time.perf_counter()
    table = read_table(path, has_header=has_header, delimiter=delimiter, encoding=encoding)
    cols = parse_mapping(mapping, table)
    if on_start is not None:
        on_start(len(table.rows))
    async with db.transaction() as session:
        camp = await find_campaign(session, campaign, lock=True)
        reg = (region or camp["default_region"] or "").upper()
        try:
            PhoneNormaliser(reg)
        except ValueError as exc:
            raise UserError(f"--region: {exc}") from None
        report = ImportReport(str(path), camp["name"], table.encoding, _delim_name(table.delimiter), reg, dry_run)
        report.timings["read"] = round(time.perf_counter() - started, 3)
        conn = await session.connection()
        raw_conn = (await conn.get_raw_connection()).driver_connection
        # Only entries that were in the campaign before the import can be duplicates of accepted
        # rows (rows of this file never repeat each other: checked in Python); a new campaign
        # needs no check.
        camp["had_entries"] = (await session.execute(text(
            "select exists (select 1 from campaign_entries where campaign_id = :cid)"), {"cid": camp["id"]})).scalar()
        contact_ids: Iterator[int] | None = None
        if not dry_run:
            t = time.perf_counter()
            seq = (await session.execute(text("select pg_get_serial_sequence('contacts', 'id')"))).scalar_one()
            contact_ids = iter(await _reserve_ids(session, seq, len(table.rows)))
            report.fk_checks_skipped = await _skip_redundant_fk_checks(session)
            _add_time(report, "reserve ids", t)
        # Batches are validated in a worker thread while the server writes the previous batch: the
        # import takes about max(Python, PostgreSQL) rather than their sum. One transaction still.
        loop = asyncio.get_running_loop()
        batches = stage_rows(table, cols, reg, report, progress, chunk=BATCH_ROWS, contact_ids=contact_ids,
                             campaign_id=camp["id"])
        pending = loop.run_in_executor(None, next, batches, None)
        while True:
            t0 = time.perf_counter()
            staged = await pending
            _add_time(report, "wait for validation", t0)
            if staged is None:
                break
            pending = loop.run_in_executor(None, next, batches, None)
            await _write_batch(session, raw_conn, staged, camp, report, dry_run)
        if dry_run:
            await session.rollback()
            return report
        if report.imported:
            log.info("imported %s rows into campaign %s (id %s) from %s", report.imported, camp["name"], camp["id"],
                     path)
        commit_from = time.perf_counter()
    _add_time(report, "commit", commit_from)
    return report


BATCH_ROWS = 50_000


def _add_time(report: ImportReport, phase: str, since: float) -> float:
    now = time.perf_counter()
    report.timings[phase] = round(report.timings.get(phase, 0.0) + now - since, 3)
    return now


# Of a batch's numbers, those already in the campaign (duplicates) or on a do-not-call list; one
# index probe each, no staging table.
_REFUSED = text("""
select s.phone,
       cast(:had_entries as boolean) and exists (
         select 1 from campaign_entries e where e.campaign_id = :cid and e.phone_e164 = s.phone) as duplicate
  from unnest(cast(:phones as text[])) as s(phone)
 where (cast(:had_entries as boolean) and exists (
         select 1 from campaign_entries e where e.campaign_id = :cid and e.phone_e164 = s.phone))
    or exists (select 1 from dnc_numbers d where d.e164 = s.phone)
""")

_ANY_DNC = text("select exists (select 1 from dnc_numbers)")


async def _write_batch(session, raw_conn, staged: Batch, camp: dict, report: ImportReport,
                       dry_run: bool) -> None:
    t = time.perf_counter()
    # A new campaign and no do-not-call number at all (checked per batch, as the probes were): no
    # number can be refused, and the million probes cost ~10 % of an import.
    refused = []
    if camp["had_entries"] or (await session.execute(_ANY_DNC)).scalar():
        refused = (await session.execute(_REFUSED, {"phones": staged.phones, "cid": camp["id"],
                                                    "had_entries": camp["had_entries"]})).all()
    contacts, phone_rows, entries = staged.contacts, staged.phone_rows, staged.entries
    unknown = sum(staged.unknown_zone)
    if refused:
        by_phone = dict(refused)
        for phone, line in zip(staged.phones, staged.lines):
            duplicate = by_phone.get(phone)
            if duplicate:
                report.problems.append(Problem(line, "duplicate", f"line {line}: phone {phone} is already in "
                                                                  f"campaign {camp['name']}"))
            elif duplicate is not None:
                report.problems.append(Problem(line, "dnc", f"line {line}: phone {phone} is on the do-not-call list"))
        keep = [p not in by_phone for p in staged.phones]
        contacts = list(itertools.compress(contacts, keep))
        unknown = sum(itertools.compress(staged.unknown_zone, keep))
        keep = [p not in by_phone for p in staged.sorted_phones]
        phone_rows = list(itertools.compress(phone_rows, keep))
        entries = list(itertools.compress(entries, keep))
    report.imported += len(contacts)
    report.timezone_unknown += unknown
    t = _add_time(report, "duplicates+dnc", t)
    if dry_run or not contacts:
        return
    # Contacts in file order (their ids follow the file); phones and entries in phone order, so the
    # number indexes are filled page by page and the new contact ids, one fresh range at the right
    # end of their indexes, stay within a few pages. New entries are 'ready' (the column default)
    # with no next_attempt_at: in an active campaign they are dialable at once.
    async with raw_conn.cursor() as cur:
        for label, sql, lines in (
                ("contacts", "copy contacts (id, name, email, custom, timezone, timezone_override) from stdin", contacts),
                ("contact_phones", "copy contact_phones (contact_id, e164, raw, position) from stdin", phone_rows),
                ("campaign_entries", "copy campaign_entries (campaign_id, contact_id, phone_e164, timezone) from stdin",
                 entries)):
            async with cur.copy(sql) as copy:
                await copy.write("".join(lines))
            t = _add_time(report, label, t)


def format_report(report: ImportReport, limit: int = 200) -> str:
    d = report.as_dict()
    head = "dry run, nothing was written: " if report.dry_run else ""
    verb = "would import" if report.dry_run else "imported"
    lines = [
        f"{head}read {d['read']} rows from {report.file} ({report.encoding}, delimiter {report.delimiter!r}, "
        f"region {report.region}) for campaign {report.campaign}",
        f"{verb} {d['imported']}, rejected {d['rejected']}, duplicates {d['duplicates']}, "
        f"do-not-call skipped {d['dnc_skipped']}, time zone unknown (campaign zone used) {d['timezone_unknown']}",
    ]
    problems = d["problems"]
    lines += [p["message"] for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more (use --json for all)")
    return "\n".join(lines)


def outcome_error(report: ImportReport) -> UserError | None:
    """The failure to raise after printing the report, when nothing could be imported."""
    if report.imported == 0 and report.count("rejected") > 0:
        return NothingImported(f"no row of {report.file} could be imported ({report.count('rejected')} rejected)")
    return None


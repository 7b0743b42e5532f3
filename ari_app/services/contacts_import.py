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

Speed: rows are validated in Python in batches of ``BATCH_ROWS`` (in a worker thread), each batch
goes with COPY into temporary tables and then into contacts, contact_phones and campaign_entries
with three set-based INSERT ... SELECT statements while the next batch is being validated. All
batches share one transaction. No ORM objects per row.
"""
from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import text

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
    sample = text_.splitlines()[:_SNIFF_LINES]
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


def _c(value: str | None) -> str:
    """A value in COPY text format."""
    if value is None:
        return "\\N"
    if _NEEDS_ESCAPE.search(value):
        return value.translate(_COPY_ESCAPES)
    return value


@dataclass
class StagedRows:
    """Validated rows as COPY text: the main stage and extra phones."""

    main: list[str]
    phones: list[str]


def stage_rows(table: Table, mapping: Mapping, region: str, report: ImportReport,
               progress: Callable[[int], None] | None = None, chunk: int = COPY_CHUNK) -> Iterator[StagedRows]:
    """Validate and normalise rows; yield them in chunks as COPY text lines. Pure (no I/O)."""
    norm = PhoneNormaliser(region)
    seen: dict[str, int] = {}
    main: list[str] = []
    extra: list[str] = []
    phone_cols = list(zip(mapping.phones, mapping.phone_names))
    name_i, email_i, tz_i = mapping.name, mapping.email, mapping.timezone
    custom_cols = mapping.custom
    problems = report.problems
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    done = 0
    for line, cells in table.rows:
        done += 1
        report.read += 1
        if progress is not None and done % 10000 == 0:
            progress(10000)
        long = next((i for i, c in enumerate(cells) if len(c) > MAX_CELL), None)
        if long is not None:
            problems.append(Problem(line, "rejected", f"line {line}: column {table.header[long]!r} is "
                                                      f"{len(cells[long])} characters long (at most {MAX_CELL})"))
            continue
        phones: list[tuple[str, str]] = []
        error = None
        for col, key in phone_cols:
            raw = cells[col].strip()
            if not raw:
                continue
            try:
                p = norm.normalise(raw)
            except PhoneError as exc:
                reason = str(exc)
                if key != "phone":  # name the column: 'phone2 "12ab" has ...'
                    reason = key + reason[len("phone"):]
                error = f"line {line}: {reason}"
                break
            phones.append((p.e164, raw))
            if len(phones) == 1:
                zone = p.zone
        if error is None and not phones:
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
        e164, raw = phones[0]
        first = seen.get(e164)
        if first is not None:
            problems.append(Problem(line, "duplicate", f"line {line}: phone {e164} repeats line {first}"))
            continue
        seen[e164] = line
        custom = {name: v for i, name in custom_cols if (v := cells[i].strip())}
        name = cells[name_i].strip() if name_i is not None else ""
        main.append("\t".join((
            str(line), _c(name or None), _c(email or None), _c(dumps(custom)), _c(zone),
            "t" if override else "f", e164, _c(raw))))
        for pos, (e, r) in enumerate(phones[1:], start=1):
            extra.append(f"{line}\t{pos}\t{e}\t{_c(r)}")
        if len(main) >= chunk:
            yield StagedRows(main, extra)
            main, extra = [], []
    if progress is not None and done % 10000:
        progress(done % 10000)
    if main or extra:
        yield StagedRows(main, extra)


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


async def import_contacts(db: Database, path: str | Path, *, campaign: str, mapping: str | None = None,
                          has_header: bool = True, delimiter: str | None = None, encoding: str | None = None,
                          region: str | None = None, dry_run: bool = False,
                          progress: Callable[[int], None] | None = None,
                          on_start: Callable[[int], None] | None = None) -> ImportReport:
    """Import ``path`` into ``campaign``: the service behind ``dialer contacts import``."""
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
        seq = (await session.execute(text("select pg_get_serial_sequence('contacts', 'id')"))).scalar_one()
        await session.execute(text(
            "create temp table import_stage (line int, name text, email text, custom jsonb, timezone text, "
            f"tz_override bool, phone text, raw text, contact_id bigint default nextval('{seq}'::regclass)) "
            "on commit drop"))
        await session.execute(text(
            "create temp table import_phones (line int, position int, e164 text, raw text) on commit drop"))
        # Rows of this file never repeat each other (checked in Python), so only entries that were in
        # the campaign before the import can be duplicates; a new campaign needs no check.
        camp["had_entries"] = (await session.execute(text(
            "select exists (select 1 from campaign_entries where campaign_id = :cid)"), {"cid": camp["id"]})).scalar()
        # Batches are validated in a worker thread while the server writes the previous batch: the
        # import takes about max(Python, PostgreSQL) rather than their sum. One transaction still.
        loop = asyncio.get_running_loop()
        batches = stage_rows(table, cols, reg, report, progress, chunk=BATCH_ROWS)
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


async def _write_batch(session, raw_conn, staged: StagedRows, camp: dict, report: ImportReport,
                       dry_run: bool) -> None:
    t = time.perf_counter()
    async with raw_conn.cursor() as cur:
        async with cur.copy("copy import_stage (line, name, email, custom, timezone, tz_override, phone, raw) "
                            "from stdin") as copy:
            await copy.write("\n".join(staged.main) + "\n")
        if staged.phones:
            async with cur.copy("copy import_phones (line, position, e164, raw) from stdin") as copy:
                await copy.write("\n".join(staged.phones) + "\n")
    t = _add_time(report, "copy", t)
    params = {"cid": camp["id"]}
    if camp["had_entries"]:
        await session.execute(text("analyze import_stage"))
        dup = await session.execute(text(
            "delete from import_stage s using campaign_entries e "
            "where e.campaign_id = :cid and e.phone_e164 = s.phone returning s.line, s.phone"), params)
        for line, phone in dup.all():
            report.problems.append(Problem(line, "duplicate", f"line {line}: phone {phone} is already in campaign "
                                                              f"{camp['name']}"))
    dnc = await session.execute(text(
        "delete from import_stage s where exists (select 1 from dnc_numbers d where d.e164 = s.phone) "
        "returning s.line, s.phone"))
    for line, phone in dnc.all():
        report.problems.append(Problem(line, "dnc", f"line {line}: phone {phone} is on the do-not-call list"))
    accepted, unknown = (await session.execute(text(
        "select count(*), count(*) filter (where timezone is null) from import_stage"))).one()
    report.imported += accepted
    report.timezone_unknown += unknown
    t = _add_time(report, "duplicates+dnc", t)
    if not dry_run and accepted:
        await session.execute(text(
            "insert into contacts (id, name, email, custom, timezone, timezone_override) "
            "select contact_id, name, email, custom, timezone, tz_override from import_stage order by contact_id"))
        t = _add_time(report, "contacts", t)
        # In phone order: the (campaign, phone) and phone indexes are then filled page by page.
        await session.execute(text(
            "insert into contact_phones (contact_id, e164, raw, position) "
            "select contact_id, e164, raw, position from ("
            "select contact_id, phone as e164, raw, 0 as position from import_stage "
            "union all select s.contact_id, p.e164, p.raw, p.position from import_phones p "
            "join import_stage s using (line)) x order by e164"))
        t = _add_time(report, "contact_phones", t)
        # New entries are ready with no next_attempt_at: in an active campaign they are dialable
        # at once.
        await session.execute(text(
            "insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, state) "
            "select :cid, contact_id, phone, timezone, 'ready' from import_stage order by phone"), params)
        t = _add_time(report, "campaign_entries", t)
    await session.execute(text("truncate import_stage, import_phones"))



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


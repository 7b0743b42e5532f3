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

Speed (benchmarks/import_bench.py, goal 100 000 rows/s on two cores):

* The file is read while the transaction starts; a file without quotes is only split into lines
  there, and into cells chunk by chunk. Its chunks of ``BATCH_ROWS`` rows are validated a column
  at a time (``stage_chunks``: C-level passes over each column, no Python code per row) by two
  forked processes for a big file, a thread for a small one, and come back as COPY text in UTF-8,
  which the event loop sends with COPY (no staging table, no INSERT ... SELECT) while the next
  chunks are validated. Repeats across chunks are dropped in order by the writer (``Repeats``).
* A campaign's first big import writes a partition of its own (ari_app/db/partitions.py) whose
  indexes are built once at the end, and a big import's contacts go to a contact list of their
  own whose ids need no sequence; with wal_level = minimal (the embedded server) neither table's
  rows go through the WAL. An import into a campaign that has entries COPYs through its
  partition's indexes, in number order.
* Duplicates against the campaign and do-not-call numbers are found per chunk (an index scan over
  the chunk's sorted numbers each) before it is written. Reference checks that cannot fail are skipped
  when the role may (see _skip_redundant_fk_checks); the cyclic garbage collector is paused. All
  chunks share one transaction.
"""
from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import functools
import gc
import io
import itertools
import logging
import operator
import re
import sys
import time
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Callable, Iterator, Sequence

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ari_app.db.partitions import (ContactList, FreshPartition, ensure_entries_partition, has_partition,
                                   may_create_partitions)
from ari_app.db.runtime import Database
from ari_app.domain.phones import PhoneNormaliser, valid_zone
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
    """Header (None: no non-blank row), width, line numbers and records; UserError for a broken
    structure."""
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delim, strict=True)
    lines: list[int] = []
    records: list[list[str]] = []
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
            lines.append(line)
            records.append(cells)
    except csv.Error:
        line = prev + 1
        raise UserError(f"line {line} has unbalanced quotes (a quoted value that starts there is not closed "
                        f"properly); nothing was imported") from None
    return header, width, lines, records


def _records_fast(text_: str, delim: str, has_header: bool):
    """What :func:`_records` returns, for the usual file whose records are one line each and of
    one width, in C-level passes (csv into a list, widths through ``map``) instead of a Python
    loop per row; ``(None, 0, [], [])`` for anything else, which then takes the exact path.

    A file with no quote character at all needs no CSV state machine: a record is a line and its
    cells are the line split by the delimiter, which is what csv.reader returns for it (0.6 s
    instead of 0.8 s for a million lines)."""
    plain = _quote_free_lines(text_)
    if plain is not None:
        records = list(map(operator.methodcaller("split", delim), plain))
    else:
        reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delim, strict=True)
        try:
            records = list(reader)
        except csv.Error:
            return None, 0, [], []
        if reader.line_num != len(records):
            return None, 0, [], []  # a quoted value spans lines: line numbers need the exact path
    if not records:
        return None, 0, [], []
    if not all(map(str.strip, map("".join, records))):
        return None, 0, [], []  # blank rows are skipped and shift the line numbers
    width = len(records[0])
    if set(map(len, records)) != {width}:
        return None, 0, [], []  # the exact path names the first line that differs
    if has_header:
        header = [c.strip() for c in records[0]]
        del records[0]
        return header, width, range(2, len(records) + 2), records
    header = [f"col{i}" for i in range(1, width + 1)]
    return header, width, range(1, len(records) + 1), records


@dataclass
class Table:
    header: list[str]  # column names (col<N> without a header)
    has_header: bool
    lines: Sequence[int]  # the line number of each record
    records: list[list[str]] | None  # cells, all of the header's width (None: see text_lines)
    encoding: str
    delimiter: str
    # A file without quotes, read lazily: each record's line, split into cells chunk by chunk
    # (split_chunk) by whoever stages that chunk; a line of another width is found there.
    text_lines: list[str] | None = None

    @property
    def count(self) -> int:
        return len(self.text_lines) if self.text_lines is not None else len(self.records or ())

    def columns(self, start: int, stop: int) -> list[Sequence[str]]:
        """The cells of records [start, stop) by column; UserError for a line of another width."""
        if self.text_lines is None:
            return list(zip(*self.records[start:stop]))
        return split_chunk(self.text_lines[start:stop], self.delimiter, len(self.header), self.lines[start:stop],
                           self.has_header)


def split_chunk(lines: list[str], delim: str, width: int, numbers: Sequence[int], has_header: bool) -> list[list[str]]:
    """Quote-free lines split into ``width`` columns at once: the lines joined by the delimiter
    split into one list of cells, every width-th of which is a column (a million lines: 0.3 s, where
    csv.reader and a transpose took 1.1). A line of another width is reported as the exact path
    reports it."""
    cells = delim.join(lines).split(delim)
    if len(cells) == len(lines) * width:
        return [cells[i::width] for i in range(width)]
    for line, number in zip(lines, numbers):
        if line.count(delim) != width - 1:
            what = "the header has" if has_header else "the first row has"
            raise UserError(
                f"line {number} has {line.count(delim) + 1} fields but {what} {width}, so its columns would shift "
                f"(an unquoted {_delim_name(delim)!r} inside a value, or the wrong --delimiter); nothing was imported")
    raise AssertionError("a chunk's cell count disagrees with its lines'")


def read_bytes(path: str | Path, name: str | None = None) -> bytes:
    name = name or str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"file {name} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"{name} is a directory, not a CSV file") from None
    except PermissionError:
        raise UserError(f"file {name} cannot be read (permission denied)") from None


def read_table(path: str | Path, *, has_header: bool = True, delimiter: str | None = None,
               encoding: str | None = None, display_name: str | None = None, data: bytes | None = None,
               lazy: bool = False) -> Table:
    """The file's records, checked for structure (UserError naming the line otherwise); ``data``:
    its bytes, when the caller has read them already. ``lazy``: a file without quotes or blank
    lines is split into lines only (Table.text_lines), its widths checked as its chunks are read."""
    name = display_name or str(path)
    if data is None:
        data = read_bytes(path, name)
    if not data.strip(b" \t\r\n") or data.strip(b" \t\r\n") == codecs.BOM_UTF8:
        raise UserError(f"{name} is empty; nothing was imported")
    text_, codec = decode(data, name, encoding)
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UserError(f"--delimiter {delimiter!r} must be one character (or 'tab')")
    delim = delimiter or sniff_delimiter(text_)
    lazy_lines = _plain_lines(text_, delim) if lazy else None
    if lazy_lines:
        header, records = lazy_lines[0].split(delim), None
        width, first = len(header), 1
        if has_header:
            header, first = [c.strip() for c in header], 2
            del lazy_lines[0]
        else:
            header = [f"col{i}" for i in range(1, width + 1)]
        lines: Sequence[int] = range(first, first + len(lazy_lines))
    else:
        header, width, lines, records = _records_fast(text_, delim, has_header)
        if header is None:
            header, width, lines, records = _records(text_, delim, has_header)
        lazy_lines = None
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
        if not (records if lazy_lines is None else lazy_lines):
            raise UserError(f"{name} has a header but no data rows; nothing was imported")
    return Table(header, has_header, lines, records, codec, delim, lazy_lines)


def _plain_lines(text_: str, delim: str) -> list[str] | None:
    """The lines of a file without quote characters or blank lines (which the exact path skips,
    shifting nothing but needing its bookkeeping), else None."""
    lines = _quote_free_lines(text_)
    if not lines or not all(map(operator.methodcaller("strip", " \t" + delim), lines)):
        return None
    return lines


def _quote_free_lines(text_: str) -> list[str] | None:
    """The lines of a file with no quote character (and no carriage return but in CRLF line
    ends), without their line ends; None for any other file, which needs the CSV reader."""
    plain = text_.replace("\r\n", "\n") if "\r" in text_ else text_
    if '"' in plain or "\r" in plain:
        return None
    lines = plain.split("\n")
    if lines and not lines[-1]:
        lines.pop()  # the last line's end
    return lines


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
    """Validated rows of one chunk of the file, in file order: ``phones`` (each row's entry
    number), ``lines`` and ``unknown_zone`` per row, and the rows as COPY text for contacts and
    campaign_entries (one line each: COPY text escapes newlines), joined, so that a batch crosses
    from a child process as two strings rather than a hundred thousand."""

    phones: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    unknown_zone: list[bool] = field(default_factory=list)
    unnumbered_zones: set[str] = field(default_factory=set)  # zones time_zones did not have (zone_id NULL)
    contacts: bytes = b""  # UTF-8, as COPY takes it: the child encodes, the writer only sends
    entries: bytes = b""
    rows: int = 0  # rows of the file in this chunk (accepted or not)
    done: int = 0  # rows of the file up to the end of this chunk
    by_number: bool = False  # entries in number order rather than file order (stage_chunks)

    def keep_only(self, keep: list[bool]) -> None:
        """Drop the rows whose ``keep`` is false (``keep`` in file order)."""
        entries_keep = keep
        if self.by_number:  # the file-order flags in the entries' (number) order
            entries_keep = [keep[i] for i in _number_order(self.phones)]
        self.phones = list(itertools.compress(self.phones, keep))
        self.lines = list(itertools.compress(self.lines, keep))
        self.unknown_zone = list(itertools.compress(self.unknown_zone, keep))
        self.contacts = _text(itertools.compress(_text_rows(self.contacts), keep))
        self.entries = _text(itertools.compress(_text_rows(self.entries), entries_keep))


def _text_rows(text_: bytes) -> list[bytes]:
    return text_.split(b"\n")[:-1]


def _text(rows) -> bytes:
    joined = b"\n".join(rows)
    return joined + b"\n" if joined else b""


def _json_objects(names: list[str], columns: list[list[str]], n: int) -> list[str]:
    """Per row, ``json.dumps({name: value for the non-empty values}, ensure_ascii=False,
    separators=(",", ":"))``, a column at a time: each distinct value through the C string encoder
    once (custom columns are mostly a city, a segment, a code), the members of a row joined by
    ``str.join``."""
    if not names:
        return ["{}"] * n
    members = []
    gaps = False
    for name, values in zip(names, columns):
        key = encode_basestring(name) + ":"
        distinct = set(values)
        if len(distinct) * 4 < n:
            encoded = {v: key + encode_basestring(v) for v in distinct}
            member = list(map(encoded.__getitem__, values))
        else:
            member = list(map(key.__add__, map(encode_basestring, values)))
        if "" in distinct:  # empty values are left out
            gaps = True
            for i in itertools.compress(range(n), map(operator.not_, values)):
                member[i] = ""
        members.append(member)
    if len(members) == 1:
        return list(map("{{{}}}".format, members[0]))
    rows = list(zip(*members))
    combinations = set(rows)
    if len(combinations) * 4 < n:  # a few combinations (city x segment): each object built once
        objects = {t: "{" + ",".join(filter(None, t)) + "}" for t in combinations}
        return list(map(objects.__getitem__, rows))
    if gaps:
        return ["{" + ",".join(filter(None, t)) + "}" for t in rows]
    return list(map("{{{}}}".format, map(",".join, rows)))


def _copy_text(values: list[str]) -> list[str]:
    """``values`` in COPY text format (only a column that holds an escape character pays for it)."""
    joined = "".join(values)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return list(map(_c, values))
    return values


def _copy_rows(*columns) -> bytes:
    """COPY text of rows given by columns (already COPY text): each row tab-joined, one per line,
    in UTF-8."""
    text_ = "\n".join(map("\t".join, zip(*columns)))
    return (text_ + "\n").encode() if text_ else b""


def _number_order(phones: list[str]) -> list[int]:
    """The positions of ``phones`` in number order (stable: a repeated number keeps file order)."""
    return sorted(range(len(phones)), key=phones.__getitem__)


def _by_number(phones: list[str], columns: tuple, ordered: bool) -> tuple:
    """``columns`` (parallel to ``phones``), their rows in number order when ``ordered``."""
    if not ordered or len(phones) < 2:
        return columns
    pick = operator.itemgetter(*_number_order(phones))
    return tuple(pick(column) for column in columns)


def _null_if_empty(values) -> list[str]:
    return [v or _NULL for v in values]


def stage_rows(table: Table, mapping: Mapping, region: str, report: ImportReport,
               progress: Callable[[int], None] | None = None, chunk: int = COPY_CHUNK, *,
               contact_ids: Sequence[int] | None = None, campaign_id: int = 0,
               zone_ids: dict[str, str] | None = None, by_number: bool = False) -> Iterator[Batch]:
    """Validate and normalise rows, drop repeats within the file; yield the accepted rows in
    chunks as COPY text lines for contacts and campaign_entries. Pure (no I/O): contact ids come
    from ``contact_ids``, one per row of the file (reserved from the sequence by the caller).

    The same as :func:`stage_chunks` followed by :class:`Repeats`, which the import runs in
    separate processes.
    """
    repeats = Repeats()
    for batch, problems in stage_chunks(table, mapping, region, chunk=chunk, contact_ids=contact_ids,
                                        campaign_id=campaign_id, zone_ids=zone_ids, by_number=by_number):
        report.problems.extend(problems)
        repeats.drop(batch, report.problems)
        report.read = batch.done
        if progress is not None:
            progress(batch.rows)
        yield batch


def stage_chunks(table: Table, mapping: Mapping, region: str, *, chunk: int = COPY_CHUNK,
                 contact_ids: Sequence[int] | None = None, campaign_id: int = 0, first: int = 0,
                 step: int = 1, zone_ids: dict[str, str] | None = None,
                 by_number: bool = False) -> Iterator[tuple[Batch, list[Problem]]]:
    """Chunks ``first``, ``first + step``, ... of the file, validated, with the rows they reject.
    Each chunk stands alone (repeats across chunks are :class:`Repeats`' job), so chunks can
    be staged by several processes at once.

    A chunk is handled a column at a time (strip, normalise, check, format through ``map`` and
    ``str`` methods), so a million rows cost a few seconds, not a Python loop each; the rules are
    those of one row at a time: a row's first problem (a cell over MAX_CELL, then its phone
    columns in order, no phone, the email, the time zone) rejects it.

    ``zone_ids``: the time_zones numbers of zone names, as COPY text (campaign_entries.zone_id).
    ``by_number``: a chunk's entries in number order (into a partition that has its indexes, the
    number index is then filled page by page; a new partition's are built after the rows).
    """
    normaliser = PhoneNormaliser(region)
    total = table.count
    ids = contact_ids if contact_ids is not None else range(1, total + 1)
    for start in range(first * chunk, total, step * chunk):
        stop = min(start + chunk, total)
        problems: list[Problem] = []
        text_lines = table.text_lines[start:stop] if table.text_lines is not None else None
        batch = _stage_chunk(table.columns(start, stop), text_lines, table.lines[start:stop], table.header, mapping,
                             normaliser, problems, ids[start:stop], str(campaign_id), zone_ids or {}, by_number)
        batch.rows = stop - start
        batch.done = stop
        yield batch, problems


class Repeats:
    """The numbers of the batches so far, to drop the rows whose number an earlier row had
    (``drop``). Usually there are none: then a batch costs one update of a set of numbers (the
    writer does this between COPYs; a dict of number -> line took twice as long). The first repeat
    builds number -> first line from the batches kept so far, and later batches use that."""

    def __init__(self) -> None:
        self._numbers: set[str] = set()
        self._batches: list[tuple[list[str], Sequence[int]]] = []
        self._first: dict[str, int] | None = None  # number -> first line, once a repeat was seen

    def drop(self, batch: Batch, problems: list[Problem]) -> None:
        phones, lines = batch.phones, batch.lines
        if self._first is None:
            before = len(self._numbers)
            self._numbers.update(phones)
            if len(self._numbers) - before == len(phones):
                self._batches.append((phones, lines))
                return
            self._first = {}
            for earlier_phones, earlier_lines in self._batches:
                self._first.update(zip(earlier_phones, earlier_lines))
            self._numbers, self._batches = set(), []  # the dict from now on
        first, keep = self._first, []
        for phone, line in zip(phones, lines):
            earlier = first.get(phone)
            if earlier is not None:
                problems.append(Problem(line, "duplicate", f"line {line}: phone {phone} repeats line {earlier}"))
                keep.append(False)
            else:
                first[phone] = line
                keep.append(True)
        if not all(keep):
            batch.keep_only(keep)


def _stage_chunk(columns: list[Sequence[str]], text_lines: list[str] | None, lines: Sequence[int], header: list[str],
                 mapping: Mapping, normaliser: PhoneNormaliser, problems: list[Problem], ids: Sequence[int], cid: str,
                 zone_ids: dict[str, str], by_number: bool = False) -> Batch:
    n = len(lines)
    errors: dict[int, str] = {}  # row -> its first problem; checks run from the last rule to the first

    zones_override: list[str] | None = None
    if mapping.timezone is not None:
        zones_override = list(map(str.strip, columns[mapping.timezone]))
        for i, value in enumerate(zones_override):
            if value and not valid_zone(value):
                errors[i] = f'line {lines[i]}: timezone "{value}" is not a known IANA zone such as Europe/Rome'
    emails: list[str] | None = None
    if mapping.email is not None:
        emails = list(map(str.strip, columns[mapping.email]))
        has_at = map(str.__contains__, emails, itertools.repeat("@"))
        for i in itertools.compress(range(n), map(operator.not_, map(operator.or_, has_at, map(operator.not_, emails)))):
            errors[i] = f'line {lines[i]}: email "{emails[i]}" has no @'

    numbers = []  # per phone column: (key, e164s, zones, refusals)
    for col, key in zip(mapping.phones, mapping.phone_names):
        numbers.append((key, *normaliser.normalise_all(list(map(str.strip, columns[col])))))
    first, zone = numbers[0][1], numbers[0][2]
    extras: dict[int, list[str]] = {}
    if len(numbers) > 1:  # the first number of the row is its entry's, the others are kept with it
        first, zone = list(first), list(zone)
        for _, e164s, zones, _ in numbers[1:]:
            for i in itertools.compress(range(n), e164s):
                if first[i] is None:
                    first[i], zone[i] = e164s[i], zones[i]
                else:
                    extras.setdefault(i, []).append(e164s[i])
    for i in itertools.compress(range(n), map(operator.not_, first)):
        errors[i] = f"line {lines[i]}: phone is empty"
    for key, _, _, refusals in reversed(numbers):
        for i, reason in refusals.items():
            if key != "phone":  # name the column: 'phone2 "12ab" has ...'
                reason = key + reason[len("phone"):]
            errors[i] = f"line {lines[i]}: {reason}"
    # (a chunk read lazily has no line longer than MAX_CELL, as a rule: then no cell is either)
    longest = max(map(len, text_lines)) if text_lines is not None else MAX_CELL + 1
    for c in reversed(range(len(columns)) if longest > MAX_CELL else ()):
        if max(map(len, columns[c])) > MAX_CELL:
            for i, value in enumerate(columns[c]):
                if len(value) > MAX_CELL:
                    errors[i] = (f"line {lines[i]}: column {header[c]!r} is {len(value)} characters long "
                                 f"(at most {MAX_CELL})")
    for i in sorted(errors):
        problems.append(Problem(lines[i], "rejected", errors[i]))
    keep: Sequence[int] = [i for i in range(n) if i not in errors] if errors else range(n)
    if not keep:
        return Batch()
    whole = len(keep) == n
    pick = operator.itemgetter(*keep) if len(keep) > 1 else (lambda col: (col[keep[0]],))

    def picked(col) -> list:
        return list(col) if whole else list(pick(col))

    count = len(keep)
    phones = picked(first)
    zone_kept = picked(zone)
    if zones_override is not None:
        override = picked(zones_override)
        zone_kept = [o or z for o, z in zip(override, zone_kept)]
        flags = ["t" if o else "f" for o in override]
    else:
        flags = ["f"] * count
    zone_text = _null_if_empty(zone_kept)  # IANA names: nothing to escape
    zone_numbers = list(map(zone_ids.get, zone_kept, itertools.repeat(_NULL)))
    names = _null_if_empty(_copy_text(list(map(str.strip, picked(columns[mapping.name]))))) \
        if mapping.name is not None else [_NULL] * count
    email_text = _null_if_empty(_copy_text(picked(emails))) if emails is not None else [_NULL] * count
    custom = _copy_text(_json_objects([name for _, name in mapping.custom],
                                      [list(map(str.strip, picked(columns[c]))) for c, _ in mapping.custom], count))
    numbers = phones
    if extras:  # the contact's other numbers follow the entry's in its phones array
        numbers = list(phones)
        for k, i in enumerate(keep):
            if i in extras:
                numbers[k] = ",".join([phones[k], *extras[i]])
    ids_text = list(map(str, ids[:count]))
    return Batch(
        phones=phones,
        lines=picked(lines),
        # rows as tab-joined tuples of the columns: C-level throughout, no Python code per row
        contacts=_copy_rows(ids_text, names, email_text, custom, zone_text, flags,
                            map("{{{}}}".format, numbers)),
        entries=_copy_rows(itertools.repeat(cid), *_by_number(phones, (ids_text, phones, zone_text, zone_numbers),
                                                              by_number)),
        unnumbered_zones={z for z in set(zone_kept) if z and z not in zone_ids},
        by_number=by_number,
        unknown_zone=list(map(operator.not_, zone_kept)),
    )


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
    """Let the COPYs skip reference checks that cannot fail, when the role may.

    The rows reference only the campaign (held FOR KEY SHARE since the start) and contacts this
    transaction inserts itself; the owner and status references are null. The per-row checks
    (campaign_entries_references, migration 0005: one query each, ~40 % of the write time) would
    therefore all pass. session_replication_role = replica is what pg_restore uses for the same
    reason; it needs a superuser (the embedded server) or, from PostgreSQL 15, GRANT SET ON
    PARAMETER. Without it the checks simply run. The tables written have no other insert
    triggers (one added later would be skipped too: tests/contacts/test_import.py lists them).
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
    data = read_bytes(path)
    # The file is parsed in a thread while the transaction starts, locks the campaign and reserves
    # contact ids for at most as many rows as the file has lines; a problem with the file (or the
    # mapping) is still the one reported when the campaign is wrong too.
    loop = asyncio.get_running_loop()
    reading = loop.run_in_executor(None, functools.partial(
        read_table, path, has_header=has_header, delimiter=delimiter, encoding=encoding, data=data, lazy=True))
    async with db.transaction() as session:
        try:
            camp = await find_campaign(session, campaign, lock=True)
            reg = (region or camp["default_region"] or "").upper()
            try:
                PhoneNormaliser(reg)
            except ValueError as exc:
                raise UserError(f"--region: {exc}") from None
            conn = await session.connection()
            raw_conn = (await conn.get_raw_connection()).driver_connection
            # Only entries that were in the campaign before the import can be duplicates of
            # accepted rows (rows of this file never repeat each other: checked in Python); a
            # campaign without a partition has none.
            fresh: FreshPartition | None = None
            contact_list: ContactList | None = None
            own_tables = not dry_run and await may_create_partitions(session)
            camp["table"] = camp["contacts_table"] = None  # None: through the partitioned table
            zone_ids = {name: str(number) for name, number in (await session.execute(
                text("select name, id from time_zones"))).all()}
            if await has_partition(session, camp["id"]):
                camp["had_entries"] = (await session.execute(text(
                    "select exists (select 1 from campaign_entries where campaign_id = :cid)"),
                    {"cid": camp["id"]})).scalar()
            else:
                camp["had_entries"] = False
                if own_tables:
                    fresh = FreshPartition(camp["id"])
                    camp["table"] = fresh.name
                elif not dry_run:
                    await ensure_entries_partition(session, camp["id"])
            contact_ids: Sequence[int] | None = None
            fk_checks_skipped = False
            if not dry_run:
                t = time.perf_counter()
                lines = max(data.count(b"\n"), data.count(b"\r")) + 1  # at least the file's records
                fk_checks_skipped = await _skip_redundant_fk_checks(session)
                if own_tables and lines >= CONTACT_LIST_MIN_ROWS:
                    contact_list = ContactList()
                    await contact_list.create(session)
                    if not fk_checks_skipped:
                        await contact_list.attach(session)
                    contact_ids, camp["contacts_table"] = contact_list.ids, contact_list.name
                else:
                    seq = (await session.execute(text("select pg_get_serial_sequence('contacts', 'id')"))).scalar_one()
                    contact_ids = await _reserve_ids(session, seq, lines)
                if fresh is not None:
                    await fresh.create(session)
                reserved = time.perf_counter() - t
        finally:
            table = await reading
            cols = parse_mapping(mapping, table)
        if contact_ids is not None and len(contact_ids) < table.count:  # not one record per line
            contact_ids = [*contact_ids, *await _reserve_ids(session, seq, table.count - len(contact_ids))]
        if on_start is not None:
            on_start(table.count)
        report = ImportReport(str(path), camp["name"], table.encoding, _delim_name(table.delimiter), reg, dry_run)
        report.fk_checks_skipped = fk_checks_skipped
        report.timings["read"] = round(time.perf_counter() - started, 3)
        if not dry_run:
            report.timings["reserve ids (during read)"] = round(reserved, 3)
        # Batches are validated while the server writes the previous batch, so the import takes
        # about max(Python, PostgreSQL) rather than their sum. One transaction still.
        if table.count >= FORK_MIN_ROWS and _can_fork():
            source: _InThread | _InChildren = _InChildren(table, cols, reg, contact_ids, camp["id"], zone_ids,
                                                          by_number=camp["had_entries"])
        else:
            source = _InThread(stage_chunks(table, cols, reg, chunk=BATCH_ROWS, contact_ids=contact_ids,
                                            campaign_id=camp["id"], zone_ids=zone_ids, by_number=camp["had_entries"]))
        repeats = Repeats()
        unnumbered: set[str] = set()
        try:
            while True:
                t0 = time.perf_counter()
                item = await source.next()
                _add_time(report, "wait for validation", t0)
                if item is None:
                    break
                staged, problems = item
                unnumbered |= staged.unnumbered_zones
                report.problems.extend(problems)
                repeats.drop(staged, report.problems)
                report.read = staged.done
                if progress is not None:
                    progress(staged.rows)
                await _write_batch(session, raw_conn, staged, camp, report, dry_run)
        finally:
            source.close()
        if dry_run:
            await session.rollback()
            return report
        if unnumbered:  # zones time_zones did not have yet: number them, then the entries
            await session.execute(text(
                f"update {_target(camp['table'], 'campaign_entries')} set zone_id = dialer_zone_id(timezone) "
                f"where campaign_id = :cid and zone_id is null and timezone is not null"), {"cid": camp["id"]})
        if contact_list is not None and fk_checks_skipped:
            await contact_list.attach(session)
        if fresh is not None:
            t = time.perf_counter()
            await session.execute(text(f"set local maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"))
            await session.execute(text(f"set local max_parallel_maintenance_workers = {INDEX_BUILD_WORKERS}"))
            await fresh.attach(session)
            _add_time(report, "indexes+attach", t)
        if report.imported:
            log.info("imported %s rows into campaign %s (id %s) from %s", report.imported, camp["name"], camp["id"],
                     path)
        commit_from = time.perf_counter()
    _add_time(report, "commit", commit_from)
    return report


BATCH_ROWS = 25_000
# From this many rows the chunks are validated by forked processes rather than a thread: the
# column-at-a-time validation runs long C calls that hold the GIL, and the event loop that feeds
# COPY waited behind them (a million rows: 6.7 s writing contacts instead of 2-3). Two processes,
# each taking every other chunk, keep up with the server on two cores.
FORK_MIN_ROWS = 2 * BATCH_ROWS
STAGE_PROCESSES = 2
# From this many lines an import's contacts get a contact list (a contacts partition) of their own.
CONTACT_LIST_MIN_ROWS = 2 * BATCH_ROWS
# Memory for building a new partition's indexes: the sort of a million entries fits, so it does
# not spill to disk (the server's default is 64 MB). Only this transaction uses it.
INDEX_BUILD_MEMORY = "256MB"
# One parallel worker: with the leader, a process per core (two workers, the default, left three
# processes on two cores: the claim index took 1.8 s instead of 1.4).
INDEX_BUILD_WORKERS = 1


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


class _InThread:
    """Chunks of :func:`stage_chunks` computed in the default executor, one ahead of the writer."""

    def __init__(self, chunks: Iterator[tuple[Batch, list[Problem]]]):
        self._loop = asyncio.get_running_loop()
        self._chunks = chunks
        self._pending = self._loop.run_in_executor(None, next, chunks, None)

    async def next(self) -> tuple[Batch, list[Problem]] | None:
        item = await self._pending
        if item is not None:
            self._pending = self._loop.run_in_executor(None, next, self._chunks, None)
        return item

    def close(self) -> None:
        pass


class _InChildren:
    """Chunks of :func:`stage_chunks` computed by forked child processes, which inherit the parsed
    file, the mapping and the reserved ids: child j takes chunks j, j + N, ... and sends each,
    with the rows it rejected, through its pipe; the parent reads them back in file order. Each
    child runs about one chunk ahead of the writer."""

    def __init__(self, table: Table, mapping: Mapping, region: str, contact_ids: Sequence[int] | None,
                 campaign_id: int, zone_ids: dict[str, str], processes: int | None = None, chunk: int | None = None,
                 by_number: bool = False):
        import multiprocessing

        processes, chunk = processes or STAGE_PROCESSES, chunk or BATCH_ROWS
        ctx = multiprocessing.get_context("fork")
        self._chunks = -(-table.count // chunk)
        self._next = 0
        self._children = []
        for first in range(min(processes, self._chunks)):
            chunks = stage_chunks(table, mapping, region, chunk=chunk, contact_ids=contact_ids,
                                  campaign_id=campaign_id, first=first, step=processes, zone_ids=zone_ids,
                                  by_number=by_number)
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_stage_in_child, args=(chunks, send), daemon=True)
            process.start()
            send.close()
            self._children.append((process, receive))
        self._loop = asyncio.get_running_loop()

    async def next(self) -> tuple[Batch, list[Problem]] | None:
        if self._next >= self._chunks:
            return None
        process, receive = self._children[self._next % len(self._children)]
        message = await self._loop.run_in_executor(None, _receive, receive)
        if message[0] == "batch":
            self._next += 1
            return message[1], message[2]
        if message[0] == "error":
            raise message[1]
        process.join(5)
        raise RuntimeError(f"the process validating the rows ended without a result (exit code {process.exitcode})")

    def close(self) -> None:
        for process, receive in self._children:
            if process.is_alive():
                process.terminate()
            process.join(5)
            receive.close()


def _receive(conn):
    try:
        return conn.recv()
    except EOFError:
        return ("died",)


def _stage_in_child(chunks: Iterator[tuple[Batch, list[Problem]]], conn) -> None:
    try:
        for staged, problems in chunks:
            conn.send(("batch", staged, problems))
    except BaseException as exc:  # the parent raises it (a UserError stays one sentence)
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _add_time(report: ImportReport, phase: str, since: float) -> float:
    now = time.perf_counter()
    report.timings[phase] = round(report.timings.get(phase, 0.0) + now - since, 3)
    return now


# Of a chunk's numbers, those already in the campaign (duplicates) and those on a do-not-call
# list: one index scan each over the sorted array of numbers, no staging table. The numbers
# travel as one comma-separated string: as a list of 25 000 parameters the query took four
# times as long, spent adapting them (E.164 numbers hold no comma).
_IN_CAMPAIGN = text("select phone_e164 from campaign_entries where campaign_id = :cid "
                    "and phone_e164 = any(string_to_array(:phones, ','))")
_ON_DNC = text("select e164 from dnc_numbers where e164 = any(string_to_array(:phones, ','))")
_ANY_DNC = text("select exists (select 1 from dnc_numbers)")


async def _write_batch(session, raw_conn, staged: Batch, camp: dict, report: ImportReport,
                       dry_run: bool) -> None:
    t = time.perf_counter()
    # A new campaign and no do-not-call number at all (checked per batch, as the probes were): no
    # number can be refused, and the million probes cost ~10 % of an import.
    by_phone: dict[str, bool] = {}  # number -> already in the campaign (else: on a do-not-call list)
    if camp["had_entries"] or (await session.execute(_ANY_DNC)).scalar():
        phones = ",".join(sorted(staged.phones))
        by_phone.update((p, False) for p in (await session.execute(_ON_DNC, {"phones": phones})).scalars())
        if camp["had_entries"]:
            by_phone.update((p, True) for p in (await session.execute(
                _IN_CAMPAIGN, {"phones": phones, "cid": camp["id"]})).scalars())
    if by_phone:
        for phone, line in zip(staged.phones, staged.lines):
            duplicate = by_phone.get(phone)
            if duplicate:
                report.problems.append(Problem(line, "duplicate", f"line {line}: phone {phone} is already in "
                                                                  f"campaign {camp['name']}"))
            elif duplicate is not None:
                report.problems.append(Problem(line, "dnc", f"line {line}: phone {phone} is on the do-not-call list"))
        staged.keep_only([p not in by_phone for p in staged.phones])
    report.imported += len(staged.phones)
    report.timezone_unknown += sum(staged.unknown_zone)
    t = _add_time(report, "duplicates+dnc", t)
    if dry_run or not staged.phones:
        return
    entries = staged.entries  # in number order when the partition has its indexes (stage_chunks)
    # Contacts in file order (their ids follow the file). New entries are 'ready' (the column
    # default) with no next_attempt_at: in an active campaign they are dialable at once.
    async with raw_conn.cursor() as cur:
        for label, sql, text_ in (
                ("contacts", f'copy {_target(camp["contacts_table"], "contacts")} (id, name, email, custom, timezone, '
                             f'timezone_override, phones) from stdin{_freeze(camp["contacts_table"])}', staged.contacts),
                ("campaign_entries", f'copy {_target(camp["table"], "campaign_entries")} (campaign_id, contact_id, '
                                     f'phone_e164, timezone, zone_id) from stdin{_freeze(camp["table"])}', entries)):
            async with cur.copy(sql) as copy:
                await copy.write(text_)
            t = _add_time(report, label, t)


def _target(table: str | None, parent: str) -> str:
    """A table of this import's own (a new partition or contact list), else the partitioned one."""
    return f'"{table}"' if table else parent


def _freeze(table: str | None) -> str:
    """COPY into a table this transaction created writes its rows frozen and all-visible: nobody
    else can see them before the commit, and so neither the first reads of a million new entries
    (setting hint bits) nor the autovacuum after the import rewrite every page of them."""
    return " with (freeze)" if table else ""


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


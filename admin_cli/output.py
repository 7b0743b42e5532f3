"""Readable tables for people, JSON for scripts (`--json` on every listing)."""
from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any, Iterable, Mapping, Sequence

import click


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return value


def to_json(data: Any) -> str:
    return json.dumps(data, default=_plain, ensure_ascii=False, indent=2)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def emit(rows: Sequence[Mapping[str, Any]], as_json: bool, columns: Sequence[str] | None = None) -> None:
    if as_json:
        click.echo(to_json([{k: _plain(v) for k, v in r.items()} for r in rows]))
    else:
        click.echo(table(rows, columns))


def emit_record(record: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(to_json(record))
        return
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        if isinstance(value, dict):
            value = json.dumps(value, default=_plain, ensure_ascii=False)
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def iter_chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

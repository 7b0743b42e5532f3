"""Alembic, driven from code so `dialer db upgrade` and the service need no alembic.ini.

Alembic is imported only when a migration runs: every CLI command opens the database, and
importing it cost ~0.12 s of each command's start; whether the schema is at head is read with
one query (``at_head``).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision, read from the migration files (their revisions are numbered and each
    revises the one before; tests/db/test_schema.py checks this agrees with Alembic's head)."""
    found = (re.search(r'^revision = "(\d+)"', p.read_text(), re.M) for p in (MIGRATIONS / "versions").glob("*.py"))
    return max(m.group(1) for m in found if m)


def current_heads(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select to_regclass('alembic_version')").fetchone()[0] is None:
            return set()
        return {row[0] for row in conn.execute("select version_num from alembic_version")}


def at_head(url: str) -> bool:
    return current_heads(url) == {head_revision()}

"""Shared fixtures: a real PostgreSQL for every test.

One embedded server per test run (or the server named by DIALER_TEST_DATABASE_URL), one migrated
template database, and a fresh database cloned from the template for each test that asks for one.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

warnings.filterwarnings("ignore", module="platformdirs")

TEMPLATE = "dialer_template"


def _with_db(uri: str, name: str) -> str:
    return urlsplit(uri)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def pg_server_uri(tmp_path_factory) -> str:
    external = os.environ.get("DIALER_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import shutil

    from ari_app.db.embedded import embedded_uri, stop_embedded

    # Not under pytest's basetemp: pytest deletes all but its 3 newest run directories, which would
    # pull the cluster out from under a run while other pytest runs start on the same machine.
    base = Path(os.environ.get("DIALER_DATA_DIR") or tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dialer-test-", dir=base))
    uri = embedded_uri(work)
    yield uri
    # this run's server goes with the run
    stop_embedded(work)
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg_server_uri) -> str:
    import psycopg

    from ari_app.db.migrate import upgrade

    with psycopg.connect(pg_server_uri, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{TEMPLATE}" with (force)')
        conn.execute(f'create database "{TEMPLATE}"')
    url = _with_db(pg_server_uri, TEMPLATE)
    upgrade(url)
    return url


@contextlib.contextmanager
def _database(server_uri: str, prefix: str, create: str = ""):
    """A database of its own for one test, dropped after it."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'create database "{name}"{create}')
    try:
        yield _with_db(server_uri, name)
    finally:
        with psycopg.connect(server_uri, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def db_url(pg_server_uri, template_url) -> str:
    """A fresh, migrated database of its own for this test."""
    with _database(pg_server_uri, "t", f' template "{TEMPLATE}"') as url:
        yield url


@pytest.fixture
def blank_db_url(pg_server_uri) -> str:
    """A new database without any schema (for tests of the migrations themselves)."""
    with _database(pg_server_uri, "b") as url:
        yield url


@pytest.fixture
async def db(db_url):
    from ari_app.db.runtime import Database

    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def sql(db_url):
    """Run a SQL statement synchronously and return the rows (for assertions)."""
    import psycopg
    from psycopg.rows import dict_row

    conn = psycopg.connect(db_url, autocommit=True, row_factory=dict_row)

    def run(query: str, params=None):
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else None

    yield run
    conn.close()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(db_url, monkeypatch):
    """Run the `dialer` command in-process against this test's database."""
    from admin_cli.main import main

    monkeypatch.setenv("DIALER_DATABASE_URL", db_url)

    def run(*args: str, input: str | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        if input is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(input))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
        return CliResult(code, out.getvalue(), err.getvalue())

    return run

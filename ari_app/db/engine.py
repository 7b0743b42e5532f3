"""Engine construction: one place that turns Settings into a database URL and an AsyncEngine."""
from __future__ import annotations

from urllib.parse import urlsplit, parse_qs

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession

from ari_app.config import Settings
from ari_app.db.embedded import embedded_uri

DEFAULT_DB = "dialer"


def libpq_url(settings: Settings) -> str:
    """A plain ``postgresql://`` URL for the configured database (embedded one created on demand)."""
    if settings.database_url:
        return settings.database_url
    server_uri = embedded_uri(settings.data_dir)
    _ensure_database(server_uri, DEFAULT_DB)
    return _with_database(server_uri, DEFAULT_DB)


def _with_database(uri: str, name: str) -> str:
    parts = urlsplit(uri)
    return parts._replace(path=f"/{name}").geturl()


def _ensure_database(server_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


def sqlalchemy_url(url: str, *, asyncio: bool = True) -> str:
    """Map a libpq URL onto SQLAlchemy's psycopg 3 dialect."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"database URL {url!r} is not a PostgreSQL URL")


def make_async_engine(url: str, **kw) -> AsyncEngine:
    kw.setdefault("pool_pre_ping", True)
    return create_async_engine(sqlalchemy_url(url), **kw)


def make_sync_engine(url: str, **kw) -> Engine:
    return create_engine(sqlalchemy_url(url), **kw)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ari_app.db.engine import sqlalchemy_url
from ari_app.db.partitions import is_partition
from ari_app.db.tables import Base

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")


def _not_a_partition(name, type_, parent_names) -> bool:
    # The ORM maps the partitioned tables; their partitions are made at run time (migration 0005).
    return not (type_ == "table" and is_partition(name))


def run_migrations_online() -> None:
    # Migrations run synchronously over psycopg 3; the app itself uses the async engine.
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                          include_name=_not_a_partition)
        with context.begin_transaction():
            # Two processes starting at once (service + CLI) must not both migrate; the lock is
            # released with the transaction.
            connection.exec_driver_sql("select pg_advisory_xact_lock(727274)")
            context.run_migrations()
    engine.dispose()


run_migrations_online()

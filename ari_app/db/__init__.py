"""Persistence: tables, engine, repositories, migrations. Only this package imports SQLAlchemy."""

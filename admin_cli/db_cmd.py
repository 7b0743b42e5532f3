from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(db)


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@pass_ctx
def upgrade(ctx: CliContext) -> None:
    """Apply the Alembic migrations up to the newest schema."""
    ctx.database_url(migrate=True)
    click.echo("database schema is up to date")


@db.command()
@pass_ctx
def url(ctx: CliContext) -> None:
    """Print the database URL in use (password masked)."""
    from ari_app.config import _mask_url_password

    click.echo(_mask_url_password(ctx.database_url()))


@db.command()
@pass_ctx
def stop(ctx: CliContext) -> None:
    """Stop the embedded PostgreSQL server (it keeps running between commands; the next one starts it)."""
    from ari_app.db.embedded import stop_embedded
    from ari_app.errors import UserError

    if ctx.settings.database_url is not None:
        raise UserError("DIALER_DATABASE_URL names an external PostgreSQL: stop that server with its own tools")
    pgdata = ctx.settings.data_dir.expanduser() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        click.echo(f"the embedded PostgreSQL in {pgdata} is not running")
        return
    stop_embedded(ctx.settings.data_dir)
    if (pgdata / "postmaster.pid").exists():
        raise UserError(f"the embedded PostgreSQL in {pgdata} did not stop; see its log in {pgdata / 'log'}")
    click.echo(f"stopped the embedded PostgreSQL in {pgdata}")

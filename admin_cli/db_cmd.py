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

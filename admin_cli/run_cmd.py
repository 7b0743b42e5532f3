from __future__ import annotations

import asyncio
import logging

import click

from admin_cli.context import CliContext, pass_ctx
from ari_app.config import load_settings


def register(cli: click.Group) -> None:
    cli.add_command(run)


@click.command()
@click.option("--ari-url", help="Asterisk HTTP base URL, e.g. http://127.0.0.1:8088/")
@click.option("--ari-user", help="ARI user (ari.conf).")
@click.option("--ari-password", help="ARI password; prefer DIALER_ARI_PASSWORD or the config file.")
@click.option("--app", "ari_app", help="Stasis application name (default: dialer).")
@click.option("--instance-id", help="Stable id of this instance (default: host-app).")
@pass_ctx
def run(ctx: CliContext, **options) -> None:
    """Run the dialer service: connect to ARI and dial every active campaign."""
    from ari_app.app import run_service

    settings = load_settings(ctx.config_file, {**ctx.overrides, **{k: v for k, v in options.items() if v}})
    logging.getLogger().setLevel(settings.log_level.upper())
    logging.getLogger("aioari").setLevel(logging.WARNING)
    logging.getLogger("aioswagger11").setLevel(logging.WARNING)
    asyncio.run(run_service(settings))

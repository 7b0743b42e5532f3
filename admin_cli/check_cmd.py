"""`dialer check`: can the dialer reach Asterisk, and are the carrier trunks registered?"""
from __future__ import annotations

import asyncio

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, json_option
from ari_app.config import load_settings
from ari_app.errors import UserError


def register(cli: click.Group) -> None:
    cli.add_command(check)


@click.command()
@click.option("--ari/--no-ari", "with_ari", default=True, help="Check the ARI connection.")
@click.option("--ami/--no-ami", "with_ami", default=None,
              help="Ask AMI for the trunks' outbound registrations (default: when ami_enabled).")
@json_option
@pass_ctx
def check(ctx: CliContext, with_ari: bool, with_ami: bool | None, as_json: bool) -> None:
    """Check ARI and, through AMI, the carrier trunks' outbound registrations (ARI cannot show them)."""
    settings = load_settings(ctx.config_file, ctx.overrides)
    rows: list[dict] = []

    async def run() -> None:
        if with_ari:
            from ari_app.ari.aioari_adapter import AioariAdapter

            adapter = AioariAdapter(settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app)
            try:
                channels = await adapter.list_channels()
                rows.append({"check": "ARI", "target": settings.ari_url, "status": f"ok, {len(channels)} channels"})
            except Exception as exc:
                raise UserError(f"ARI at {settings.ari_url} is not reachable ({type(exc).__name__})") from None
            finally:
                await adapter.close()
        if with_ami if with_ami is not None else settings.ami_enabled:
            from ari_app.ami.adapter import AmiAdapter

            ami = AmiAdapter(settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret)
            try:
                await ami.connect()
                for reg in await ami.outbound_registrations():
                    rows.append({"check": "trunk", "target": f"{reg.name} {reg.server_uri}", "status": reg.status})
            except (OSError, asyncio.TimeoutError) as exc:
                raise UserError(f"AMI at {settings.ami_host}:{settings.ami_port} is not reachable "
                                f"({type(exc).__name__})") from None
            finally:
                await ami.close()

    asyncio.run(run())
    emit(rows, as_json, ["check", "target", "status"])

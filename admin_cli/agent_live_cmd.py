"""Live control of agents (added to the `agent` group) and `dialer monitor`."""
from __future__ import annotations

import asyncio
import datetime as dt
import sys

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, table, to_json


def register(cli: click.Group) -> None:
    group = cli.commands.get("agent")
    if isinstance(group, click.Group):
        for name in ("login", "logout", "pause", "unpause", "end-wrapup"):
            group.add_command(_make(name))
    cli.add_command(monitor)


def _make(name: str) -> click.Command:
    @click.command(name=name, help=f"{name.capitalize()} a logged-in agent now (a pause during a call applies after it).")
    @click.argument("extension")
    @click.option("--campaign", help="The campaign (login/logout of one campaign).")
    @click.option("--reason", help="Recorded with the agent's state change.")
    @pass_ctx
    def command(ctx: CliContext, extension: str, campaign: str | None, reason: str | None) -> None:
        from ari_app.services.agent_control import send_agent_command

        result = ctx.run(lambda db: send_agent_command(db, extension, name, campaign=campaign, reason=reason))
        click.echo(f"agent {extension}: {result}")

    return command


@click.command()
@click.option("--campaign", help="Only this campaign.")
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def monitor(ctx: CliContext, campaign: str | None, once: bool, as_json: bool) -> None:
    """Live view of agents and campaigns, refreshed every second until interrupted."""
    from ari_app.db.runtime import Database
    from ari_app.services.agent_control import live_view

    url = ctx.database_url()

    async def loop() -> None:
        db = Database(url)
        try:
            while True:
                view = await live_view(db, dt.datetime.now(dt.timezone.utc), campaign)
                if as_json:
                    click.echo(to_json(view))
                else:
                    screen = [f"Dialer monitor  {dt.datetime.now():%H:%M:%S}", "", "AGENTS",
                              table(view["agents"], ["extension", "display_name", "state", "in_state_s", "campaigns",
                                                     "call_number", "call_s"]),
                              "", "CAMPAIGNS",
                              table(view["campaigns"], ["name", "mode", "state", "lines", "waiting", "abandon_rate_today"])]
                    prefix = "\x1b[2J\x1b[H" if sys.stdout.isatty() and not once else ""
                    click.echo(prefix + "\n".join(screen))
                if once:
                    return
                await asyncio.sleep(1.0)
        finally:
            await db.dispose()

    try:
        asyncio.run(loop())
    except KeyboardInterrupt:
        pass

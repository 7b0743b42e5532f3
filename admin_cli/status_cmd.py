"""`dialer status ...`: the status dictionary and each campaign's statuses with their DTMF codes."""
from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, json_option

SYSTEMS = "call_again, my_record, do_not_call, not_before or call_progressive"


@click.group()
def status() -> None:
    """Status dictionary and campaign statuses."""


def register(cli: click.Group) -> None:
    cli.add_command(status)


@status.command()
@click.argument("name")
@click.option("--system", required=True, help=f"What the status does: {SYSTEMS}.")
@click.option("--auto-on", help="Set automatically on: busy,no_answer,congestion,invalid_number,machine,abandoned.")
@click.option("--add-to-new-campaigns", is_flag=True, help="Copy into every new campaign.")
@click.option("--hidden", is_flag=True, help="Not offered to agents.")
@click.option("--inactive", is_flag=True, help="Not copied into new campaigns.")
@pass_ctx
def create(ctx: CliContext, name, system, auto_on, add_to_new_campaigns, hidden, inactive) -> None:
    """Add NAME to the status dictionary."""
    from ari_app.services.statuses import create_status

    ctx.run(lambda db: create_status(db, name, system, auto_on=auto_on, add_to_new=add_to_new_campaigns,
                                     hidden=hidden, active=not inactive))
    click.echo(f'status "{name}" created')


@status.command(name="list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List the status dictionary."""
    from ari_app.services.statuses import list_statuses

    emit(ctx.run(list_statuses), as_json)


@status.command()
@click.argument("name")
@click.option("--name", "new_name", help="Rename the status.")
@click.option("--system", help=f"{SYSTEMS}.")
@click.option("--auto-on", help="Replace the auto-on events ('' for none).")
@click.option("--add-to-new-campaigns/--no-add-to-new-campaigns", default=None)
@click.option("--hidden/--visible", default=None)
@click.option("--active/--inactive", default=None)
@pass_ctx
def edit(ctx: CliContext, name, new_name, system, auto_on, add_to_new_campaigns, hidden, active) -> None:
    """Change a dictionary status (its campaign copies follow)."""
    from ari_app.services.statuses import edit_status

    row = ctx.run(lambda db: edit_status(db, name, new_name=new_name, system=system, auto_on=auto_on,
                                         add_to_new=add_to_new_campaigns, hidden=hidden, active=active))
    click.echo(f'status "{row["name"]}" updated')


@status.command()
@click.argument("name")
@pass_ctx
def delete(ctx: CliContext, name: str) -> None:
    """Delete a dictionary status (and its campaign copies)."""
    from ari_app.services.statuses import delete_status

    ctx.run(lambda db: delete_status(db, name))
    click.echo(f'status "{name}" deleted')


@status.command(name="add-to-campaign")
@click.argument("name")
@click.option("--campaign", required=True)
@click.option("--dtmf", help="DTMF code (1-3 digits; default: the lowest free number).")
@pass_ctx
def add_to_campaign(ctx: CliContext, name, campaign, dtmf) -> None:
    """Make dictionary status NAME usable in a campaign."""
    from ari_app.services.statuses import add_to_campaign as run

    row = ctx.run(lambda db: run(db, name, campaign, dtmf))
    click.echo(f'status "{name}" added to campaign "{campaign}" with DTMF {row["dtmf_code"]}')


@status.command(name="campaign-create")
@click.argument("name")
@click.option("--campaign", required=True)
@click.option("--system", required=True, help=f"{SYSTEMS}.")
@click.option("--auto-on", help="Set automatically on: busy,no_answer,...")
@click.option("--dtmf", help="DTMF code (1-3 digits; default: the lowest free number).")
@pass_ctx
def campaign_create(ctx: CliContext, name, campaign, system, auto_on, dtmf) -> None:
    """Create a status of one campaign only (not in the dictionary)."""
    from ari_app.services.statuses import campaign_create as run

    row = ctx.run(lambda db: run(db, name, campaign, system, auto_on=auto_on, dtmf=dtmf))
    click.echo(f'status "{name}" created in campaign "{campaign}" with DTMF {row["dtmf_code"]}')


@status.command(name="campaign-list")
@click.option("--campaign", required=True)
@json_option
@pass_ctx
def campaign_list(ctx: CliContext, campaign, as_json) -> None:
    """List a campaign's statuses and DTMF codes."""
    from ari_app.services.statuses import campaign_list as run

    emit(ctx.run(lambda db: run(db, campaign)), as_json)


@status.command(name="set-dtmf")
@click.argument("name")
@click.option("--campaign", required=True)
@click.option("--dtmf", required=True, help="DTMF code (1-3 digits).")
@pass_ctx
def set_dtmf(ctx: CliContext, name, campaign, dtmf) -> None:
    """Change the DTMF code of a campaign status."""
    from ari_app.services.statuses import set_dtmf as run

    ctx.run(lambda db: run(db, name, campaign, dtmf))
    click.echo(f'status "{name}" in campaign "{campaign}" now has DTMF {dtmf}')


@status.command(name="remove-from-campaign")
@click.argument("name")
@click.option("--campaign", required=True)
@pass_ctx
def remove_from_campaign(ctx: CliContext, name, campaign) -> None:
    """Remove a status from a campaign."""
    from ari_app.services.statuses import remove_from_campaign as run

    ctx.run(lambda db: run(db, name, campaign))
    click.echo(f'status "{name}" removed from campaign "{campaign}"')

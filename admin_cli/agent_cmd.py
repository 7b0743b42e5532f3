"""`dialer agent ...` and `dialer group ...`: agents, PINs, roles, groups, campaign assignments.

The live-control verbs (login, pause, ...) are added to the `agent` group by agent_live_cmd.
"""
from __future__ import annotations

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, emit_record, json_option

_COLUMNS = ["extension", "name", "roles", "active", "groups", "campaigns"]


@click.group()
def agent() -> None:
    """Agents: extensions, PINs, roles, campaign assignments."""


@click.group()
def group() -> None:
    """Agent groups (campaign routing and supervision)."""


def register(cli: click.Group) -> None:
    cli.add_command(agent)
    cli.add_command(group)


@agent.command()
@click.argument("extension")
@click.option("--name", required=True, help="Display name.")
@click.option("--pin", required=True, help="4-8 digits; stored hashed, never shown.")
@click.option("--role", "roles", multiple=True, help="agent, supervisor or admin (repeatable; default agent).")
@click.option("--group", "groups", multiple=True, help="Member of this group (repeatable).")
@pass_ctx
def create(ctx: CliContext, extension, name, pin, roles, groups) -> None:
    """Create agent EXTENSION."""
    from ari_app.services.agents import create_agent

    row = ctx.run(lambda db: create_agent(db, extension, name, pin, roles, groups))
    click.echo(f'agent "{extension}" created (roles {",".join(row["roles"])})')


@agent.command(name="list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List agents."""
    from ari_app.services.agents import list_agents

    emit(ctx.run(list_agents), as_json, None if as_json else _COLUMNS)


@agent.command()
@click.argument("extension")
@json_option
@pass_ctx
def show(ctx: CliContext, extension: str, as_json: bool) -> None:
    """Show one agent."""
    from ari_app.services.agents import show_agent

    emit_record(ctx.run(lambda db: show_agent(db, extension)), as_json)


@agent.command()
@click.argument("extension")
@click.option("--name", help="Display name.")
@click.option("--pin", help="New PIN (4-8 digits); also lifts a lockout.")
@click.option("--role", "roles", multiple=True, help="Replace the roles (repeatable).")
@click.option("--active/--inactive", default=None)
@pass_ctx
def edit(ctx: CliContext, extension, name, pin, roles, active) -> None:
    """Change an agent's name, PIN, roles or active flag."""
    from ari_app.services.agents import edit_agent

    ctx.run(lambda db: edit_agent(db, extension, name=name, pin=pin, roles=roles, active=active))
    click.echo(f'agent "{extension}" updated')


@agent.command()
@click.argument("extension")
@pass_ctx
def delete(ctx: CliContext, extension: str) -> None:
    """Delete an agent without calls in the ledger (otherwise make it inactive)."""
    from ari_app.services.agents import delete_agent

    ctx.run(lambda db: delete_agent(db, extension))
    click.echo(f'agent "{extension}" deleted')


@agent.command()
@click.argument("extension")
@click.option("--campaign", required=True)
@pass_ctx
def assign(ctx: CliContext, extension: str, campaign: str) -> None:
    """Assign an agent to a campaign permanently."""
    from ari_app.services.agents import assign as run

    ctx.run(lambda db: run(db, extension, campaign))
    click.echo(f'agent "{extension}" assigned to campaign "{campaign}"')


@agent.command()
@click.argument("extension")
@click.option("--campaign", required=True)
@pass_ctx
def unassign(ctx: CliContext, extension: str, campaign: str) -> None:
    """Remove an agent's assignment to a campaign."""
    from ari_app.services.agents import unassign as run

    ctx.run(lambda db: run(db, extension, campaign))
    click.echo(f'agent "{extension}" unassigned from campaign "{campaign}"')


@group.command(name="create")
@click.argument("name")
@pass_ctx
def group_create(ctx: CliContext, name: str) -> None:
    """Create group NAME."""
    from ari_app.services.agents import create_group

    ctx.run(lambda db: create_group(db, name))
    click.echo(f'group "{name}" created')


@group.command(name="list")
@json_option
@pass_ctx
def group_list(ctx: CliContext, as_json: bool) -> None:
    """List groups with their members and the campaigns they take calls for."""
    from ari_app.services.agents import list_groups

    emit(ctx.run(list_groups), as_json)


@group.command(name="delete")
@click.argument("name")
@pass_ctx
def group_delete(ctx: CliContext, name: str) -> None:
    """Delete group NAME."""
    from ari_app.services.agents import delete_group

    ctx.run(lambda db: delete_group(db, name))
    click.echo(f'group "{name}" deleted')


@group.command(name="add-member")
@click.argument("name")
@click.argument("extension")
@pass_ctx
def add_member(ctx: CliContext, name: str, extension: str) -> None:
    """Add agent EXTENSION to group NAME."""
    from ari_app.services.agents import add_member as run

    ctx.run(lambda db: run(db, name, extension))
    click.echo(f'agent "{extension}" added to group "{name}"')


@group.command(name="remove-member")
@click.argument("name")
@click.argument("extension")
@pass_ctx
def remove_member(ctx: CliContext, name: str, extension: str) -> None:
    """Remove agent EXTENSION from group NAME."""
    from ari_app.services.agents import remove_member as run

    ctx.run(lambda db: run(db, name, extension))
    click.echo(f'agent "{extension}" removed from group "{name}"')

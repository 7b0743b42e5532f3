"""`dialer callbacks list|add|move|cancel`: times shown in the contact's zone and in the admin's."""
from __future__ import annotations

import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, json_option
from ari_app.errors import UserError


def register(cli: click.Group) -> None:
    cli.add_command(callbacks)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _admin_zone(value: str | None) -> str:
    if value:
        from ari_app.domain.time_rules import zone

        try:
            zone(value)
        except Exception:
            raise UserError(f"time zone {value!r} is not a known IANA zone") from None
        return value
    local = dt.datetime.now().astimezone().tzinfo
    return getattr(local, "key", None) or "UTC"


def _when(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{name} {value!r} is not a date and time such as 2026-11-23T15:00+01:00") from None
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


@click.group()
def callbacks() -> None:
    """Personal and campaign callbacks."""


@callbacks.command("list")
@click.option("--campaign")
@click.option("--agent", help="Owner's extension.")
@click.option("--due-before")
@click.option("--due-after")
@click.option("--overdue", is_flag=True)
@click.option("--state", default="pending", type=click.Choice(["pending", "fired", "cancelled"]))
@click.option("--tz", "admin_tz", help="Show admin times in this zone (default: this machine's).")
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, campaign, agent, due_before, due_after, overdue, state, admin_tz, as_json) -> None:
    """List callbacks with filters."""
    from ari_app.services.callbacks import list_callbacks

    zone_name = _admin_zone(admin_tz)
    rows = ctx.run(lambda db: list_callbacks(db, now=_now(), campaign=campaign, agent=agent,
                                             due_before=_when(due_before, "--due-before"),
                                             due_after=_when(due_after, "--due-after"), overdue=overdue, state=state))
    emit([r.as_dict(zone_name) for r in rows], as_json,
         ["id", "campaign", "phone", "owner", "due_contact_time", "due_admin_time", "state"])


@callbacks.command("add")
@click.option("--campaign", required=True)
@click.option("--phone", required=True, help="The entry's number.")
@click.option("--due", required=True, help="Contact-local time '2026-11-23 15:00', or with an offset.")
@click.option("--agent", help="Owner (personal callback); without it any agent of the campaign takes it.")
@click.option("--number", help="Call this number instead of the entry's.")
@click.option("--wait/--escalate", "wait", default=False,
              help="If the owner is not logged in within the grace period: wait for them, or pass it to any agent.")
@pass_ctx
def add_cmd(ctx: CliContext, campaign, phone, due, agent, number, wait) -> None:
    """Schedule a callback."""
    from ari_app.services.callbacks import add_callback

    cb_id = ctx.run(lambda db: add_callback(db, campaign=campaign, phone=phone, due=due, now=_now(), agent=agent,
                                            number=number, escalate=not wait))
    click.echo(f"callback {cb_id} scheduled")


@callbacks.command("move")
@click.argument("callback_id", type=int)
@click.option("--due")
@click.option("--agent")
@click.option("--any-agent", is_flag=True)
@click.option("--number")
@pass_ctx
def move_cmd(ctx: CliContext, callback_id, due, agent, any_agent, number) -> None:
    """Change a pending callback's time, owner or number."""
    from ari_app.services.callbacks import move_callback

    ctx.run(lambda db: move_callback(db, callback_id, now=_now(), due=due, agent=agent, number=number,
                                     any_agent=any_agent))
    click.echo(f"callback {callback_id} changed")


@callbacks.command("cancel")
@click.argument("callback_id", type=int)
@click.option("--reason", default="cancelled by admin")
@pass_ctx
def cancel_cmd(ctx: CliContext, callback_id, reason) -> None:
    """Cancel a pending callback; the entry returns to the list."""
    from ari_app.services.callbacks import cancel_callback

    ctx.run(lambda db: cancel_callback(db, callback_id, now=_now(), reason=reason))
    click.echo(f"callback {callback_id} cancelled")

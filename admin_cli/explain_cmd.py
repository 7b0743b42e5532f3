"""`dialer campaign explain CAMPAIGN PHONE`: the first rule that blocks an entry, or why it would dial."""
from __future__ import annotations

import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit_record, json_option
from ari_app.errors import UserError


def register(cli: click.Group) -> None:
    group = cli.commands.get("campaign")
    if isinstance(group, click.Group):
        group.add_command(explain)


def _parse_at(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.timezone.utc)
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"--at {value!r} is not an ISO date and time such as 2026-11-22T14:30+01:00") from None
    if at.tzinfo is None:
        raise UserError(f"--at {value!r} needs a UTC offset, such as 2026-11-22T14:30+01:00")
    return at


@click.command()
@click.argument("campaign_name")
@click.argument("phone")
@click.option("--at", "at_text", help="Explain at this moment instead of now (ISO 8601 with offset).")
@json_option
@pass_ctx
def explain(ctx: CliContext, campaign_name: str, phone: str, at_text: str | None, as_json: bool) -> None:
    """Say whether PHONE would be dialled now in CAMPAIGN and, if not, the first rule that blocks it."""
    from ari_app.services.explain import explain as run_explain

    now = _parse_at(at_text)
    result = ctx.run(lambda db: run_explain(db, campaign_name, phone, now))
    if as_json:
        emit_record(result.as_dict(), True)
        return
    v = result.verdict
    head = "DIALABLE" if v.dialable else f"BLOCKED by {v.rule}"
    click.echo(f"{result.phone} in {result.campaign!r} (entry {result.entry_id}): {head}")
    click.echo(f"  {v.detail}")
    click.echo(f"  contact local time: {result.contact_local_time}")
    for flag in v.flags:
        click.echo(f"  note: {flag}")

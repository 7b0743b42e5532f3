"""`dialer contacts import|add-to-campaign|list`, `dialer entries move|delete|list`, `dialer filter save|list|delete`."""
from __future__ import annotations

import sys

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, emit_record, json_option, to_json

PROGRESS_MIN_ROWS = 20000


def register(cli: click.Group) -> None:
    cli.add_command(contacts)
    cli.add_command(entries)
    cli.add_command(filter_group)


@click.group()
def contacts() -> None:
    """The contact directory and CSV import."""


class _Progress:
    """A progress bar on stderr for large files, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar = None

    def start(self, total: int) -> None:
        if total >= PROGRESS_MIN_ROWS and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label="importing", file=sys.stderr)
            self.bar.__enter__()

    def step(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--campaign", required=True, help="Campaign name (or id).")
@click.option("--map", "mapping", help="phone=COL,name=COL,email=COL[,phone2=COL,timezone=COL]; "
                                      "column numbers (1-based) with --no-header.")
@click.option("--has-header/--no-header", default=True, show_default=True)
@click.option("--delimiter", help="Field delimiter (default: sniffed among ; , tab |). 'tab' for a tab.")
@click.option("--encoding", help="File encoding (default: UTF-8 if valid, else cp1250 or ISO-8859-1/cp1252 by content).")
@click.option("--region", help="Region for numbers without +country code (default: the campaign's).")
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@json_option
@pass_ctx
def import_cmd(ctx: CliContext, file, campaign, mapping, has_header, delimiter, encoding, region, dry_run,
               as_json) -> None:
    """Import contacts from a CSV FILE into a campaign.

    Rows with a bad phone, email or time zone are rejected and listed with their line; the good rows
    are imported in one transaction. Problems with the file itself (encoding, quotes, shifted
    columns, unknown mapped column) abort with nothing written. Exit code 1 when rows were rejected
    and none could be imported.
    """
    from ari_app.services.contacts_import import format_report, import_contacts, outcome_error

    progress = _Progress()

    async def run(db):
        try:
            return await import_contacts(db, file, campaign=campaign, mapping=mapping, has_header=has_header,
                                         delimiter=delimiter, encoding=encoding, region=region, dry_run=dry_run,
                                         progress=progress.step, on_start=progress.start)
        finally:
            progress.close()

    report = ctx.run(run)
    if as_json:
        click.echo(to_json(report.as_dict()))
    else:
        click.echo(format_report(report))
    error = outcome_error(report)
    if error is not None:
        raise error


@contacts.command("add-to-campaign")
@click.option("--campaign", required=True)
@click.option("--filter", "expression", required=True,
              help="e.g. \"city = Praha and custom.segment in (A,B)\", or @NAME for a saved filter.")
@click.option("--dry-run", is_flag=True)
@json_option
@pass_ctx
def add_to_campaign_cmd(ctx: CliContext, campaign, expression, dry_run, as_json) -> None:
    """Add the directory contacts matching a filter to a campaign."""
    from ari_app.services.entries import add_to_campaign

    emit_record(ctx.run(lambda db: add_to_campaign(db, campaign, expression, dry_run=dry_run)), as_json)


@contacts.command("list")
@click.option("--filter", "expression", help="Only contacts matching this filter (or @NAME).")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@pass_ctx
def list_contacts_cmd(ctx: CliContext, expression, limit, as_json) -> None:
    """List directory contacts."""
    from sqlalchemy import func, select

    from ari_app.db.tables import Contact
    from ari_app.services import filters as flt

    async def run(db):
        async with db.transaction() as s:
            q = select(Contact.id, Contact.name, Contact.email, Contact.timezone, Contact.custom,
                       func.array_to_string(Contact.phones, ",").label("phones")).order_by(Contact.id).limit(limit)
            if expression:
                q = q.where(flt.compile_filter(await flt.resolve(s, expression), flt.CONTACTS))
            return [dict(r) for r in (await s.execute(q)).mappings()]

    emit(ctx.run(run), as_json, ["id", "name", "phones", "email", "timezone", "custom"])


# --- entries ---------------------------------------------------------------------------------------

@click.group()
def entries() -> None:
    """A campaign's entries: list, move to another campaign, delete."""


def _selector_options(fn):
    fn = click.option("--ids", help="Entry ids, e.g. 1,2,3.")(fn)
    fn = click.option("--campaign", help="Source campaign (with --filter or --state).")(fn)
    fn = click.option("--filter", "expression", help="Filter on the entries' contacts (or @NAME).")(fn)
    fn = click.option("--state", help="Entries in this state.")(fn)
    return fn


def _selector(ids, campaign, expression, state):
    from ari_app.services.entries import Selector, parse_ids

    sel = Selector(ids=parse_ids(ids), campaign=campaign, filter=expression, state=state)
    sel.check()
    return sel


@entries.command("move")
@click.option("--to", "to", required=True, help="Target campaign.")
@_selector_options
@json_option
@pass_ctx
def move_cmd(ctx: CliContext, to, ids, campaign, expression, state, as_json) -> None:
    """Move entries to another campaign, keeping their history (all or none)."""
    from ari_app.services.entries import move_entries

    sel = _selector(ids, campaign, expression, state)
    emit_record(ctx.run(lambda db: move_entries(db, sel, to)), as_json)


@entries.command("delete")
@_selector_options
@json_option
@pass_ctx
def delete_cmd(ctx: CliContext, ids, campaign, expression, state, as_json) -> None:
    """Delete entries (all or none); their call attempts stay in the ledger."""
    from ari_app.services.entries import delete_entries

    sel = _selector(ids, campaign, expression, state)
    emit_record(ctx.run(lambda db: delete_entries(db, sel)), as_json)


@entries.command("list")
@click.option("--campaign", required=True)
@click.option("--state")
@click.option("--limit", type=int, help="At most this many entries.")
@json_option
@pass_ctx
def list_entries_cmd(ctx: CliContext, campaign, state, limit, as_json) -> None:
    """List a campaign's entries."""
    from ari_app.services.entries import list_entries

    rows = ctx.run(lambda db: list_entries(db, campaign, state, limit))
    emit(rows, as_json, ["id", "phone", "name", "state", "attempts", "timezone", "next_attempt_at"])


# --- saved filters ---------------------------------------------------------------------------------

@click.group("filter")
def filter_group() -> None:
    """Saved directory filters (use them as --filter @NAME)."""


@filter_group.command("save")
@click.argument("name")
@click.argument("expression")
@json_option
@pass_ctx
def save_cmd(ctx: CliContext, name, expression, as_json) -> None:
    """Save (or replace) filter NAME."""
    from ari_app.services.filters import save_filter

    emit_record(ctx.run(lambda db: save_filter(db, name, expression)), as_json)


@filter_group.command("list")
@json_option
@pass_ctx
def filter_list_cmd(ctx: CliContext, as_json) -> None:
    """List saved filters."""
    from ari_app.services.filters import list_filters

    emit(ctx.run(list_filters), as_json, ["name", "expression", "created_at"])


@filter_group.command("delete")
@click.argument("name")
@pass_ctx
def filter_delete_cmd(ctx: CliContext, name) -> None:
    """Delete saved filter NAME."""
    from ari_app.services.filters import delete_filter

    ctx.run(lambda db: delete_filter(db, name))
    click.echo(f"deleted filter {name}")

"""`dialer dnc add|import|check|remove|list`: do-not-call numbers in E.164."""
from __future__ import annotations

import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, emit_record, json_option, to_json


def register(cli: click.Group) -> None:
    cli.add_command(dnc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


region_option = click.option("--region", help="Region for numbers written without +country code, e.g. IT.")


@click.group()
def dnc() -> None:
    """Do-not-call lists."""


@dnc.command("add")
@click.argument("number")
@click.option("--list", "list_name", default="default", show_default=True)
@click.option("--source", help="Where the request came from (kept with the number).")
@region_option
@json_option
@pass_ctx
def add_cmd(ctx: CliContext, number, list_name, source, region, as_json) -> None:
    """Add NUMBER: every campaign stops dialling it at once."""
    from ari_app.services.dnc import add_number

    emit_record(ctx.run(lambda db: add_number(db, number, list_name=list_name, source=source, region=region,
                                              now=_now())), as_json)


@dnc.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--list", "list_name", default="default", show_default=True)
@click.option("--source")
@region_option
@json_option
@pass_ctx
def import_cmd(ctx: CliContext, file, list_name, source, region, as_json) -> None:
    """Add the numbers of FILE (one per line, or the first column); bad lines are listed."""
    from ari_app.services.dnc import import_numbers

    report = ctx.run(lambda db: import_numbers(db, file, list_name=list_name, region=region, source=source,
                                               now=_now()))
    d = report.as_dict()
    if as_json:
        click.echo(to_json(d))
        return
    click.echo(f"read {d['read']} numbers from {file}: added {d['added']} to list {list_name}, "
               f"already listed {d['already_listed']}, rejected {d['rejected']}, "
               f"entries marked dnc {d['entries_marked']}, callbacks cancelled {d['callbacks_cancelled']}")
    for line in report.rejected:
        click.echo(line)


@dnc.command("check")
@click.argument("number")
@region_option
@json_option
@pass_ctx
def check_cmd(ctx: CliContext, number, region, as_json) -> None:
    """Is NUMBER on a do-not-call list? (exit code 0 either way)"""
    from ari_app.services.dnc import check_number

    res = ctx.run(lambda db: check_number(db, number, region=region))
    if as_json:
        click.echo(to_json(res))
    elif res["on_dnc"]:
        click.echo(f"{res['number']} is on the do-not-call list: {', '.join(l['list'] for l in res['lists'])}")
    else:
        click.echo(f"{res['number']} is not on any do-not-call list")


@dnc.command("remove")
@click.argument("number")
@click.option("--list", "list_name", help="Only from this list (default: from every list).")
@region_option
@pass_ctx
def remove_cmd(ctx: CliContext, number, list_name, region) -> None:
    """Remove NUMBER (campaign entries already marked dnc stay so)."""
    from ari_app.services.dnc import remove_number

    res = ctx.run(lambda db: remove_number(db, number, list_name=list_name, region=region))
    click.echo(f"removed {res['number']} from {res['removed_from']} list(s)")


@dnc.command("list")
@click.option("--list", "list_name")
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, list_name, as_json) -> None:
    """List do-not-call numbers."""
    from ari_app.services.dnc import list_numbers

    emit(ctx.run(lambda db: list_numbers(db, list_name=list_name)), as_json, ["number", "list", "source", "added_at"])

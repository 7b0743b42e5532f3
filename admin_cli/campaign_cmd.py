"""`dialer campaign ...`: create, list, show, stats, edit, start/pause/resume/stop, clone.

``campaign`` is a module-level group so other modules (explain_cmd) can add commands to it.
"""
from __future__ import annotations

import datetime as dt

import click

from admin_cli.context import CliContext, pass_ctx
from admin_cli.output import emit, emit_record, json_option, table

_SETTING_OPTIONS = [
    click.option("--bcw", type=int, help="Preview: seconds from the agent taking the record to automatic dialling."),
    click.option("--push-timeout", type=int, help="Push preview: seconds the agent has to accept a record."),
    click.option("--pickup-rate", type=float, help="Predictive: estimated share of calls answered (0-1)."),
    click.option("--target-abandon-rate", type=float, help="Predictive: abandon-rate ceiling (0-1, e.g. 0.03)."),
    click.option("--abandon-window", help="rolling_30d or calendar_day."),
    click.option("--max-lines", type=float, help="Maximum lines dialled per ready agent."),
    click.option("--routing", help="The agent group that takes the campaign's calls (edit: 'none' to clear)."),
    click.option("--goal", help="exhaust (completes when nothing is left to dial) or none (never ends)."),
    click.option("--caller-id", multiple=True, help="Caller-ID number (repeatable or comma-separated)."),
    click.option("--rotation", help="Caller-ID rotation: fixed or random (random needs 2 numbers)."),
    click.option("--dial-template", help="Dial string, e.g. 'PJSIP/{number}@carrier'."),
    click.option("--ring-timeout", type=int, help="Seconds to ring (default 25, minimum 15)."),
    click.option("--max-attempts", type=int, help="Attempts per entry."),
    click.option("--retry", help="Retry rules: busy=10m/3,no_answer=1h/5 (units s, m, h, d)."),
    click.option("--wrapup", type=int, help="Wrap-up seconds after each call."),
    click.option("--timezone", help="IANA zone of the schedule, e.g. Europe/Prague."),
    click.option("--hours", help="Opening hours: 'mon-fri 09:00-18:00; sat 10:00-14:00' ('always' = open all week)."),
    click.option("--closed", multiple=True, help="A closed date, e.g. 2026-12-25 (repeatable)."),
    click.option("--exception", multiple=True, help="Special hours on a date: '2026-12-24 09:00-13:00' (repeatable)."),
    click.option("--calling-hours", help="Contact-local calling hours, e.g. 08:00-21:00."),
    click.option("--region", help="Default region for phone parsing (ISO 3166 alpha-2)."),
    click.option("--abandon-message", help="Media played on an abandoned call, e.g. sound:dialer-abandon-info."),
    click.option("--machine-action", help="On an answering machine: hangup or message."),
    click.option("--machine-message", help="Media left on an answering machine (with --machine-action message)."),
    click.option("--amd/--no-amd", default=None, help="Answering-machine detection."),
    click.option("--default-status", help="Status applied when the agent keys none (default: Call)."),
    click.option("--rule-72h/--no-rule-72h", "rule_72h", default=None,
                 help="No repeat call within 72 h of an abandoned one unless an agent is guaranteed."),
    click.option("--supervisor-tone/--no-supervisor-tone", default=None,
                 help="A short tone to the agent when a supervisor whispers or barges."),
    click.option("--callback-grace", type=int, help="Seconds a personal callback waits for its owner."),
    click.option("--region-rule", multiple=True,
                 help="Stricter rule for numbers with a prefix: '+1212 08:00-20:00 max=3' (repeatable; replaces the list)."),
    click.option("--clear-region-rules", is_flag=True, default=None, help="Remove every region rule."),
]


def _settings_options(fn):
    for option in reversed(_SETTING_OPTIONS):
        fn = option(fn)
    return fn


@click.group()
def campaign() -> None:
    """Campaigns: settings, state and statistics."""


def register(cli: click.Group) -> None:
    cli.add_command(campaign)


@campaign.command()
@click.argument("name")
@click.option("--mode", required=True, help="preview, push_preview, progressive or predictive.")
@_settings_options
@pass_ctx
def create(ctx: CliContext, name: str, **opts) -> None:
    """Create campaign NAME (in draft state)."""
    from ari_app.services.campaigns import create_campaign

    row = ctx.run(lambda db: create_campaign(db, name, opts))
    click.echo(f'campaign "{row["name"]}" created (id {row["id"]}, {row["mode"]}, draft)')


@campaign.command(name="list")
@json_option
@pass_ctx
def list_(ctx: CliContext, as_json: bool) -> None:
    """List campaigns."""
    from ari_app.services.campaigns import list_campaigns

    emit(ctx.run(list_campaigns), as_json)


def _details(ctx: CliContext, name: str) -> dict:
    from ari_app.services.campaigns import campaign_details

    return ctx.run(lambda db: campaign_details(db, name, dt.datetime.now(dt.timezone.utc)))


def _print_stats(stats: dict) -> None:
    click.echo("statistics")
    click.echo(f"  entries             {stats['entries_total']}"
               + "".join(f"  {k}={v}" for k, v in stats["entries_by_state"].items()))
    click.echo(f"  attempts            {stats['attempts_total']}"
               + "".join(f"  {k}={v}" for k, v in stats["attempts_by_outcome"].items()))
    click.echo(f"  handled             {stats['handled']}")
    click.echo(f"  not completed       {stats['not_completed']}")
    click.echo(f"  abandon rate today  {stats['abandon_rate_today']:.2%} "
               f"({stats['abandoned_today']} abandoned / {stats['live_answered_today']} live answered)")


@campaign.command()
@click.argument("name")
@json_option
@pass_ctx
def show(ctx: CliContext, name: str, as_json: bool) -> None:
    """Every setting of campaign NAME, its statuses, agents and statistics."""
    from ari_app.domain.campaign_settings import format_retry_rules

    details = _details(ctx, name)
    if as_json:
        emit_record(details, True)
        return
    settings = dict(details["settings"])
    statuses = settings.pop("statuses")
    settings["retry_rules"] = format_retry_rules(settings["retry_rules"]) or "(defaults: 30m, max attempts)"
    settings["exceptions"] = settings.pop("schedule").get("exceptions") or {}
    emit_record(settings, False)
    click.echo("statuses")
    click.echo("  " + table(statuses, ["dtmf_code", "name", "system_status", "auto_on", "own"]).replace("\n", "\n  "))
    _print_stats(details["stats"])


@campaign.command()
@click.argument("name")
@json_option
@pass_ctx
def stats(ctx: CliContext, name: str, as_json: bool) -> None:
    """Statistics of campaign NAME: entries, attempts, handled, abandon rate today."""
    details = _details(ctx, name)
    if as_json:
        emit_record(details["stats"], True)
    else:
        _print_stats(details["stats"])


@campaign.command()
@click.argument("name")
@click.option("--name", "new_name", help="Rename the campaign.")
@click.option("--mode", help="preview, push_preview, progressive or predictive.")
@click.option("--clear-exceptions", is_flag=True, default=None, help="Remove all exception dates first.")
@_settings_options
@pass_ctx
def edit(ctx: CliContext, name: str, **opts) -> None:
    """Change settings of campaign NAME (only the options given)."""
    from ari_app.services.campaigns import edit_campaign

    row = ctx.run(lambda db: edit_campaign(db, name, opts))
    click.echo(f'campaign "{row["name"]}" updated')


def _state_command(action: str, help_text: str) -> None:
    @campaign.command(name=action, help=help_text)
    @click.argument("name")
    @pass_ctx
    def command(ctx: CliContext, name: str) -> None:
        from ari_app.services.campaigns import change_state

        before, after = ctx.run(lambda db: change_state(db, name, action))
        click.echo(f'campaign "{name}": {before} -> {after}')


_state_command("start", "Start a draft or paused campaign.")
_state_command("pause", "Pause an active campaign (open calls finish).")
_state_command("resume", "Resume a paused campaign.")
_state_command("stop", "Stop a campaign for good (it cannot be started again).")


@campaign.command()
@click.argument("source")
@click.argument("new_name")
@click.option("--with-contacts", is_flag=True, help="Also copy the contact list as new ready entries.")
@pass_ctx
def clone(ctx: CliContext, source: str, new_name: str, with_contacts: bool) -> None:
    """Copy SOURCE's settings, statuses and agents into a new draft campaign NEW_NAME."""
    from ari_app.services.campaigns import clone_campaign

    result = ctx.run(lambda db: clone_campaign(db, source, new_name, with_contacts=with_contacts))
    extra = f", {result['entries']} entries" if with_contacts else ""
    click.echo(f'campaign "{new_name}" cloned from "{source}" (id {result["id"]}{extra})')

"""Entry point of the `dialer` console script.

Every user error ends here as one sentence on stderr and a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import importlib
import logging
import sys
import warnings

import click

from admin_cli.context import CliContext
from ari_app.config import ConfigError
from ari_app.errors import UserError

# Each module adds its commands to the group with ``register(cli)``.
COMMAND_MODULES = [
    "admin_cli.db_cmd",
    "admin_cli.campaign_cmd",
    "admin_cli.explain_cmd",
    "admin_cli.status_cmd",
    "admin_cli.agent_cmd",
    "admin_cli.agent_live_cmd",
    "admin_cli.dnc_cmd",
    "admin_cli.contacts_cmd",
    "admin_cli.callbacks_cmd",
    "admin_cli.run_cmd",
    "admin_cli.check_cmd",
    "admin_cli.demo_cmd",
    "admin_cli.pbx_sim_cmd",
    "admin_cli.pacing_cmd",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_file", envvar="DIALER_CONFIG", help="TOML configuration file.")
@click.option("--database-url", help="PostgreSQL URL (default: the embedded server).")
@click.option("--data-dir", help="Directory of the embedded database and local state.")
@click.option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
@click.version_option(package_name="dialer")
@click.pass_context
def cli(ctx: click.Context, config_file, database_url, data_dir, log_level) -> None:
    """Dialer: outbound campaigns on Asterisk ARI."""
    overrides = {"database_url": database_url, "data_dir": data_dir, "log_level": log_level}
    ctx.obj = CliContext(config_file=config_file, overrides={k: v for k, v in overrides.items() if v})


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != _name:
            raise
        continue
    _module.register(cli)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=Warning, module="platformdirs")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="dialer", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        # Usage errors: click's message is already one sentence naming the option or argument.
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (UserError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`dialer pbx-sim`: run the PBX simulator in the foreground (ARI on --host/--port, control API under /_sim)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path

import click

from ari_app.errors import UserError


def _load_scenario(sim, path: str) -> None:
    """A scenario file: {"mode": "plan"|"probabilities", ...probabilities..., "numbers": {"+39...": {...}}}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--scenario: file {path} does not exist") from None
    except ValueError as exc:
        raise UserError(f"--scenario: {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"--scenario: {path} must hold a JSON object")
    numbers = data.pop("numbers", {}) or {}
    mode = data.pop("mode", "plan")
    try:
        if mode == "plan":
            sim.use_number_plan(**data)
        elif mode == "probabilities":
            sim.use_probabilities(**data)
        else:
            raise UserError(f"--scenario: mode must be 'plan' or 'probabilities', got {mode!r}")
        for number, script in numbers.items():
            sim.script_number(number, **(script or {}))
    except TypeError as exc:
        raise UserError(f"--scenario: {path}: {exc}") from None
    except ValueError as exc:
        raise UserError(f"--scenario: {path}: {exc}") from None


def register(cli: click.Group) -> None:
    @cli.command("pbx-sim")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=8088, show_default=True, type=click.IntRange(0, 65535),
                  help="ARI HTTP port (0 picks a free one).")
    @click.option("--user", default="dialer", show_default=True, help="ARI user.")
    @click.option("--password", default="dialer", show_default=True, help="ARI password.")
    @click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
                  help="Run every simulated timer this many times faster.")
    @click.option("--seed", default=1, show_default=True, type=int, help="Seed of the simulated customers.")
    @click.option("--scenario", "scenario_file", default=None,
                  help='JSON file: {"mode": "plan"} or {"mode": "probabilities", "answer": 0.3, ...}.')
    @click.option("--trunk", "trunks", multiple=True, default=("carrier",), show_default=True,
                  help="Trunk names accepted in PJSIP/<number>@<trunk> (repeatable).")
    def pbx_sim(host, port, user, password, time_scale, seed, scenario_file, trunks):
        """Run the PBX simulator (an Asterisk ARI look-alike) until interrupted."""
        from pbx_sim import SimConfig, Simulator

        config = SimConfig(host=host, port=port, user=user, password=password, time_scale=time_scale, seed=seed,
                           trunks=tuple(trunks))
        sim = Simulator(config)
        if scenario_file:
            _load_scenario(sim, scenario_file)

        async def serve() -> None:
            try:
                await sim.start()
            except OSError as exc:
                raise UserError(f"--port: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
            click.echo(f"PBX simulator: ARI at {sim.base_url}ari (user {user}), control at {sim.base_url}_sim/state, "
                       f"time scale {time_scale:g}x; Ctrl-C stops it")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                await sim.stop()

        asyncio.run(serve())

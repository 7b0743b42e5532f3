"""One Settings object: defaults -> TOML file -> environment (DIALER_*) -> command line.

Validated once, here. Secrets are kept out of ``repr`` so they never reach a log line.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import platformdirs


class ConfigError(ValueError):
    """A configuration value is wrong; the message names it."""


@dataclass(frozen=True)
class Settings:
    # Database: an external PostgreSQL >= 14 when set, else the embedded server under data_dir.
    database_url: str | None = field(default=None, repr=False)
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("dialer")))
    # ARI / AMI
    ari_url: str = "http://127.0.0.1:8088/"
    ari_user: str = "dialer"
    ari_password: str = field(default="dialer", repr=False)
    ari_app: str = "dialer"
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "dialer"
    ami_secret: str = field(default="dialer", repr=False)
    ami_enabled: bool = False
    # Runtime
    # Stable across restarts: after a crash the new process reconciles the rows the old one left.
    # Two instances on one host need distinct ids (and distinct Stasis app names).
    instance_id: str = ""
    tick_seconds: float = 0.5
    lease_seconds: int = 120
    log_level: str = "INFO"
    # Simulator (dialer pbx-sim)
    sim_host: str = "127.0.0.1"
    sim_port: int = 8088

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict safe to log: secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in {"ari_password", "ami_secret"}:
                value = "***"
            elif f.name == "database_url" and value:
                value = _mask_url_password(value)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def _mask_url_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _coerce(name: str, raw: Any, target: Any) -> Any:
    kind = target if isinstance(target, type) else type(target)
    try:
        if kind is bool or isinstance(target, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if isinstance(target, int) and not isinstance(target, bool):
            return int(raw)
        if isinstance(target, float):
            return float(raw)
        if isinstance(target, Path):
            return Path(str(raw)).expanduser()
        return None if raw is None else str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} has an invalid value {raw!r}") from None


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from the four layers, later layers winning."""
    env = os.environ if environ is None else environ
    base = Settings()
    values: dict[str, Any] = {f.name: getattr(base, f.name) for f in fields(base)}
    known = set(values)

    path = config_file or env.get("DIALER_CONFIG")
    if path:
        p = Path(path).expanduser()
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {str(p)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
        flat = dict(data.get("dialer", {}), **{k: v for k, v in data.items() if not isinstance(v, dict)})
        for key, raw in flat.items():
            if key not in known:
                raise ConfigError(f"config file {str(p)!r} has an unknown setting {key!r}")
            values[key] = _coerce(key, raw, values[key] if values[key] is not None else "")

    for key in known:
        env_key = f"DIALER_{key.upper()}"
        if env_key in env and env[env_key] != "":
            values[key] = _coerce(env_key, env[env_key], values[key] if values[key] is not None else "")

    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(f"--{key.replace('_', '-')}", raw, values[key] if values[key] is not None else "")

    if not values["instance_id"]:
        values["instance_id"] = f"{os.uname().nodename}-{values['ari_app']}"
    settings = Settings(**values)
    if settings.tick_seconds <= 0:
        raise ConfigError("setting 'tick_seconds' must be greater than 0")
    return dataclasses.replace(settings)

"""What every command needs: the settings and a way to run a unit of work on the database."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import click

from ari_app.config import Settings, load_settings
from ari_app.db.runtime import Database, prepared_url

T = TypeVar("T")


@dataclass
class CliContext:
    config_file: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file, self.overrides)
        return self._settings

    def database_url(self, *, migrate: bool | None = None) -> str:
        return prepared_url(self.settings, migrate=migrate)

    def run(self, fn: Callable[[Database], Awaitable[T]]) -> T:
        """Run ``fn(db)`` on a fresh event loop with a database opened for this command."""
        url = self.database_url()

        async def main() -> T:
            db = Database(url)
            try:
                return await fn(db)
            finally:
                await db.dispose()

        return asyncio.run(main())


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)

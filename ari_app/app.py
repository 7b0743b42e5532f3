"""Composition root: builds the engine, the ARI adapter and the service; owns start-up and shutdown."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from ari_app.ari.aioari_adapter import AioariAdapter
from ari_app.config import Settings
from ari_app.db.runtime import Database, prepared_url
from ari_app.services.dialer import DialerService

log = logging.getLogger(__name__)


def build_service(settings: Settings, database_url: str) -> DialerService:
    db = Database(database_url)
    ari = AioariAdapter(settings.ari_url, settings.ari_user, settings.ari_password, settings.ari_app)
    return DialerService(db, ari, instance_id=settings.instance_id, tick_seconds=settings.tick_seconds,
                         lease_seconds=settings.lease_seconds)


async def run_service(settings: Settings) -> None:
    """`dialer run`: migrate, connect, reconcile, dial until SIGINT/SIGTERM."""
    url = prepared_url(settings, migrate=True)  # the service applies migrations on start
    service = build_service(settings, url)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, service.stop)
    log.info("dialer starting: %s", settings.redacted())
    try:
        await service.run()
    finally:
        await service.db.dispose()
        log.info("dialer stopped")

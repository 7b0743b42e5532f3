"""Fires callbacks on time. APScheduler keeps one date job per pending callback in memory; the jobs
are rebuilt from the `callbacks` table at start, every minute, and whenever the table changes
(a NOTIFY trigger on `callbacks` wakes every instance, including after a CLI change).

A job only posts ``CallbackDue`` into the service's queue. Firing itself (pending -> fired, in the
transaction that writes the attempt) is what makes a callback happen exactly once, whatever the
number of instances or restarts.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import text

from ari_app.ari.events import Event
from ari_app.db.runtime import Database

log = logging.getLogger(__name__)

HORIZON = dt.timedelta(hours=24)


@dataclass(frozen=True)
class CallbackDue(Event):
    callback_id: int


class CallbackScheduler:
    def __init__(self, db: Database, post: Callable[[Event], None], *, clock: Callable[[], dt.datetime]):
        self.db = db
        self.post = post
        self.now = clock
        self.scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=dt.timezone.utc)
        self._listener: asyncio.Task | None = None
        self._rebuild_lock = asyncio.Lock()
        self._listening = asyncio.Event()
        self.rebuilds = 0

    async def start(self) -> None:
        # LISTEN before the first rebuild: a change made in between still wakes us.
        self._listener = asyncio.create_task(self._listen())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 10)
        self.scheduler.start()
        self.scheduler.add_job(self.rebuild, "interval", seconds=60, id="rebuild", coalesce=True, max_instances=1)
        await self.rebuild()

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)

    async def rebuild(self) -> None:
        """Replace every callback job with one per pending callback due within the horizon."""
        async with self._rebuild_lock:
            async with self.db.transaction() as s:
                rows = (await s.execute(
                    text("select id, due_at from callbacks where state = 'pending' and due_at < :until"),
                    {"until": self.now() + HORIZON},
                )).all()
            wanted = {f"cb-{cid}": due for cid, due in rows}
            for job in self.scheduler.get_jobs():
                if job.id.startswith("cb-") and (job.id not in wanted or job.next_run_time != wanted[job.id]):
                    job.remove()
            existing = {job.id for job in self.scheduler.get_jobs()}
            now = self.now()
            for job_id, due in wanted.items():
                if job_id in existing:
                    continue
                cid = int(job_id[3:])
                if due <= now:
                    self.post(CallbackDue(cid))  # overdue (e.g. after a restart): fire now
                else:
                    self.scheduler.add_job(self._due, DateTrigger(run_date=due), args=[cid], id=job_id,
                                           misfire_grace_time=None, coalesce=True)
            self.rebuilds += 1

    async def _due(self, callback_id: int) -> None:
        # A coroutine job runs on the event loop (a plain function would run in a worker thread).
        self.post(CallbackDue(callback_id))

    async def _listen(self) -> None:
        """LISTEN for changes made anywhere (CLI, another instance) and rebuild, debounced."""
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.db.url, autocommit=True) as conn:
                    await conn.execute("listen dialer_callbacks")
                    if self._listening.is_set():
                        await self.rebuild()  # reconnected: changes may have been missed
                    self._listening.set()
                    async for _ in conn.notifies():
                        await asyncio.sleep(0.05)  # let a burst of changes settle
                        await self.rebuild()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("callback listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(1.0)

"""The callback scheduler: jobs rebuilt from the database, woken by changes made anywhere."""
import asyncio
import datetime as dt

from ari_app.scheduling.callbacks import CallbackDue, CallbackScheduler
from tests.world import add_entries, create_campaign


def _callback(sql, due, entry_phone="+390612340001"):
    cid = sql("select id from campaigns limit 1")
    cid = cid[0]["id"] if cid else create_campaign(sql)
    (entry,) = add_entries(sql, cid, [entry_phone])
    contact = sql("select contact_id from campaign_entries where id = %s", (entry,))[0]["contact_id"]
    return sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) values (%s,%s,%s,%s,%s) returning id",
               (cid, entry, contact, entry_phone, due))[0]["id"]


async def _next_due(queue, timeout):
    return await asyncio.wait_for(queue.get(), timeout)


async def test_given_callback_added_by_another_process_then_it_fires_at_its_due_time(db, sql):
    queue: asyncio.Queue = asyncio.Queue()
    sched = CallbackScheduler(db, queue.put_nowait, clock=lambda: dt.datetime.now(dt.timezone.utc))
    await sched.start()
    try:
        rebuilds = sched.rebuilds
        due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1.5)
        cb = _callback(sql, due)  # written by "the CLI": plain SQL on another connection
        event = await _next_due(queue, 10)
        fired_at = dt.datetime.now(dt.timezone.utc)
        assert event == CallbackDue(cb)
        assert sched.rebuilds > rebuilds  # the NOTIFY woke the scheduler
        assert fired_at >= due  # never early
    finally:
        await sched.stop()


async def test_given_overdue_callback_at_start_then_it_is_due_at_once(db, sql):
    cb = _callback(sql, dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
    queue: asyncio.Queue = asyncio.Queue()
    sched = CallbackScheduler(db, queue.put_nowait, clock=lambda: dt.datetime.now(dt.timezone.utc))
    await sched.start()
    try:
        assert await _next_due(queue, 5) == CallbackDue(cb)
    finally:
        await sched.stop()


async def test_given_callback_moved_later_then_old_time_does_not_fire(db, sql):
    queue: asyncio.Queue = asyncio.Queue()
    sched = CallbackScheduler(db, queue.put_nowait, clock=lambda: dt.datetime.now(dt.timezone.utc))
    await sched.start()
    try:
        now = dt.datetime.now(dt.timezone.utc)
        cb = _callback(sql, now + dt.timedelta(seconds=1.0))
        sql("update callbacks set due_at = %s where id = %s", (now + dt.timedelta(hours=1), cb))
        await asyncio.sleep(0)  # let the listener run
        job_times = {}
        for _ in range(100):
            job_times = {j.id: j.next_run_time for j in sched.scheduler.get_jobs() if j.id.startswith("cb-")}
            if job_times.get(f"cb-{cb}") and job_times[f"cb-{cb}"] > now + dt.timedelta(minutes=30):
                break
            await asyncio.sleep(0.05)
        assert job_times[f"cb-{cb}"] > now + dt.timedelta(minutes=30)
        assert queue.empty()
    finally:
        await sched.stop()

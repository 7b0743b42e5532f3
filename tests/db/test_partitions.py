"""campaign_entries by campaign and contacts by id range (migration 0005): what the partitioned
tables must still guarantee, and what a big import must not block."""
from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
import pytest


def _campaign(sql, name="c1", state="active"):
    return sql("insert into campaigns (name, mode, state, default_region) values (%s, 'progressive', %s, 'IT') "
               "returning id", (name, state))[0]["id"]


def _entry(sql, cid, phone="+393471234567", contact=None):
    contact = contact or sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    return sql("insert into campaign_entries (campaign_id, contact_id, phone_e164) values (%s, %s, %s) returning id",
               (cid, contact, phone))[0]["id"]


def test_given_a_campaign_when_its_first_entry_is_moved_in_then_it_gets_a_partition_of_its_own(cli, sql):
    source, target = _campaign(sql, "a"), _campaign(sql, "b")
    entry = _entry(sql, source)
    assert sql("select to_regclass(%s) as t", (f"campaign_entries_{target}",))[0]["t"] is None
    r = cli("entries", "move", "--ids", str(entry), "--to", "b")
    assert r.code == 0, r.err
    assert sql("select tableoid::regclass::text as t, campaign_id from campaign_entries") == [
        {"t": f"campaign_entries_{target}", "campaign_id": target}]


def test_given_partition_function_for_an_unknown_campaign_then_refused(sql):
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="campaign 999 does not exist"):
        sql("select dialer_entries_partition(999)")


def test_given_entry_deleted_then_its_attempts_stay_without_it_and_its_callback_goes(cli, sql):
    cid = _campaign(sql)
    entry = _entry(sql, cid)
    sql("insert into attempts (entry_id, campaign_id, phone_e164, channel_id, ended_at, outcome) "
        "values (%s, %s, '+393471234567', 'ch-1', now(), 'busy')", (entry, cid))
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) "
        "select campaign_id, id, contact_id, phone_e164, now() + interval '1 day' from campaign_entries")
    r = cli("entries", "delete", "--ids", str(entry))
    assert r.code == 0, r.err
    assert sql("select entry_id, outcome from attempts") == [{"entry_id": None, "outcome": "busy"}]
    assert sql("select count(*) as n from callbacks")[0]["n"] == 0


def test_given_an_attempt_or_callback_naming_no_entry_then_refused(sql):
    cid = _campaign(sql)
    entry = _entry(sql, cid)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="campaign entry 12345 does not exist"):
        sql("insert into attempts (entry_id, campaign_id, phone_e164, channel_id) values (12345, %s, '+39', 'c')",
            (cid,))
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="campaign entry 12345 does not exist"):
        sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) "
            "values (%s, 12345, 1, '+39', now())", (cid,))
    # an entry moved to another campaign is still found by its id
    other = _campaign(sql, "c2")
    sql("select dialer_entries_partition(%s)", (other,))
    sql("update campaign_entries set campaign_id = %s where id = %s", (other, entry))
    sql("insert into attempts (entry_id, campaign_id, phone_e164, channel_id) values (%s, %s, '+39', 'c')",
        (entry, cid))


def test_given_an_entry_naming_no_campaign_contact_agent_or_status_then_refused(sql):
    cid = _campaign(sql)
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    for columns, values, message in (
            ("contact_id", "987654", "contact 987654 does not exist"),
            ("contact_id, owner_agent_id", f"{contact}, 4242", "agent 4242 does not exist"),
            ("contact_id, last_status_id", f"{contact}, 4343", "campaign status 4343 does not exist")):
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match=message):
            sql(f"insert into campaign_entries (campaign_id, phone_e164, {columns}) values ({cid}, '+39', {values})")
    entry = _entry(sql, cid, contact=contact)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="agent 4242 does not exist"):
        sql("update campaign_entries set owner_agent_id = 4242 where id = %s", (entry,))


def test_given_a_contact_agent_status_or_campaign_deleted_then_its_entries_go_or_are_cleared(sql):
    cid = _campaign(sql)
    agent = sql("insert into agents (extension, display_name, pin_hash) values ('201', 'A', 'x') returning id")[0]["id"]
    status = sql("insert into campaign_statuses (campaign_id, name, system_status) values (%s, 'Later', 'call_again') "
                 "returning id", (cid,))[0]["id"]
    kept, gone = _entry(sql, cid, "+393471234567"), _entry(sql, cid, "+393471234568")
    sql("update campaign_entries set owner_agent_id = %s, last_status_id = %s", (agent, status))
    sql("delete from contacts where id = (select contact_id from campaign_entries where id = %s)", (gone,))
    assert [r["id"] for r in sql("select id from campaign_entries")] == [kept]
    sql("delete from agents where id = %s", (agent,))
    sql("delete from campaign_statuses where id = %s", (status,))
    assert sql("select owner_agent_id, last_status_id from campaign_entries") == [
        {"owner_agent_id": None, "last_status_id": None}]
    sql("delete from campaigns where id = %s", (cid,))
    assert sql("select count(*) as n from campaign_entries")[0]["n"] == 0


async def test_given_a_big_import_holding_its_new_tables_then_the_dialer_and_other_writers_do_not_wait(
        db, db_url, sql, tmp_path, monkeypatch):
    """The import keeps its new partition and contact list until it commits: meanwhile the
    dialer claims and updates entries of other campaigns, agents and campaigns are written, and a
    small import into another campaign completes, none of them waiting on a lock. (Another import
    into a new campaign would wait at its own attach, the one step two attaches cannot share.)"""
    from sqlalchemy import text

    from ari_app.db import partitions
    from ari_app.db.claim import claim_entries
    from ari_app.domain.time_rules import CallingHours
    from ari_app.services import contacts_import as ci

    running = _campaign(sql, "running")
    entry = _entry(sql, running, "+390612345678")
    agent = sql("insert into agents (extension, display_name, pin_hash) values ('201', 'A', 'x') returning id")[0]["id"]
    _campaign(sql, "new")
    _campaign(sql, "other")
    big = tmp_path / "big.csv"
    big.write_text("Tel\n" + "".join(f"347 {i:07d}\n" for i in range(300)), encoding="utf-8")
    small = tmp_path / "small.csv"
    small.write_text("Tel\n333 1234567\n", encoding="utf-8")
    monkeypatch.setattr(ci, "BATCH_ROWS", 100)
    monkeypatch.setattr(ci, "FORK_MIN_ROWS", 200)
    monkeypatch.setattr(ci, "CONTACT_LIST_MIN_ROWS", 200)
    attached, release = asyncio.Event(), asyncio.Event()
    real_attach = partitions.FreshPartition.attach

    async def attach_then_hold(self, session):
        await real_attach(self, session)
        attached.set()
        await release.wait()

    monkeypatch.setattr(partitions.FreshPartition, "attach", attach_then_hold)
    importing = asyncio.create_task(ci.import_contacts(db, big, campaign="new", mapping="phone=Tel"))
    await asyncio.wait_for(attached.wait(), 30)
    try:
        with psycopg.connect(db_url, autocommit=True) as other:
            other.execute("set lock_timeout = '2s'")
            other.execute("update agents set failed_pin_count = 1 where id = %s", (agent,))
            other.execute("update campaigns set state = 'paused' where name = 'other'")
            other.execute("update campaign_entries set priority = 3 where id = %s", (entry,))
            other.execute("insert into contacts (name) values ('typed in')")
        async with db.transaction() as s:
            await s.execute(text("set local lock_timeout = '2s'"))
            claimed = await claim_entries(s, campaign_id=running, limit=5, now=dt.datetime.now(dt.timezone.utc),
                                          max_attempts=5, calling_hours=CallingHours(dt.time(0), dt.time(23, 59)),
                                          campaign_zone_open=True, lease_owner="t", lease_seconds=30)
        assert [c.id for c in claimed] == [entry]
        # (into a campaign that has its partition: attaching a new one waits for the big import's commit)
        report = await asyncio.wait_for(ci.import_contacts(db, small, campaign="running", mapping="phone=Tel"), 10)
        assert report.imported == 1
    finally:
        release.set()
    assert (await importing).imported == 300


def test_given_a_database_of_the_previous_schema_when_migrated_then_its_rows_are_kept_both_ways(blank_db_url):
    """Migration 0005 moves existing entries into their campaigns' partitions and contact_phones
    into contacts.phones, keeping ids, history and references; its downgrade puts them back."""
    from alembic import command

    from ari_app.db.migrate import alembic_config, upgrade

    url = blank_db_url
    upgrade(url, "0004")
    with psycopg.connect(url, autocommit=True) as conn:
        run = conn.execute
        a, b = (run("insert into campaigns (name, mode) values (%s, 'progressive') returning id", (n,)).fetchone()[0]
                for n in ("a", "b"))
        c1 = run("insert into contacts (name, custom) values ('Rossi', '{\"city\": \"Roma\"}') returning id").fetchone()[0]
        c2 = run("insert into contacts (name) values ('Nowak') returning id").fetchone()[0]
        run("insert into contact_phones (contact_id, e164, position) values (%s, '+390612345678', 0), "
            "(%s, '+393471234567', 1), (%s, '+48512345678', 0)", (c1, c1, c2))
        e1 = run("insert into campaign_entries (campaign_id, contact_id, phone_e164, attempts, state) "
                 "values (%s, %s, '+390612345678', 2, 'callback') returning id", (a, c1)).fetchone()[0]
        e2 = run("insert into campaign_entries (campaign_id, contact_id, phone_e164) values (%s, %s, '+48512345678') "
                 "returning id", (b, c2)).fetchone()[0]
        run("insert into attempts (entry_id, campaign_id, phone_e164, channel_id, ended_at, outcome) "
            "values (%s, %s, '+390612345678', 'ch-1', now(), 'no_answer')", (e1, a))
        run("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) "
            "values (%s, %s, %s, '+390612345678', now() + interval '1 day')", (a, e1, c1))

    def rows(conn):
        return (conn.execute("select id, campaign_id, contact_id, phone_e164, attempts, state "
                             "from campaign_entries order by id").fetchall(),
                conn.execute("select entry_id, outcome from attempts").fetchall(),
                conn.execute("select entry_id, state from callbacks").fetchall(),
                conn.execute("select id, name, custom from contacts order by id").fetchall())

    with psycopg.connect(url) as conn:
        before = rows(conn)
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert rows(conn) == before
        assert conn.execute("select tableoid::regclass::text from campaign_entries order by id").fetchall() == [
            (f"campaign_entries_{a}",), (f"campaign_entries_{b}",)]
        assert conn.execute("select phones from contacts order by id").fetchall() == [
            (["+390612345678", "+393471234567"],), (["+48512345678"],)]
        new = conn.execute("insert into contacts (name) values ('new') returning id").fetchone()[0]
        assert new == c2 + 1  # the sequence goes on
        conn.execute("delete from contacts where id = %s", (new,))
        conn.execute("delete from campaign_entries where id = %s", (e2,))  # the triggers work on moved rows
    command.downgrade(alembic_config(url), "0004")
    with psycopg.connect(url) as conn:
        assert rows(conn) == (before[0][:1], *before[1:])
        assert conn.execute("select contact_id, e164, position from contact_phones order by contact_id, position"
                            ).fetchall() == [(c1, "+390612345678", 0), (c1, "+393471234567", 1), (c2, "+48512345678", 0)]
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the foreign keys are back
            conn.execute("insert into attempts (entry_id, campaign_id, phone_e164, channel_id) "
                         "values (999, %s, '+39', 'x')", (a,))


async def test_given_an_entry_moved_while_the_dialer_held_it_when_released_by_its_old_campaign_then_found_by_id(
        db, sql):
    # The dialer updates an entry within its campaign's partition (one partition planned, not
    # all); a preview record an agent holds can be moved meanwhile, and must still be released.
    from ari_app.db import store

    old, new = _campaign(sql, "old"), _campaign(sql, "new")
    entry = _entry(sql, old)
    sql("update campaign_entries set state = 'reserved' where id = %s", (entry,))
    sql("select dialer_entries_partition(%s)", (new,))
    sql("update campaign_entries set campaign_id = %s where id = %s", (new, entry))
    now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    async with db.transaction() as s:
        await store.release_entry(s, entry, now=now, next_attempt_at=None, campaign_id=old)
    assert sql("select campaign_id, state from campaign_entries") == [{"campaign_id": new, "state": "ready"}]

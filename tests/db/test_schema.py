"""The schema carries rules that no code path may bypass."""
import datetime as dt

import psycopg
import pytest


def _campaign(sql, name="c1"):
    return sql("insert into campaigns (name, mode) values (%s, 'progressive') returning id", (name,))[0]["id"]


def test_given_fresh_database_then_call_and_do_not_call_statuses_exist(sql):
    rows = sql("select name, system_status, protected from statuses order by id")
    assert rows == [
        {"name": "Call", "system_status": "call_again", "protected": True},
        {"name": "Do not call", "system_status": "do_not_call", "protected": True},
    ]


def test_given_builtin_status_when_deleted_then_refused(sql):
    with pytest.raises(psycopg.errors.RaiseException, match="cannot be deleted"):
        sql("delete from statuses where name = 'Call'")


def test_given_closed_attempt_when_outcome_changed_then_refused_but_disposition_allowed(sql):
    cid = _campaign(sql)
    aid = sql(
        "insert into attempts (campaign_id, phone_e164, channel_id, ended_at, outcome) "
        "values (%s, '+390612345678', 'ch-1', now(), 'answered') returning id",
        (cid,),
    )[0]["id"]
    with pytest.raises(psycopg.errors.RaiseException, match="only its disposition may change"):
        sql("update attempts set outcome = 'busy' where id = %s", (aid,))
    sql("insert into campaign_statuses (campaign_id, name, system_status) values (%s, 'Sold', 'call_again')", (cid,))
    status_id = sql("select id from campaign_statuses")[0]["id"]
    sql("update attempts set disposition_status_id = %s, disposition_at = now() where id = %s", (status_id, aid))
    assert sql("select disposition_status_id from attempts")[0]["disposition_status_id"] == status_id
    with pytest.raises(psycopg.errors.RaiseException, match="cannot be deleted"):
        sql("delete from attempts where id = %s", (aid,))


def test_given_open_attempt_to_number_when_second_opened_then_refused(sql):
    cid = _campaign(sql)
    other = _campaign(sql, "c2")
    sql("insert into attempts (campaign_id, phone_e164, channel_id) values (%s, '+390612345678', 'a')", (cid,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        sql("insert into attempts (campaign_id, phone_e164, channel_id) values (%s, '+390612345678', 'b')", (other,))
    sql("update attempts set ended_at = now() where channel_id = 'a'")
    sql("insert into attempts (campaign_id, phone_e164, channel_id) values (%s, '+390612345678', 'b')", (other,))


def test_given_ring_timeout_below_15_then_refused(sql):
    with pytest.raises(psycopg.errors.CheckViolation):
        sql("insert into campaigns (name, mode, ring_timeout_seconds) values ('x', 'predictive', 10)")


def test_given_random_rotation_with_one_number_then_refused(sql):
    with pytest.raises(psycopg.errors.CheckViolation):
        sql("insert into campaigns (name, mode, caller_id_rotation, caller_ids) values ('x', 'predictive', 'random', '{+1555}')")


def test_given_entry_then_due_at_is_the_later_of_retry_and_not_before(sql):
    cid = _campaign(sql)
    contact = sql("insert into contacts (name) values ('a') returning id")[0]["id"]
    later = dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)
    sql("select dialer_entries_partition(%s)", (cid,))
    sql(
        "insert into campaign_entries (campaign_id, contact_id, phone_e164, next_attempt_at, not_before) "
        "values (%s, %s, '+1', %s, %s)",
        (cid, contact, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), later),
    )
    assert sql("select due_at from campaign_entries")[0]["due_at"] == later


def test_tables_match_the_migrations(db_url):
    """The ORM mappings and the Alembic migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from ari_app.db.engine import sqlalchemy_url
    from ari_app.db.partitions import is_partition
    from ari_app.db.tables import Base

    def include_name(name, type_, parent_names):
        return not (type_ == "table" and is_partition(name))

    def include_object(obj, name, type_, reflected, compare_to):
        # PostgreSQL lists a foreign key into a partitioned table once more per partition
        return not (type_ == "foreign_key_constraint" and is_partition(obj.referred_table.name))

    engine = create_engine(sqlalchemy_url(db_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name, "include_object": include_object}),
            Base.metadata)
    engine.dispose()
    assert diff == []

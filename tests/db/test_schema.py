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


def test_given_phone_columns_then_they_compare_bytewise_and_each_others_indexes_serve_them(sql):
    # Migration 0006: an index serves only comparisons in its own collation, so the claim's probes
    # of dnc_numbers and attempts by an entry's number need every phone column in the same one.
    columns = sql("select table_name || '.' || column_name as c, collation_name from information_schema.columns "
                  "where table_schema = current_schema() and column_name in ('phone_e164', 'e164', 'phones') "
                  "and table_name in ('campaign_entries', 'attempts', 'callbacks', 'dnc_numbers', 'contacts') "
                  "order by 1")
    assert columns == [{"c": c, "collation_name": "C"} for c in (
        "attempts.phone_e164", "callbacks.phone_e164", "campaign_entries.phone_e164", "contacts.phones",
        "dnc_numbers.e164")]
    cid = sql("insert into campaigns (name, mode) values ('c', 'progressive') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    sql("set enable_seqscan = off")  # an index the comparison can use is then taken
    plan = "\n".join(r["QUERY PLAN"] for r in sql(
        f"explain select e.id from campaign_entries e where e.campaign_id = {cid} "
        "and not exists (select 1 from dnc_numbers d where d.e164 = e.phone_e164) "
        "and not exists (select 1 from attempts a where a.phone_e164 = e.phone_e164 and a.ended_at is null)"))
    assert "Seq Scan on dnc_numbers" not in plan and "Seq Scan on attempts" not in plan, plan


def test_given_the_migration_files_then_the_head_read_from_them_is_alembics():
    # prepared_url skips Alembic when the schema is at head_revision(), read from the files
    # without importing Alembic: it must be the head Alembic itself would migrate to.
    from alembic.script import ScriptDirectory

    from ari_app.db.migrate import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


def test_given_a_database_behind_the_code_when_a_command_opens_it_then_embedded_migrates_external_refuses(
        blank_db_url):
    from ari_app.config import Settings
    from ari_app.db.migrate import at_head, upgrade
    from ari_app.db.runtime import prepared_url
    from ari_app.errors import UserError

    upgrade(blank_db_url, "0004")
    with pytest.raises(UserError, match="run 'dialer db upgrade' first"):
        prepared_url(Settings(database_url=blank_db_url))
    assert not at_head(blank_db_url)
    prepared_url(Settings(database_url=blank_db_url), migrate=True)
    assert at_head(blank_db_url)

"""`dialer campaign ...` against a real PostgreSQL: DB state after each command, one-sentence errors."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.admin.conftest import add_entries


def _campaign(sql, name):
    rows = sql("select * from campaigns where name = %s", (name,))
    return rows[0] if rows else None


def test_given_dictionary_when_campaign_created_then_settings_and_marked_statuses_are_stored(cli, sql):
    sql("insert into statuses (name, system_status, add_to_new_campaigns, auto_on) values "
        "('Busy later', 'call_again', true, '{busy}'), ('Unused', 'call_again', false, '{}'), "
        "('Old', 'call_again', true, '{}')")
    sql("update statuses set active = false where name = 'Old'")
    sql("insert into groups (name) values ('Sales')")

    r = cli("campaign", "create", "Spring", "--mode", "predictive", "--bcw", "12", "--push-timeout", "20",
            "--pickup-rate", "0.4", "--target-abandon-rate", "0.03", "--abandon-window", "calendar_day",
            "--max-lines", "2.5", "--routing", "Sales", "--goal", "none", "--caller-id", "+420111222",
            "--caller-id", "+420333444", "--rotation", "random", "--dial-template", "PJSIP/{number}@trunk",
            "--ring-timeout", "30", "--max-attempts", "4", "--retry", "busy=10m/3,no_answer=1h/5", "--wrapup", "20",
            "--timezone", "Europe/Prague", "--hours", "mon-fri 09:00-18:00; sat 10:00-14:00",
            "--closed", "2026-12-25", "--exception", "2026-12-24 09:00-13:00", "--calling-hours", "09:00-20:00",
            "--region", "cz", "--abandon-message", "sound:sorry", "--machine-action", "message",
            "--machine-message", "sound:leave", "--amd", "--rule-72h")

    assert (r.code, r.err) == (0, "")
    c = _campaign(sql, "Spring")
    assert (c["mode"], c["state"], c["goal"], c["bcw_seconds"], c["push_timeout_seconds"]) == (
        "predictive", "draft", "none", 12, 20)
    assert (c["pickup_rate"], c["target_abandon_rate"], c["abandon_window"], c["max_lines_per_agent"]) == (
        0.4, 0.03, "calendar_day", 2.5)
    assert c["routing_group_id"] == sql("select id from groups where name = 'Sales'")[0]["id"]
    assert (c["caller_ids"], c["caller_id_rotation"], c["dial_template"]) == (
        ["+420111222", "+420333444"], "random", "PJSIP/{number}@trunk")
    assert (c["ring_timeout_seconds"], c["max_attempts"], c["wrapup_seconds"]) == (30, 4, 20)
    assert c["retry_rules"] == {"busy": {"delay_seconds": 600, "max": 3}, "no_answer": {"delay_seconds": 3600, "max": 5}}
    assert c["timezone"] == "Europe/Prague"
    assert c["schedule"]["weekly"]["mon"] == [["09:00", "18:00"]]
    assert c["schedule"]["weekly"]["sat"] == [["10:00", "14:00"]]
    assert c["schedule"]["weekly"]["sun"] == []
    assert c["schedule"]["exceptions"] == {"2026-12-24": [["09:00", "13:00"]], "2026-12-25": []}
    assert (c["calling_hours_start"], c["calling_hours_end"]) == (dt.time(9), dt.time(20))
    assert (c["default_region"], c["abandon_message"], c["machine_action"], c["machine_message"], c["amd_enabled"]) == (
        "CZ", "sound:sorry", "message", "sound:leave", True)
    assert c["options"] == {"rule_72h": True}
    statuses = sql("select cs.name, cs.dtmf_code, cs.auto_on, cs.status_id = s.id as linked from campaign_statuses cs "
                   "join statuses s on s.name = cs.name where cs.campaign_id = %s order by cs.dtmf_code", (c["id"],))
    assert [(s["name"], s["dtmf_code"], s["auto_on"], s["linked"]) for s in statuses] == [
        ("Call", "1", [], True), ("Do not call", "2", [], True), ("Busy later", "3", ["busy"], True)]
    assert c["default_status_id"] == sql("select id from statuses where name = 'Call'")[0]["id"]


def test_given_only_a_mode_when_campaign_created_then_documented_defaults_apply(cli, sql):
    assert cli("campaign", "create", "Plain", "--mode", "preview").code == 0
    c = _campaign(sql, "Plain")
    assert (c["ring_timeout_seconds"], c["calling_hours_start"], c["calling_hours_end"], c["schedule"], c["goal"]) == (
        25, dt.time(8), dt.time(21), {}, "exhaust")


CREATE_ERRORS = [
    (["Spring", "--mode", "preview"], 2, 'campaign "Spring" already exists'),
    (["New", "--mode", "preview", "--ring-timeout", "10"], 2, "ring timeout 10 is below the minimum of 15 seconds"),
    (["New", "--mode", "preview", "--timezone", "Europe/Rom"], 2, 'time zone "Europe/Rom" is not a known IANA zone'),
    (["New", "--mode", "fast"], 2, "mode 'fast' is not one of preview, push_preview, progressive, predictive"),
    (["New", "--mode", "preview", "--caller-id", "+420111", "--rotation", "random"], 2,
     "caller ID rotation random needs at least 2 numbers, the campaign has 1"),
    (["New", "--mode", "preview", "--dial-template", "PJSIP/trunk"], 2, "dial template 'PJSIP/trunk' must contain {number}"),
    (["New", "--mode", "preview", "--retry", "busy=ten/3"], 2,
     "retry delay for busy 'ten' is not a duration such as 90s, 10m, 1h or 2d"),
    (["New", "--mode", "preview", "--hours", "mon-fri 09:00-25:00"], 2,
     "opening hours time '25:00' is not a time such as 09:00"),
    (["New", "--mode", "preview", "--closed", "2026-13-01"], 2, "closed date '2026-13-01' is not a date such as 2026-12-25"),
    (["New", "--mode", "preview", "--region", "ZZ"], 2,
     'default region "ZZ" is not an ISO 3166 alpha-2 country code with a phone numbering plan'),
    (["New", "--mode", "preview", "--routing", "Nobody"], 3, 'group "Nobody" does not exist'),
    (["New", "--mode", "preview", "--default-status", "Sale"], 2, 'default status "Sale" is not a status of this campaign'),
    (["New", "--mode", "preview", "--machine-action", "message"], 2,
     "machine action message needs a machine message such as sound:dialer-machine-info"),
    (["New", "--mode", "preview", "--target-abandon-rate", "3"], 2,
     "target abandon rate 3 must be a fraction from 0 to 1 (for example 0.03 for 3%)"),
    (["New", "--mode", "preview", "--abandon-window", "weekly"], 2,
     "abandon window 'weekly' is not one of rolling_30d, calendar_day"),
]


def test_given_bad_value_when_campaign_created_then_one_sentence_and_nothing_written(cli, sql, snapshot):
    # one database for the whole table: each refused command must leave it exactly as it was
    assert cli("campaign", "create", "Spring", "--mode", "preview").code == 0
    before = snapshot()

    for args, code, message in CREATE_ERRORS:
        r = cli("campaign", "create", *args)

        assert (r.code, r.err, r.out) == (code, f"error: {message}\n", ""), args
        assert snapshot() == before, args


def test_given_campaign_when_edited_then_only_given_settings_change_and_exceptions_accumulate(cli, sql):
    cli("campaign", "create", "Spring", "--mode", "progressive", "--hours", "mon-fri 09:00-18:00", "--closed", "2026-12-25")
    before = _campaign(sql, "Spring")

    r = cli("campaign", "edit", "Spring", "--ring-timeout", "40", "--exception", "2026-12-24 09:00-13:00",
            "--name", "Spring 2", "--mode", "predictive")

    assert (r.code, r.err) == (0, "")
    after = _campaign(sql, "Spring 2")
    assert (after["ring_timeout_seconds"], after["mode"]) == (40, "predictive")
    assert after["schedule"]["weekly"] == before["schedule"]["weekly"]
    assert after["schedule"]["exceptions"] == {"2026-12-24": [["09:00", "13:00"]], "2026-12-25": []}
    assert after["max_attempts"] == before["max_attempts"]
    assert cli("campaign", "edit", "Spring 2", "--hours", "always", "--clear-exceptions").code == 0
    assert _campaign(sql, "Spring 2")["schedule"] == {}


EDIT_ERRORS = [
    (["Spring", "--ring-timeout", "14"], "ring timeout 14 is below the minimum of 15 seconds"),
    (["Spring", "--name", "Autumn"], 'campaign "Autumn" already exists'),
    (["Spring", "--rotation", "random"], "caller ID rotation random needs at least 2 numbers, the campaign has 1"),
    (["Spring"], "nothing to change: give at least one option"),
    (["Winter", "--bcw", "5"], 'campaign "Winter" does not exist'),
]


def test_given_bad_edit_when_run_then_one_sentence_and_nothing_written(cli, snapshot):
    cli("campaign", "create", "Spring", "--mode", "preview", "--caller-id", "+420111")
    cli("campaign", "create", "Autumn", "--mode", "preview")
    before = snapshot()

    for args, message in EDIT_ERRORS:
        r = cli("campaign", "edit", *args)

        assert (r.code != 0, r.err) == (True, f"error: {message}\n"), args
        assert snapshot() == before, args


TRANSITIONS = [
    ("draft", "start", "active"), ("paused", "start", "active"), ("active", "pause", "paused"),
    ("paused", "resume", "active"), ("draft", "stop", "stopped"), ("active", "stop", "stopped"),
    ("paused", "stop", "stopped"),
    ("active", "start", 'campaign "C" is already active'),
    ("stopped", "start", 'campaign "C" is stopped and cannot be started again; clone it to run it again'),
    ("stopped", "resume", 'campaign "C" is stopped and cannot be started again; clone it to run it again'),
    ("completed", "start", 'cannot start campaign "C" because it is completed (start needs a draft or paused campaign)'),
    ("draft", "pause", 'cannot pause campaign "C" because it is draft (pause needs an active campaign)'),
    ("paused", "pause", 'campaign "C" is already paused'),
    ("draft", "resume", 'cannot resume campaign "C" because it is draft (resume needs a paused campaign)'),
    ("active", "resume", 'campaign "C" is already active'),
    ("stopped", "stop", 'campaign "C" is already stopped'),
    ("completed", "pause", 'cannot pause campaign "C" because it is completed (pause needs an active campaign)'),
    ("stopped", "pause", 'cannot pause campaign "C" because it is stopped (pause needs an active campaign)'),
    ("completed", "resume", 'cannot resume campaign "C" because it is completed (resume needs a paused campaign)'),
    ("completed", "stop", 'cannot stop campaign "C" because it is completed (stop needs an active or draft or paused campaign)'),
]


def test_given_state_when_action_then_legal_changes_apply_and_illegal_ones_are_refused(cli, sql):
    cli("campaign", "create", "C", "--mode", "preview")
    for state, action, expected in TRANSITIONS:
        sql("update campaigns set state = %s where name = 'C'", (state,))

        r = cli("campaign", action, "C")

        if " " not in expected:
            assert (r.code, r.out) == (0, f'campaign "C": {state} -> {expected}\n'), (state, action)
            assert _campaign(sql, "C")["state"] == expected, (state, action)
        else:
            assert (r.code, r.err) == (2, f"error: {expected}\n"), (state, action)
            assert _campaign(sql, "C")["state"] == state, (state, action)


def test_given_transition_table_then_every_action_from_every_state_is_covered():
    from ari_app.services.campaigns import TRANSITIONS as TABLE

    states = ("draft", "active", "paused", "stopped", "completed")
    assert {(s, a) for s, a, _ in TRANSITIONS} == {(s, a) for s in states for a in TABLE}
    legal = {(s, a): t for a, (froms, t) in TABLE.items() for s in froms}
    assert {(s, a): e for s, a, e in TRANSITIONS if " " not in e} == legal


def _source_with_statuses_agents_entries(cli, sql):
    cli("campaign", "create", "Src", "--mode", "progressive", "--retry", "busy=5m/2", "--timezone", "Europe/Prague",
        "--hours", "mon-fri 08:00-16:00", "--caller-id", "+420111,+420222", "--rotation", "random", "--ring-timeout", "33")
    cli("status", "campaign-create", "Own", "--campaign", "Src", "--system", "my_record", "--dtmf", "7")
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    cli("agent", "assign", "7001", "--campaign", "Src")
    cli("campaign", "start", "Src")
    src = _campaign(sql, "Src")
    add_entries(sql, src["id"], [("+420601000001", "done", 2), ("+420601000002", "ready", 1), ("+420601000003", "exhausted", 5)])
    return src


def test_given_campaign_when_cloned_without_contacts_then_settings_statuses_agents_copied_and_no_entries(cli, sql):
    src = _source_with_statuses_agents_entries(cli, sql)

    r = cli("campaign", "clone", "Src", "Copy")

    assert (r.code, r.err) == (0, "")
    copy = _campaign(sql, "Copy")
    skip = {"id", "name", "state", "created_at", "updated_at"}
    assert {k: v for k, v in copy.items() if k not in skip} == {k: v for k, v in src.items() if k not in skip}
    assert copy["state"] == "draft"
    q = "select name, system_status, dtmf_code, status_id from campaign_statuses where campaign_id = %s order by name"
    assert sql(q, (copy["id"],)) == sql(q, (src["id"],))
    assert [r["agent_id"] for r in sql("select agent_id from campaign_agents where campaign_id = %s", (copy["id"],))] == [
        sql("select id from agents where extension = '7001'")[0]["id"]]
    assert sql("select count(*) as n from campaign_entries where campaign_id = %s", (copy["id"],))[0]["n"] == 0


def test_given_campaign_when_cloned_with_contacts_then_same_contacts_as_ready_entries_with_zero_attempts(cli, sql):
    src = _source_with_statuses_agents_entries(cli, sql)

    r = cli("campaign", "clone", "Src", "Copy", "--with-contacts")

    assert (r.code, r.err) == (0, "")
    copy = _campaign(sql, "Copy")
    q = "select contact_id, phone_e164, state, attempts, priority from campaign_entries where campaign_id = %s order by phone_e164"
    rows = sql(q, (copy["id"],))
    assert [(r["contact_id"], r["phone_e164"]) for r in rows] == [
        (r["contact_id"], r["phone_e164"]) for r in sql(q, (src["id"],))]
    assert {(r["state"], r["attempts"]) for r in rows} == {("ready", 0)}
    assert sql("select state from campaign_entries where campaign_id = %s and phone_e164 = '+420601000001'",
               (src["id"],))[0]["state"] == "done"  # the source is untouched


def test_given_existing_name_when_cloned_then_refused_and_nothing_written(cli, snapshot):
    cli("campaign", "create", "Src", "--mode", "preview")
    cli("campaign", "create", "Copy", "--mode", "preview")
    before = snapshot()
    r = cli("campaign", "clone", "Src", "Copy", "--with-contacts")
    assert (r.code, r.err) == (2, 'error: campaign "Copy" already exists\n')
    assert snapshot() == before


def _attempt(sql, cid, n, *, outcome, created_at, answered=False, abandoned=False):
    sql("insert into attempts (campaign_id, phone_e164, channel_id, created_at, answered_at, ended_at, outcome, abandoned) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (cid, f"+42060100{n:04d}", f"ch-{n}", created_at, created_at if answered else None, created_at, outcome, abandoned))


def _stats_fixture(cli, sql, now):
    cli("campaign", "create", "S", "--mode", "predictive", "--timezone", "Europe/Prague")
    cid = _campaign(sql, "S")["id"]
    add_entries(sql, cid, [("+420601000001", "done", 1), ("+420601000002", "dnc", 1), ("+420601000003", "ready", 2),
                           ("+420601000004", "ready", 0), ("+420601000005", "exhausted", 5)])
    today = now - dt.timedelta(minutes=20)
    yesterday = now - dt.timedelta(minutes=40)  # before local midnight when now is 00:30 local
    _attempt(sql, cid, 1, outcome="answered", created_at=today, answered=True)
    _attempt(sql, cid, 2, outcome="answered", created_at=today, answered=True)
    _attempt(sql, cid, 3, outcome="answered", created_at=today, answered=True)
    _attempt(sql, cid, 4, outcome="abandoned", created_at=today, answered=True, abandoned=True)
    _attempt(sql, cid, 5, outcome="machine", created_at=today, answered=True)
    _attempt(sql, cid, 6, outcome="busy", created_at=today)
    _attempt(sql, cid, 7, outcome="abandoned", created_at=yesterday, answered=True, abandoned=True)
    return cid


def test_given_attempts_ledger_when_stats_computed_then_counts_and_abandon_rate_today_match(cli, sql, db_url):
    import asyncio

    from ari_app.db.runtime import Database
    from ari_app.services.campaigns import campaign_details

    # 00:30 in Prague: the attempt of 23:30 the evening before belongs to yesterday
    now = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.timezone.utc)
    _stats_fixture(cli, sql, now)

    async def run():
        db = Database(db_url)
        try:
            return (await campaign_details(db, "S", now))["stats"]
        finally:
            await db.dispose()

    stats = asyncio.run(run())

    assert stats["entries_by_state"] == {"done": 1, "dnc": 1, "ready": 2, "exhausted": 1}
    assert stats["entries_total"] == 5
    assert stats["attempts_total"] == 7
    assert stats["attempts_by_outcome"] == {"abandoned": 2, "answered": 3, "busy": 1, "machine": 1}
    assert (stats["handled"], stats["not_completed"]) == (2, 3)
    # today: 1 abandoned out of 4 live answered (3 answered + 1 abandoned; the machine is not live)
    assert (stats["abandoned_today"], stats["live_answered_today"]) == (1, 4)
    assert stats["abandon_rate_today"] == pytest.approx(0.25)


def test_given_campaign_when_show_and_list_json_then_every_setting_and_stats_are_printed(cli, sql):
    now = dt.datetime.now(dt.timezone.utc)
    _stats_fixture(cli, sql, now)

    shown = json.loads(cli("campaign", "show", "S", "--json").out)
    listed = json.loads(cli("campaign", "list", "--json").out)
    stats = json.loads(cli("campaign", "stats", "S", "--json").out)
    text = cli("campaign", "show", "S").out

    assert shown["settings"]["mode"] == "predictive" and shown["settings"]["default_status"] == "Call"
    assert {"ring_timeout_seconds", "retry_rules", "schedule", "calling_hours", "default_region", "abandon_message",
            "machine_action", "amd_enabled", "caller_ids", "dial_template", "bcw_seconds", "push_timeout_seconds",
            "routing_group", "goal", "wrapup_seconds", "max_attempts", "pickup_rate", "target_abandon_rate",
            "abandon_window", "max_lines_per_agent", "timezone"} <= set(shown["settings"])
    assert shown["stats"]["attempts_total"] == stats["attempts_total"] == 7
    assert [(c["name"], c["entries"], c["ready"]) for c in listed] == [("S", 5, 2)]
    assert "ring_timeout_seconds" in text and "abandon rate today" in text and "handled             2" in text


def test_given_campaign_when_default_status_and_routing_edited_then_stored_and_clearable(cli, sql):
    cli("status", "create", "Later", "--system", "not_before")
    cli("group", "create", "Sales")
    cli("campaign", "create", "C", "--mode", "preview")
    cli("status", "add-to-campaign", "Later", "--campaign", "C")
    own = cli("status", "campaign-create", "Mine", "--campaign", "C", "--system", "my_record")
    assert own.code == 0

    assert cli("campaign", "edit", "C", "--default-status", "Later", "--routing", "Sales").code == 0
    c = _campaign(sql, "C")
    assert c["default_status_id"] == sql("select id from statuses where name = 'Later'")[0]["id"]
    assert c["routing_group_id"] == sql("select id from groups where name = 'Sales'")[0]["id"]
    refused = cli("campaign", "edit", "C", "--default-status", "Mine")
    assert refused.err == ("error: default status \"Mine\" is the campaign's own status; "
                           "the default must be a dictionary status\n")
    assert cli("campaign", "edit", "C", "--routing", "none").code == 0
    assert _campaign(sql, "C")["routing_group_id"] is None


def test_given_concurrent_create_of_the_same_name_when_the_insert_collides_then_one_sentence(db_url, sql):
    """The name check passes for both writers; the unique index decides, and the loser gets the sentence."""
    import asyncio
    import threading
    import time

    import psycopg

    from ari_app.db.runtime import Database
    from ari_app.errors import UserError
    from ari_app.services.campaigns import create_campaign

    holder = psycopg.connect(db_url)  # an uncommitted insert of the same name, invisible to the check
    holder.execute("insert into campaigns (name, mode) values ('Race', 'preview')")
    outcome: dict = {}

    def other_writer():
        async def go():
            db = Database(db_url)
            try:
                await create_campaign(db, "Race", {"mode": "preview"})
                outcome["result"] = "created"
            except UserError as exc:
                outcome["result"] = str(exc)
            finally:
                await db.dispose()

        asyncio.run(go())

    thread = threading.Thread(target=other_writer)
    thread.start()
    deadline = time.monotonic() + 10
    while not sql("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into campaigns%%'"):
        assert time.monotonic() < deadline, "the second insert never waited on the first"
        time.sleep(0.01)
    holder.commit()
    holder.close()
    thread.join(10)

    assert outcome["result"] == 'campaign "Race" already exists'
    assert sql("select count(*) as n from campaigns")[0]["n"] == 1
    assert sql("select count(*) as n from campaign_statuses")[0]["n"] == 0

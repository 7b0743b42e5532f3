"""`dialer agent ...` and `dialer group ...`: PIN hashing, roles, groups, assignments."""
from __future__ import annotations

import json

import pytest

from ari_app.services.agents import verify_pin


def _agent(sql, ext):
    rows = sql("select * from agents where extension = %s", (ext,))
    return rows[0] if rows else None


def test_given_pin_when_agent_created_then_it_is_stored_hashed_verifies_and_is_never_printed(cli, sql):
    cli("group", "create", "Sales")
    cli("group", "create", "Night")

    r = cli("agent", "create", "7001", "--name", "Ann Smith", "--pin", "482913", "--role", "agent",
            "--role", "supervisor", "--group", "Sales", "--group", "Night")

    assert (r.code, r.err) == (0, "")
    a = _agent(sql, "7001")
    assert a["display_name"] == "Ann Smith" and a["roles"] == ["agent", "supervisor"]
    assert "482913" not in a["pin_hash"] and a["pin_hash"].startswith("$argon2")
    assert verify_pin(a["pin_hash"], "482913") and not verify_pin(a["pin_hash"], "482914")
    shown = cli("agent", "show", "7001", "--json").out + cli("agent", "list").out + cli("agent", "list", "--json").out
    assert "482913" not in shown and "argon2" not in shown
    assert json.loads(cli("agent", "show", "7001", "--json").out)["groups"] == ["Night", "Sales"]


def test_given_broken_hash_when_verified_then_false_not_an_error():
    assert verify_pin("not-a-hash", "1234") is False


CREATE_ERRORS = [
    (["7001", "--name", "Bob", "--pin", "1234"], 2, 'agent "7001" already exists'),
    (["7002", "--name", "Bob", "--pin", "123"], 2, "PIN must be 4 to 8 digits"),
    (["7002", "--name", "Bob", "--pin", "123456789"], 2, "PIN must be 4 to 8 digits"),
    (["7002", "--name", "Bob", "--pin", "12ab"], 2, "PIN must be 4 to 8 digits"),
    (["7002", "--name", "Bob", "--pin", "1234", "--role", "boss"], 2, "role 'boss' is not one of agent, supervisor, admin"),
    (["7002", "--name", "Bob", "--pin", "1234", "--group", "Ghosts"], 3, 'group "Ghosts" does not exist'),
    (["70 02", "--name", "Bob", "--pin", "1234"], 2, "extension '70 02' must be 1 to 32 letters, digits or . _ + -"),
    (["7002", "--name", " ", "--pin", "1234"], 2, "agent name must not be empty"),
]


def test_given_bad_value_when_agent_created_then_one_sentence_and_nothing_written(cli, snapshot):
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    before = snapshot()

    for args, code, message in CREATE_ERRORS:
        r = cli("agent", "create", *args)

        assert (r.code, r.err) == (code, f"error: {message}\n"), args
        assert snapshot() == before, args


def test_given_agent_when_edited_then_name_pin_roles_active_change_and_lockout_lifts(cli, sql):
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    sql("update agents set failed_pin_count = 5, locked_until = now() + interval '1 hour' where extension = '7001'")

    r = cli("agent", "edit", "7001", "--name", "Anna", "--pin", "98765", "--role", "admin", "--inactive")

    assert (r.code, r.err) == (0, "")
    a = _agent(sql, "7001")
    assert (a["display_name"], a["roles"], a["active"], a["failed_pin_count"], a["locked_until"]) == (
        "Anna", ["admin"], False, 0, None)
    assert verify_pin(a["pin_hash"], "98765") and not verify_pin(a["pin_hash"], "1234")


def test_given_bad_pin_when_agent_edited_then_refused_and_old_pin_still_works(cli, sql):
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    r = cli("agent", "edit", "7001", "--pin", "12")
    assert (r.code, r.err) == (2, "error: PIN must be 4 to 8 digits\n")
    assert verify_pin(_agent(sql, "7001")["pin_hash"], "1234")


def test_given_agent_when_assigned_and_unassigned_then_campaign_agents_follow(cli, sql):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")

    assert cli("agent", "assign", "7001", "--campaign", "C").code == 0
    assert sql("select count(*) as n from campaign_agents")[0]["n"] == 1
    again = cli("agent", "assign", "7001", "--campaign", "C")
    assert (again.code, again.err) == (2, 'error: agent "7001" is already assigned to campaign "C"\n')
    assert json.loads(cli("agent", "show", "7001", "--json").out)["campaigns"] == ["C"]
    assert cli("agent", "unassign", "7001", "--campaign", "C").code == 0
    assert sql("select count(*) as n from campaign_agents")[0]["n"] == 0
    missing = cli("agent", "unassign", "7001", "--campaign", "C")
    assert missing.err == 'error: agent "7001" is not assigned to campaign "C"\n'


def test_given_agent_without_calls_when_deleted_then_row_and_assignments_go(cli, sql):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    cli("agent", "assign", "7001", "--campaign", "C")

    r = cli("agent", "delete", "7001")

    assert (r.code, r.err) == (0, "")
    assert _agent(sql, "7001") is None
    assert sql("select count(*) as n from campaign_agents")[0]["n"] == 0


def test_given_agent_with_calls_in_the_ledger_when_deleted_then_refused_and_ledger_intact(cli, sql, snapshot):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    aid = _agent(sql, "7001")["id"]
    sql("insert into attempts (campaign_id, phone_e164, channel_id, agent_id, ended_at, outcome) "
        "select id, '+420601000001', 'ch-1', %s, now(), 'answered' from campaigns", (aid,))
    before = snapshot()

    r = cli("agent", "delete", "7001")

    assert (r.code, r.err) == (
        2, 'error: agent "7001" has calls in the attempts ledger and cannot be deleted; make it inactive instead\n')
    assert snapshot() == before
    assert sql("select agent_id from attempts")[0]["agent_id"] == aid


def test_given_logged_in_agent_when_deleted_then_refused(cli, sql, snapshot):
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    sql("insert into agent_sessions (agent_id, state, state_since, logged_in_at) "
        "select id, 'ready', now(), now() from agents")
    before = snapshot()
    r = cli("agent", "delete", "7001")
    assert (r.code, r.err) == (2, 'error: agent "7001" is logged in; log it out before deleting it\n')
    assert snapshot() == before


def test_given_groups_when_members_added_and_removed_then_agent_groups_follow(cli, sql):
    cli("agent", "create", "7001", "--name", "Ann", "--pin", "1234")
    assert cli("group", "create", "Sales").code == 0

    assert cli("group", "add-member", "Sales", "7001").code == 0
    assert json.loads(cli("group", "list", "--json").out) == [
        {"id": 1, "name": "Sales", "members": ["7001"], "routes": []}]
    dup = cli("group", "add-member", "Sales", "7001")
    assert dup.err == 'error: agent "7001" is already a member of group "Sales"\n'
    assert cli("group", "remove-member", "Sales", "7001").code == 0
    assert sql("select count(*) as n from agent_groups")[0]["n"] == 0
    assert cli("group", "delete", "Sales").code == 0
    assert sql("select count(*) as n from groups")[0]["n"] == 0


def test_given_group_routing_a_campaign_when_deleted_then_refused(cli, snapshot):
    cli("group", "create", "Sales")
    cli("campaign", "create", "C", "--mode", "preview", "--routing", "Sales")
    before = snapshot()
    r = cli("group", "delete", "Sales")
    assert (r.code, r.err) == (2, 'error: group "Sales" takes the calls of campaign "C"; change that campaign\'s routing first\n')
    assert snapshot() == before
    dup = cli("group", "create", "Sales")
    assert (dup.code, dup.err) == (2, 'error: group "Sales" already exists\n')

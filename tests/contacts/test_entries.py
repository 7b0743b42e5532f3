"""`dialer entries move|delete|list`: history and the attempts ledger survive."""
from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def world(make_campaign, sql):
    a, b = make_campaign("a", state="active"), make_campaign("b")
    contact = sql("insert into contacts (name, custom) values ('Rossi', '{\"segment\": \"A\"}') returning id")[0]["id"]
    other = sql("insert into contacts (name, custom) values ('Verdi', '{\"segment\": \"B\"}') returning id")[0]["id"]

    def entry(cid, phone, who=contact, state="ready"):
        sql("select dialer_entries_partition(%s)", (cid,))
        return sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, state) values (%s,%s,%s,%s) "
                   "returning id", (cid, who, phone, state))[0]["id"]

    e1, e2, e3 = entry(a, "+393471234567"), entry(a, "+393471234568", other, "done"), entry(a, "+393471234569")
    for eid, phone in ((e1, "+393471234567"), (e1, "+393471234567"), (e2, "+393471234568")):
        sql("insert into attempts (entry_id, campaign_id, contact_id, phone_e164, channel_id, state, ended_at, outcome) "
            "values (%s, %s, %s, %s, %s, 'ended', now(), 'no_answer')", (eid, a, contact, phone, uuid.uuid4().hex))
    return {"a": a, "b": b, "e1": e1, "e2": e2, "e3": e3, "entry": entry}


def _attempts(sql):
    return sql("select entry_id, campaign_id, phone_e164 from attempts order by id")


def test_given_entries_when_moved_by_ids_then_same_rows_in_target_with_their_attempts(cli, sql, world):
    before = _attempts(sql)
    r = cli("entries", "move", "--to", "b", "--ids", f"{world['e1']},{world['e2']}", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["moved"] == 2
    rows = {e["id"]: e["campaign_id"] for e in sql("select id, campaign_id from campaign_entries")}
    assert rows == {world["e1"]: world["b"], world["e2"]: world["b"], world["e3"]: world["a"]}
    assert _attempts(sql) == before  # the ledger keeps the campaign where each call was made
    assert sql("select count(*) as n from attempts a join campaign_entries e on e.id = a.entry_id "
               "where e.campaign_id = %s", (world["b"],))[0]["n"] == 3


def test_given_selection_by_state_or_filter_when_moved_then_only_those(cli, sql, world):
    assert cli("entries", "move", "--to", "b", "--campaign", "a", "--state", "done").code == 0
    assert sql("select id from campaign_entries where campaign_id = %s", (world["b"],)) == [{"id": world["e2"]}]
    assert cli("entries", "move", "--to", "b", "--campaign", "a", "--filter", "segment = A and phone = "
               "'+393471234569'").code == 0
    assert {e["id"] for e in sql("select id from campaign_entries where campaign_id = %s", (world["b"],))} == {
        world["e2"], world["e3"]}


def test_given_target_has_the_number_when_moved_then_refused_and_nothing_moved(cli, sql, world):
    world["entry"](world["b"], "+393471234567")
    r = cli("entries", "move", "--to", "b", "--ids", f"{world['e3']},{world['e1']}")
    assert (r.code, r.err) == (2, f"error: campaign b already has number +393471234567 (entry {world['e1']}); "
                                  f"nothing was moved\n")
    assert sql("select count(*) as n from campaign_entries where campaign_id = %s", (world["a"],))[0]["n"] == 3


def test_given_open_call_when_moved_or_deleted_then_refused(cli, sql, world):
    busy = world["entry"](world["a"], "+393471234570", state="dialing")
    r = cli("entries", "move", "--to", "b", "--campaign", "a", "--filter", "name = Rossi")
    assert (r.code, r.err) == (2, f"error: entry {busy} has an open call (state dialing); nothing was moved\n")
    r = cli("entries", "delete", "--ids", f"{world['e1']},{busy}")
    assert (r.code, r.err) == (2, f"error: entry {busy} has an open call (state dialing); nothing was deleted\n")
    assert sql("select count(*) as n from campaign_entries where campaign_id = %s", (world["a"],))[0]["n"] == 4


def test_given_entries_with_attempts_when_deleted_then_ledger_rows_survive(cli, sql, world):
    r = cli("entries", "delete", "--campaign", "a", "--filter", "name = Rossi", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["deleted"] == 2
    assert [e["id"] for e in sql("select id from campaign_entries")] == [world["e2"]]
    assert _attempts(sql) == [
        {"entry_id": None, "campaign_id": world["a"], "phone_e164": "+393471234567"},
        {"entry_id": None, "campaign_id": world["a"], "phone_e164": "+393471234567"},
        {"entry_id": world["e2"], "campaign_id": world["a"], "phone_e164": "+393471234568"}]
    assert sql("select count(*) as n from contacts")[0]["n"] == 2  # the directory keeps the contacts


def test_given_bad_selector_when_moving_then_one_sentence(cli, world):
    assert cli("entries", "move", "--to", "b").err == (
        "error: say which entries: --ids 1,2,3, or --campaign C with --filter EXPR or --state S\n")
    assert cli("entries", "move", "--to", "b", "--ids", "1,x").err == (
        "error: --ids item 'x' is not an entry id (use --ids 1,2,3)\n")
    assert cli("entries", "delete", "--ids", "999").err == "error: entry 999 does not exist; nothing was changed\n"
    assert cli("entries", "move", "--to", "a", "--ids", str(world["e1"])).err == (
        f"error: entry {world['e1']} is already in campaign a; nothing was moved\n")


def test_given_campaign_when_entries_listed_then_state_filter_applies(cli, world):
    rows = json.loads(cli("entries", "list", "--campaign", "a", "--state", "ready", "--json").out)
    assert [(r["id"], r["phone"], r["name"]) for r in rows] == [
        (world["e1"], "+393471234567", "Rossi"), (world["e3"], "+393471234569", "Rossi")]

"""`dialer status ...`: the dictionary, campaign statuses, DTMF codes, built-ins."""
from __future__ import annotations

import json

import pytest


def _cstatuses(sql, campaign):
    return sql("select cs.name, cs.dtmf_code, cs.system_status, cs.auto_on, cs.status_id from campaign_statuses cs "
               "join campaigns c on c.id = cs.campaign_id where c.name = %s order by cs.id", (campaign,))


def test_given_options_when_status_created_then_dictionary_row_has_them(cli, sql):
    r = cli("status", "create", "Callback", "--system", "my_record", "--auto-on", "busy,no_answer",
            "--add-to-new-campaigns", "--hidden")

    assert (r.code, r.err) == (0, "")
    row = sql("select * from statuses where name = 'Callback'")[0]
    assert (row["system_status"], row["auto_on"], row["add_to_new_campaigns"], row["hidden"], row["active"], row["protected"]) == (
        "my_record", ["busy", "no_answer"], True, True, True, False)
    listed = json.loads(cli("status", "list", "--json").out)
    assert [s["name"] for s in listed] == ["Call", "Do not call", "Callback"]
    assert [s["builtin"] for s in listed] == [True, True, False]


@pytest.mark.parametrize("args, message", [
    (["Call", "--system", "call_again"], 'status "Call" already exists'),
    (["X", "--system", "later"], "system status 'later' is not one of call_again, my_record, do_not_call, not_before, call_progressive"),
    (["X", "--system", "call_again", "--auto-on", "busy,answered"],
     "auto-on event 'answered' is not one of busy, no_answer, congestion, invalid_number, machine, abandoned"),
])
def test_given_bad_value_when_status_created_then_one_sentence_and_nothing_written(cli, snapshot, args, message):
    before = snapshot()
    r = cli("status", "create", *args)
    assert (r.code, r.err) == (2, f"error: {message}\n")
    assert snapshot() == before


@pytest.mark.parametrize("name", ["Call", "Do not call"])
def test_given_builtin_status_when_deleted_then_refused_before_the_database_trigger(cli, sql, snapshot, name):
    before = snapshot()
    r = cli("status", "delete", name)
    assert (r.code, r.err) == (2, f'error: built-in status "{name}" cannot be deleted\n')
    assert snapshot() == before


def test_given_builtin_status_when_deleted_with_plain_sql_then_the_trigger_also_refuses(sql):
    import psycopg

    with pytest.raises(psycopg.Error):
        sql("delete from statuses where name = 'Call'")
    assert sql("select count(*) as n from statuses where protected")[0]["n"] == 2


def test_given_status_in_campaign_when_deleted_then_dictionary_and_campaign_copies_go(cli, sql):
    cli("status", "create", "Sale", "--system", "do_not_call", "--add-to-new-campaigns")
    cli("campaign", "create", "C", "--mode", "preview")
    assert "Sale" in [s["name"] for s in _cstatuses(sql, "C")]

    r = cli("status", "delete", "Sale")

    assert (r.code, r.err) == (0, "")
    assert sql("select count(*) as n from statuses where name = 'Sale'")[0]["n"] == 0
    assert [s["name"] for s in _cstatuses(sql, "C")] == ["Call", "Do not call"]


def test_given_status_when_edited_then_dictionary_and_campaign_copies_follow(cli, sql):
    cli("status", "create", "Sale", "--system", "call_again", "--add-to-new-campaigns")
    cli("campaign", "create", "C", "--mode", "preview")

    r = cli("status", "edit", "Sale", "--name", "Sold", "--system", "do_not_call", "--auto-on", "machine", "--inactive")

    assert (r.code, r.err) == (0, "")
    row = sql("select * from statuses where name = 'Sold'")[0]
    assert (row["system_status"], row["auto_on"], row["active"]) == ("do_not_call", ["machine"], False)
    copy = [s for s in _cstatuses(sql, "C") if s["status_id"] == row["id"]][0]
    assert (copy["name"], copy["system_status"], copy["auto_on"]) == ("Sold", "do_not_call", ["machine"])


def test_given_builtin_status_when_renamed_then_refused(cli, snapshot):
    before = snapshot()
    r = cli("status", "edit", "Call", "--name", "Ring")
    assert (r.code, r.err) == (2, 'error: built-in status "Call" cannot be renamed\n')
    assert snapshot() == before


def test_given_campaign_when_statuses_added_then_dtmf_codes_follow_in_order_or_as_given(cli, sql):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("status", "create", "Sale", "--system", "do_not_call")
    cli("status", "create", "Later", "--system", "not_before")

    assert cli("status", "add-to-campaign", "Sale", "--campaign", "C").out == 'status "Sale" added to campaign "C" with DTMF 3\n'
    assert cli("status", "add-to-campaign", "Later", "--campaign", "C", "--dtmf", "42").code == 0
    r = cli("status", "campaign-create", "Mine", "--campaign", "C", "--system", "my_record", "--auto-on", "busy")
    assert (r.code, r.err) == (0, "")

    assert [(s["name"], s["dtmf_code"], s["status_id"] is None) for s in _cstatuses(sql, "C")] == [
        ("Call", "1", False), ("Do not call", "2", False), ("Sale", "3", False), ("Later", "42", False), ("Mine", "4", True)]
    listed = json.loads(cli("status", "campaign-list", "--campaign", "C", "--json").out)
    assert [(s["dtmf"], s["name"], s["source"], s["is_default"]) for s in listed] == [
        ("1", "Call", "dictionary", True), ("2", "Do not call", "dictionary", False), ("3", "Sale", "dictionary", False),
        ("4", "Mine", "campaign", False), ("42", "Later", "dictionary", False)]
    assert sql("select count(*) as n from statuses where name = 'Mine'")[0]["n"] == 0  # not in the dictionary


CLASHES = [
    (["status", "add-to-campaign", "Sale", "--campaign", "C", "--dtmf", "2"],
     'DTMF code 2 is already used by status "Do not call" in this campaign'),
    (["status", "campaign-create", "Mine", "--campaign", "C", "--system", "my_record", "--dtmf", "1"],
     'DTMF code 1 is already used by status "Call" in this campaign'),
    (["status", "set-dtmf", "Call", "--campaign", "C", "--dtmf", "2"],
     'DTMF code 2 is already used by status "Do not call" in this campaign'),
    (["status", "set-dtmf", "Call", "--campaign", "C", "--dtmf", "1234"], "DTMF code '1234' must be 1 to 3 digits"),
    (["status", "add-to-campaign", "Call", "--campaign", "C"], 'status "Call" is already in campaign "C"'),
    (["status", "campaign-create", "Call", "--campaign", "C", "--system", "my_record"], 'status "Call" is already in campaign "C"'),
    (["status", "remove-from-campaign", "Call", "--campaign", "C"], 'built-in status "Call" cannot be removed from a campaign'),
    (["status", "remove-from-campaign", "Sale", "--campaign", "C"], 'status "Sale" is not a status of campaign "C"'),
    (["status", "add-to-campaign", "Sale", "--campaign", "Nope"], 'campaign "Nope" does not exist'),
]


def test_given_campaign_statuses_when_clashing_change_then_one_sentence_and_nothing_written(cli, snapshot):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("status", "create", "Sale", "--system", "do_not_call")
    before = snapshot()

    for args in CLASHES:
        r = cli(*args[0])

        assert (r.code != 0, r.err) == (True, f"error: {args[1]}\n"), args[0]
        assert snapshot() == before, args[0]


def test_given_campaign_status_when_dtmf_changed_or_removed_then_stored(cli, sql):
    cli("campaign", "create", "C", "--mode", "preview")
    cli("status", "campaign-create", "Mine", "--campaign", "C", "--system", "my_record")

    assert cli("status", "set-dtmf", "Mine", "--campaign", "C", "--dtmf", "9").code == 0
    assert [s["dtmf_code"] for s in _cstatuses(sql, "C") if s["name"] == "Mine"] == ["9"]
    assert cli("status", "set-dtmf", "Mine", "--campaign", "C", "--dtmf", "9").code == 0  # its own code again is fine
    assert cli("status", "remove-from-campaign", "Mine", "--campaign", "C").code == 0
    assert [s["name"] for s in _cstatuses(sql, "C")] == ["Call", "Do not call"]


def test_given_dictionary_status_as_campaign_default_when_removed_or_deleted_then_refused(cli, sql, snapshot):
    cli("status", "create", "Sale", "--system", "call_again", "--add-to-new-campaigns")
    assert cli("campaign", "create", "C", "--mode", "preview", "--default-status", "Sale").code == 0
    assert sql("select s.name from campaigns c join statuses s on s.id = c.default_status_id")[0]["name"] == "Sale"
    before = snapshot()

    removed = cli("status", "remove-from-campaign", "Sale", "--campaign", "C")
    deleted = cli("status", "delete", "Sale")

    assert removed.err == 'error: status "Sale" is the default status of campaign "C"; change the default first\n'
    assert deleted.err == 'error: status "Sale" is the default status of campaign "C"; change that first\n'
    assert snapshot() == before


def test_given_status_keyed_on_a_call_when_deleted_or_removed_then_refused_and_ledger_keeps_it(cli, sql, snapshot):
    cli("status", "create", "Sale", "--system", "do_not_call", "--add-to-new-campaigns")
    cli("campaign", "create", "C", "--mode", "preview")
    sale = [s for s in _cstatuses(sql, "C") if s["name"] == "Sale"][0]
    csid = sql("select id from campaign_statuses where name = 'Sale'")[0]["id"]
    sql("insert into attempts (campaign_id, phone_e164, channel_id, ended_at, outcome, disposition_status_id) "
        "select id, '+420601000001', 'ch-1', now(), 'answered', %s from campaigns", (csid,))
    before = snapshot()

    deleted = cli("status", "delete", "Sale")
    removed = cli("status", "remove-from-campaign", "Sale", "--campaign", "C")

    assert deleted.err == ('error: status "Sale" is the disposition of 1 calls in the ledger and cannot be deleted; '
                           'make it inactive instead\n')
    assert removed.err == 'error: status "Sale" is the disposition of 1 calls in campaign "C" and cannot be removed from it\n'
    assert snapshot() == before
    assert sale["status_id"] is not None
    assert sql("select disposition_status_id from attempts")[0]["disposition_status_id"] == csid

"""`dialer dnc ...`: numbers in E.164, entries marked dnc at once."""
from __future__ import annotations

import json


def _entry(sql, cid, phone, state="ready"):
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    return sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, state) values (%s, %s, %s, %s) "
               "returning id", (cid, contact, phone, state))[0]["id"]


def test_given_entries_with_number_when_added_to_dnc_then_every_campaign_marks_them(cli, make_campaign, sql):
    a, b = make_campaign("a"), make_campaign("b", state="active")
    e1, e2 = _entry(sql, a, "+393471234567"), _entry(sql, b, "+393471234567", state="callback")
    other = _entry(sql, a, "+393471234568")
    open_call = _entry(sql, b, "+393471234569", state="dialing")
    r = cli("dnc", "add", "347 123 4567", "--region", "IT", "--source", "customer asked", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["entries_marked"] == 2
    states = {row["id"]: row["state"] for row in sql("select id, state from campaign_entries")}
    assert states == {e1: "dnc", e2: "dnc", other: "ready", open_call: "dialing"}
    assert sql("select e164, source from dnc_numbers") == [{"e164": "+393471234567", "source": "customer asked"}]


def test_given_number_when_checked_removed_listed_then_e164_everywhere(cli, sql):
    assert cli("dnc", "add", "+48 512 345 678", "--list", "gdpr").code == 0
    assert cli("dnc", "check", "+48512345678").out == "+48512345678 is on the do-not-call list: gdpr\n"
    listed = json.loads(cli("dnc", "list", "--json").out)
    assert [(row["number"], row["list"]) for row in listed] == [("+48512345678", "gdpr")]
    assert cli("dnc", "remove", "+48 512-345-678").out == "removed +48512345678 from 1 list(s)\n"
    assert cli("dnc", "check", "+48512345678").out == "+48512345678 is not on any do-not-call list\n"
    r = cli("dnc", "remove", "+48512345678")
    assert (r.code, r.err) == (3, "error: number +48512345678 is not on any do-not-call list\n")


def test_given_bad_number_when_added_then_one_sentence_and_nothing_written(cli, sql):
    r = cli("dnc", "add", "12ab")
    assert (r.code, r.err) == (2, 'error: number "12ab" is not in international format (+...); add --region such as IT\n')
    r = cli("dnc", "add", "+39 12ab")
    assert r.err == 'error: number "+39 12ab" has characters other than digits, spaces and ( ) + - .\n'
    assert sql("select count(*) as n from dnc_numbers")[0]["n"] == 0


def test_given_file_of_numbers_when_imported_then_good_ones_added_and_bad_lines_listed(cli, make_campaign, sql,
                                                                                       tmp_path):
    cid = make_campaign("a")
    entry = _entry(sql, cid, "+393471234568")
    path = tmp_path / "dnc.csv"
    path.write_text("number;note\n+39 347 123 4567;x\n347 123 4568\n12ab\n+39 347 123 4567\n", encoding="utf-8")
    r = cli("dnc", "import", path, "--region", "IT", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert (report["read"], report["added"], report["rejected"], report["entries_marked"]) == (4, 2, 1, 1)
    assert report["problems"] == ['line 4: number "12ab" has characters other than digits, spaces and ( ) + - .']
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "dnc"

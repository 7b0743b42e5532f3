"""Directory filters: the parser, bound parameters, and `contacts add-to-campaign`."""
from __future__ import annotations

import json

import pytest

from ari_app.services.filters import And, Compare, FilterError, Not, Or, parse_filter


def test_given_filter_when_parsed_then_tree_with_precedence():
    assert parse_filter("city = Praha and custom.segment in (A,B) or not name is null") == Or(
        And(Compare("custom.city", "=", ("Praha",)), Compare("custom.segment", "in", ("A", "B"))),
        Not(Compare("name", "isnull")))
    assert parse_filter("(Phone not in ('+39 1', \"x\") or email contains '@ex') and tier >= 2") == And(
        Or(Compare("phone", "notin", ("+39 1", "x")), Compare("email", "contains", ("@ex",))),
        Compare("custom.tier", ">=", ("2",)))


@pytest.mark.parametrize("text, message", [
    ("city = ", "filter: the filter ends at position 8 where a value was expected"),
    ("city Praha", "filter: unexpected 'Praha' at position 6 (expected an operator (= != < <= > >= in, not in, "
                   "like, contains, is null, is not null))"),
    ("(city = Praha", "filter: the filter ends at position 14 where ')' was expected"),
    ("city = Praha segment = A", "filter: unexpected 'segment' at position 14 (expected 'and', 'or' or the end "
                                 "of the filter)"),
    ("city in (A,", "filter: the filter ends at position 12 where a value was expected"),
    ("name = 'Rossi", "filter: the quoted value starting at position 8 is not closed"),
    ("and = 1", "filter: unexpected 'and' at position 1 (expected a field such as name, email, phone, timezone or "
                "custom.<key>)"),
    ("city ! Praha", "filter: unexpected '!' at position 6 (did you mean '!='?)"),
])
def test_given_bad_filter_when_parsed_then_position_and_token_named(text, message):
    with pytest.raises(FilterError) as exc:
        parse_filter(text)
    assert str(exc.value) == message


HOSTILE = "x'); drop table contacts; --"


@pytest.fixture
def directory(cli, make_campaign, tmp_path):
    make_campaign("src")
    make_campaign("dst")
    path = tmp_path / "dir.csv"
    path.write_text(
        "Tel;Name;City;Segment;Age\n"
        "601 123 456;Jana Nováková;Praha;A;34\n"
        "601 123 457;Petr Svoboda;Praha;C;51\n"
        "601 123 458;Eva Dvořáková;Brno;B;28\n"
        f"601 123 459;\"{HOSTILE.replace(chr(34), chr(34) * 2)}\";Praha;B;x\n",
        encoding="utf-8")
    r = cli("contacts", "import", path, "--campaign", "src", "--map", "phone=Tel,name=Name", "--region", "CZ")
    assert r.code == 0, r.err


def _add(cli, expression):
    r = cli("contacts", "add-to-campaign", "--campaign", "dst", "--filter", expression, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _dst_names(sql):
    return sorted(r["name"] for r in sql("select c.name from campaign_entries e join contacts c on c.id = e.contact_id "
                                         "join campaigns k on k.id = e.campaign_id where k.name = 'dst'"))


def test_given_directory_when_filtered_into_campaign_then_matching_contacts_added(cli, sql, directory):
    out = _add(cli, "city = Praha and custom.segment in (A,B)")
    assert (out["matched"], out["added"]) == (2, 2)
    assert _dst_names(sql) == sorted(["Jana Nováková", HOSTILE])
    again = _add(cli, "city = Praha and segment in (A,B)")
    assert (again["matched"], again["added"], again["already_in_campaign"]) == (2, 0, 2)


def test_given_numeric_and_text_comparisons_when_filtered_then_numbers_compare_as_numbers(cli, sql, directory):
    assert _add(cli, "age >= 34 and not (name like 'Petr%')")["added"] == 1
    assert _dst_names(sql) == ["Jana Nováková"]
    assert _add(cli, "name contains 'DVOŘ' or phone = '+420601123457'")["added"] == 2


def test_given_hostile_values_when_filtered_then_they_are_plain_values(cli, sql, directory):
    out = _add(cli, f"name = '{HOSTILE.replace(chr(39), chr(39) * 2)}'")
    assert out["added"] == 1
    assert _dst_names(sql) == [HOSTILE]
    assert _add(cli, "city = \"Praha'; delete from contacts; --\"")["matched"] == 0
    r = cli("contacts", "add-to-campaign", "--campaign", "dst", "--filter", "custom.'; drop table x; = A")
    assert (r.code, r.err) == (2, "error: filter: the quoted value starting at position 8 is not closed\n")
    assert _add(cli, "custom.x;drop--table = A or custom.a-b is not null")["matched"] == 0  # keys are values too
    assert sql("select count(*) as n from contacts")[0]["n"] == 4


def test_given_saved_filter_when_used_by_name_then_same_selection(cli, sql, directory):
    expression = f"city = Brno or name = '{HOSTILE.replace(chr(39), chr(39) * 2)}'"
    assert cli("filter", "save", "brno", expression).code == 0
    assert json.loads(cli("filter", "list", "--json").out)[0]["expression"] == expression
    assert _add(cli, "@brno")["added"] == 2
    r = cli("filter", "save", "broken", "city = ")
    assert (r.code, r.err) == (2, "error: filter: the filter ends at position 8 where a value was expected\n")
    assert [f["name"] for f in sql("select name from filters")] == ["brno"]


def test_given_directory_when_listed_with_filter_then_matching_contacts_with_their_numbers(cli, directory):
    rows = json.loads(cli("contacts", "list", "--filter", "city = Praha and age < 40", "--json").out)
    assert [(r["name"], r["phones"], r["timezone"]) for r in rows] == [
        ("Jana Nováková", "+420601123456", "Europe/Prague")]
    unknown = json.loads(cli("contacts", "list", "--filter", "timezone is null", "--json").out)
    assert unknown == []


def test_given_dnc_and_shared_numbers_when_added_by_filter_then_skipped_and_counted(cli, sql, directory,
                                                                                    make_campaign, tmp_path):
    make_campaign("src2")
    path = tmp_path / "twin.csv"
    path.write_text("Tel;Name;City\n+420 601 123 456;Jana again;Praha\n", encoding="utf-8")
    assert cli("contacts", "import", path, "--campaign", "src2", "--map", "phone=Tel,name=Name").code == 0
    assert cli("dnc", "add", "+420601123457").code == 0
    out = _add(cli, "city = Praha")
    assert (out["matched"], out["added"], out["same_number_as_another_contact"], out["dnc_skipped"]) == (4, 2, 1, 1)
    assert _dst_names(sql) == sorted(["Jana Nováková", HOSTILE])
    dry = cli("contacts", "add-to-campaign", "--campaign", "src2", "--filter", "city = Brno", "--dry-run", "--json")
    assert json.loads(dry.out)["added"] == 1
    assert sql("select count(*) as n from campaign_entries e join campaigns c on c.id = e.campaign_id "
               "where c.name = 'src2'")[0]["n"] == 1

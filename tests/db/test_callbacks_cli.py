"""`dialer callbacks` against a real database."""
import datetime as dt
import json

from tests.world import add_agent, add_entries, create_campaign

TOMORROW = "2030-01-15"  # a fixed future winter day: Rome is CET (UTC+1), New York EST (UTC-5)


def _setup(sql):
    cid = create_campaign(sql, name="Spring", mode="progressive", calling_hours_start="08:00",
                          calling_hours_end="21:00", default_region="IT")
    (entry,) = add_entries(sql, cid, ["+390612345678"], tz="Europe/Rome")
    add_agent(sql, "1001", campaigns=[cid])
    return cid, entry


def test_given_entry_when_callback_added_then_pending_and_entry_blocked(cli, sql):
    _, entry = _setup(sql)
    res = cli("callbacks", "add", "--campaign", "Spring", "--phone", "06 1234 5678", "--due", f"{TOMORROW} 15:00",
              "--agent", "1001")
    assert res.code == 0, res.err
    cb = sql("select * from callbacks")[0]
    assert cb["state"] == "pending" and cb["owner_agent_id"] is not None
    assert cb["due_at"] == dt.datetime(2030, 1, 15, 14, 0, tzinfo=dt.timezone.utc)  # 15:00 CET
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "callback"
    listed = cli("callbacks", "list", "--campaign", "Spring", "--json", "--tz", "America/New_York")
    assert "15:00 CET" in listed.out and "09:00 EST" in listed.out


def test_given_due_outside_calling_hours_then_refused_with_reason_and_nothing_written(cli, sql):
    _setup(sql)
    res = cli("callbacks", "add", "--campaign", "Spring", "--phone", "+390612345678", "--due", f"{TOMORROW} 22:30")
    assert res.code != 0
    assert res.err.strip() == "error: due time 22:30 CET is outside calling hours 08:00-21:00 in the contact's time zone"
    assert sql("select count(*) as n from callbacks")[0]["n"] == 0


def test_given_due_in_past_then_refused(cli, sql):
    _setup(sql)
    res = cli("callbacks", "add", "--campaign", "Spring", "--phone", "+390612345678", "--due", "2020-01-01 10:00")
    assert res.code != 0 and "is in the past" in res.err and "Traceback" not in res.err


def test_given_pending_callback_when_cancelled_then_entry_is_ready_again(cli, sql):
    _, entry = _setup(sql)
    cli("callbacks", "add", "--campaign", "Spring", "--phone", "+390612345678", "--due", f"{TOMORROW} 10:00")
    cb = sql("select id from callbacks")[0]["id"]
    assert cli("callbacks", "cancel", str(cb)).code == 0
    assert sql("select state from callbacks")[0]["state"] == "cancelled"
    assert sql("select state from campaign_entries where id = %s", (entry,))[0]["state"] == "ready"
    again = cli("callbacks", "move", str(cb), "--due", f"{TOMORROW} 11:00")
    assert again.code != 0 and again.err.strip() == f"error: callback {cb} is cancelled and can no longer be changed"


def test_given_pending_callback_when_moved_to_other_agent_and_number_then_saved(cli, sql):
    _setup(sql)
    add_agent(sql, "1002")
    cli("callbacks", "add", "--campaign", "Spring", "--phone", "+390612345678", "--due", f"{TOMORROW} 10:00")
    cb = sql("select id from callbacks")[0]["id"]
    res = cli("callbacks", "move", str(cb), "--agent", "1002", "--number", "+39 347 123 4567", "--due", f"{TOMORROW} 12:00")
    assert res.code == 0, res.err
    row = sql("select c.phone_e164, a.extension from callbacks c join agents a on a.id = c.owner_agent_id")[0]
    assert row == {"phone_e164": "+393471234567", "extension": "1002"}


def test_given_a_cancelled_callback_whose_entry_moved_when_listed_then_it_is_still_listed(cli, sql):
    # only pending callbacks move with their entry; the others keep their campaign and stay listed
    _, entry = _setup(sql)
    create_campaign(sql, name="Autumn", mode="progressive")
    cli("callbacks", "add", "--campaign", "Spring", "--phone", "+390612345678", "--due", f"{TOMORROW} 10:00")
    cb = sql("select id from callbacks")[0]["id"]
    assert cli("callbacks", "cancel", str(cb)).code == 0
    moved = cli("entries", "move", "--ids", str(entry), "--to", "Autumn")
    assert moved.code == 0, moved.err
    listed = cli("callbacks", "list", "--campaign", "Spring", "--state", "cancelled", "--json")
    assert listed.code == 0, listed.err
    assert [row["id"] for row in json.loads(listed.out)] == [cb]

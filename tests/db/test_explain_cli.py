"""`dialer campaign explain` names the rule that blocks an entry, in the contact's time."""


def test_given_72_hour_rule_then_explain_names_it_with_the_contact_time(cli, sql):
    cid = sql("insert into campaigns (name, mode, state, timezone, default_region, options, calling_hours_start, calling_hours_end) "
              "values ('uk', 'predictive', 'active', 'Europe/London', 'GB', '{\"rule_72h\": true}', '00:00', '23:59:59') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) values (%s, %s, '+447700900123', 'Europe/London')",
        (cid, contact))
    sql("insert into attempts (campaign_id, phone_e164, channel_id, ended_at, outcome, abandoned) "
        "values (%s, '+447700900123', 'x', '2030-01-10 12:00+00', 'abandoned', true)", (cid,))
    res = cli("campaign", "explain", "uk", "07700 900123", "--at", "2030-01-11T12:00+00:00")
    assert res.code == 0, res.err
    assert "BLOCKED by 72_hour" in res.out and "2030-01-13 12:00 GMT" in res.out


def _entry(sql, **campaign):
    cols = dict(name="it", mode="progressive", state="active", timezone="Europe/Rome", default_region="IT",
                calling_hours_start="08:00", calling_hours_end="21:00")
    cols.update(campaign)
    names = ", ".join(cols)
    cid = sql(f"insert into campaigns ({names}) values ({', '.join(['%s'] * len(cols))}) returning id", tuple(cols.values()))[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    entry = sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) "
                "values (%s, %s, '+390612345678', 'Europe/Rome') returning id", (cid, contact))[0]["id"]
    return cid, contact, entry


def test_explain_names_calling_hours_with_the_contacts_local_time(cli, sql):
    _entry(sql)
    res = cli("campaign", "explain", "it", "06 1234 5678", "--at", "2030-01-15T21:30+01:00")
    assert "BLOCKED by calling_hours" in res.out and "2030-01-15 21:30 CET" in res.out


def test_explain_names_not_before_and_pending_callback_owner(cli, sql):
    cid, contact, entry = _entry(sql)
    sql("update campaign_entries set not_before = '2030-02-01 10:00+01' where id = %s", (entry,))
    res = cli("campaign", "explain", "it", "+390612345678", "--at", "2030-01-15T10:00+01:00")
    assert "BLOCKED by not_before" in res.out and "2030-02-01 10:00 CET" in res.out
    sql("update campaign_entries set not_before = null where id = %s", (entry,))
    agent = sql("insert into agents (extension, display_name, pin_hash) values ('1007', 'Ann', 'x') returning id")[0]["id"]
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at, owner_agent_id) "
        "values (%s, %s, %s, '+390612345678', '2030-01-16 09:00+01', %s)", (cid, entry, contact, agent))
    res = cli("campaign", "explain", "it", "+390612345678", "--at", "2030-01-15T10:00+01:00", "--json")
    import json

    body = json.loads(res.out)
    assert body["rule"] == "callback_pending" and "agent 1007" in body["detail"] and not body["dialable"]


def test_explain_names_closed_schedule_and_says_dialable_when_nothing_blocks(cli, sql):
    _entry(sql, schedule='{"weekly": {"mon": [["09:00", "17:00"]]}}')
    closed = cli("campaign", "explain", "it", "+390612345678", "--at", "2030-01-15T10:00+01:00")  # a Tuesday
    assert "BLOCKED by schedule" in closed.out
    open_ = cli("campaign", "explain", "it", "+390612345678", "--at", "2030-01-14T10:00+01:00")  # a Monday
    assert "DIALABLE" in open_.out


def test_explain_unknown_phone_is_one_sentence_and_non_zero(cli, sql):
    _entry(sql)
    res = cli("campaign", "explain", "it", "+390699999999")
    assert res.code != 0 and res.err.strip() == "error: phone +390699999999 is not in campaign 'it'"


def test_campaign_show_says_why_an_active_campaign_is_not_dialling(cli, sql):
    import json

    cid, _, _ = _entry(sql, schedule='{"weekly": {"mon": [["09:00", "17:00"]]}}')
    body = json.loads(cli("campaign", "show", "it", "--json").out)
    activity = body["settings"]["activity"]
    assert activity.startswith("inactive: outside its schedule") or activity == "inactive: no agent logged in"
    sql("update campaigns set schedule = '{}' where id = %s", (cid,))
    assert json.loads(cli("campaign", "show", "it", "--json").out)["settings"]["activity"] == "inactive: no agent logged in"
    agent = sql("insert into agents (extension, display_name, pin_hash) values ('1', 'a', 'x') returning id")[0]["id"]
    sql("insert into agent_sessions (agent_id, state, state_since, campaign_ids, logged_in_at) "
        "values (%s, 'ready', now(), %s, now())", (agent, [cid]))
    assert json.loads(cli("campaign", "show", "it", "--json").out)["settings"]["activity"] == "dialling with 1 agent(s) logged in"


def test_region_rule_set_by_cli_is_named_by_explain(cli, sql):
    cid, _, _ = _entry(sql)
    res = cli("campaign", "edit", "it", "--region-rule", "+3906 09:00-18:00 max=2")
    assert res.code == 0, res.err
    assert sql("select options from campaigns")[0]["options"]["region_rules"] == [
        {"prefix": "+3906", "start_at": "09:00", "end_at": "18:00", "max_calls": 2}]
    res = cli("campaign", "explain", "it", "+390612345678", "--at", "2030-01-15T19:00+01:00")
    assert "BLOCKED by region_rule" in res.out and "09:00-18:00" in res.out
    bad = cli("campaign", "edit", "it", "--region-rule", "3906 09:00-18:00")
    assert bad.code != 0 and bad.err.strip() == "error: region rule '3906 09:00-18:00' must start with a number prefix such as +1212"

"""`dialer campaign explain` names the rule that blocks an entry, in the contact's time."""


def test_given_72_hour_rule_then_explain_names_it_with_the_contact_time(cli, sql):
    cid = sql("insert into campaigns (name, mode, state, timezone, default_region, options, calling_hours_start, calling_hours_end) "
              "values ('uk', 'predictive', 'active', 'Europe/London', 'GB', '{\"rule_72h\": true}', '00:00', '23:59:59') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) values (%s, %s, '+447700900123', 'Europe/London')",
        (cid, contact))
    sql("insert into attempts (campaign_id, phone_e164, channel_id, ended_at, outcome, abandoned) "
        "values (%s, '+447700900123', 'x', '2030-01-10 12:00+00', 'abandoned', true)", (cid,))
    res = cli("campaign", "explain", "uk", "07700 900123", "--at", "2030-01-11T12:00+00:00")
    assert res.code == 0, res.err
    assert "BLOCKED by 72_hour" in res.out and "2030-01-13 12:00 GMT" in res.out

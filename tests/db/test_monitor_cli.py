"""`dialer monitor` and live agent control from the CLI, against the database."""
import json

from tests.world import add_agent, add_entries, create_campaign


def test_monitor_once_shows_agents_with_their_call_and_campaign_lines(cli, sql):
    cid = create_campaign(sql, name="Spring", mode="predictive")
    agent = add_agent(sql, "1001", campaigns=[cid], name="Ann")
    (entry,) = add_entries(sql, cid, ["+390611110001"])
    sql("insert into agent_sessions (agent_id, state, state_since, campaign_ids, logged_in_at) "
        "values (%s, 'on_call', now() - interval '42 seconds', %s, now())", (agent, [cid]))
    sql("insert into attempts (campaign_id, entry_id, phone_e164, channel_id, agent_id, answered_at, connected_at) "
        "values (%s, %s, '+390611110001', 'c1', %s, now(), now() - interval '30 seconds')", (cid, entry, agent))
    sql("insert into attempts (campaign_id, phone_e164, channel_id, answered_at) values (%s, '+390611110002', 'c2', now())", (cid,))
    res = cli("monitor", "--once", "--json")
    assert res.code == 0, res.err
    view = json.loads(res.out)
    (a,) = view["agents"]
    assert (a["extension"], a["state"], a["campaigns"], a["call_number"]) == ("1001", "on_call", "Spring", "+390611110001")
    assert a["in_state_s"] >= 42 and a["call_s"] >= 30
    (c,) = view["campaigns"]
    assert (c["name"], c["lines"], c["waiting"]) == ("Spring", 2, 1)
    table = cli("monitor", "--once")
    assert "AGENTS" in table.out and "CAMPAIGNS" in table.out and "Spring" in table.out


def test_agent_pause_for_an_agent_without_a_phone_is_one_sentence(cli, sql):
    add_agent(sql, "1001")
    res = cli("agent", "pause", "1001")
    assert res.code != 0 and res.err.strip() == "error: agent 1001 is not logged in on a phone"
    res = cli("agent", "pause", "9999")
    assert res.code != 0 and res.err.strip() == "error: agent '9999' does not exist"
    assert sql("select count(*) as n from agent_commands")[0]["n"] == 0


def test_agent_command_with_no_running_dialer_expires_with_a_clear_error(cli, sql):
    agent = add_agent(sql, "1001")
    sql("insert into agent_sessions (agent_id, state, state_since, logged_in_at) values (%s, 'ready', now(), now())", (agent,))
    res = cli("agent", "unpause", "1001")
    assert res.code != 0 and "no running dialer took the command for agent 1001" in res.err
    assert sql("select result from agent_commands")[0]["result"] == "expired"

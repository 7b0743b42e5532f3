"""Live agent control (issue 7): a supervisor logs an agent into another campaign for the shift,
assignments changed by an admin reach the live session at once, and logout ends the session."""
from __future__ import annotations

from ari_app.services.agent_control import send_agent_command
from ari_app.services.agents import assign, unassign
from tests.e2e.conftest import login
from tests.world import add_agent, add_entries, create_campaign, eventually


def _calls_of(sql, cid):
    return sql("select id from attempts where campaign_id = %s", (cid,))


def _assigned(sql, agent):
    return sorted(r["campaign_id"] for r in sql("select campaign_id from campaign_agents where agent_id = %s", (agent,)))


async def test_given_login_to_another_campaign_then_the_agent_takes_its_calls_without_being_assigned(db, sql, sim, dialer):
    home = create_campaign(sql, name="Home", mode="progressive", wrapup_seconds=1)
    other = create_campaign(sql, name="Other", mode="progressive", wrapup_seconds=1)
    agent = add_agent(sql, "1001", campaigns=[home])
    sim.script_number("+390611117001", answer_after=0.2, talk=1.0)
    add_entries(sql, other, ["+390611117001"])
    phone = await login(sim, dialer, "1001")
    assert not _calls_of(sql, other)  # not assigned: Other's entry waits

    assert await send_agent_command(dialer.db, "1001", "login", campaign="Other") == "logged in to campaign"
    await eventually(lambda: sql("select 1 from attempts where campaign_id = %s and connected_at is not null", (other,)),
                     timeout=15, what="the agent takes Other's call")
    assert _assigned(sql, agent) == [home]  # for this session only
    session = sql("select campaign_ids from agent_sessions where logged_out_at is null")[0]
    assert sorted(session["campaign_ids"]) == sorted([home, other])

    assert await send_agent_command(dialer.db, "1001", "logout") == "logged out"
    await eventually(lambda: not phone.is_up, what="the agent's phone hung up")
    await eventually(lambda: sql("select logged_out_at from agent_sessions")[0]["logged_out_at"], what="session closed")
    assert _assigned(sql, agent) == [home]


async def test_given_assignment_added_and_removed_while_logged_in_then_the_live_session_follows(db, sql, sim, dialer):
    home = create_campaign(sql, name="Home", mode="progressive", wrapup_seconds=1)
    extra = create_campaign(sql, name="Extra", mode="progressive", wrapup_seconds=1)
    add_agent(sql, "1001", campaigns=[home])
    for n in ("+390611117101", "+390611117102"):
        sim.script_number(n, answer_after=0.2, talk=0.5)
    add_entries(sql, extra, ["+390611117101"])
    await login(sim, dialer, "1001")

    await assign(dialer.db, "1001", "Extra")
    await eventually(lambda: sql("select 1 from attempts where campaign_id = %s", (extra,)), timeout=15,
                     what="a call for the newly assigned campaign")
    await eventually(lambda: sql("select 1 from attempts where campaign_id = %s and ended_at is not null", (extra,)),
                     timeout=15, what="that call ended")

    await unassign(dialer.db, "1001", "Extra")
    await eventually(lambda: extra not in sql("select campaign_ids from agent_sessions where logged_out_at is null")[0]["campaign_ids"],
                     timeout=15, what="Extra gone from the live session")
    add_entries(sql, extra, ["+390611117102"])
    await eventually(lambda: any(a.phase == "idle" and a.state.value == "ready" for a in dialer.agents.values()),
                     timeout=15, what="agent ready again")
    # Extra keeps its entry: with no agent of its own it places no call (progressive), however
    # many dialing rounds pass with the agent ready.
    rounds = dialer.metrics.ticks
    await eventually(lambda: dialer.metrics.ticks >= rounds + 20, timeout=15, what="twenty dialing rounds")
    assert len(_calls_of(sql, extra)) == 1

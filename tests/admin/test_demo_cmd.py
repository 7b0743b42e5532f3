"""`make demo` runs `dialer demo`: the service, the simulator and simulated agents on a real database."""
from __future__ import annotations

import logging
import re


def test_given_a_fresh_database_when_the_demo_runs_then_agents_take_live_calls_and_it_stops_cleanly(cli, sql, caplog):
    caplog.set_level(logging.WARNING)
    result = cli("demo", "--duration", "8", "--time-scale", "20", "--agents", "4", "--contacts", "60")
    assert result.code == 0, result.err
    views = [line for line in result.out.splitlines() if line.startswith("agents:")]
    assert views, result.out
    last = views[-1]
    placed = int(re.search(r"placed:\s+(\d+)", last).group(1))
    live = int(re.search(r"answered \(live\):\s+(\d+)", last).group(1))
    assert placed > 0 and live > 0, last
    # the view counts what the ledger holds, calls still in progress included
    ledger = sql("select count(*) as placed, count(*) filter (where connected_at is not null or abandoned) as live "
                 "from attempts")[0]
    assert ledger["placed"] >= placed and ledger["live"] >= live
    assert sql("select count(*) as n from agent_sessions")[0]["n"] == 4
    # a clean stop: nothing logged at ERROR (a failed task, a failed reconcile) and no traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert "Traceback" not in result.err

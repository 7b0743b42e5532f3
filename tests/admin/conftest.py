from __future__ import annotations

import pytest


@pytest.fixture
def snapshot(sql):
    """Row counts of every admin table: equal before and after a refused command means nothing was written."""
    tables = ("campaigns", "campaign_statuses", "statuses", "agents", "groups", "agent_groups",
              "campaign_agents", "campaign_entries", "contacts")

    def take() -> dict:
        counts = {t: sql(f"select count(*) as n from {t}")[0]["n"] for t in tables}
        counts["campaign_rows"] = sql("select * from campaigns order by id")
        counts["status_rows"] = sql("select * from statuses order by id")
        counts["agent_rows"] = sql("select * from agents order by id")
        counts["campaign_status_rows"] = sql("select * from campaign_statuses order by id")
        return counts

    return take


def add_entries(sql, campaign_id: int, rows: list[tuple[str, str, int]]) -> list[int]:
    """Insert contacts and their entries: (phone, state, attempts) each. Returns entry ids."""
    ids = []
    sql("select dialer_entries_partition(%s)", (campaign_id,))  # the campaign's partition (migration 0005)
    for phone, state, attempts in rows:
        contact = sql("insert into contacts (name, timezone) values (%s, 'Europe/Prague') returning id", (phone,))[0]["id"]
        ids.append(sql(
            "insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, state, attempts, priority) "
            "values (%s, %s, %s, 'Europe/Prague', %s, %s, 2) returning id",
            (campaign_id, contact, phone, state, attempts),
        )[0]["id"])
    return ids

"""The claim query: same verdicts as the pure rules, no double claims, leases that lapse."""
import asyncio
import datetime as dt
import random

from ari_app.db.claim import claim_entries, release_expired_leases
from ari_app.domain.dialability import CampaignFacts, EntryFactsForDial, explain_entry
from ari_app.domain.enums import CampaignState, EntryState
from ari_app.domain.time_rules import CallingHours, schedule_open

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)  # 13:00 Rome, 07:00 New York
ZONES = ["Europe/Rome", "America/New_York", "Asia/Tokyo", None]


def _setup(sql, n=300, seed=7):
    rng = random.Random(seed)
    cid = sql("insert into campaigns (name, mode, state, max_attempts, timezone) values ('c', 'predictive', 'active', 3, 'Europe/Warsaw') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    for i in range(n):
        phone = f"+3906{i:07d}"
        state = rng.choice(["ready"] * 6 + ["done", "dnc", "reserved"])
        attempts = rng.choice([0, 0, 1, 2, 3])
        nxt = rng.choice([None, NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=1)])
        nb = rng.choice([None, None, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)])
        tz = rng.choice(ZONES)
        prog = rng.random() < 0.1
        sql(
            "insert into campaign_entries (campaign_id, contact_id, phone_e164, state, attempts, next_attempt_at, not_before, timezone, progressive_only) "
            "values (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (cid, contact, phone, state, attempts, nxt, nb, tz, prog),
        )
        if rng.random() < 0.05:
            sql("insert into dnc_numbers (list_id, e164) values (1, %s)", (phone,))
        if rng.random() < 0.05:
            sql("insert into attempts (campaign_id, phone_e164, channel_id) values (%s, %s, %s)", (cid, phone, f"open-{i}"))
    return cid


async def _claim_all(db, cid, now=NOW, limit=10_000, owner="a"):
    hours = CallingHours()
    async with db.transaction() as s:
        return await claim_entries(
            s, campaign_id=cid, limit=limit, now=now, max_attempts=3, calling_hours=hours,
            campaign_zone_open=hours.allows("Europe/Warsaw", now), lease_owner=owner, lease_seconds=60,
        )


async def test_given_random_entries_then_claim_takes_exactly_those_explain_calls_dialable(db, sql):
    cid = _setup(sql)
    rows = sql(
        "select e.id, e.state, e.attempts, e.next_attempt_at, e.not_before, e.owner_agent_id, e.timezone, e.progressive_only, exists(select 1 from dnc_numbers d where d.e164 = e.phone_e164) as on_dnc, "
        "exists(select 1 from attempts a where a.phone_e164 = e.phone_e164 and a.ended_at is null) as open_call "
        "from campaign_entries e"
    )
    facts = CampaignFacts(CampaignState.ACTIVE, "Europe/Warsaw", {}, CallingHours(), 3)
    expected = set()
    for r in rows:
        verdict = explain_entry(
            facts,
            EntryFactsForDial(EntryState(r["state"]), r["attempts"], r["next_attempt_at"], r["not_before"],
                              r["owner_agent_id"], r["timezone"], r["progressive_only"]),
            NOW, on_dnc=r["on_dnc"], open_call=r["open_call"],
        )
        if verdict.dialable:
            expected.add(r["id"])
    claimed = await _claim_all(db, cid)
    assert expected, "the random data must contain dialable entries for this test to mean anything"
    assert {c.id for c in claimed} == expected
    assert {r["state"] for r in sql("select state from campaign_entries where id = any(%s)", (list(expected),))} == {"dialing"}


async def test_given_two_claimers_at_once_then_no_entry_is_claimed_twice(db, sql):
    cid = _setup(sql, n=400, seed=3)
    results = await asyncio.gather(*[_claim_all(db, cid, limit=7, owner=f"w{i}") for i in range(12)])
    ids = [c.id for batch in results for c in batch]
    assert len(ids) == len(set(ids)) and len(ids) > 7


async def test_given_lapsed_lease_without_open_call_then_entry_is_ready_again(db, sql):
    cid = _setup(sql, n=50, seed=5)
    claimed = await _claim_all(db, cid, limit=3)
    assert claimed
    async with db.transaction() as s:
        assert await release_expired_leases(s, NOW + dt.timedelta(seconds=30)) == []
    async with db.transaction() as s:
        released = await release_expired_leases(s, NOW + dt.timedelta(seconds=61))
    assert sorted(released) == sorted(c.id for c in claimed)


async def test_given_closed_schedule_rule_then_explain_blocks_with_schedule():
    facts = CampaignFacts(CampaignState.ACTIVE, "Europe/Rome", {"weekly": {"mon": [["09:00", "10:00"]]}}, CallingHours(), 3)
    entry = EntryFactsForDial(EntryState.READY, 0, None, None, None, "Europe/Rome", False)
    verdict = explain_entry(facts, entry, NOW, on_dnc=False, open_call=False)
    assert (verdict.dialable, verdict.rule) == (False, "schedule")
    assert not schedule_open(facts.schedule, "Europe/Rome", NOW)


async def test_given_unknown_contact_zone_then_campaign_zone_used_and_flagged():
    facts = CampaignFacts(CampaignState.ACTIVE, "America/New_York", {}, CallingHours(), 3)
    entry = EntryFactsForDial(EntryState.READY, 0, None, None, None, None, False)
    verdict = explain_entry(facts, entry, NOW, on_dnc=False, open_call=False)  # 07:00 in New York
    assert verdict.rule == "calling_hours" and "07:00" in verdict.detail
    assert verdict.flags and "time zone unknown" in verdict.flags[0]


async def test_given_dst_change_day_then_claim_respects_contact_local_calling_hours(db, sql):
    """New York springs forward on 2026-03-08: 08:00 local is 12:00 UTC that day, not 13:00."""
    cid = sql("insert into campaigns (name, mode, state, timezone) values ('d', 'predictive', 'active', 'UTC') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) values (%s, %s, '+12125550100', 'America/New_York')", (cid, contact))
    hours = CallingHours()

    async def claim_at(now):
        async with db.transaction() as s:
            got = await claim_entries(s, campaign_id=cid, limit=1, now=now, max_attempts=3, calling_hours=hours,
                                      campaign_zone_open=False, lease_owner="a", lease_seconds=60)
            await s.rollback()
        return got

    assert await claim_at(dt.datetime(2026, 3, 8, 11, 59, tzinfo=dt.timezone.utc)) == []
    assert len(await claim_at(dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.timezone.utc))) == 1


async def test_given_72_hour_rule_then_number_with_abandoned_last_call_waits_unless_agent_guaranteed(db, sql):
    cid = sql("insert into campaigns (name, mode, state, timezone, options) values ('uk', 'predictive', 'active', 'UTC', "
              "'{\"rule_72h\": true}') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) values (%s, %s, '+447700900123', 'UTC')",
        (cid, contact))
    sql("insert into attempts (campaign_id, phone_e164, channel_id, ended_at, outcome, abandoned) "
        "values (%s, '+447700900123', 'x', %s, 'abandoned', true)", (cid, NOW - dt.timedelta(hours=71)))

    async def claim(now, guaranteed):
        async with db.transaction() as s:
            got = await claim_entries(s, campaign_id=cid, limit=1, now=now, max_attempts=5, calling_hours=CallingHours(),
                                      campaign_zone_open=True, lease_owner="a", lease_seconds=60, rule_72h=True,
                                      guaranteed=guaranteed)
            await s.rollback()
        return len(got)

    assert await claim(NOW, guaranteed=False) == 0
    assert await claim(NOW, guaranteed=True) == 1  # an agent is waiting for this call: allowed
    assert await claim(NOW + dt.timedelta(hours=1, minutes=1), guaranteed=False) == 1


async def test_given_region_rule_then_prefix_numbers_keep_its_hours_and_daily_cap(db, sql):
    cid = sql("insert into campaigns (name, mode, state, timezone) values ('us', 'predictive', 'active', 'UTC') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    for phone in ("+12125550100", "+13105550100"):
        sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone) values (%s, %s, %s, 'America/New_York')",
            (cid, contact, phone))
    rules = [{"prefix": "+1212", "start_at": "08:00", "end_at": "20:00", "max_calls": 3}]

    async def claimed(now):
        async with db.transaction() as s:
            got = await claim_entries(s, campaign_id=cid, limit=5, now=now, max_attempts=9, calling_hours=CallingHours(),
                                      campaign_zone_open=True, lease_owner="a", lease_seconds=60, region_rules=rules)
            await s.rollback()
        return sorted(e.phone_e164 for e in got)

    at_2030_local = dt.datetime(2030, 1, 15, 1, 30, tzinfo=dt.timezone.utc)  # 20:30 in New York
    assert await claimed(at_2030_local) == ["+13105550100"]  # 212 stops at 20:00, the rest until 21:00
    at_noon = dt.datetime(2030, 1, 15, 17, 0, tzinfo=dt.timezone.utc)
    assert await claimed(at_noon) == ["+12125550100", "+13105550100"]
    for i in range(3):
        sql("insert into attempts (campaign_id, phone_e164, channel_id, created_at, ended_at) values (%s, '+12125550100', %s, %s, %s)",
            (cid, f"x{i}", at_noon - dt.timedelta(hours=i + 1), at_noon - dt.timedelta(hours=i + 1)))
    assert await claimed(at_noon) == ["+13105550100"]  # three calls in 24 h: no fourth


async def test_given_pending_callback_then_no_entry_of_that_contact_in_the_campaign_is_claimed(db, sql):
    cid = sql("insert into campaigns (name, mode, state, timezone) values ('cb', 'predictive', 'active', 'UTC') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('two phones') returning id")[0]["id"]
    other = sql("insert into contacts (name) values ('other') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    ids = [sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, timezone, state) values (%s, %s, %s, 'UTC', %s) "
               "returning id", (cid, k, p, st))[0]["id"]
           for k, p, st in ((contact, "+390611110001", "callback"), (contact, "+393471110001", "ready"), (other, "+390611110002", "ready"))]
    sql("insert into callbacks (campaign_id, entry_id, contact_id, phone_e164, due_at) values (%s, %s, %s, '+390611110001', %s)",
        (cid, ids[0], contact, NOW + dt.timedelta(hours=2)))
    async with db.transaction() as s:
        got = await claim_entries(s, campaign_id=cid, limit=5, now=NOW, max_attempts=5, calling_hours=CallingHours(),
                                  campaign_zone_open=True, lease_owner="a", lease_seconds=60)
    assert [e.id for e in got] == [ids[2]]  # the contact's other phone waits for the callback too


async def test_given_many_entries_when_leases_are_swept_then_only_the_entries_in_flight_are_read(db, sql):
    # renew_leases and release_expired_leases run every ten seconds on every instance, the check
    # for campaigns with nothing left to dial every two: they must not read every entry of every
    # campaign (migration 0008's partial index, and the claim index for the ready ones).
    from sqlalchemy import text

    from ari_app.db.claim import renew_leases
    from ari_app.db.store import complete_exhausted_campaigns

    cid = sql("insert into campaigns (name, mode, state) values ('big', 'predictive', 'active') returning id")[0]["id"]
    contact = sql("insert into contacts (name) values ('x') returning id")[0]["id"]
    sql("select dialer_entries_partition(%s)", (cid,))
    sql("insert into campaign_entries (campaign_id, contact_id, phone_e164, state, lease_owner, lease_until) "
        "select %s, %s, '+3906' || g, case when g <= 3 then 'dialing' else 'ready' end, "
        "case when g <= 3 then 'me' end, case when g <= 3 then now() - interval '1 hour' end "
        "from generate_series(1, 20000) g", (cid, contact))
    sql("analyze campaign_entries")
    now = dt.datetime.now(dt.timezone.utc)
    async with db.transaction() as s:
        for query in (r"update campaign_entries set lease_until = now() where lease_owner = 'me' "
                      r"and state in ('dialing', 'reserved')",
                      r"select id from campaign_entries e where e.state in ('dialing', 'reserved') and e.lease_until < now()",
                      r"select id from campaigns c where not exists (select 1 from campaign_entries e "
                      r"where e.campaign_id = c.id and e.state in ('reserved', 'dialing', 'callback'))"):
            plan = "\n".join(row[0] for row in (await s.execute(text("explain " + query))).all())
            assert "lease_until_idx" in plan, plan  # the partition's copy of ix_entries_in_flight
            assert "Seq Scan on campaign_entries" not in plan, plan
        # and they still find what they look for
        await renew_leases(s, "me", now, 30)
        assert len(await release_expired_leases(s, now + dt.timedelta(seconds=60))) == 3
        await s.execute(text("update campaign_entries set state = 'done' where state = 'ready'"))
        await s.execute(text("update campaign_entries set state = 'callback' where id = (select min(id) from campaign_entries)"))
        assert await complete_exhausted_campaigns(s, now) == []  # one entry waits for its callback
    async with db.transaction() as s:
        await s.execute(text("update campaign_entries set state = 'done'"))
        assert await complete_exhausted_campaigns(s, now) == [cid]

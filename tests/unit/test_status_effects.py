import datetime as dt

import pytest

from ari_app.domain.enums import EntryState, Outcome, SystemStatus
from ari_app.domain.status_effects import EntryFacts, StatusView, apply_status, automatic_status

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)
RULES = {"busy": {"delay_seconds": 600, "max": 2}}


def st(system, name="s", auto=()):
    return StatusView(1, name, system, tuple(auto))


def test_given_busy_with_rule_then_retried_after_rule_delay():
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.BUSY, None, RULES, NOW)
    assert upd.state is EntryState.READY and upd.next_attempt_at == NOW + dt.timedelta(minutes=10)


def test_given_outcome_count_at_rule_max_then_exhausted():
    assert apply_status(EntryFacts(2, 5, 2), Outcome.BUSY, None, RULES, NOW).state is EntryState.EXHAUSTED


def test_given_max_attempts_reached_then_exhausted_even_when_status_says_call_again():
    upd = apply_status(EntryFacts(5, 5, 1), Outcome.ANSWERED, st(SystemStatus.CALL_AGAIN), RULES, NOW)
    assert upd.state is EntryState.EXHAUSTED


def test_given_do_not_call_status_then_entry_dnc_and_number_listed():
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.ANSWERED, st(SystemStatus.DO_NOT_CALL), RULES, NOW)
    assert upd.state is EntryState.DNC and upd.add_to_dnc


def test_given_not_before_status_then_held_until_date():
    when = NOW + dt.timedelta(days=3)
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.ANSWERED, st(SystemStatus.NOT_BEFORE), RULES, NOW, when=when)
    assert upd.state is EntryState.READY and upd.not_before == when
    with pytest.raises(ValueError):
        apply_status(EntryFacts(1, 5, 1), Outcome.ANSWERED, st(SystemStatus.NOT_BEFORE), RULES, NOW)


def test_given_my_record_then_owned_by_agent():
    when = NOW + dt.timedelta(hours=2)
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.ANSWERED, st(SystemStatus.MY_RECORD), RULES, NOW, agent_id=7, when=when)
    assert (upd.state, upd.owner_agent_id, upd.callback_at) == (EntryState.CALLBACK, 7, when)


def test_given_my_record_for_any_agent_to_another_number_then_no_owner_and_the_callback_calls_that_number():
    when = NOW + dt.timedelta(hours=2)
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.ANSWERED, st(SystemStatus.MY_RECORD), RULES, NOW, agent_id=7,
                       when=when, personal=False, callback_phone="+390611110001")
    assert (upd.state, upd.owner_agent_id, upd.callback_at, upd.callback_phone) == (
        EntryState.CALLBACK, None, when, "+390611110001")


def test_given_call_progressive_then_retried_only_with_guaranteed_agent():
    upd = apply_status(EntryFacts(1, 5, 1), Outcome.ABANDONED, st(SystemStatus.CALL_PROGRESSIVE), RULES, NOW)
    assert upd.state is EntryState.READY and upd.progressive_only


def test_given_status_marked_auto_on_busy_then_it_is_the_automatic_status():
    busy = st(SystemStatus.CALL_AGAIN, "Busy", ("busy",))
    assert automatic_status([st(SystemStatus.CALL_AGAIN), busy], Outcome.BUSY) is busy
    assert automatic_status([busy], Outcome.NO_ANSWER) is None

import pytest

from ari_app.domain.attempt import TRANSITIONS, AttemptEvent, AttemptState, IllegalTransition, next_state
from ari_app.domain.enums import Outcome
from ari_app.domain.outcomes import unanswered_outcome


@pytest.mark.parametrize(
    "dialstatus, cause, outcome",
    [
        ("BUSY", 0, Outcome.BUSY),  # Local ;1 reports cause 0 for Busy(); Dial tells the truth
        ("CONGESTION", 0, Outcome.CONGESTION),
        ("RINGING", 19, Outcome.NO_ANSWER),  # originate timeout while ringing
        ("NOANSWER", 1, Outcome.INVALID_NUMBER),  # Local Hangup(1)
        ("BUSY", 17, Outcome.BUSY),  # PJSIP 486
        ("NOANSWER", 18, Outcome.NO_ANSWER),  # PJSIP target not responding
        ("", 0, Outcome.FAILED),  # Local to a missing extension: nothing tells more
        (None, 34, Outcome.CONGESTION),
        ("CHANUNAVAIL", 0, Outcome.FAILED),
    ],
)
def test_given_recorded_asterisk_results_then_outcome_is_mapped(dialstatus, cause, outcome):
    assert unanswered_outcome(dialstatus, cause) is outcome


def test_given_each_open_state_when_ended_then_attempt_is_ended():
    for state in AttemptState:
        if state is AttemptState.ENDED:
            continue
        assert next_state(state, AttemptEvent.ENDED) is AttemptState.ENDED


def test_given_ended_attempt_when_any_event_then_transition_is_illegal():
    for event in AttemptEvent:
        with pytest.raises(IllegalTransition):
            next_state(AttemptState.ENDED, event)


def test_given_ringing_when_bridged_then_illegal_because_only_answered_calls_meet_agents():
    with pytest.raises(IllegalTransition):
        next_state(AttemptState.RINGING, AttemptEvent.BRIDGED)


def test_the_happy_path_walks_the_table():
    path = [AttemptEvent.ORIGINATE_SENT, AttemptEvent.RINGING, AttemptEvent.ANSWERED, AttemptEvent.BRIDGED, AttemptEvent.ENDED]
    state = AttemptState.CREATED
    for event in path:
        state = next_state(state, event)
    assert state is AttemptState.ENDED
    assert (AttemptState.ANSWERED, AttemptEvent.NO_AGENT) in TRANSITIONS

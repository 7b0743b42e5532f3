"""The call-attempt state machine: one transition table that fits on a screen.

    created --originate_sent--> originating --ringing--> ringing
    originating|ringing --answered--> answered
    answered --amd_started--> detecting --human--> answered
    detecting --machine--> machine
    answered --bridged--> connected
    answered --no_agent--> abandoning            (2 s passed without a free agent)
    any open --ended--> ended                    (hangup, failure, lost on reconcile)

An illegal transition raises, so a bug shows up as an error instead of a wrong ledger row.
"""
from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger(__name__)


class AttemptState(StrEnum):
    CREATED = "created"  # row committed, originate not yet sent
    ORIGINATING = "originating"
    RINGING = "ringing"
    ANSWERED = "answered"  # customer up, looking for an agent
    DETECTING = "detecting"  # answering-machine detection running
    MACHINE = "machine"  # an answering machine: playing the message or hanging up
    CONNECTED = "connected"  # bridged with an agent
    ABANDONING = "abandoning"  # playing the information message
    ENDED = "ended"


class AttemptEvent(StrEnum):
    ORIGINATE_SENT = "originate_sent"
    RINGING = "ringing"
    ANSWERED = "answered"
    AMD_STARTED = "amd_started"
    HUMAN = "human"
    MACHINE = "machine"
    BRIDGED = "bridged"
    NO_AGENT = "no_agent"
    ENDED = "ended"


class IllegalTransition(RuntimeError):
    pass


S, E = AttemptState, AttemptEvent
_OPEN = [s for s in S if s is not S.ENDED]

TRANSITIONS: dict[tuple[AttemptState, AttemptEvent], AttemptState] = {
    (S.CREATED, E.ORIGINATE_SENT): S.ORIGINATING,
    (S.ORIGINATING, E.RINGING): S.RINGING,
    (S.RINGING, E.RINGING): S.RINGING,
    (S.ORIGINATING, E.ANSWERED): S.ANSWERED,
    (S.RINGING, E.ANSWERED): S.ANSWERED,
    (S.ANSWERED, E.AMD_STARTED): S.DETECTING,
    (S.DETECTING, E.HUMAN): S.ANSWERED,
    (S.DETECTING, E.MACHINE): S.MACHINE,
    (S.ANSWERED, E.BRIDGED): S.CONNECTED,
    (S.ANSWERED, E.NO_AGENT): S.ABANDONING,
    **{(s, E.ENDED): S.ENDED for s in _OPEN},
}


def next_state(state: AttemptState, event: AttemptEvent, *, attempt_id: object = None) -> AttemptState:
    try:
        new = TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"attempt {attempt_id}: no transition from {state} on {event}") from None
    log.debug("attempt %s: %s --%s--> %s", attempt_id, state, event, new)
    return new

"""One table from what Asterisk reports to what happened to the call.

Note the recorded traces: a Local channel reports cause 0 on its ``;1`` half for busy and congestion
while the ``Dial`` event's ``dialstatus`` carries the real status, so dialstatus is read first and
the hangup cause only when no dialstatus tells.
"""
from __future__ import annotations

from ari_app.domain.enums import Outcome

DIALSTATUS_OUTCOME: dict[str, Outcome] = {
    "BUSY": Outcome.BUSY,
    "CONGESTION": Outcome.CONGESTION,
    "CHANUNAVAIL": Outcome.FAILED,
    "NOANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.NO_ANSWER,
    "INVALIDARGS": Outcome.FAILED,
}

# Q.850 causes of calls that never answered.
CAUSE_OUTCOME: dict[int, Outcome] = {
    1: Outcome.INVALID_NUMBER,  # unallocated number
    2: Outcome.INVALID_NUMBER,  # no route to network
    3: Outcome.INVALID_NUMBER,  # no route to destination
    22: Outcome.INVALID_NUMBER,  # number changed
    28: Outcome.INVALID_NUMBER,  # invalid number format
    17: Outcome.BUSY,  # user busy
    21: Outcome.BUSY,  # call rejected
    18: Outcome.NO_ANSWER,  # no user responding
    19: Outcome.NO_ANSWER,  # user alerting, no answer
    20: Outcome.FAILED,  # subscriber absent
    27: Outcome.FAILED,  # destination out of order
    34: Outcome.CONGESTION,  # circuit/channel congestion
    38: Outcome.CONGESTION,  # network out of order
    41: Outcome.CONGESTION,  # temporary failure
    42: Outcome.CONGESTION,  # switching equipment congestion
    44: Outcome.CONGESTION,
}


def unanswered_outcome(dialstatus: str | None, cause: int | None) -> Outcome:
    """The outcome of a call that ended without being answered."""
    status = (dialstatus or "").upper()
    # Dial NOANSWER with cause 1 is how an unallocated number looks through a Local channel.
    if cause in (1, 2, 3, 22, 28):
        return Outcome.INVALID_NUMBER
    if status in DIALSTATUS_OUTCOME:
        return DIALSTATUS_OUTCOME[status]
    if cause is not None and cause in CAUSE_OUTCOME:
        return CAUSE_OUTCOME[cause]
    return Outcome.FAILED

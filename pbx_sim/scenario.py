"""Who answers: the simulated called party behind a dialled number.

A scenario turns a dialled number into a `Party`: what the far end does (answer, busy, ...) and when.
Two ways, as the issue asks: a number plan (the hundreds digit of the last three digits, as the
reference traces' sim-customers context) or seeded probabilities with lognormal ring and talk times.
Per-number scripts override both.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np

from pbx_sim.config import SimConfig

ANSWER = "answer"  # rings, answers, talks, hangs up
BUSY = "busy"
NO_ANSWER = "noanswer"
CONGESTION = "congestion"
INVALID = "invalid"  # unallocated number, cause 1
MACHINE = "machine"
SHORT = "short"  # answers at once, hangs up after a few seconds (5xx)
DTMF = "dtmf"  # answers and sends DTMF (8xx)
KINDS = (ANSWER, BUSY, NO_ANSWER, CONGESTION, INVALID, MACHINE, SHORT, DTMF)


@dataclass(frozen=True)
class Party:
    kind: str
    ring: float = 0.0  # seconds before the far end answers (or gives up, for busy/congestion)
    talk: float | None = None  # seconds after answer before the far end hangs up; None: never
    dtmf: str = ""  # digits the far end sends after answering
    dtmf_after: float = 1.0
    amd: str = "HUMAN"  # what AMD() decides if the app asks
    note: str = ""  # NoOp text in the Local dialplan (as the traces)
    greeting: float = 0.0  # machine: greeting playback length

    @property
    def answers(self) -> bool:
        return self.kind in (ANSWER, MACHINE, SHORT, DTMF)


def _lognormal(rng: np.random.Generator, mean: float, sd: float) -> float:
    if mean <= 0:
        return 0.0
    if sd <= 0:
        return float(mean)
    sigma2 = math.log(1.0 + (sd * sd) / (mean * mean))
    mu = math.log(mean) - sigma2 / 2.0
    return float(rng.lognormal(mu, math.sqrt(sigma2)))


def digits_of(number: str) -> str:
    return re.sub(r"\D", "", number)


@dataclass
class Scenario:
    """Mutable by the Python/HTTP control API; read by the world at every originate."""

    config: SimConfig
    mode: str = "plan"
    probabilities: dict[str, float] = field(default_factory=dict)
    ring_mean: float = 9.0
    ring_sd: float = 5.0
    talk_mean: float = 120.0
    talk_sd: float = 90.0
    ring: float | None = None  # plan overrides
    talk: float | None = None
    scripts: dict[str, Party] = field(default_factory=dict)
    scripted: dict[str, str] = field(default_factory=dict)  # as given -> kind, for describe()
    rng: np.random.Generator = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.rng is None:
            self.rng = np.random.default_rng(self.config.seed)

    # ---- control -------------------------------------------------------------------------------
    def use_number_plan(self, *, ring: float | None = None, talk: float | None = None) -> None:
        self.mode = "plan"
        self.ring, self.talk = ring, talk

    def use_probabilities(self, *, answer: float = 0.0, busy: float = 0.0, no_answer: float = 0.0,
                          congestion: float = 0.0, invalid: float = 0.0, machine: float = 0.0,
                          ring_mean: float = 9.0, ring_sd: float = 5.0, talk_mean: float = 120.0,
                          talk_sd: float = 90.0, seed: int | None = None) -> None:
        probs = {ANSWER: answer, BUSY: busy, NO_ANSWER: no_answer, CONGESTION: congestion,
                 INVALID: invalid, MACHINE: machine}
        for name, p in probs.items():
            if p < 0 or not math.isfinite(p):
                raise ValueError(f"probability {name} must be a non-negative number, got {p!r}")
        total = sum(probs.values())
        if total <= 0:
            raise ValueError("at least one probability must be positive")
        for name, value in (("ring_mean", ring_mean), ("ring_sd", ring_sd), ("talk_mean", talk_mean),
                            ("talk_sd", talk_sd)):
            if value < 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        self.mode = "probabilities"
        self.probabilities = {k: v / total for k, v in probs.items()}
        self.ring_mean, self.ring_sd, self.talk_mean, self.talk_sd = ring_mean, ring_sd, talk_mean, talk_sd
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def script_number(self, number: str, *, answer_after: float | None = None, talk: float | None = None,
                      busy: bool = False, congestion: bool = False, no_answer: bool = False,
                      invalid: bool = False, machine: bool = False, hangup_after_answer: float | None = None,
                      dtmf: str = "", amd: str | None = None) -> Party:
        flags = [k for k, v in (("busy", busy), ("congestion", congestion), ("no_answer", no_answer),
                                ("invalid", invalid), ("machine", machine)) if v]
        if len(flags) > 1:
            raise ValueError(f"script_number({number!r}): choose one of {flags}")
        ring = self.config.ring if answer_after is None else float(answer_after)
        if hangup_after_answer is not None:
            talk = hangup_after_answer
        kind = {"busy": BUSY, "congestion": CONGESTION, "no_answer": NO_ANSWER, "invalid": INVALID,
                "machine": MACHINE}.get(flags[0]) if flags else (DTMF if dtmf else ANSWER)
        if kind == MACHINE:
            party = Party(MACHINE, ring=ring if answer_after is not None else self.config.machine_ring,
                          talk=talk if talk is not None else self.config.machine_greeting + self.config.machine_wait,
                          amd="MACHINE", note="answering machine", greeting=self.config.machine_greeting)
        elif kind == ANSWER or kind == DTMF:
            party = Party(kind, ring=ring, talk=self.config.talk if talk is None else float(talk), dtmf=dtmf,
                          amd=amd or "HUMAN", note="answer after ring")
        elif kind == NO_ANSWER:
            # Rings until the originate/dial timeout gives up (or answer_after, then 19 from the far end).
            party = Party(NO_ANSWER, ring=float(answer_after) if answer_after is not None else math.inf,
                          note="ring no answer")
        else:
            party = Party(kind, ring=float(answer_after or 0.0), note=kind)
        if amd:
            party = replace(party, amd=amd)
        self.scripts[number] = party
        self.scripts[digits_of(number)] = party
        self.scripted[number] = party.kind
        return party

    # ---- resolution ------------------------------------------------------------------------------
    def party_for(self, number: str, variables: dict[str, str] | None = None) -> Party:
        variables = variables or {}
        party = self.scripts.get(number) or self.scripts.get(digits_of(number))
        if party is None:
            party = self._plan(number) if self.mode == "plan" else self._draw()
        # The reference dialplan reads SIM_RING_SECS / SIM_TALK_SECS from originate variables.
        if "SIM_RING_SECS" in variables and party.answers:
            party = replace(party, ring=_float(variables["SIM_RING_SECS"], party.ring))
        if "SIM_TALK_SECS" in variables and party.kind == ANSWER:
            party = replace(party, talk=_float(variables["SIM_TALK_SECS"], party.talk))
        return party

    def _plan(self, number: str) -> Party:
        c = self.config
        ring = c.ring if self.ring is None else self.ring
        talk = c.talk if self.talk is None else self.talk
        d = digits_of(number)
        kind_digit = d[-3] if len(d) >= 3 else (d[0] if d else "9")
        return {
            "1": Party(ANSWER, ring=ring, talk=talk, note="answer after ring"),
            "2": Party(BUSY, note="busy"),
            "3": Party(NO_ANSWER, ring=c.no_answer_ring, note="ring no answer"),
            "4": Party(CONGESTION, note="congestion"),
            "5": Party(SHORT, ring=0.0, talk=c.short_talk, note=f"answer then hang up after {c.short_talk:g}s"),
            "6": Party(MACHINE, ring=c.machine_ring, talk=c.machine_greeting + c.machine_wait, amd="MACHINE",
                       note="answering machine", greeting=c.machine_greeting),
            "8": Party(DTMF, ring=c.dtmf_ring, talk=talk, dtmf=c.dtmf_digits, dtmf_after=c.dtmf_after_answer,
                       note="answer and send DTMF"),
            "9": Party(INVALID, note="unallocated number"),
        }.get(kind_digit, Party(ANSWER, ring=ring, talk=talk, note="answer after ring"))

    def _draw(self) -> Party:
        kinds = list(self.probabilities)
        p = np.array([self.probabilities[k] for k in kinds])
        kind = kinds[int(self.rng.choice(len(kinds), p=p))]
        ring = _lognormal(self.rng, self.ring_mean, self.ring_sd)
        talk = _lognormal(self.rng, self.talk_mean, self.talk_sd)
        c = self.config
        if kind == ANSWER:
            return Party(ANSWER, ring=ring, talk=talk, note="answer after ring")
        if kind == MACHINE:
            return Party(MACHINE, ring=ring, talk=c.machine_greeting + c.machine_wait, amd="MACHINE",
                         note="answering machine", greeting=c.machine_greeting)
        if kind == NO_ANSWER:
            return Party(NO_ANSWER, ring=max(c.no_answer_ring, 4 * self.ring_mean), note="ring no answer")
        if kind in (BUSY, CONGESTION):
            return Party(kind, ring=min(ring, 3.0) * 0.2, note=kind)  # carriers signal busy within a second or so
        return Party(INVALID, ring=0.0, note="unallocated number")

    def describe(self) -> dict:
        return {"mode": self.mode, "probabilities": self.probabilities, "ring_mean": self.ring_mean,
                "ring_sd": self.ring_sd, "talk_mean": self.talk_mean, "talk_sd": self.talk_sd,
                "scripted_numbers": dict(self.scripted)}


def _float(text: str, default):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default

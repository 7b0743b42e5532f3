"""Simulator settings: one frozen object, every duration in simulated seconds (divided by time_scale)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 8088  # 0 picks a free port; restart() comes back on the port actually bound
    user: str = "dialer"
    password: str = "dialer"
    time_scale: float = 1.0  # 10.0 runs every timer ten times faster
    seed: int = 1
    trunks: tuple[str, ...] = ("carrier",)
    ring: float = 2.0  # number plan: ring time before a 1xx customer answers
    talk: float = 30.0  # number plan: a 1xx customer hangs up this long after answering
    agent_talk: float = 3600.0  # Local/<ext>@sim-agents stays up this long (SIM_TALK_SECS in the traces)
    no_answer_ring: float = 30.0  # 3xx rings this long, then Hangup(19), unless the originate timeout fires first
    busy_hold: float = 5.0  # Busy(5)/Congestion(5): how long the far end holds before hanging up (create+dial)
    short_talk: float = 3.0  # 5xx: answers and hangs up this long after
    machine_ring: float = 1.0
    machine_greeting: float = 6.0  # demo-congrats&vm-intro + beep, then Wait(10)
    machine_wait: float = 10.0
    dtmf_ring: float = 1.0  # 8xx: rings 1 s, answers, waits 1 s, SendDTMF(123#,250,100)
    dtmf_after_answer: float = 1.0
    dtmf_digits: str = "123#"
    dtmf_between: float = 0.25  # SendDTMF between (250 ms) + duration (100 ms) = 350 ms per digit
    dtmf_duration_ms: int = 100
    amd_human: float = 1.5
    amd_machine: float = 3.0
    answer_settle: float = 0.5  # Answer() in the dialplan waits 500 ms before the next priority
    phone_answer_delay: float = 0.0
    default_timeout: int = 30  # originate without timeout
    rest_log_limit: int = 200_000
    history_limit: int = 200_000
    asterisk_id: str = "02:fc:00:00:00:01"
    extra_sounds: tuple[str, ...] = ()
    sound_lengths: tuple[tuple[str, float], ...] = ()  # (sound name, seconds) overrides, e.g. short digits

    def __post_init__(self) -> None:
        if not self.time_scale or self.time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {self.time_scale!r}")

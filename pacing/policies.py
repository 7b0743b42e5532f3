"""The pacing policies. Pure: each decision is a function of the snapshot and of the estimator state
built from earlier snapshots (deterministic for the same sequence of snapshots)."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from pacing import AgentState, CallOutcome, Decision, FinishedCall, PacingSettings, Snapshot

LIVE = (CallOutcome.LIVE, CallOutcome.ABANDONED)


def _counts(s: Snapshot) -> tuple[int, int, int, int]:
    """(ready agents usable now, active agents usable, agents busy with a call, lines in flight)."""
    ready = active = busy = 0
    for a in s.agents:
        st = a.state
        if st is AgentState.PAUSED:
            continue
        active += 1
        if st is AgentState.READY:
            ready += 1
        elif st is AgentState.ON_CALL or st is AgentState.RESERVED:
            busy += 1
    reserve = max(0, s.reserved_capacity)
    return max(0, ready - reserve), max(0, active - reserve), busy, len(s.in_flight)


def _line_cap(s: Snapshot, active: int, lines: int) -> int:
    return max(0, math.floor(s.settings.max_lines_per_agent * active + 1e-9) - lines)


class Progressive:
    """At most one call in flight per ready agent: never abandons unless an agent leaves."""
    name = "progressive"

    def __init__(self, settings: PacingSettings) -> None:
        self.settings = settings

    def decide(self, s: Snapshot) -> Decision:
        ready, active, _, lines = _counts(s)
        if active == 0:
            return Decision(0, "no agents")
        if ready == 0:
            return Decision(0, "no ready agent")
        return Decision(max(0, ready - lines), "progressive: one line per ready agent")


class Ratio:
    """Lines per ready agent = 1 / pickup rate, as admins configure dialers today."""
    name = "ratio"

    def __init__(self, settings: PacingSettings) -> None:
        self.settings = settings

    def decide(self, s: Snapshot) -> Decision:
        ready, active, _, lines = _counts(s)
        if active == 0 or ready == 0:
            return Decision(0, "no ready agent")
        target = math.ceil(ready / s.settings.pickup_rate - 1e-9)
        n = min(target - lines, _line_cap(s, active, lines))
        return Decision(max(0, n), f"ratio: {1 / s.settings.pickup_rate:.2f} lines per ready agent")


class VicidialAdaptive:
    """VICIdial's adaptive method as documented: every 15 s the dial level is multiplied by
    1 + (ready agents - waiting calls) / agents, kept within [1.0, 3.0]; once a minute, when the
    window's drop rate is above target, the level falls to 1.0 (hard limit) or is halved (average).
    The upper bound is VICIdial's "adaptive maximum level": settings.max_lines_per_agent when that is
    below 3.0 (the benchmark sweeps it to compare at equal occupancy)."""

    def __init__(self, settings: PacingSettings, variant: str = "hard") -> None:
        self.settings = settings
        self.variant = variant
        self.name = "vicidial_adaptive" if variant == "hard" else "vicidial_adaptive_average"
        self.level = 1.0
        self._next_adjust: float | None = None
        self._next_drop_check: float | None = None

    def decide(self, s: Snapshot) -> Decision:
        ready, active, busy, lines = _counts(s)
        if self._next_adjust is None:
            self._next_adjust = s.now + 15.0
            self._next_drop_check = s.now + 60.0
        waiting = sum(1 for c in s.in_flight if c.waiting_for_agent)
        while s.now >= self._next_adjust:
            if active > 0:
                self.level *= 1.0 + (ready - waiting) / active
            self.level = min(min(3.0, s.settings.max_lines_per_agent), max(1.0, self.level))
            self._next_adjust += 15.0
        while s.now >= self._next_drop_check:
            led = s.ledger
            if led.live_answers > 0 and led.abandons / led.live_answers > s.settings.target_abandon_rate:
                self.level = 1.0 if self.variant == "hard" else max(1.0, self.level / 2.0)
            self._next_drop_check += 60.0
        if active == 0:
            return Decision(0, "no agents")
        target = math.ceil(self.level * active - 1e-9) - busy - lines
        n = min(target, _line_cap(s, active, lines))
        if ready == 0 and lines >= active:
            n = min(n, 0)
        return Decision(max(0, n), f"vicidial {self.variant}: dial level {self.level:.2f}")


# ----------------------------------------------------------------------------------------------
# Predictive


class _LiveShare:
    """The live share of the calls resolving now: Bayesian online change-point detection (Adams and
    MacKay, 2007) over the sequence of resolved calls, live or not. Each run length r (calls since the
    last change) keeps its count of calls and of live answers; a change comes with probability
    `hazard` per call, and a new segment starts from a Beta prior centred on the long sample's share,
    worth `strength` calls. share() is the posterior mean: the long sample's share while the calls
    agree with it, moving to the recent calls' share once they are unlikely under it. A halved live
    rate moves it a third of the way in 45 calls and two thirds in 90, where a 600-call sample takes
    600 calls to turn over."""

    def __init__(self, hazard: float = 1.0 / 1000.0, strength: float = 10.0, max_run: int = 1000) -> None:
        self.hazard = hazard
        self.strength = strength
        self.max_run = max_run
        self.prior = 0.3  # the long sample's share; _Estimates.refresh keeps it current
        self.w = np.array([1.0])  # posterior probability of each run length
        self.k = np.array([0.0])  # live answers in the run
        self.m = np.array([0.0])  # calls in the run

    def _predictive(self) -> np.ndarray:
        return (self.k + self.prior * self.strength) / (self.m + self.strength)

    def add(self, live: bool) -> None:
        pred = self._predictive()
        wl = self.w * (pred if live else 1.0 - pred)
        w = np.concatenate(([float(wl.sum()) * self.hazard], wl * (1.0 - self.hazard)))
        k = np.concatenate(([0.0], self.k + (1.0 if live else 0.0)))
        m = np.concatenate(([0.0], self.m + 1.0))
        if len(w) > self.max_run:  # the longest runs merge: a run older than max_run calls is one run
            w[-2] += w[-1]
            w, k, m = w[:-1], k[:-1], m[:-1]
        self.w = w / w.sum()
        self.k, self.m = k, m

    def share(self) -> float:
        return float(np.dot(self.w, self._predictive()))


class _Estimates:
    """Incremental estimates from the last `n` finished calls and from agents' wrap-up spells."""

    def __init__(self, settings: PacingSettings, n: int = 600) -> None:
        self.settings = settings
        self.calls: deque[tuple[float, bool]] = deque(maxlen=n)  # (resolution age, live?)
        self.talk: deque[float] = deque(maxlen=n)
        self.wrap: deque[float] = deque(maxlen=200)
        self._last: FinishedCall | None = None
        self._dirty = True
        self.live_seen = 0
        self.recent: deque[tuple[float, bool]] = deque(maxlen=300)  # (ended_at, live?)
        self.counted_live: dict[float, int] = {}  # placed_at of live answers seen leaving in-flight
        self.ended_placed: dict[float, int] = {}  # placed_at of calls that ended without an agent
        self.talk_exposure = 0.0
        self.first_seen: float | None = None
        self.seeded = False
        self.talk_ends = 0
        self.share = _LiveShare()

    def add_live(self, placed_at: float, age: float, now: float) -> None:
        """A live answer seen from the in-flight list (long before its history row, after the talk)."""
        self.calls.append((max(0.0, age), True))
        self.share.add(True)
        self.recent.append((now, True))
        self.live_seen += 1
        self.counted_live[placed_at] = self.counted_live.get(placed_at, 0) + 1
        self._dirty = True

    def absorb(self, history, now: float) -> None:
        """Read the calls appended to history since the last decision (O(new), or O(history) once)."""
        if self.first_seen is None:
            self.first_seen = now
            self.seeded = len(history) >= 60
        new: list[FinishedCall] = []
        for i in range(len(history) - 1, -1, -1):
            c = history[i]
            if self._last is not None and c == self._last:
                break
            new.append(c)
            if len(new) >= (self.calls.maxlen or 0) * 2 and self._last is None:
                break
        if not new:
            return
        self._last = history[-1]
        for c in reversed(new):
            if c.outcome is CallOutcome.LIVE and self.counted_live.get(c.placed_at, 0) > 0:
                self.counted_live[c.placed_at] -= 1
                if not self.counted_live[c.placed_at]:
                    del self.counted_live[c.placed_at]
                if c.connected_at is not None:
                    self.talk.append(max(0.0, c.ended_at - c.connected_at))
                    self.talk_ends += 1
                continue
            if c.outcome is not CallOutcome.LIVE:
                self.ended_placed[c.placed_at] = self.ended_placed.get(c.placed_at, 0) + 1
            if c.outcome in LIVE or c.outcome is CallOutcome.MACHINE:
                end = c.answered_at if c.answered_at is not None else c.ended_at
            else:
                end = c.ended_at
            live = c.outcome in LIVE
            self.recent.append((c.ended_at, live))
            self.calls.append((max(0.0, end - c.placed_at), live))
            self.share.add(live)
            if live:
                self.live_seen += 1
            if c.outcome is CallOutcome.LIVE and c.connected_at is not None:
                self.talk.append(max(0.0, c.ended_at - c.connected_at))
                self.talk_ends += 1
        self._dirty = True

    def take_ended(self, placed_at: float) -> bool:
        k = self.ended_placed.get(placed_at, 0)
        if k:
            if k == 1:
                del self.ended_placed[placed_at]
            else:
                self.ended_placed[placed_at] = k - 1
            return True
        return False

    def talk_rate(self) -> float | None:
        """Talks ended per second of talking (censoring-aware: counts the talks still going), None
        until 10 talks have ended. 1 / rate is the mean talk."""
        if self.talk_ends >= 10 and self.talk_exposure > 0:
            return self.talk_ends / self.talk_exposure
        return None

    def capacity(self, agents: int) -> float:
        """Live answers an hour `agents` can take when always busy: agents x 3600 / (talk + wrap-up),
        the mean talk from talk_rate (120 s until 10 talks have ended)."""
        rate = self.talk_rate()
        talk = 1.0 / rate if rate else 120.0
        return agents * 3600.0 / max(1.0, talk + self.mean_wrap)

    def live_per_hour(self) -> float:
        if len(self.recent) < 2:
            return 0.0
        span = max(60.0, self.recent[-1][0] - self.recent[0][0])
        return sum(1 for _, l in self.recent if l) * 3600.0 / span

    def observe_wrap(self, seconds: float) -> None:
        self.wrap.append(max(0.0, seconds))
        self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        ages = np.array([a for a, _ in self.calls], dtype=float)
        live = np.array([a for a, l in self.calls if l], dtype=float)
        self.n_calls = len(ages)
        self.all_sorted = np.sort(ages)
        self.live_sorted = np.sort(live)
        self.p_live = len(live) / max(1, len(ages))
        self.other_sorted = np.sort(np.array([a for a, l in self.calls if not l], dtype=float))
        self.share.prior = min(0.95, max(0.05, self.p_live))
        self.talk_sorted = np.sort(np.array(self.talk, dtype=float)) if self.talk else np.array([120.0])
        self.mean_wrap = float(np.mean(self.wrap)) if self.wrap else 15.0
        self.wrap_sorted = np.sort(np.array(self.wrap, dtype=float))
        self.mean_live_age = float(live.mean()) if len(live) else 9.0

    def ready_for_use(self, now: float) -> bool:
        # Calls that resolved in the first seconds are the short ones; wait until the slow outcomes
        # (no answer at the ring timeout) are in the sample too, unless history came complete.
        warm = self.seeded or now - self.first_seen >= 2 * self.settings.ring_timeout_seconds + 10
        return warm and len(self.calls) >= 60 and self.live_seen >= 10


def _expected_excess(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """E[X^+] for X ~ Normal(mu, var): expected abandons, the excess of live answers over free agents
    (for an integer excess D, E[D^+] = sum_k P(D >= k) ~ integral of P(X > x) over x > 0 = E[X^+])."""
    sd = np.sqrt(np.maximum(var, 1e-6))
    z = mu / sd
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2)))
    return sd * pdf + mu * cdf


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26, |error| < 1.5e-7, vectorised without scipy.
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496735) * t + 0.254829592) * t * np.exp(-x * x)
    return s * y


_X = np.linspace(0.0, 1.0, 41)


def _expected_running_max(mu: np.ndarray, var: np.ndarray, H: np.ndarray) -> float:
    """E[sup_t (L(t) - F(t))^+] over the horizon: the abandons of a loss system are the running maximum
    of the excess of answers over agents (Skorokhod), not its final value. The excess is approximated
    by a Brownian motion from its first-horizon value with the drift and variance rate fitted from the
    first to the last horizon; P(sup >= a) = Phi((-a+mT)/s) + exp(2ma/v) Phi((-a-mT)/s)."""
    d0, dT = float(mu[0]), float(mu[-1])
    T = float(H[-1] - H[0])
    vT = max(float(var[-1]), 1e-6)
    drift = (dT - d0) / T
    rate = vT / T
    sdT = math.sqrt(vT)
    top = max(0.0, d0) + max(0.0, dT) + 6.0 * sdT + 1.0
    x = _X * top
    a = np.maximum(x - d0, 0.0)
    tail = 0.5 * (1.0 + _erf((-a + drift * T) / (sdT * math.sqrt(2))))
    expo = np.minimum(2.0 * drift * a / rate, 50.0)
    tail = tail + np.exp(expo) * 0.5 * (1.0 + _erf((-a - drift * T) / (sdT * math.sqrt(2))))
    tail = np.clip(tail, 0.0, 1.0)
    return float(np.trapezoid(tail, x))


# Small teams (tuned on S, 6 seeds x 8 h; see pacing/README.md): hour_taper scales the allowance by the
# share of the hourly guard still unspent (1.0 = linearly), wrap_quantiles = wrap-up quantiles averaged in
# the on-call agents' free-by-t forecast (0 = mean wrap-up), progressive_floor = never fewer calls than
# progressive, cal_min = floor of the calibration factor, room_cap = the most of the hourly guard's
# unspent share the taper passes on (a quiet hour opens the allowance no further than this),
# burst_abandons = that many abandons within burst_minutes dial progressively (0 = off). Tiny teams (the
# live answers an hour the team can take, agents x 3600 / (talk + wrap-up), under tiny_capacity): after an
# abandon, progressive while one more would put the last hour past tiny_ceiling x target; never more than
# tiny_spare_lines lines beyond the ready agents; and with live_share the live share is the change-point
# estimate (see _LiveShare).
SMALL_TEAM = {"budget_hours": 4.0, "max_allowance_factor": 0.4, "early_live_answers": 50.0, "hour_factor": 1.3,
              "fallback": 0.01, "cal_min": 0.5, "hour_taper": 1.0, "wrap_quantiles": 8, "progressive_floor": True,
              "room_cap": 0.3, "burst_abandons": 3, "burst_minutes": 10.0,
              "tiny_capacity": 60.0, "tiny_ceiling": 2.0, "live_share": True, "tiny_spare_lines": 1}
LARGE_TEAM_LIVE_PER_HOUR = 200.0

HORIZONS = np.array([1.0, 3.0, 5.0, 7.0, 9.0, 12.0, 15.0, 19.0, 25.0])


class Predictive:
    """Places the most calls whose forecast abandons stay within the abandon budget's allowance.

    Each decision forecasts, for several horizons t up to the ring timeout, the live answers that will
    need an agent by t (waiting calls, ringing calls by their age, the n new calls) and the agents free
    by t + 2 s (ready agents, agents on a call or in wrap-up by their time in state), and computes the
    expected excess of answers over agents (normal approximation). It places the largest n for which
    expected abandons / expected live answers <= allowance, where the allowance spends the window's
    remaining budget over the next hour, starts cautiously when the window has few live answers,
    and falls back to progressive when the budget is at risk or there is no history yet.
    """
    name = "predictive"

    def __init__(self, settings: PacingSettings, *, budget_hours: float = 1.0, max_allowance_factor: float = 0.8,
                 early_live_answers: float = 150.0, hour_factor: float = 1.3, large_hour_taper: float = 0.3,
                 large_fallback: float = 0.0, small: dict | None = None) -> None:
        # Small teams (fewer than 200 live answers an hour): an hour holds ~100 answers, so an abandon
        # moves that hour's rate by 1 %. A one-hour budget horizon made the allowance swing by a third
        # of the target per abandon (dial hard, then progressive), which costs occupancy; a steady,
        # low allowance with a four-hour horizon, a shorter cautious start and an hourly guard at
        # 1.1 x target keeps every hour near the limit while agents stay busier (tuned on S, 8 h).
        self.small = dict(SMALL_TEAM, **(small or {}))
        self.settings = settings
        self.est = _Estimates(settings)
        self.budget_hours = budget_hours
        self.max_allowance_factor = max_allowance_factor
        self.early_live_answers = early_live_answers
        self.hour_factor = hour_factor
        self.large_hour_taper = large_hour_taper
        self.large_fallback = large_fallback
        self._agent_state: dict[str, tuple[AgentState, float]] = {}
        self._flight: dict[str, tuple[float, float | None]] = {}  # call id -> (placed_at, answered_at)
        self._last_now: float | None = None
        self._prev_now: float | None = None
        # online calibration of the abandon forecast: realized abandons / forecast abandons
        self._fc = 1.0 / 3.0  # prior: the forecast is 3x optimistic, worth one abandon of evidence
        self._obs = 1.0
        self._last_abandons: int | None = None
        self._last_live: int | None = None
        self._hour: deque[tuple[float, int, int]] = deque()  # (when, live answers, abandons) seen
        self._last_forecast = 0.0

    # -- helpers
    def _track_agents(self, s: Snapshot) -> None:
        seen = self._agent_state
        for a in s.agents:
            prev = seen.get(a.agent_id)
            if prev is not None and prev[0] is AgentState.WRAP_UP and (a.state is not AgentState.WRAP_UP or a.since != prev[1]):
                self.est.observe_wrap(a.since - prev[1])
            if prev is None or prev[0] is not a.state or prev[1] != a.since:
                seen[a.agent_id] = (a.state, a.since)

    def _track_calls(self, s: Snapshot) -> None:
        """Live answers are known when a call leaves the in-flight list for an agent, minutes before its
        history row (written when the talk ends): counting them then keeps the live rate unbiased."""
        est = self.est
        current = {}
        for c in s.in_flight:
            current[c.call_id] = (c.placed_at, c.answered_at if c.waiting_for_agent else None)
        for cid, (placed, answered) in self._flight.items():
            if cid in current:
                continue
            if est.take_ended(placed):
                continue  # ended without an agent: already counted from history
            when = answered if answered is not None else s.now
            est.add_live(placed, when - placed, s.now)
        self._flight = current
        # unbiased talk hazard: completed talks / time agents spent talking
        if self._last_now is not None:
            dt = s.now - self._last_now
            if 0 < dt < 60:
                est.talk_exposure += dt * sum(1 for a in s.agents if a.state is AgentState.ON_CALL)
        self._last_now = s.now

    def _calibrate(self, s: Snapshot) -> None:
        led = s.ledger
        if self._last_abandons is not None and led.abandons >= self._last_abandons:
            self._obs += led.abandons - self._last_abandons
            dl = max(0, led.live_answers - (self._last_live or 0))
            if dl or led.abandons > self._last_abandons:
                self._hour.append((s.now, dl, led.abandons - self._last_abandons))
        self._last_abandons = led.abandons
        self._last_live = led.live_answers
        while self._hour and self._hour[0][0] < s.now - 3600.0:
            self._hour.popleft()
        if self._prev_now is not None:
            dt = min(5.0, max(0.0, s.now - self._prev_now))
            self._fc += self._last_forecast * dt / s.settings.ring_timeout_seconds
            decay = 0.5 ** (dt / 7200.0)
            self._fc *= decay
            self._obs *= decay
        self._prev_now = s.now
        self._last_forecast = 0.0

    @property
    def calibration(self) -> float:
        return self._calibration(0.5)

    def _calibration(self, floor: float) -> float:
        return min(10.0, max(floor, self._obs / max(self._fc, 1e-9)))

    def allowance(self, s: Snapshot, future_per_hour: float, small: bool = False) -> float:
        """The abandon rate the next calls may risk. future_per_hour: live answers an hour expected
        ahead, over which the window's remaining budget is spent."""
        r = s.settings.target_abandon_rate
        led = s.ledger
        budget_hours = self.small["budget_hours"] if small else self.budget_hours
        factor = self.small["max_allowance_factor"] if small else self.max_allowance_factor
        early_n = self.small["early_live_answers"] if small else self.early_live_answers
        future = max(30.0, future_per_hour * budget_hours)
        spend = (0.85 * r * (led.live_answers + future) - led.abandons) / future
        early = min(1.0, led.live_answers / early_n)  # few answers: each abandon weighs heavily
        return min(spend, r * factor * early)

    def decide(self, s: Snapshot) -> Decision:
        st = s.settings
        self._track_agents(s)
        self.est.absorb(s.history, s.now)
        self._track_calls(s)
        self._calibrate(s)
        ready, active, busy, lines = _counts(s)
        if active == 0:
            return Decision(0, "no agents")
        progressive = max(0, ready - lines)
        if not self.est.ready_for_use(s.now):
            return Decision(progressive, "progressive: not enough history yet")
        est = self.est
        est.refresh()
        # live answers per hour, from the recent history's rate
        live_per_hour = est.live_per_hour()
        hour_ab = sum(a for _, _, a in self._hour)
        hour_live = max(sum(l for _, l, _ in self._hour), live_per_hour)
        small = hour_live < LARGE_TEAM_LIVE_PER_HOUR
        budget_rate = live_per_hour
        if not small:
            # Large teams spend the budget over the next hour of the live answers the team takes when
            # busy, not at the recent pace: dialling progressively (after the hourly guard, or while
            # the estimate catches up with a drop in live answers) slows the pace, which shrank that
            # horizon, drove the allowance below the fallback and kept the team progressive (M+live_drop:
            # 58 minutes to recover; see pacing/README.md).
            # Mean talk from talk_rate, not the mean of finished talks: early in a shift only the short
            # talks have ended, and their mean would inflate the capacity.
            budget_rate = max(live_per_hour, est.capacity(active))
        allow = self.allowance(s, budget_rate, small)
        # Large teams fall back only when nothing is left to spend. A floor of 15 % of the target (it
        # was) switched M+live_drop teams whose day ran just above the pacing line to progressive
        # as soon as the hourly taper trimmed the allowance: occupancy 0.70 for 10-25 minutes in 13
        # of 20 shifts after the step, where a small allowance still keeps agents busy without
        # abandons (pacing/README.md, "Large teams: fallback").
        fallback = self.small["fallback"] if small else self.large_fallback
        if allow <= fallback * st.target_abandon_rate:
            return Decision(progressive, f"progressive: abandon budget at risk (allowance {allow:.4f})")
        # Every hour must stay compliant too (small teams): the last 60 minutes' abandons against the
        # live answers of an hour; near the limit, dial progressively until old abandons age out.
        factor = self.small["hour_factor"] if small else self.hour_factor
        if hour_ab >= factor * st.target_abandon_rate * max(hour_live, 1.0):
            return Decision(progressive, f"progressive: last hour's abandons {hour_ab} at the hourly limit")
        # Tiny teams (small, and able to take fewer than tiny_capacity live answers an hour: 2 agents
        # take at most 53): an hour holds 25-40 live answers, so two abandons in it are 5-8 % and the
        # guard above (1.3 x 3 % x 30 = 1.2) lets the second one through. After one, wait
        # (progressive) while a second would take the hour past tiny_ceiling x target.
        tiny = small and est.capacity(active) < self.small["tiny_capacity"]
        if tiny and hour_ab >= 1 and hour_ab + 1 > self.small["tiny_ceiling"] * st.target_abandon_rate * max(hour_live, 1.0):
            return Decision(progressive, f"progressive: one more abandon would take the last hour's "
                                         f"{hour_ab} past {self.small['tiny_ceiling']:g} x target")
        # A cluster of abandons (small teams): the forecast is wrong right now (several lines out per
        # ready agent and their live answers came together), and the hourly guard, which counts against
        # an hour of live answers, lets the rest of the cluster through. S+live_drop's worst seed had 5
        # abandons in 7 minutes; progressive then emptied the hour of live answers: 5 of 58, 8.6 %.
        burst = int(self.small["burst_abandons"]) if small else 0
        if burst > 0:
            since = s.now - 60.0 * self.small["burst_minutes"]
            recent = sum(a for t, _, a in self._hour if t >= since)
            if recent >= burst:
                return Decision(progressive, f"progressive: {recent} abandons in the last "
                                             f"{self.small['burst_minutes']:g} minutes")
        # Large teams taper too, from 70 % of the hourly guard down to nothing at the guard: a soft
        # landing instead of the guard's switch to progressive, which at 15 % live answers costs a
        # third of the occupancy for the quarter of an hour the old abandons take to age out.
        taper = self.small["hour_taper"] if small else self.large_hour_taper
        if taper > 0.0:
            room = 1.0 - hour_ab / (factor * st.target_abandon_rate * max(hour_live, 1.0))
            # Capped: after the live rate drops, the team under-dials while the estimate catches up, the
            # hour goes quiet and its room winds up; spent at once when the estimate is right, it drove
            # the hour to the guard and the team to progressive for half an hour (S+live_drop: 92 min to
            # recover with the full room, 0 with the cap; see pacing/README.md).
            room = min(self.small["room_cap"] if small else 1.0, max(0.0, room))
            allow *= min(1.0, room / taper)
            if allow <= fallback * st.target_abandon_rate:
                return Decision(progressive, f"progressive: last hour's abandons {hour_ab} leave no allowance")
        cap = _line_cap(s, active, lines)
        # Tiny teams: at most tiny_spare_lines lines beyond the ready agents, so a wrong forecast costs
        # one abandon at a time, never a cluster; an hour of a 2-agent team holds 25-40 live answers,
        # and two abandons in it are already 5-8 %. Without the cap, 9 of 200 T2+live_drop shifts had
        # an hour over 8 %: in each, two abandons came in the same minute, from 4-5 lines in flight for
        # one or two ready agents (pacing/README.md, "Two agents: one spare line").
        if tiny:
            cap = min(cap, max(0, ready + int(self.small["tiny_spare_lines"]) - lines))
        if cap <= 0:
            return Decision(0, "line cap reached")

        H = HORIZONS[HORIZONS <= st.ring_timeout_seconds]
        limit = st.connect_limit_seconds
        # supply: agents free by t + limit
        ready_now = ready
        on_call_e, wrap_e = [], []
        for a in s.agents:
            if a.state is AgentState.ON_CALL:
                on_call_e.append(s.now - a.since)
            elif a.state is AgentState.RESERVED:
                on_call_e.append(0.0)
            elif a.state is AgentState.WRAP_UP:
                wrap_e.append(s.now - a.since)
        mu_f = np.full(len(H), float(ready_now))
        var_f = np.zeros(len(H))
        T = est.talk_sorted
        nT = len(T)
        talk_rate = est.talk_rate()
        if on_call_e and talk_rate is not None:
            # Hazard of ending a talk: completed talks / talking time (censoring-aware). Where enough
            # finished talks lasted longer than this one has, use their conditional distribution instead.
            e = np.array(on_call_e)[:, None]
            # The agent is free once the talk *and* the wrap-up after it are over. Small teams average
            # over the observed wrap-up quantiles (P(talk left <= t + limit - W)) instead of subtracting
            # the mean wrap-up: with 25 s horizons and wrap-ups of 15 +- 10 s, a short wrap-up is what
            # frees an agent in time, and the mean plug-in misses it.
            if small and self.small["wrap_quantiles"] and len(est.wrap_sorted) >= 30:
                k = int(self.small["wrap_quantiles"])
                W = est.wrap_sorted
                wq = W[np.minimum(((np.arange(k) + 0.5) / k * len(W)).astype(int), len(W) - 1)]
            else:
                wq = np.array([est.mean_wrap])
            emp_ok = len(est.talk) >= 200 and (est.seeded or s.now - est.first_seen >= 1800)
            T = est.talk_sorted
            below_e = np.searchsorted(T, e, side="right")
            surv = len(T) - below_e
            use = (surv >= 20)[:, 0] if emp_ok else np.zeros(len(on_call_e), dtype=bool)
            p = np.zeros((len(on_call_e), len(H)))
            for w in wq:
                reach = np.maximum(H[None, :] + limit - w, 0.0)
                pk = np.broadcast_to(1.0 - np.exp(-reach * talk_rate), (len(on_call_e), len(H))).copy()
                if use.any():
                    done = np.searchsorted(T, e + reach, side="right") - below_e
                    emp = np.clip(done / np.maximum(surv, 1), 0.0, 1.0)
                    pk[use, :] = emp[use, :]
                p += pk
            p /= len(wq)
            mu_f += p.sum(0)
            var_f += (p * (1 - p)).sum(0)
        if wrap_e:
            # wrap-up: conditional on the time already spent, from observed wrap-ups (memoryless with the
            # observed mean until there are enough of them)
            e = np.array(wrap_e)[:, None]
            reach = H[None, :] + limit
            W = est.wrap_sorted
            p = np.broadcast_to(1.0 - np.exp(-reach / max(est.mean_wrap, 1.0)), (len(wrap_e), len(H))).copy()
            if len(W) >= 30:
                below_e = np.searchsorted(W, e, side="right")
                surv = len(W) - below_e
                done = np.searchsorted(W, e + reach, side="right") - below_e
                emp = np.clip(done / np.maximum(surv, 1), 0.0, 1.0)
                use = (surv >= 10)[:, 0]
                p[use, :] = emp[use, :]
            mu_f += p.sum(0)
            var_f += (p * (1 - p)).sum(0)
        # demand: waiting calls and ringing calls by age
        A = est.all_sorted
        Lv = est.live_sorted
        nA = max(1, est.n_calls)
        waiting = 0
        ages = []
        for c in s.in_flight:
            if c.waiting_for_agent:
                waiting += 1
            elif c.answered_at is None:
                ages.append(s.now - c.placed_at)
        mu_l = np.full(len(H), float(waiting))
        var_l = np.zeros(len(H))
        # Tiny teams: 600 calls are hours of their dialling, and a fall in the live share would reach
        # the forecast hours late (2 agents + live_drop: 90 minutes to recover). Their live share p is
        # the change-point estimate; answer times still come from the long sample, live (Lv) and not
        # (N): a call is live by t with p F_L(t), and a ringing call of age a is live within t with
        # p (F_L(a + t) - F_L(a)) / (1 - p F_L(a) - (1 - p) F_N(a)). With p the long sample's share
        # these are the counts below.
        N = est.other_sorted
        share = tiny and self.small["live_share"] and len(Lv) >= 10 and len(N) >= 10
        if share:
            p = est.share.share()
            nL, nN = len(Lv), len(N)
        if ages:
            a = np.array(ages)[:, None]
            if share:
                fl = np.searchsorted(Lv, a, side="right") / nL
                surv_p = 1.0 - p * fl - (1.0 - p) * np.searchsorted(N, a, side="right") / nN
                got_p = p * (np.searchsorted(Lv, a + H[None, :], side="right") / nL - fl)
                q = np.clip(np.where(surv_p > 1e-9, got_p / np.maximum(surv_p, 1e-9), 0.0), 0.0, 1.0)
            else:
                surv = nA - np.searchsorted(A, a, side="right")
                got = np.searchsorted(Lv, a + H[None, :], side="right") - np.searchsorted(Lv, a, side="right")
                q = np.clip(got / np.maximum(surv, 1), 0.0, 1.0)
            mu_l += q.sum(0)
            var_l += (q * (1 - q)).sum(0)
        if share:
            g = p * np.searchsorted(Lv, H, side="right") / nL
        else:
            g = np.searchsorted(Lv, H, side="right") / nA  # a new call is a live answer by t
        base_mu = mu_l - mu_f
        base_var = var_l + var_f
        total_live0 = mu_l[-1]

        def ratio(n: int) -> tuple[float, float]:
            mu = base_mu + n * g
            var = base_var + n * g * (1 - g)
            ab = max(float(np.max(_expected_excess(mu, var))), _expected_running_max(mu, var, H))
            live = total_live0 + n * g[-1]
            return ab, live

        # largest n with forecast abandons <= allowance x forecast live answers (monotone in n)
        lo, hi = 0, cap
        cal = self._calibration(self.small["cal_min"] if small else 0.5)
        ab0, live0 = ratio(0)
        self._last_forecast = ab0
        if cal * ab0 > allow * max(live0, 1.0):
            if small and self.small["progressive_floor"] and progressive:
                return Decision(min(progressive, cap), f"progressive: forecast abandons {ab0:.3f} at allowance {allow:.4f}")
            return Decision(0, f"predictive: forecast abandons {ab0:.3f} already at allowance {allow:.4f}")
        while lo < hi:
            mid = (lo + hi + 1) // 2
            ab, live = ratio(mid)
            if cal * ab <= allow * max(live, 1.0):
                lo = mid
            else:
                hi = mid - 1
        n = lo
        if small and self.small["progressive_floor"]:
            n = max(n, min(progressive, cap))  # never fewer lines than progressive, which is safe
        self._last_forecast = ratio(n)[0]
        return Decision(n, f"predictive: {n} calls, allowance {allow:.4f}",
                        {"allowance": allow, "calibration": cal, "p_live": est.p_live, "ready": ready, "lines": lines})

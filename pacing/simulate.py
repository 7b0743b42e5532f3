"""Seeded discrete-event simulation (an event heap) of agents and called parties that drives any
pacing policy through the same API the runtime uses (`make_policy(...).decide(Snapshot)`).

World per call (fixed by issue 5): outcome mix live / machine / busy / failed / no answer; lognormal
time to answer (live mean 9 s sd 5 s, machine mean 18 s sd 6 s), ring timeout 25 s, busy/failed
signalled after 2-6 s, talk lognormal mean 120 s sd 90 s, wrap-up lognormal mean 15 s sd 10 s, and a
live answer that finds no agent within 2 s is abandoned. The non-live mix is fixed: machine 20 %,
busy 8 %, failed 4 %, the rest no answer.
"""
from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field, replace

from pacing import (AbandonLedger, AgentState, AgentView, CallOutcome, CallView, FinishedCall,
                    PacingSettings, Snapshot, make_policy)

MACHINE, BUSY, FAILED = 0.20, 0.08, 0.04
STRESSES = ("none", "live_drop", "breaks", "talk_double")


@dataclass(frozen=True)
class Scenario:
    name: str
    agents: int
    live_rate: float
    stress: str = "none"

    def label(self) -> str:
        return self.name if self.stress == "none" else f"{self.name}+{self.stress}"


SCENARIOS = {
    "S": Scenario("S", 5, 0.20),
    "M": Scenario("M", 25, 0.30),
    "L": Scenario("L", 100, 0.15),
}


def scenario(name: str, stress: str = "none") -> Scenario:
    """S, M, L or a team size for the sweep ('T10' = 10 agents at 30 % live answers)."""
    if name in SCENARIOS:
        base = SCENARIOS[name]
    elif name.startswith("T") and name[1:].isdigit() and int(name[1:]) > 0:
        base = Scenario(name, int(name[1:]), 0.30)
    else:
        raise ValueError(f"unknown scenario {name!r}; choose S, M, L or T<agents> (e.g. T10)")
    if stress not in STRESSES:
        raise ValueError(f"unknown stress {stress!r}; choose one of {', '.join(STRESSES)}")
    return Scenario(base.name, base.agents, base.live_rate, stress)


def default_settings(policy_name: str, sc: Scenario) -> PacingSettings:
    """The benchmark's campaign settings: a UK-style calendar-day window and the scenario's true pickup
    rate. The ratio baseline gets its documented behaviour, 1 / pickup rate lines per ready agent, so its
    line cap is raised to that ratio (L: 6.67) instead of the default 3 that would blunt it."""
    lines = 3.0
    if policy_name == "ratio":
        lines = max(lines, 1.0 / sc.live_rate)
    return PacingSettings(window="calendar_day", pickup_rate=sc.live_rate, max_lines_per_agent=lines)


def _lognormal(rng: random.Random, mean: float, sd: float) -> float:
    s2 = math.log(1.0 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - s2 / 2.0, math.sqrt(s2))


@dataclass
class RunResult:
    policy: str
    scenario: str
    seed: int
    hours: float
    live_answers: int
    abandons: int
    abandon_rate: float
    worst_hour_abandon_rate: float
    occupancy: float
    talk_min_per_agent_hour: float
    idle_wait_mean: float
    idle_wait_p95: float
    connects_per_agent_hour: float
    peak_lines_per_agent: float
    calls_cut_early: int
    calls_placed: int
    # per-minute series for plots
    minute_live: list = field(default_factory=list, repr=False)
    minute_abandons: list = field(default_factory=list, repr=False)
    minute_occupancy: list = field(default_factory=list, repr=False)


# event kinds
_TICK, _ANSWER, _END, _ABANDON_CHECK, _TALK_END, _WRAP_END, _BREAK, _BREAK_END = range(8)


def run(policy_name: str, sc: Scenario, seed: int, hours: float = 8.0, tick: float = 0.5,
        settings: PacingSettings | None = None) -> RunResult:
    rng = random.Random(seed)
    settings = settings or default_settings(policy_name, sc)
    policy = make_policy(policy_name, settings)
    end_time = hours * 3600.0
    mid = end_time / 2.0
    n_agents = sc.agents
    state = [AgentState.READY] * n_agents
    since = [0.0] * n_agents
    views = [AgentView(f"a{i}", AgentState.READY, 0.0) for i in range(n_agents)]
    ready: deque[int] = deque(range(n_agents))  # longest idle first
    on_break_pending: set[int] = set()
    busy_time = [0.0] * n_agents
    _talk_seconds = [0.0]
    paused_time = [0.0] * n_agents
    waits: list[float] = []
    in_flight: dict[int, CallView] = {}
    calls: dict[int, tuple] = {}  # call id -> (placed_at, outcome, answered_at)
    waiting: deque[int] = deque()
    history: deque[FinishedCall] = deque(maxlen=2000)
    live_answers = abandons = placed = cut = 0
    n_min = int(math.ceil(end_time / 60.0))
    m_live = [0] * n_min
    m_ab = [0] * n_min
    m_occ_sum = [0.0] * n_min
    m_occ_n = [0] * n_min
    peak_lines = 0.0
    heap: list = []
    seq = 0

    def push(t: float, kind: int, data=None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, seq, kind, data))

    def set_state(i: int, st: AgentState, t: float) -> None:
        old = state[i]
        if old is AgentState.ON_CALL or old is AgentState.WRAP_UP:
            busy_time[i] += t - since[i]
            if old is AgentState.ON_CALL:
                _talk_seconds[0] += t - since[i]
        elif old is AgentState.PAUSED:
            paused_time[i] += t - since[i]
        state[i] = st
        since[i] = t
        views[i] = AgentView(views[i].agent_id, st, t)

    def live_rate(t: float) -> float:
        if sc.stress == "live_drop" and t >= mid:
            return sc.live_rate / 2.0
        return sc.live_rate

    def talk_time(t: float) -> float:
        x = _lognormal(rng, 120.0, 90.0)
        return 2.0 * x if sc.stress == "talk_double" and t >= mid else x

    def connect(cid: int, i: int, t: float) -> None:
        set_state(i, AgentState.ON_CALL, t)
        push(t + talk_time(t), _TALK_END, (i, cid, t))

    def agent_free(i: int, t: float) -> None:
        if i in on_break_pending:
            on_break_pending.discard(i)
            set_state(i, AgentState.PAUSED, t)
            push(t + 900.0, _BREAK_END, i)
            return
        set_state(i, AgentState.READY, t)
        if waiting:
            cid = waiting.popleft()
            in_flight.pop(cid, None)
            waits.append(0.0)
            connect(cid, i, t)
        else:
            ready.append(i)

    def finish(cid: int, t: float, outcome: CallOutcome, answered, connected) -> None:
        placed_at = calls.pop(cid)[0]
        in_flight.pop(cid, None)
        history.append(FinishedCall(placed_at, answered, connected, t, outcome))

    push(0.0, _TICK)
    if sc.stress == "breaks":
        push(mid, _BREAK)
    next_id = 0
    while heap:
        t, _, kind, data = heapq.heappop(heap)
        if t > end_time:
            break
        if kind == _TICK:
            active = 0
            busy = 0
            for st in state:
                if st is not AgentState.PAUSED:
                    active += 1
                    if st is AgentState.ON_CALL or st is AgentState.WRAP_UP:
                        busy += 1
            minute = min(n_min - 1, int(t // 60))
            m_occ_sum[minute] += busy / active if active else 0.0
            m_occ_n[minute] += 1
            if active:
                peak_lines = max(peak_lines, len(in_flight) / active)
            snap = Snapshot(t, views, list(in_flight.values()), history,
                            AbandonLedger(live_answers, abandons, 0.0), settings)
            n = policy.decide(snap).calls_to_place
            lr = live_rate(t)
            for _ in range(max(0, n)):
                cid = next_id
                next_id += 1
                placed += 1
                u = rng.random()
                if u < lr:
                    d = _lognormal(rng, 9.0, 5.0)
                    outcome = CallOutcome.LIVE if d <= settings.ring_timeout_seconds else CallOutcome.NO_ANSWER
                elif u < lr + MACHINE:
                    d = _lognormal(rng, 18.0, 6.0)
                    outcome = CallOutcome.MACHINE if d <= settings.ring_timeout_seconds else CallOutcome.NO_ANSWER
                elif u < lr + MACHINE + BUSY:
                    d, outcome = rng.uniform(2.0, 6.0), CallOutcome.BUSY
                elif u < lr + MACHINE + BUSY + FAILED:
                    d, outcome = rng.uniform(2.0, 6.0), CallOutcome.FAILED
                else:
                    d, outcome = settings.ring_timeout_seconds, CallOutcome.NO_ANSWER
                calls[cid] = (t, outcome)
                in_flight[cid] = CallView(str(cid), t, None, False)
                if outcome is CallOutcome.NO_ANSWER:
                    d = settings.ring_timeout_seconds  # the dialer hangs up at the ring timeout
                    if d < settings.min_ring_seconds:
                        cut += 1
                    push(t + d, _END, cid)
                elif outcome in (CallOutcome.BUSY, CallOutcome.FAILED):
                    push(t + d, _END, cid)
                else:
                    push(t + d, _ANSWER, cid)
            if t + tick <= end_time:
                push(t + tick, _TICK)
        elif kind == _ANSWER:
            cid = data
            placed_at, outcome = calls[cid]
            if outcome is CallOutcome.MACHINE:
                finish(cid, t + 3.0, CallOutcome.MACHINE, t, None)  # detected and hung up
                continue
            live_answers += 1
            m_live[min(n_min - 1, int(t // 60))] += 1
            if ready:
                i = ready.popleft()
                waits.append(t - since[i])
                in_flight.pop(cid, None)
                calls[cid] = (placed_at, outcome, t)
                connect(cid, i, t)
            else:
                calls[cid] = (placed_at, outcome, t)
                in_flight[cid] = CallView(str(cid), placed_at, t, True)
                waiting.append(cid)
                push(t + settings.connect_limit_seconds, _ABANDON_CHECK, cid)
        elif kind == _ABANDON_CHECK:
            cid = data
            if cid in in_flight:  # nobody took it in time
                waiting.remove(cid)
                abandons += 1
                m_ab[min(n_min - 1, int(calls[cid][2] // 60))] += 1
                finish(cid, t, CallOutcome.ABANDONED, calls[cid][2], None)
        elif kind == _END:
            finish(data, t, calls[data][1], None, None)
        elif kind == _TALK_END:
            i, cid, connected_at = data
            placed_at, _, answered = calls.pop(cid)
            history.append(FinishedCall(placed_at, answered, connected_at, t, CallOutcome.LIVE))
            set_state(i, AgentState.WRAP_UP, t)
            push(t + _lognormal(rng, 15.0, 10.0), _WRAP_END, i)
        elif kind == _WRAP_END:
            agent_free(data, t)
        elif kind == _BREAK:
            k = max(1, round(0.2 * n_agents))
            for i in range(k):
                if state[i] is AgentState.READY:
                    ready.remove(i)
                    set_state(i, AgentState.PAUSED, t)
                    push(t + 900.0, _BREAK_END, i)
                else:
                    on_break_pending.add(i)
        elif kind == _BREAK_END:
            agent_free(data, t)

    for i in range(n_agents):  # close open spells at the end of the shift
        set_state(i, state[i], end_time)
    logged_in = n_agents * end_time - sum(paused_time)
    agent_hours = logged_in / 3600.0
    talk_total = sum(busy_time)  # talk + wrap-up
    connects = live_answers - abandons
    waits_sorted = sorted(waits)
    worst = 0.0
    for s0 in range(0, max(1, n_min - 59)):
        lv = sum(m_live[s0:s0 + 60])
        if lv:
            worst = max(worst, sum(m_ab[s0:s0 + 60]) / lv)
    return RunResult(
        policy=policy_name, scenario=sc.label(), seed=seed, hours=hours,
        live_answers=live_answers, abandons=abandons,
        abandon_rate=abandons / live_answers if live_answers else 0.0,
        worst_hour_abandon_rate=worst,
        occupancy=talk_total / logged_in if logged_in else 0.0,
        talk_min_per_agent_hour=_talk_seconds[0] / 60.0 / agent_hours if agent_hours else 0.0,
        idle_wait_mean=sum(waits) / len(waits) if waits else 0.0,
        idle_wait_p95=waits_sorted[int(0.95 * (len(waits_sorted) - 1))] if waits else 0.0,
        connects_per_agent_hour=connects / agent_hours if agent_hours else 0.0,
        peak_lines_per_agent=peak_lines, calls_cut_early=cut, calls_placed=placed,
        minute_live=m_live, minute_abandons=m_ab,
        minute_occupancy=[s / n if n else 0.0 for s, n in zip(m_occ_sum, m_occ_n)],
    )


def abandon_bound(agents: int) -> float:
    """The worst-seed bound of the worst 60-minute window for a team this size (issue 5's goals:
    S 5 agents 8 %, M 25 agents 6 %, L 100 agents 5 %; the sweep uses the nearest of them)."""
    return 0.08 if agents <= 10 else 0.06 if agents <= 25 else 0.05


def stress_steps(sc: Scenario, hours: float) -> list[int]:
    """Minutes of the shift where the stress changes the world: mid-shift, and for breaks also the
    agents' return 15 minutes later."""
    if sc.stress == "none":
        return []
    mid = int(hours * 60 // 2)
    return [mid, mid + 15] if sc.stress == "breaks" else [mid]


def recovery_minutes(minute_live, minute_abandons, minute_occupancy, step: int, abandon_bound: float,
                     occupancy_floor: float, hold: int = 10, window: int = 60, horizon: int = 120) -> float:
    """Minutes after a stress step until the run is back within bounds for good: one past the last
    minute, in the `horizon` minutes after the step, where the trailing `window`-minute abandon rate
    is above abandon_bound or the trailing 10-minute mean occupancy below occupancy_floor (see
    occupancy_floor). 0 when the step never took the run out of bounds; inf when it is still out of
    bounds in the last `hold` minutes of the horizon (or of the shift)."""
    n = len(minute_live)

    def ok(m: int) -> bool:
        lo = max(0, m - window + 1)
        live = sum(minute_live[lo:m + 1])
        ab = sum(minute_abandons[lo:m + 1])
        if live and ab / live > abandon_bound:
            return False
        occ = minute_occupancy[max(0, m - 9):m + 1]
        return sum(occ) / len(occ) >= occupancy_floor

    end = min(n, step + horizon)
    last_bad = next((m for m in range(end - 1, step - 1, -1) if not ok(m)), None)
    if last_bad is None:
        return 0.0
    if last_bad >= end - hold:
        return math.inf
    return float(last_bad + 1 - step)


def occupancy_floor(occ: list[float], steps: list[int], step: int, settled: bool = True) -> float:
    """The occupancy a run must be back at after `step`: 0.9 x its mean in the hour before the step
    or, with `settled`, 0.9 x the lower of that and the level it settles at in the changed world
    (its mean from an hour after the last step to the end of the shift). When the live rate halves,
    5 agents at 3 lines each cannot be as busy as before: recovering means reaching the new level
    (a controller's settling time), not a level no setting could keep."""
    before = occ[max(0, step - 60):step]
    level = sum(before) / len(before) if before else 0.0
    after = occ[steps[-1] + 60:] if settled and steps else []
    if after:
        level = min(level, sum(after) / len(after))
    return 0.9 * level


def _recoveries(live, ab, occ, sc: Scenario, hours: float, settled: bool) -> list[float]:
    steps = stress_steps(sc, hours)
    return [recovery_minutes(live, ab, occ, step, abandon_bound(sc.agents), occupancy_floor(occ, steps, step, settled))
            for step in steps]


def recovery(r: RunResult, sc: Scenario, settled: bool = True) -> list[float]:
    """recovery_minutes for each stress step of a run (see stress_steps and occupancy_floor)."""
    return _recoveries(r.minute_live, r.minute_abandons, r.minute_occupancy, sc, r.hours, settled)


def mean_recovery(runs: list[RunResult], sc: Scenario, settled: bool = True) -> list[float]:
    """recovery_minutes of the seeds' mean trajectory, for each stress step: the abandons and live
    answers of every seed pooled minute by minute, occupancy averaged over the seeds. A 10-minute
    occupancy of a 5-agent team swings between 0.35 and 0.85 with no stress at all, so a single seed
    measures that noise more than the policy; the mean over 20 seeds is the policy's response to
    the step (how a controller's step response is measured)."""
    if not runs:
        return []
    n = min(len(r.minute_live) for r in runs)
    live = [sum(r.minute_live[m] for r in runs) for m in range(n)]
    ab = [sum(r.minute_abandons[m] for r in runs) for m in range(n)]
    occ = [sum(r.minute_occupancy[m] for r in runs) / len(runs) for m in range(n)]
    return _recoveries(live, ab, occ, sc, runs[0].hours, settled)


def _run_args(args):
    return run(*args)


def run_many(policy_name: str, sc: Scenario, seeds: int = 20, hours: float = 8.0, processes: int = 1,
             tick: float = 0.5, settings: PacingSettings | None = None) -> list[RunResult]:
    """One run per seed (seeds 1..n); with processes > 1 the seeds run in a process pool."""
    jobs = [(policy_name, sc, seed, hours, tick, settings) for seed in range(1, seeds + 1)]
    if processes > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            return pool.map(_run_args, jobs)
    return [run(*job) for job in jobs]


def summarize(results: list[RunResult]) -> dict:
    """Means over seeds (and the worst seed for the worst 60-minute window)."""
    n = len(results)

    def mean(attr: str) -> float:
        return sum(getattr(r, attr) for r in results) / n if n else 0.0

    return {
        "policy": results[0].policy if results else "",
        "scenario": results[0].scenario if results else "",
        "seeds": n,
        "abandon_%": 100 * mean("abandon_rate"),
        "worst_hour_%": 100 * mean("worst_hour_abandon_rate"),
        "worst_hour_max_%": 100 * max((r.worst_hour_abandon_rate for r in results), default=0.0),
        "occupancy": mean("occupancy"),
        "talk_min/agent_h": mean("talk_min_per_agent_hour"),
        "idle_mean_s": mean("idle_wait_mean"),
        "idle_p95_s": mean("idle_wait_p95"),
        "connects/agent_h": mean("connects_per_agent_hour"),
        "peak_lines/agent": max((r.peak_lines_per_agent for r in results), default=0.0),
        "cut_before_15s": sum(r.calls_cut_early for r in results),
    }


# --- equal-occupancy comparison ---------------------------------------------------------------------
# A baseline has a knob that trades abandons for occupancy: ratio its lines per ready agent (1.0 is
# progressive), VICIdial its adaptive maximum level. Run at several settings, a baseline is a curve of
# (occupancy, worst-hour abandon) points; "predictive beats it at equal occupancy" means the curve,
# read at predictive's occupancy, lies above predictive's worst-hour abandon.

# lines per ready agent (ratio) or adaptive maximum dial level (VICIdial)
KNOB_LEVELS = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0)


def family_settings(policy_name: str, sc: Scenario, level: float) -> PacingSettings:
    """Settings of a baseline at one point of its knob (see KNOB_LEVELS)."""
    base = default_settings(policy_name, sc)
    if policy_name == "ratio":
        return replace(base, pickup_rate=1.0 / level, max_lines_per_agent=max(1.0, level))
    if policy_name.startswith("vicidial_adaptive"):
        return replace(base, max_lines_per_agent=level)
    raise ValueError(f"{policy_name!r} has no knob to sweep")


def family_levels(policy_name: str, sc: Scenario) -> list[float]:
    """The knob settings swept for a baseline: ratio up to its documented 1 / pickup rate."""
    if policy_name == "ratio":
        top = 1.0 / sc.live_rate
        return sorted({lv for lv in KNOB_LEVELS if lv < top - 1e-9} | {top})
    return list(KNOB_LEVELS)


def value_at(points: list[tuple[float, float]], x: float) -> float | None:
    """The curve through ``points`` (x, y) read at ``x`` by linear interpolation between the two
    neighbouring points (sorted by x). None when x lies beyond the largest x: the curve never gets
    there. Below the smallest x, the y of the smallest point (the knob cannot go lower)."""
    pts = sorted(points)
    if not pts or x > pts[-1][0]:
        return None
    if x <= pts[0][0]:
        return pts[0][1]
    i = bisect.bisect_left(pts, (x, -math.inf))  # pts[i - 1][0] < x <= pts[i][0]
    (x0, y0), (x1, y1) = pts[i - 1], pts[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

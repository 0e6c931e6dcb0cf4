"""Time-of-day periods: parsing ``--periods``, checking them, and finding them from the demand.

Pure functions (no SUMO): :func:`parse_periods` reads an explicit list such as
``"07:00-09:30,09:30-16:00,16:00-19:30"``; :func:`check_periods` refuses lists that do not tile
the window, periods shorter than two cycles and switches inside a tidal lane's clearance
interval; :func:`segment` is the ``auto`` rule (optimal contiguous segmentation of the demand
profile by dynamic programming); :func:`demand_profile` and :func:`tidal_constraints` read what
the rule needs from a scenario.

The ``auto`` rule
-----------------
The window is cut into *atoms*: the demand's bins (``[demand] bin_minutes``), further cut at the
forced breakpoints.  Each atom has a vector of hourly volumes, one per entry (the origin of the
flows).  For each number of periods K the optimal segmentation into K contiguous periods
minimises the within-period sum of squares (SSE, volumes weighted by the atoms' durations);
periods are at least ``min_length_s`` long, forced breakpoints are always period boundaries
and no boundary falls strictly inside a forbidden interval (a tidal clearance).  K starts at the
fewest periods the forced breakpoints allow and grows while one more period removes at least
``min_gain`` (default 10 %) of the day's total sum of squares about its mean, up to
``max_periods`` (default 6).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.errors import Issue, ScenarioError
from trafficsim.spec import clock, parse_time

FIELD = "--periods"
#: ``auto``: stop adding periods when one more removes less than this share of the total SSE
MIN_GAIN = 0.10
#: ``auto``: at most this many periods
MAX_PERIODS = 6

Window = tuple[float, float]


@dataclass(frozen=True)
class Constraints:
    """What the schedule imposes on period boundaries.

    Attributes
    ----------
    forced_s
        Times that must be period boundaries (a tidal lane opens or closes). [s]
    forbidden
        Intervals no boundary may fall strictly inside (tidal clearances). [s]
    reasons
        Time → why it is forced (for ``optimise.json``).
    """

    forced_s: tuple[float, ...] = ()
    forbidden: tuple[Window, ...] = ()
    reasons: dict[float, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Segmentation:
    """The ``auto`` rule's result: periods and the numbers that chose them.

    Attributes
    ----------
    periods
        (begin [s], end [s]) tiling the window.
    sse_by_k
        Number of periods → the optimal within-period sum of squares. [(veh/h)²·s]
    total_sse
        Sum of squares about the window's mean (one period, no forced breakpoint). [(veh/h)²·s]
    rule
        The rule in words.
    """

    periods: tuple[Window, ...]
    sse_by_k: dict[int, float]
    total_sse: float
    rule: str


def _bad(source: Path | str, message: str) -> ScenarioError:
    return ScenarioError([Issue(source, FIELD, message)])


def parse_periods(text: str, source: Path | str = "") -> list[Window]:
    """Periods from ``"HH:MM-HH:MM,HH:MM-HH:MM,…"`` (times of day, or seconds).

    Raises
    ------
    ScenarioError
        Naming ``--periods`` when an item is not ``begin-end`` with clock times, ends before
        it begins, or begins before the item listed before it (periods are listed in time
        order).
    """
    out: list[Window] = []
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise _bad(source, f"= {text!r} is empty; expected 'auto' or periods such as "
                           "'07:00-09:30,09:30-16:00'")
    for item in items:
        parts = item.split("-")
        times = [parse_time(p.strip()) for p in parts] if len(parts) == 2 else [None]
        if len(parts) != 2 or any(t is None for t in times):
            raise _bad(source, f"item {item!r} is not a period; expected 'HH:MM-HH:MM' "
                               "(e.g. '07:00-09:30'), comma-separated, or 'auto'")
        b, e = float(times[0] or 0.0), float(times[1] or 0.0)
        if e <= b:
            raise _bad(source, f"period {item!r} ends before it begins; expected begin < end")
        if out and b < out[-1][0]:
            # (sorting them silently would hide a slip, e.g. a period typed with the wrong hour)
            prev = items[len(out) - 1]
            raise _bad(source, f"period {item!r} is listed after {prev!r}, which begins later; "
                               "expected the periods in time order, e.g. "
                               "'07:00-09:30,09:30-16:00'")
        out.append((b, e))
    return out


def check_periods(periods: Sequence[Window], begin_s: float, end_s: float, *,
                  min_length_s: float, constraints: Constraints = Constraints(),
                  source: Path | str = "") -> list[Window]:
    """The periods sorted, once they tile [begin_s, end_s) and respect the constraints.

    Parameters
    ----------
    periods
        (begin, end) pairs. [s]
    begin_s, end_s
        The window they must tile, without gap or overlap. [s]
    min_length_s
        Shortest period: two cycles at the upper cycle bound. [s]
    constraints
        No boundary strictly inside a forbidden interval (a tidal clearance).

    Raises
    ------
    ScenarioError
        Naming ``--periods``, one issue per problem.
    """
    ps = sorted(periods)
    msgs: list[str] = []
    if ps[0][0] != begin_s:
        msgs.append(f"the first period begins at {clock(ps[0][0])}; expected the window's "
                    f"begin {clock(begin_s)} (periods must tile {clock(begin_s)}–"
                    f"{clock(end_s)})")
    if ps[-1][1] != end_s:
        msgs.append(f"the last period ends at {clock(ps[-1][1])}; expected the window's end "
                    f"{clock(end_s)} (periods must tile {clock(begin_s)}–{clock(end_s)})")
    for (b0, e0), (b1, e1) in itertools.pairwise(ps):
        if b1 < e0:
            msgs.append(f"periods {clock(b0)}–{clock(e0)} and {clock(b1)}–{clock(e1)} overlap; "
                        "expected each period to begin where the previous one ends")
        elif b1 > e0:
            msgs.append(f"gap {clock(e0)}–{clock(b1)} between periods; expected each period "
                        "to begin where the previous one ends")
    for b, e in ps:
        if e - b < min_length_s:
            msgs.append(f"period {clock(b)}–{clock(e)} lasts {e - b:g} s; expected at least "
                        f"two cycles at the upper cycle bound ({min_length_s:g} s)")
    for b, _ in ps[1:]:
        for fb, fe in constraints.forbidden:
            if fb < b < fe:
                msgs.append(f"the switch at {clock(b)} falls inside the tidal lane's clearance "
                            f"interval {clock(fb)}–{clock(fe)} (both directions closed); "
                            f"expected a switch at or outside it, e.g. at {clock(fe)}")
    if msgs:
        raise ScenarioError([Issue(source, FIELD, m) for m in msgs])
    return ps


# --------------------------------------------------------------------------------------------
# The auto rule
# --------------------------------------------------------------------------------------------
def segment(edges_s: Sequence[float], volumes: np.ndarray, *, min_length_s: float,
            constraints: Constraints = Constraints(), max_periods: int = MAX_PERIODS,
            min_gain: float = MIN_GAIN) -> Segmentation:
    """Optimal contiguous periods of a demand profile (see the module docstring for the rule).

    Parameters
    ----------
    edges_s
        Bin edges, ascending, n + 1 values: the window is [edges_s[0], edges_s[-1]). [s]
    volumes
        (n bins × entries) hourly volumes. [veh/h]
    min_length_s
        Shortest period. [s]
    constraints
        Forced breakpoints (inside the window) and forbidden intervals.
    max_periods, min_gain
        The stopping rule: at most ``max_periods``; one more only when it removes at least
        ``min_gain`` of the total sum of squares.

    Raises
    ------
    ValueError
        When no segmentation satisfies the constraints (e.g. forced breakpoints closer than
        ``min_length_s``).
    """
    begin, end = float(edges_s[0]), float(edges_s[-1])
    forced = sorted({t for t in constraints.forced_s if begin < t < end})
    cuts = sorted(set(map(float, edges_s)) | set(forced))
    x = np.asarray(volumes, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    # atoms: the bins cut at the forced breakpoints; each takes its bin's volumes
    bins = np.searchsorted(np.asarray(edges_s, dtype=float), cuts[:-1], side="right") - 1
    ax = x[np.clip(bins, 0, len(x) - 1)]
    w = np.diff(cuts)
    n = len(w)
    # prefix sums of w, w·x, w·|x|² for O(1) segment costs
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.vstack([np.zeros(x.shape[1]), np.cumsum(w[:, None] * ax, axis=0)])
    cq = np.concatenate([[0.0], np.cumsum(w * (ax ** 2).sum(axis=1))])

    def cost(i: int, j: int) -> float:  # atoms i..j-1
        ww = cw[j] - cw[i]
        s = cx[j] - cx[i]
        return float(cq[j] - cq[i] - (s @ s) / ww)

    def allowed(k: int) -> bool:  # may cut before atom k (0 < k < n)
        t = cuts[k]
        return not any(fb < t < fe for fb, fe in constraints.forbidden)

    forced_idx = {cuts.index(t) for t in forced}
    total = cost(0, n)
    k_min = len(forced) + 1
    inf = math.inf
    # best[k][j]: least SSE of atoms 0..j-1 in k periods ending exactly at j
    best = [[inf] * (n + 1) for _ in range(max(max_periods, k_min) + 1)]
    back = [[-1] * (n + 1) for _ in range(len(best))]
    best[0][0] = 0.0
    for k in range(1, len(best)):
        for j in range(1, n + 1):
            if j < n and (not allowed(j)):
                continue
            for i in range(j - 1, -1, -1):
                if cuts[j] - cuts[i] < min_length_s - 1e-9:
                    if i in forced_idx:
                        break
                    continue
                if best[k - 1][i] < inf:
                    c = best[k - 1][i] + cost(i, j)
                    if c < best[k][j]:
                        best[k][j], back[k][j] = c, i
                if i in forced_idx:
                    break  # a period may not span a forced breakpoint
    sse = {k: best[k][n] for k in range(1, len(best)) if best[k][n] < inf}
    if not sse:
        msg = (f"no periods of at least {min_length_s:g} s fit the window "
               f"{clock(begin)}–{clock(end)} with switches at "
               f"{', '.join(map(clock, forced)) or 'no forced time'}")
        raise ValueError(msg)
    k = min(sse)
    while k + 1 in sse and k + 1 <= max(max_periods, k_min) \
            and total > 0 and (sse[k] - sse[k + 1]) >= min_gain * total:
        k += 1
    periods: list[Window] = []
    j = n
    for kk in range(k, 0, -1):
        i = back[kk][j]
        periods.append((cuts[i], cuts[j]))
        j = i
    rule = (f"optimal contiguous segmentation of the {len(x)} demand bins' per-entry volumes "
            "(dynamic programming, least within-period sum of squares), periods of at least "
            f"{min_length_s:g} s, tidal lane switches forced as boundaries and none inside a "
            f"clearance; periods added while one more removes at least {min_gain:.0%} of the "
            f"total sum of squares, at most {max_periods}")
    return Segmentation(tuple(reversed(periods)), sse, total, rule)


# --------------------------------------------------------------------------------------------
# From a scenario
# --------------------------------------------------------------------------------------------
def demand_profile(sc: Any) -> tuple[list[float], np.ndarray, list[str]]:
    """Bin edges [s], (bins × entries) hourly volumes [veh/h] and the entries of a scenario.

    An entry is a flow's origin; its volume in a bin is the sum of its flows' peak volumes times
    their profile multiplier.

    Raises
    ------
    ScenarioError
        Naming ``--periods`` when the scenario has no generated demand (route files only).
    """
    dem = sc.demand
    if dem is None or not dem.flows:
        raise _bad(sc.source, "= auto needs the scenario's [demand] flows to find the periods; "
                              "this scenario's demand comes from route files: give the periods "
                              "explicitly, e.g. '07:00-09:30,09:30-16:00,16:00-19:30'")
    entries = sorted({f.origin for f in dem.flows})
    n = max(1, math.ceil((sc.end_s - sc.begin_s) / dem.bin_s - 1e-9))
    x = np.zeros((n, len(entries)))
    for f in dem.flows:
        col = entries.index(f.origin)
        for b in range(n):
            mult = f.profile[b] if b < len(f.profile) else (f.profile[-1] if f.profile else 1.0)
            x[b, col] += f.veh_per_hour * mult
    edges = [sc.begin_s + b * dem.bin_s for b in range(n)] + [sc.end_s]
    return edges, x, entries


def tidal_constraints(sc: Any) -> Constraints:
    """Forced breakpoints and forbidden intervals from every tidal lane in the scenario's plans.

    Forced: each time a tidal lane opens to a direction, or closes outside a clearance.
    Forbidden: each clearance interval (both copies closed before a reversal).
    """
    from trafficsim.measures.tidal_lane import CLEARANCE, DIRECTIONS, TidalLane

    forced: dict[float, str] = {}
    forbidden: list[Window] = []
    seen: set[int] = set()
    for plan in sc.plans.values():
        for m in plan.measures:
            if not isinstance(m, TidalLane) or id(m) in seen:
                continue
            seen.add(id(m))
            try:
                line = m.timeline(sc.begin_s, sc.end_s)
            except ValueError:
                continue  # the scenario check reports it
            for (b0, _, s0), (b1, e1, s1) in itertools.pairwise(line):
                del b0
                if s1 == CLEARANCE:
                    forbidden.append((b1, e1))
                elif s1 in DIRECTIONS:
                    forced[b1] = f"{m.label} opens {s1}"
                elif s0 in DIRECTIONS:
                    forced[b1] = f"{m.label} closes ({s0} ends)"
    forced = {t: r for t, r in forced.items() if sc.begin_s < t < sc.end_s}
    return Constraints(tuple(sorted(forced)), tuple(sorted(set(forbidden))), forced)


def min_period_s(max_cycle_s: float) -> float:
    """Shortest period [s]: two cycles at the upper cycle bound."""
    return 2.0 * max_cycle_s


def resolve_periods(sc: Any, spec: str, max_cycle_s: float) -> tuple[list[Window], dict[str, Any]]:
    """The periods of ``--periods SPEC`` for a scenario, and how they were found.

    Returns
    -------
    periods, info
        Sorted (begin, end) pairs [s] tiling the scenario window; ``info`` for
        ``optimise.json`` (the rule, forced breakpoints, the SSE by number of periods).

    Raises
    ------
    ScenarioError
        Naming ``--periods``.
    """
    cons = tidal_constraints(sc)
    min_len = min_period_s(max_cycle_s)
    info: dict[str, Any] = {
        "spec": spec, "min_length_s": min_len,
        "forced_breakpoints": [{"time_s": t, "clock": clock(t), "why": cons.reasons[t]}
                               for t in cons.forced_s],
        "forbidden": [[b, e] for b, e in cons.forbidden]}
    if spec.strip().lower() == "auto":
        edges, x, entries = demand_profile(sc)
        try:
            seg = segment(edges, x, min_length_s=min_len, constraints=cons)
        except ValueError as exc:
            raise _bad(sc.source, f"= auto: {exc}") from None
        periods = list(seg.periods)
        info |= {"rule": seg.rule, "entries": entries, "bin_s": edges[1] - edges[0],
                 "total_sse": seg.total_sse, "sse_by_periods": seg.sse_by_k}
    else:
        periods = parse_periods(spec, sc.source)
        info["rule"] = "given explicitly"
    periods = check_periods(periods, sc.begin_s, sc.end_s, min_length_s=min_len,
                            constraints=cons, source=sc.source)
    return periods, info

"""Pattern searches around an incumbent.

The fixed-time polish (:func:`refine`) and the tuning of the actuated and coordinated parameter
vectors (:func:`tune_vector`).

A neighbour is taken only if it beats the incumbent, so the early cut works at the incumbent's
value: a neighbour known to be worse is cut short, and every decision is that of an uncut search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trafficsim.optimise.encoding import Encoding
from trafficsim.optimise.search import Search
from trafficsim.signals import SignalPlan

#: A neighbour: ``(move, state, plan, decision vector or None)``
Move = tuple[Any, Any, SignalPlan, list[float] | None]
# Pattern search around the incumbent, in seconds
REFINE_STEPS_S = ((2.0, 4.0, 4.0), (1.0, 2.0, 2.0), (1.0, 1.0, 1.0))  # (green, offset, cycle)
REFINE_BATCH = 4


def neighbours(plan: SignalPlan, enc: Encoding, green_s: float, offset_s: float, cycle_s: float,
               first: tuple[Any, ...] | None = None) -> list[tuple[tuple[Any, ...], SignalPlan]]:
    """Plans one step away from ``plan``: ``(move, plan)`` pairs.

    Moves: ``green_s`` seconds of green from one stage to another of the same light (minimum
    greens kept, cycle unchanged); one light's offset ± ``offset_s`` (the others stay); the
    common cycle ± ``cycle_s`` with the split shares and the offsets relative to the green wave
    kept (through ``enc``).  ``first`` (the last move that paid) is tried first, as in a
    Hooke–Jeeves pattern move.
    """
    moves: list[tuple[tuple[Any, ...], SignalPlan]] = []
    progs = list(plan.programs)
    for i, p in enumerate(progs):
        greens = list(p.greens_s)
        mins = p.min_greens_s
        for a in range(len(greens)):
            for b in range(a + 1, len(greens)):
                for sign in (1, -1):
                    g = greens.copy()
                    g[a] += sign * green_s
                    g[b] -= sign * green_s
                    if g[a] >= mins[a] and g[b] >= mins[b]:
                        new = progs.copy()
                        new[i] = p.with_greens(g)
                        moves.append((("green", p.tls_id, a, b, sign), SignalPlan(tuple(new))))
    if len(progs) > 1:
        for i, p in enumerate(progs[1:], start=1):
            for sign in (1, -1):
                new = progs.copy()
                new[i] = replace(p, offset_s=float((p.offset_s + sign * offset_s) % p.cycle_s))
                moves.append((("offset", p.tls_id, sign), SignalPlan(tuple(new))))
    lo, hi = enc.cycle_bounds
    x = enc.encode(plan)
    for sign in (1, -1):
        c = x[0] + sign * cycle_s
        if cycle_s and lo <= c <= hi:
            y = x.copy()
            y[0] = c
            moves.append((("cycle", sign), enc.decode(y)))
    if first is not None:
        moves.sort(key=lambda m: m[0] != first)  # stable: the rest keep their order
    return moves


def refine(search: Search, enc: Encoding, *,
           roles: Sequence[str] = ("start", "webster", "candidate"),
           structure: SignalPlan | None = None) -> None:
    """Polish the best fixed-time plan by a pattern search in seconds.

    DE's ``polish`` (L-BFGS-B) is useless here: plans are rounded to whole seconds, so the
    objective is piecewise constant and its gradient zero almost everywhere.  Instead: try the
    :func:`neighbours` of the incumbent in batches of :data:`REFINE_BATCH` (evaluated in
    parallel); move to the best of a batch as soon as it beats the incumbent; when no neighbour
    does, shrink the steps (:data:`REFINE_STEPS_S`); stop after the finest.  On a coordinated
    corridor this is where per-light splits and offsets get fitted, which DE's few generations
    in a ten-dimensional box seldom reach.  Deterministic given the objective values (the batch
    does not depend on the number of workers), so ``--resume`` replays it from the journal.

    The pattern search starts from the best plan of ``roles`` (with ``structure``: the best of
    those with the same phases as ``structure``, e.g. the designed ones).
    """
    exact = [e for e in search.journal.entries.values()
             if not e.cut and e.key in search.plans and e.role in roles
             and (structure is None or same_phases(search.plans[e.key], structure))]
    assert exact  # the starting plan at least
    best = min(exact, key=lambda e: (e.objective, e.n))

    def moves(plan: SignalPlan, level: int, last: Any) -> list[Move]:
        return [(m, q, q, None) for m, q in neighbours(plan, enc, *REFINE_STEPS_S[level],
                                                        first=last)]

    pattern_search(search, search.plans[best.key], best.objective, moves, len(REFINE_STEPS_S),
                   "refine")


def same_phases(a: SignalPlan, b: SignalPlan) -> bool:
    """Same lights with the same phase states in the same order."""
    return a.tls_ids == b.tls_ids and all(
        [ph.state for ph in p.phases] == [ph.state for ph in b[p.tls_id].phases]
        for p in a.programs)


def pattern_search(search: Search, state: Any, value: float,
                   moves: Callable[[Any, int, Any], Sequence[Move]], n_levels: int,
                   role: str) -> None:
    """Greedy pattern search over the neighbourhoods that ``moves`` lists.

    ``moves(state, level, last_move)`` lists ``(move, state, plan, x)`` neighbours; the best of
    each batch that beats the incumbent becomes the incumbent; no improvement in the whole
    neighbourhood → next (finer) level.

    Early cut: a neighbour whose objective is already known to exceed the incumbent's is cut
    (its journal value is that lower bound).  The incumbent only improves, so such a plan is
    rejected whenever it comes up again, and every decision is that of an uncut search.
    """
    last: Any = None
    level = 0
    while level < n_levels:
        cands = moves(state, level, last)
        improved = False
        for k in range(0, len(cands), REFINE_BATCH):
            chunk = cands[k:k + REFINE_BATCH]
            # a neighbour is taken only if it beats the incumbent, so one already known to be
            # worse may be cut short (its lower bound > value): the same decisions as uncut
            values = search.run_batch([(search.key(q), q, role, x) for _, _, q, x in chunk],
                                      threshold=value)
            j = int(np.argmin(values))
            if values[j] < value:
                last, state, value = chunk[j][0], chunk[j][1], values[j]
                improved = True
                break
        if not improved:
            level += 1
            last = None



def tune_vector(search: Search, role: str) -> None:
    """Pattern search over a small parameter vector, from its default.

    The vector is described by ``search.encoding``: ``bounds``, ``steps`` per level, ``order``
    of the coordinates, ``default()``, ``decode(x)``.
    """
    enc = search.encoding
    x0 = enc.default()
    plan0 = enc.decode(x0)
    value = search.run_batch([(search.key(plan0), plan0, role, [float(v) for v in x0])])[0]

    def moves(x: np.ndarray, level: int, last: Any) -> list[Move]:
        out: list[Move] = []
        for i in enc.order:
            for sign in (-1, 1):
                y = x.copy()
                y[i] = min(max(y[i] + sign * enc.steps[level][i], enc.bounds[i][0]),
                           enc.bounds[i][1])
                if y[i] != x[i]:
                    out.append(((i, sign), y, enc.decode(y), [float(v) for v in y]))
        out.sort(key=lambda m: m[0] != last)
        return out

    pattern_search(search, x0, value, moves, len(enc.steps), role)



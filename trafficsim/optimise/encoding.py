"""The decision vectors of the search and the plans they stand for.

:class:`Encoding` maps a bounded vector to fixed-time plans with a common cycle (stage splits by
stick breaking, offsets measured from the green wave); :class:`ActuatedEncoding` and
:class:`CoordinatedEncoding` are the small parameter vectors of the actuated and coordinated
tuning phases.  :func:`plan_key` names a plan in the journal.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trafficsim.signals import PROGRAM_ID, SignalPlan, round_preserving_sum


@dataclass(frozen=True)
class Encoding:
    """Bounded vector ↔ :class:`SignalPlan` with a common cycle.

    Layout: ``[cycle_s, splits of tls 1 (n1 − 1 values in [0, 1]), …, offsets of tls 2.. (fractions
    of the cycle in [0, 1])]``.

    Offsets are measured from ``wave_s`` (unwrapped green-wave offsets [s], one per program, see
    :func:`~trafficsim.signals.green_wave_offsets` with ``cycle_s=None``): 0 is the green wave
    at *every* cycle.  Plain fractions of the cycle would tie the coordination to one cycle: a
    search step in the cycle would scatter the offsets, so a coordinated plan at another cycle
    is out of reach of DE's moves (on the showcase arterial the wave pays off only near a cycle of
    twice the link travel time, far from Webster's).
    """

    base: SignalPlan
    min_cycle_s: float = 30.0
    max_cycle_s: float = 150.0
    wave_s: tuple[float, ...] = ()

    def _wave(self, i: int) -> float:
        return self.wave_s[i] - self.wave_s[0] if self.wave_s else 0.0

    @property
    def cycle_bounds(self) -> tuple[float, float]:
        """(lowest, highest) common cycle the search may try [s].

        The lowest fits every program's intergreens and minimum greens; the highest is
        ``max_cycle_s``, raised if need be to 10 s above the lowest and to every program's
        current cycle.
        """
        need = max(sum(p.intergreens_s) + sum(p.min_greens_s) for p in self.base.programs)
        lo = max(self.min_cycle_s, math.ceil(need))
        hi = max(self.max_cycle_s, lo + 10, *(p.cycle_s for p in self.base.programs))
        return float(lo), float(hi)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        """(low, high) of each coordinate of the vector: the cycle [s], then fractions in [0, 1]."""
        b = [self.cycle_bounds]
        b += [(0.0, 1.0)] * sum(len(p.stages) - 1 for p in self.base.programs)
        b += [(0.0, 1.0)] * (len(self.base.programs) - 1)
        return b

    @property
    def dim(self) -> int:
        """Length of the vector."""
        return len(self.bounds)

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """The fixed-time plan of a vector.

        The cycle is clamped to :attr:`cycle_bounds` and rounded to whole seconds; each program's
        spare green time (cycle − intergreens − minimum greens) is shared between its stages by
        stick breaking; an offset is the green wave's plus a fraction of the cycle.
        """
        lo, hi = self.cycle_bounds
        cycle = float(round(min(max(x[0], lo), hi)))
        k = 1
        progs = []
        n_progs = len(self.base.programs)
        offsets = [0.0] + [float(v) for v in x[1 + sum(len(p.stages) - 1
                                                        for p in self.base.programs):]]
        for i, p in enumerate(self.base.programs):
            n = len(p.stages)
            u = [min(max(float(v), 0.0), 1.0) for v in x[k:k + n - 1]]
            k += n - 1
            shares = _stick_breaking(u)
            spare = cycle - sum(p.intergreens_s) - sum(p.min_greens_s)
            greens = [m + spare * s for m, s in zip(p.min_greens_s, shares, strict=True)]
            greens = round_preserving_sum(greens, cycle - sum(p.intergreens_s))
            offset = (float(round(self._wave(i) + min(max(offsets[i], 0.0), 1.0) * cycle) % cycle)
                      if i else 0.0)
            progs.append(p.with_greens(greens, offset_s=offset, program_id=PROGRAM_ID))
        assert len(progs) == n_progs
        return SignalPlan(tuple(progs))

    def encode(self, plan: SignalPlan, cycle_s: float | None = None) -> np.ndarray:
        """A vector whose plan is close to ``plan`` (exact when ``plan`` has a common cycle)."""
        lo, hi = self.cycle_bounds
        progs = [plan[p.tls_id] for p in self.base.programs]
        cycle = cycle_s if cycle_s is not None else max(p.cycle_s for p in progs)
        x = [min(max(cycle, lo), hi)]
        for base, p in zip(self.base.programs, progs, strict=True):
            want = [max(g - m, 0.0) for g, m in zip(p.greens_s, base.min_greens_s, strict=True)]
            tot = sum(want)
            shares = [w / tot for w in want] if tot > 0 else [1.0 / len(want)] * len(want)
            x += _inverse_stick_breaking(shares)
        c0 = progs[0].offset_s
        x += [((p.offset_s - c0 - self._wave(i)) % cycle) / cycle
              for i, p in enumerate(progs) if i]
        return np.array(x, dtype=float)


def _stick_breaking(u: Sequence[float]) -> list[float]:
    """Shares summing to 1 from n − 1 values in [0, 1] (stick breaking)."""
    shares = []
    rest = 1.0
    for v in u:
        shares.append(rest * v)
        rest -= rest * v
    return [*shares, rest]


def _inverse_stick_breaking(shares: Sequence[float]) -> list[float]:
    u = []
    rest = 1.0
    for s in shares[:-1]:
        u.append(min(max(s / rest, 0.0), 1.0) if rest > 1e-12 else 0.5)
        rest -= s
    return u



@dataclass(frozen=True)
class ActuatedEncoding:
    """Actuated control of every traffic light with shared parameters.

    The vector is ``[min green [s], max green [s], max gap [s]]`` (SUMO's ``minDur``, ``maxDur``
    and ``max-gap``), tuned by a pattern search from SUMO's defaults
    (:func:`~trafficsim.optimise.pattern.tune_vector`).

    (A DE over the same box, tried first, spent most of a small budget on its random first
    population; on the imported single intersection its best was 11.2 s where the pattern
    search finds about 10 s, mostly from a shorter max gap.)
    """

    base: SignalPlan
    bounds: tuple[tuple[float, float], ...] = ((3.0, 15.0), (20.0, 90.0), (1.0, 6.0))
    steps: tuple[tuple[float, ...], ...] = ((2.0, 15.0, 1.0), (1.0, 5.0, 0.5))
    order: tuple[int, ...] = (2, 0, 1)  # the max gap matters most

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """Actuated programs with the vector's parameters, clamped to :attr:`bounds`.

        Min and max green are rounded to whole seconds, the max gap to 0.1 s.
        """
        lo = [b[0] for b in self.bounds]
        hi = [b[1] for b in self.bounds]
        v = [min(max(float(x[i]), lo[i]), hi[i]) for i in range(3)]
        return self.base.actuated(min_green_s=float(round(v[0])), max_green_s=float(round(v[1])),
                                  params={"max-gap": f"{round(v[2], 1):g}"},
                                  program_id="actuated_tuned")

    def default(self) -> np.ndarray:
        """SUMO's defaults: minDur 5 s, maxDur 50 s, max-gap 3 s."""
        return np.array([5.0, 50.0, 3.0])


@dataclass(frozen=True)
class CoordinatedEncoding:
    """Coordinated actuated control on a fixed-time plan.

    The vector is ``[extension [s], max gap [s], skip]`` (see
    :meth:`~trafficsim.signals.SignalPlan.coordinated_actuated`), tuned by a pattern search from
    its default (:func:`~trafficsim.optimise.pattern.tune_vector`).
    """

    base: SignalPlan
    links: Any
    edges: Any
    bounds: tuple[tuple[float, float], ...] = ((0.0, 15.0), (1.0, 6.0), (0.0, 1.0))
    steps: tuple[tuple[float, ...], ...] = ((3.0, 1.0, 1.0), (1.0, 0.5, 1.0))
    order: tuple[int, ...] = (1, 0, 2)

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """Coordinated actuated programs with the vector's parameters.

        The extension is rounded to whole seconds, the max gap to 0.5 s; empty side stages are
        skipped when ``x[2] >= 0.5``.
        """
        return self.base.coordinated_actuated(
            self.links, self.edges, skip=x[2] >= 0.5, extension_s=float(round(x[0])),
            max_gap_s=round(float(x[1]) * 2) / 2, program_id="coordinated")

    def default(self) -> np.ndarray:
        """Side stages may run 3 s over, max gap 4 s, empty side stages skipped."""
        return np.array([3.0, 4.0, 1.0])


def plan_key(plan: SignalPlan) -> str:
    """A short key of a plan's timings: 16 hex digits of a SHA-256.

    The hash is of :meth:`~trafficsim.signals.SignalPlan.key`, so identical plans share a key.
    """
    return hashlib.sha256(plan.key().encode()).hexdigest()[:16]



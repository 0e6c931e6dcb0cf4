"""Statistics over seeds: means with Student-t confidence intervals, paired plan differences."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _t_quantile(df: int, level: float) -> float:
    from scipy import stats  # imported here: scipy is slow to import and rarely needed

    return float(stats.t.ppf(0.5 + level / 2.0, df))


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its confidence interval.

    Attributes
    ----------
    mean
        Sample mean.
    ci95
        (low, high) of the 95% Student-t interval; NaN with fewer than two seeds.
    per_seed
        The values, in seed order.
    """

    mean: float
    ci95: tuple[float, float]
    per_seed: tuple[float, ...]


def mean_ci(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of independent replications."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    m = float(np.mean(x)) if n else math.nan
    if n < 2:
        return Estimate(m, (math.nan, math.nan), tuple(map(float, x)))
    half = _t_quantile(n - 1, level) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return Estimate(m, (m - half, m + half), tuple(map(float, x)))


@dataclass(frozen=True)
class Difference:
    """A paired difference plan − baseline over common seeds.

    Attributes
    ----------
    diff
        Mean of the per-seed differences.
    ci95
        Its 95% Student-t interval.
    pct
        ``diff`` as a percentage of the baseline mean (NaN when that is 0).
    """

    diff: float
    ci95: tuple[float, float]
    pct: float

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        lo, hi = self.ci95
        return bool(np.isfinite(lo) and (lo > 0 or hi < 0))


def paired_difference(plan: Sequence[float], baseline: Sequence[float],
                      level: float = 0.95) -> Difference:
    """Paired comparison on common random numbers: seed i of the plan against seed i of the base.

    Pairing removes the seed-to-seed variation both runs share, which is why plans are always
    run on the same seeds with the same demand draws.
    """
    p = np.asarray(plan, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if p.shape != b.shape:
        msg = f"paired difference needs equal seed sets; got {len(p)} and {len(b)} values"
        raise ValueError(msg)
    est = mean_ci(p - b, level)
    base = float(np.mean(b)) if len(b) else math.nan
    pct = 100.0 * est.mean / base if base else math.nan
    return Difference(est.mean, est.ci95, pct)

"""Regression checks of scenario metrics against a recorded baseline (``trafficsim regress``).

A baseline file records, per scenario, every plan's per-seed metric values together with the
seeds, the window, the scenario's SHA-256 and the SUMO and trafficsim versions.  A check re-runs
the scenario and compares each metric of each plan with its recorded values.

The statistics
--------------
Let ``b_1..b_n`` be the recorded per-seed values of a metric and ``c_1..c_m`` the new ones.

* Same seeds as the baseline (the default): the runs share their demand draws (common random
  numbers), so the check is **paired**: ``d_i = c_i - b_i``, shift ``D = mean(d)``,
  ``SE = sd(d) / sqrt(n)`` with ``n - 1`` degrees of freedom.  With unchanged code and SUMO, every
  ``d_i`` is exactly 0.  Pairing cancels the seed-to-seed variation the runs share (the demand
  draw is the largest part of it), which is what makes small real shifts visible.
* Other seeds (``--seeds``): the samples are independent, so the check is **unpaired** (Welch):
  ``D = mean(c) - mean(b)``, ``SE = sqrt(s_b²/n + s_c²/m)`` with Welch–Satterthwaite degrees of
  freedom.

The tolerance band of the shift is ``± (tol + t·SE)`` where

* ``tol = max(rel_tol · |mean(b)|, abs_tol[metric])`` is the change you accept as "the same"
  (2% by default; an absolute floor for counts that are often 0, such as teleports), and
* ``t·SE`` is the half-width of the Student-t confidence interval of the shift (95% by default):
  the allowance for noise between seeds.

A metric **fails when** ``|D| > tol + t·SE``, i.e. when the whole confidence interval of the
shift lies outside ``±tol``: we are confident that the true shift exceeds the tolerance.  Noise
alone rarely does that: when the true shift is 0, ``|D| > t·SE`` already happens in only 5% of
checks, and the tolerance pushes the threshold further out (with ``tol = 2·SE`` the false-alarm
rate per check is below 1%).  A real shift ``Δ`` is caught with probability about 90% once
``Δ ≥ tol + (t + 1.3)·SE``.  With the default paired check, ``SE`` is the spread of per-seed
*differences*, which is small: e.g. a 5% rise in delay on the test corridor gives per-seed
differences that agree to a fraction of a percent, so it is caught against a 2% tolerance.  An
unpaired check with few seeds has a wider band (the report prints it for every metric), so use
fresh seeds to confirm that a change is noise, and the baseline's seeds to catch small shifts.

A single seed has no noise estimate: the band is then the tolerance alone.

What is checked
---------------
By default, each plan's contract metrics (:data:`~trafficsim.metrics.METRICS`) and every
measure-specific metric its baseline recorded (``tidal_peak_delay_s``, ``hov_violations_veh_s``,
``bay_overstays_veh``, ...; a baseline records every metric of the run).  A measure metric's
tolerance floor follows its unit (:data:`UNIT_ABS_TOL`).  A *rule* metric (declared with
``MetricInfo(rule=True)``: a tidal lane entered against its direction, a stop in a bay outside
its windows, a non-HOV vehicle on an HOV lane) that the baseline recorded as 0 must stay exactly
0 on every seed: tolerance 0, no noise allowance.  A metric the run reports but an older
baseline lacks is not checked (a warning says so; ``--update`` records it).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.errors import Issue, ScenarioError
from trafficsim.metrics import CORE_METRICS, METRICS, is_improvement, metric_info

FORMAT = "trafficsim-baseline/1"
#: Default relative tolerance of a metric's shift. [-]
REL_TOL = 0.02
#: Default confidence level of the noise allowance. [-]
CONFIDENCE = 0.95
#: Absolute floors of the tolerance, in the metric's unit (counts that are often near 0).
ABS_TOL: dict[str, float] = {
    "mean_delay_s": 0.5, "mean_travel_time_s": 0.5, "mean_waiting_time_s": 0.5,
    "person_delay_s": 0.5, "mean_stops": 0.02, "throughput_veh": 2.0, "unfinished_veh": 2.0,
    "teleports": 2.0, "collisions": 0.5, "not_inserted_veh": 2.0,
}
#: Absolute floors of a measure-specific metric's tolerance, by its unit (as for the core
#: metrics above: a few vehicles, half a second).
UNIT_ABS_TOL: dict[str, float] = {"veh": 2.0, "s": 0.5}


@dataclass(frozen=True)
class Check:
    """One metric of one plan against its baseline.

    Attributes
    ----------
    baseline, current
        Means over seeds.
    shift
        Mean shift (paired: mean of per-seed differences). [metric unit]
    tolerance, noise
        The accepted change ``tol`` and the noise allowance ``t·SE``; the band is their sum.
    paired
        True when both ran on the same seeds.
    passed
        ``|shift| <= tolerance + noise``.
    """

    scenario: str
    plan: str
    metric: str
    baseline: float
    current: float
    shift: float
    tolerance: float
    noise: float
    paired: bool
    passed: bool

    @property
    def band(self) -> float:
        """The accepted ``|shift|``: tolerance plus noise allowance [metric unit]."""
        return self.tolerance + self.noise

    @property
    def pct(self) -> float:
        """The shift relative to the baseline mean, NaN when that is 0 [%]."""
        return 100.0 * self.shift / abs(self.baseline) if self.baseline else math.nan

    @property
    def verdict(self) -> str:
        """``"better"`` / ``"worse"`` for a failed check of a metric with a direction, else ``""``.

        The same judgement as ``compare`` and the report: a regression check fails on any shift,
        and this says which way it went.
        """
        if self.passed:
            return ""
        good = is_improvement(self.metric, self.shift)
        return "" if good is None else ("better" if good else "worse")


def _t(df: float, confidence: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2.0, df))


def check_metric(baseline: Sequence[float], current: Sequence[float], *, paired: bool,
                 rel_tol: float = REL_TOL, abs_tol: float = 0.0,
                 confidence: float = CONFIDENCE) -> tuple[float, float, float, bool]:
    """The statistics of the module docstring for one metric.

    Parameters
    ----------
    baseline, current
        Per-seed values (in the same seed order when ``paired``).
    paired
        Same seeds (common random numbers): test the per-seed differences.
    rel_tol, abs_tol
        Accepted change: ``max(rel_tol * |mean(baseline)|, abs_tol)``.
    confidence
        Level of the noise allowance's t-interval.

    Returns
    -------
    shift, tolerance, noise, passed
    """
    b = np.asarray([math.nan if v is None else v for v in baseline], dtype=float)
    c = np.asarray([math.nan if v is None else v for v in current], dtype=float)
    if paired and len(b) == len(c):
        # A seed on which the metric is undefined on both sides (e.g. no vehicle arrived in a
        # short window: no mean travel time) is left out; undefined on one side only, the
        # metric appeared or vanished on that seed: a failure.
        if np.any(np.isnan(b) != np.isnan(c)):
            return math.nan, 0.0, 0.0, False
        keep = ~np.isnan(b)
        b, c = b[keep], c[keep]
    else:
        b, c = b[~np.isnan(b)], c[~np.isnan(c)]
    tol = max(rel_tol * abs(float(np.mean(b))) if len(b) else 0.0, abs_tol)
    if not len(b) or not len(c):
        # a metric present on one side only (e.g. a measure's metric): a failure unless both
        # sides lack it
        return math.nan, tol, 0.0, not len(b) and not len(c)
    if paired and len(b) == len(c):
        d = c - b
        shift = float(np.mean(d))
        if len(d) < 2 or float(np.std(d, ddof=1)) == 0.0:
            noise = 0.0
        else:
            noise = _t(len(d) - 1, confidence) * float(np.std(d, ddof=1)) / math.sqrt(len(d))
    else:
        shift = float(np.mean(c) - np.mean(b))
        if len(b) < 2 or len(c) < 2:
            noise = 0.0
        else:
            vb, vc = float(np.var(b, ddof=1)) / len(b), float(np.var(c, ddof=1)) / len(c)
            se = math.sqrt(vb + vc)
            if se == 0.0:
                noise = 0.0
            else:
                df = (vb + vc) ** 2 / ((vb**2 / (len(b) - 1)) + (vc**2 / (len(c) - 1)))
                noise = _t(df, confidence) * se
    return shift, tol, noise, bool(abs(shift) <= tol + noise + 1e-12)


@dataclass
class RegressionReport:
    """All checks of a ``regress`` call, with the warnings it raised."""

    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    confidence: float = CONFIDENCE

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed, in check order."""
        return [c for c in self.checks if not c.passed]

    def table(self) -> str:
        """A readable diff table: every check, failures marked (and listed first)."""
        if not self.checks:
            return "no checks" + (f" (baselines updated: {', '.join(self.updated)})"
                                  if self.updated else "")
        rows = sorted(self.checks, key=lambda c: c.passed)
        head = (f"{'':5}{'scenario':<20}{'plan':<14}{'metric':<22}{'baseline':>12}"
                f"{'current':>12}{'shift':>22}{'band ±':>10}  {'(tol + noise)':<18}")
        lines = [head, "-" * len(head)]
        for c in rows:
            mark = "ok" if c.passed else "FAIL"
            pct = f"({c.pct:+.1f}%)" if math.isfinite(c.pct) else ""
            shift = f"{c.shift:+,.2f} {pct}" if math.isfinite(c.shift) else "missing"
            lines.append(f"{mark:<5}{c.scenario[:19]:<20}{c.plan[:13]:<14}{c.metric[:21]:<22}"
                         f"{_num(c.baseline):>12}{_num(c.current):>12}{shift:>22}"
                         f"{_num(c.band):>10}  ({_num(c.tolerance)} + {_num(c.noise)})"
                         + (f"  {c.verdict}" if c.verdict else ""))
        n_fail = len(self.failures)
        kinds = {("paired" if c.paired else "unpaired") for c in self.checks}
        lines += ["", f"{len(self.checks)} checks, {n_fail} failed "
                      f"({'/'.join(sorted(kinds))} on seeds; band = tolerance + "
                      f"{self.confidence:.0%} noise allowance)"]
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:,.2f}" if x is not None and math.isfinite(x) else "–"


# --------------------------------------------------------------------------------------------
# Baseline files
# --------------------------------------------------------------------------------------------
def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read a baseline file (an empty baseline when the file does not exist)."""
    p = Path(path)
    if not p.is_file():
        return {"format": FORMAT, "scenarios": {}}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ScenarioError([Issue(p, "", f"is not valid JSON: {exc}")]) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ScenarioError([Issue(p, "format", f"= {found!r}; expected "
                                                f"'{FORMAT}' (a file written by "
                                                "'trafficsim regress --update')")])
    if issues := _baseline_shape_issues(p, data):
        raise ScenarioError(issues)
    return data


def _baseline_shape_issues(p: Path, data: Mapping[str, Any]) -> list[Issue]:
    """Problems with the layout of a baseline file (edited by hand, or damaged)."""
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, dict):
        return [Issue(p, "scenarios", "is missing or not a table of scenarios; expected a file "
                                      "written by 'trafficsim regress --update'")]
    out = []
    for name, entry in scenarios.items():
        at = f"scenarios.{name}"
        if not isinstance(entry, dict):
            out.append(Issue(p, at, "is not a table; expected the entry of one scenario"))
            continue
        seeds = entry.get("seeds", [])
        if not isinstance(seeds, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            out.append(Issue(p, f"{at}.seeds", f"= {seeds!r}; expected a list of seeds"))
        if not isinstance(entry.get("window", {}), dict):
            out.append(Issue(p, f"{at}.window", "is not a table; expected begin_s and end_s"))
        plans = entry.get("plans", {})
        if not isinstance(plans, dict) or not all(
                isinstance(m, dict) and all(isinstance(v, list) for v in m.values())
                for m in plans.values()):
            out.append(Issue(p, f"{at}.plans", "is not a table of plans, each a table of "
                                               "per-seed metric lists"))
        else:
            bad = [f"{at}.plans.{plan}.{m}" for plan, ms in plans.items() for m, v in ms.items()
                   if not all(x is None or isinstance(x, int | float) for x in v)]
            out += [Issue(p, fld, "holds a value that is not a number or null") for fld in bad]
    return out


def save_baseline(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write a baseline document as JSON, creating its folder.

    Raises
    ------
    ValueError
        When a value is NaN or infinite: a baseline must be valid JSON.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n",
                 encoding="utf-8")


def baseline_entry(doc: Mapping[str, Any], scenario_file: str) -> dict[str, Any]:
    """What a baseline keeps of one comparison's JSON document."""
    return {
        "scenario_file": scenario_file,
        "scenario_sha256": doc.get("scenario_sha256", ""),
        "sumo_version": doc.get("sumo_version", ""),
        "trafficsim_version": doc.get("trafficsim_version", ""),
        "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window": doc.get("window", {}),
        "seeds": doc.get("seeds", []),
        "plans": {p: {m: e["per_seed"] for m, e in metrics.items()}
                  for p, metrics in doc.get("plans", {}).items()},
    }


def plan_metrics(recorded: Mapping[str, Any]) -> list[str]:
    """The metrics checked by default for a plan whose baseline recorded ``recorded``.

    The contract metrics, then the measure-specific ones the baseline holds, in its order
    (the general extra metrics, e.g. ``nox_kg``, are recorded but not checked by default).
    """
    return [*METRICS, *(m for m in recorded if m not in CORE_METRICS and m not in METRICS)]


def check_against(entry: Mapping[str, Any], doc: Mapping[str, Any], *,
                  metrics: Sequence[str] | None = None, rel_tol: float = REL_TOL,
                  confidence: float = CONFIDENCE) -> list[Check]:
    """Check a new comparison document against a baseline entry, metric by metric.

    ``metrics``: the metrics to check; None for each plan's :func:`plan_metrics`.
    """
    paired = list(entry.get("seeds", [])) == list(doc.get("seeds", []))
    name = str(doc.get("scenario", ""))
    checks = []
    for plan, base in entry.get("plans", {}).items():
        now = doc.get("plans", {}).get(plan)
        for m in (plan_metrics(base) if metrics is None else metrics):
            b = [math.nan if v is None else v for v in base.get(m, [])]
            c = [math.nan if v is None else v
                 for v in (now or {}).get(m, {}).get("per_seed", [])]
            if _kept_rule(m, b):
                shift, tol, noise, ok = _rule_check(b, c, paired=paired)
            else:
                shift, tol, noise, ok = check_metric(b, c, paired=paired, rel_tol=rel_tol,
                                                     abs_tol=_abs_tol(m), confidence=confidence)
            if now is None:
                ok = False  # the plan disappeared from the scenario
            checks.append(Check(scenario=name, plan=plan, metric=m,
                                baseline=_mean(b), current=_mean(c), shift=shift,
                                tolerance=tol, noise=noise, paired=paired, passed=ok))
    return checks


def _abs_tol(metric: str) -> float:
    """The tolerance floor of a metric: its own, else its unit's (measure metrics)."""
    if metric in ABS_TOL:
        return ABS_TOL[metric]
    info = metric_info(metric)
    return UNIT_ABS_TOL.get(info.unit, 0.0) if info is not None else 0.0


def _kept_rule(metric: str, recorded: Sequence[float]) -> bool:
    """Whether ``metric`` is a rule metric that the baseline recorded as 0 (where defined)."""
    info = metric_info(metric)
    kept = [v for v in recorded if not math.isnan(v)]
    return info is not None and info.rule and bool(kept) and all(v == 0 for v in kept)


def _rule_check(baseline: Sequence[float], current: Sequence[float], *,
                paired: bool) -> tuple[float, float, float, bool]:
    """A rule kept at 0 must stay 0 on every seed run (no tolerance, no noise allowance).

    Paired, a seed on which the metric is undefined must stay undefined (as in
    :func:`check_metric`).  Returns ``shift, tolerance, noise, passed`` as it does.
    """
    c = np.asarray(current, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if not len(c) or np.all(np.isnan(c)):
        return math.nan, 0.0, 0.0, False  # the rule's metric vanished
    if paired and (len(b) != len(c) or np.any(np.isnan(b) != np.isnan(c))):
        return math.nan, 0.0, 0.0, False
    kept = c[~np.isnan(c)]
    return float(np.mean(kept)), 0.0, 0.0, bool(np.all(kept == 0))


def _mean(values: Sequence[float | None]) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def version_warnings(entry: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """Warnings when the baseline was recorded with other versions or another scenario file."""
    name = doc.get("scenario", "")
    out = []
    for key, what in (("sumo_version", "SUMO"), ("trafficsim_version", "trafficsim")):
        if entry.get(key) and doc.get(key) and entry[key] != doc[key]:
            out.append(f"{name}: the baseline was recorded with {what} {entry[key]}, this run "
                       f"uses {what} {doc[key]}; differences may come from the new version")
    if entry.get("scenario_sha256") and doc.get("scenario_sha256") and \
            entry["scenario_sha256"] != doc["scenario_sha256"]:
        out.append(f"{name}: the scenario's files changed since the baseline was recorded "
                   "(SHA-256 differs)")
    return out


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
def regress(scenarios: Sequence[str | Path], baseline: str | Path, *, update: bool = False,
            seeds: Sequence[int] | None = None, end_s: float | None = None,
            metrics: Sequence[str] | None = None, rel_tol: float = REL_TOL,
            confidence: float = CONFIDENCE, workers: int | None = None,
            progress: bool = False) -> RegressionReport:
    """Re-run scenarios and check their metrics against a baseline file (or record it).

    Parameters
    ----------
    scenarios
        Scenario files.
    baseline
        The baseline file (JSON); created or updated with ``update``.
    update
        Record the scenarios' results as their new baseline instead of checking.
    seeds
        Seeds to run (default: the baseline's, for a paired check; with ``update``: the
        scenario's).
    end_s
        Simulation end (default: the baseline's window; with ``update``: the scenario's). [s]
    metrics
        Metrics to check (default: the contract metrics and each plan's recorded
        measure-specific ones, see :func:`plan_metrics`).
    rel_tol, confidence
        See the module docstring.
    workers, progress
        Passed to :func:`trafficsim.compare.compare`.

    Raises
    ------
    ScenarioError
        Invalid scenarios, duplicate scenario names, or no baseline for a scenario (without
        ``update``).
    """
    from trafficsim.compare import compare
    from trafficsim.scenario import load_scenario

    base_path = Path(baseline)
    data = load_baseline(base_path)
    report = RegressionReport(confidence=confidence)
    names: set[str] = set()
    for path in scenarios:
        path = Path(path)
        probe = load_scenario(path, end_s=end_s)
        if probe.name in names:
            raise ScenarioError([Issue(path, "name", f"= '{probe.name}' is used by another "
                                                     "scenario of this run; baselines are "
                                                     "keyed by scenario name")])
        names.add(probe.name)
        entry = data["scenarios"].get(probe.name)
        if update:
            result = compare(probe, seeds=seeds, workers=workers, progress=progress)
            doc = result.to_dict()
            data["scenarios"][probe.name] = baseline_entry(doc, _relative(path, base_path))
            report.updated.append(probe.name)
            report.warnings += [f"{probe.name}: {w}" for w in result.warnings()]
            continue
        if entry is None:
            raise ScenarioError([Issue(base_path, f"scenarios.{probe.name}",
                                       "no baseline for this scenario; record one with "
                                       "'trafficsim regress SCENARIO --baseline FILE --update'")])
        window = entry.get("window", {})
        run_end = end_s if end_s is not None else window.get("end_s")
        sc = load_scenario(path, end_s=run_end) if run_end != probe.end_s else probe
        if window and window.get("begin_s") != sc.begin_s:
            report.warnings.append(f"{sc.name}: the scenario begins at {sc.begin_s:g} s, the "
                                   f"baseline at {window.get('begin_s')} s")
        result = compare(sc, seeds=seeds or entry.get("seeds"), workers=workers,
                         progress=progress)
        doc = result.to_dict()
        report.warnings += version_warnings(entry, doc)
        report.warnings += [f"{sc.name}: plan '{p}' has no baseline and is not checked; record "
                            "it with --update" for p in doc["plans"] if p not in entry["plans"]]
        if metrics is None:
            report.warnings += _unrecorded(sc.name, entry, doc)
        report.checks += check_against(entry, doc, metrics=metrics, rel_tol=rel_tol,
                                       confidence=confidence)
    if update:
        save_baseline(base_path, data)
    return report


def _unrecorded(name: str, entry: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """Warnings for measure metrics a plan reports that its (older) baseline lacks."""
    out = []
    for plan, base in entry.get("plans", {}).items():
        new = [m for m in plan_metrics(doc.get("plans", {}).get(plan, {})) if m not in base]
        if new:
            out.append(f"{name}: plan '{plan}' reports {', '.join(new)}, which the baseline "
                       "did not record: not checked; record them with --update")
    return out


def _relative(path: Path, baseline: Path) -> str:
    """The scenario's path as seen from the baseline file (for people reading the file)."""
    return os.path.relpath(path.resolve(), baseline.resolve().parent)


def print_report(report: RegressionReport, baseline: str | Path) -> None:
    """The CLI's output: warnings on stderr, the diff table on stdout."""
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if report.updated:
        print(f"recorded the baseline of {', '.join(report.updated)} in {baseline}")
        return
    print(report.table())
    if not report.ok:
        print(f"\nREGRESSION: {len(report.failures)} metric(s) left their tolerance band "
              f"(baseline {baseline}). If the change is intended, re-record with --update.")

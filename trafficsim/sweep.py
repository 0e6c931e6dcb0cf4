"""Clearance-time sweep: delay caused and near-crashes against how long an incident blocks the road.

One run per clearance time and seed, all on the same demand draws; the reference is the same
morning without the crash (clearance 0), so "delay caused" is a paired difference with its 95%
confidence interval, not a guess about background delay::

    import trafficsim as ts
    sweep = ts.clearance_sweep("scenarios/incident_corridor.toml", [0, 5, 10, 20, 30])
    print(sweep.format())
    sweep.plot("clearance_sweep.png")
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trafficsim.compare import Comparison, compare
from trafficsim.errors import Issue, ScenarioError, suggest
from trafficsim.outdir import out_dir_lock
from trafficsim.scenario import BASELINE, PlanSpec, Scenario, load_scenario
from trafficsim.stats import Difference, Estimate

#: Per clearance time: (key in the JSON / table, metric of the run, unit).
_COLUMNS = (
    ("total_delay_veh_h", "total_delay_veh_h", "veh·h"),
    ("max_queue_m", "{id}_max_queue_m", "m"),
    ("queue_cleared_min", "{id}_queue_cleared_min", "min"),
    ("conflicts", "{id}_conflicts", "count"),
)


@dataclass(frozen=True)
class ClearanceSweep:
    """The runs of a clearance sweep and the curve they give.

    Attributes
    ----------
    incident
        The swept incident's id.
    minutes
        Clearance times, ascending, starting with 0 (the no-crash reference). [min]
    comparison
        The underlying comparison; its ``baseline`` is the no-crash reference and plan
        ``clear_Xmin`` has clearance X.
    """

    incident: str
    minutes: tuple[float, ...]
    comparison: Comparison

    @staticmethod
    def plan_name(minutes: float) -> str:
        """The plan of a clearance time [min]: the baseline for 0, else ``clear_Xmin``."""
        return BASELINE if minutes == 0 else f"clear_{minutes:g}min"

    def estimate(self, minutes: float, column: str) -> Estimate:
        """Mean and 95% CI over seeds of a column (see :data:`_COLUMNS`) at a clearance time."""
        return self.comparison.estimate(self.plan_name(minutes), self._metric(column))

    def caused(self, minutes: float, column: str) -> Difference:
        """Paired difference to the no-crash reference: what the incident caused."""
        return self.comparison.difference(self.plan_name(minutes), self._metric(column))

    def _metric(self, column: str) -> str:
        return next(m for c, m, _ in _COLUMNS if c == column).format(id=self.incident)

    def to_dict(self) -> dict[str, Any]:
        """JSON document: per clearance time, each column's mean/CI and what the crash caused."""
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else round(float(x), 6)

        points = []
        for m in self.minutes:
            p: dict[str, Any] = {"clearance_min": m}
            for col, _, _ in _COLUMNS:
                e = self.estimate(m, col)
                d = self.caused(m, col)
                p[col] = {"mean": num(e.mean), "ci95": [num(e.ci95[0]), num(e.ci95[1])]}
                p[f"{col}_caused"] = {"diff": num(d.diff), "ci95": [num(d.ci95[0]),
                                                                    num(d.ci95[1])]}
            points.append(p)
        c = self.comparison
        return {"scenario": c.scenario.name, "incident": self.incident, "seeds": list(c.seeds),
                "sumo_version": c.sumo_version, "points": points}

    def format(self) -> str:
        """A plain-text table of the curve."""
        def cell(e: Estimate | Difference, mean: float) -> str:
            lo, hi = e.ci95
            ci = "" if not math.isfinite(lo) else f" [{lo:,.1f}, {hi:,.1f}]"
            return f"{mean:,.1f}{ci}"

        c = self.comparison
        lines = [f"{c.scenario.name}: clearance sweep of incident '{self.incident}', seeds "
                 f"{','.join(map(str, c.seeds))}, SUMO {c.sumo_version}", "",
                 f"{'clearance':>10}{'delay caused [veh·h]':>30}{'max queue [m]':>30}"
                 f"{'queue cleared [min]':>26}{'conflicts caused':>30}"]
        for m in self.minutes:
            d = self.caused(m, "total_delay_veh_h")
            q = self.estimate(m, "max_queue_m")
            t = self.estimate(m, "queue_cleared_min")
            k = self.caused(m, "conflicts")
            lines.append(f"{m:>6g} min{cell(d, d.diff):>30}{cell(q, q.mean):>30}"
                         f"{cell(t, t.mean):>26}{cell(k, k.diff):>30}")
        lines += ["", "'caused' = paired difference to the same seeds without the crash "
                      "(clearance 0); 95% Student-t intervals over seeds."]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Draw delay caused and conflicts caused against clearance time (with 95% CIs)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, col, label in ((axes[0], "total_delay_veh_h", "delay caused [veh·h]"),
                               (axes[1], "conflicts", "conflicts caused (TTC below threshold)")):
            diffs = [self.caused(m, col) for m in self.minutes]
            y = [d.diff for d in diffs]
            err = [[max(d.diff - d.ci95[0], 0.0) if math.isfinite(d.ci95[0]) else 0.0
                    for d in diffs],
                   [max(d.ci95[1] - d.diff, 0.0) if math.isfinite(d.ci95[1]) else 0.0
                    for d in diffs]]
            ax.errorbar(self.minutes, y, yerr=err, marker="o", capsize=3)
            ax.set_xlabel("clearance time [min]")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        fig.suptitle(f"{self.comparison.scenario.name}: incident '{self.incident}' "
                     f"({len(self.comparison.seeds)} seeds, 95% CI)")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    def write(self, out: Path) -> None:
        """Write ``clearance_sweep.json`` and ``clearance_sweep.png`` into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        (out / "clearance_sweep.json").write_text(json.dumps(self.to_dict(), indent=2),
                                                  encoding="utf-8")
        self.plot(out / "clearance_sweep.png")


def sweep_scenario(scenario: Scenario, minutes: Sequence[float], incident: str | None = None
                   ) -> tuple[Scenario, str, tuple[float, ...]]:
    """The scenario whose plans are the clearance times (the baseline's own measures kept).

    Returns
    -------
    scenario, incident id, clearance times (ascending, with 0 added) [min]
    """
    incidents = scenario.situation("incidents")
    ids = [i.id for i in getattr(incidents, "incidents", ())]
    if not ids:
        raise ScenarioError([Issue(scenario.source, "incidents", "the scenario has no "
                                   "[[incidents]] table; a clearance sweep needs one")])
    if incident is None:
        if len(ids) > 1:
            raise ScenarioError([Issue(scenario.source, "incidents", "has several incidents ("
                                       f"{', '.join(ids)}); choose one (--incident ID)")])
        incident = ids[0]
    elif incident not in ids:
        raise ScenarioError([Issue(scenario.source, "incidents", f"has no incident '{incident}'"
                                   f"; incidents: {', '.join(ids)}." + suggest(incident, ids))])
    bad = [m for m in minutes if not 0 <= m <= 24 * 60]
    if bad or not minutes:
        msg = f"clearance times {list(minutes)}: expected minutes between 0 and 1440"
        raise ScenarioError([Issue(scenario.source, "clearance_min", msg)])
    times = tuple(sorted({0.0, *map(float, minutes)}))
    base = scenario.plans[BASELINE].measures
    clear = incidents.with_clearance  # type: ignore[union-attr]  # (ids is not empty)
    plans = {ClearanceSweep.plan_name(m): PlanSpec(
        ClearanceSweep.plan_name(m), clear(base, incident, m),
        f"incident '{incident}' cleared after {m:g} min" if m else "no incident")
        for m in times}
    return replace(scenario, plans=plans), incident, times


def clearance_sweep(scenario: Scenario | str | Path, minutes: Sequence[float], *,
                    incident: str | None = None, seeds: Sequence[int] | None = None,
                    out: str | Path | None = None, workers: int | None = None,
                    progress: bool = True, scheduler: str | None = None) -> ClearanceSweep:
    """Run the scenario at each clearance time (and without the crash) and compare.

    Parameters
    ----------
    scenario
        A scenario (or its file) with an ``[[incidents]]`` table.
    minutes
        Clearance times; 0 (no crash) is always added as the reference. [min]
    incident
        Which incident (needed only when the scenario has several).
    seeds, out, workers, progress, scheduler
        As for :func:`trafficsim.compare`; with ``out`` the sweep's JSON and figure are written
        there as well.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sweep_sc, iid, times = sweep_scenario(sc, minutes, incident)
    with out_dir_lock(out):  # the comparison's files and the sweep's, from one run
        result = compare(sweep_sc, seeds=seeds, out=out, workers=workers, progress=progress,
                         scheduler=scheduler)
        sweep = ClearanceSweep(incident=iid, minutes=times, comparison=result)
        if out is not None:
            sweep.write(Path(out))
    return sweep

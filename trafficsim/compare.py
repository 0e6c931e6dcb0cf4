"""The orchestrator: plans × seeds → case directories → SUMO runs → metrics → comparison."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trafficsim.build import (
    Case,
    build_case,
    build_plan,
    prepare_network,
    trajectory_corridors,
)
from trafficsim.errors import SumoError, UsageError
from trafficsim.metrics import (
    EXTRA_METRICS,
    GROUP_METRICS,
    METRICS,
    Health,
    edge_table,
    group_metrics,
    is_improvement,
    junction_table,
    kept_out,
    run_health,
    run_metrics,
)
from trafficsim.outdir import out_dir_lock
from trafficsim.outputs import RunStatistics, Table, read_csv, read_statistics, read_vehicle_table
from trafficsim.parallel import dask_executor, local_executor, map_tasks
from trafficsim.scenario import BASELINE, NetFileSpec, OsmSpec, Scenario, load_scenario
from trafficsim.stats import Difference, Estimate, mean_ci, paired_difference
from trafficsim.sumo import run_sumo, run_sumo_controlled, sumo_version
from trafficsim.timeseries import run_series


@dataclass(frozen=True)
class RunResult:
    """Metrics and tables of one (plan, seed) run.

    Attributes
    ----------
    metrics
        Metric name → value (see :data:`trafficsim.metrics.METRICS`).
    edges, junctions
        Per-edge and per-signalised-junction/approach tables (lists of row dicts).
    health
        Teleports, gridlock, vehicles left out: reported, never hidden.
    groups
        Per flow / vehicle kind / occupancy class: delay, travel time, person delay
        (see :func:`trafficsim.metrics.group_metrics`).
    case_dir
        The run's directory (kept with ``out``): ``sumo -c case.sumocfg`` there repeats it.
    wall_s
        Wall-clock time of the SUMO run. [s]
    series
        Delay, demand, throughput and queue in 5-minute bins
        (see :func:`trafficsim.timeseries.run_series`).
    """

    plan: str
    seed: int
    metrics: dict[str, float]
    edges: list[dict[str, Any]]
    junctions: list[dict[str, Any]]
    health: Health
    case_dir: Path
    wall_s: float
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    series: list[dict[str, float]] = field(default_factory=list)


def merge_measure_metrics(parts: Sequence[tuple[str, dict[str, float]]]) -> dict[str, float]:
    """One metrics dict from several measures' ``(label, metrics)``.

    A key that measures with different labels report (two kerb bays in one plan) is kept once
    per measure as ``label:key`` and not at all as a bare ``key``: last-one-wins would silently
    report one bay's use as the plan's.  Measures with the same label report plan-wide values
    (e.g. a truck ban and a truck corridor, both "freight"): their keys stay bare.
    """
    labels: dict[str, set[str]] = {}
    for label, m in parts:
        for k in m:
            labels.setdefault(k, set()).add(label)
    out: dict[str, float] = {}
    for label, m in parts:
        for k, v in m.items():
            out[k if len(labels[k]) == 1 else f"{label}:{k}"] = v
    return out


def read_trip_outputs(run_dir: Path, what: str) -> tuple[Table, RunStatistics, Table]:
    """What every run writes for the trip metrics, lean runs too.

    The tripinfo table, SUMO's statistics and the drawn vehicles, which
    :func:`~trafficsim.metrics.run_metrics` reads.

    Raises
    ------
    SumoError
        When SUMO finished but the outputs are missing or unreadable (``what`` names the run).
    """
    try:
        return (read_csv(run_dir / "tripinfo.csv"), read_statistics(run_dir / "stats.xml"),
                read_vehicle_table(run_dir / "vehicles.csv"))
    except (OSError, KeyError, ValueError, ET.ParseError) as exc:
        msg = f"{what}: SUMO finished but its outputs could not be read: {exc}"
        raise SumoError(msg) from exc


def execute_case(case: Case, end_s: float, approaches: dict[str, tuple[str, ...]], *,
                 begin_s: float | None = None) -> RunResult:
    """Run one case with SUMO and turn its outputs into a :class:`RunResult`.

    ``begin_s`` is the start of the window (for the time series; default: the summary's first
    time).
    """
    what = f"plan '{case.plan}', seed {case.seed} ({case.config})"
    if case.controllers:  # signals driven through TraCI (max-pressure)
        run: Any = run_sumo_controlled(case.config, seed=case.seed, timeout_s=case.timeout_s,
                                       end_s=end_s, controllers=case.controllers, what=what)
    else:
        run = run_sumo(case.config, seed=case.seed, timeout_s=case.timeout_s, what=what)
    d = case.dir
    trips, stats, vehicles = read_trip_outputs(d, what)
    try:
        summary = read_csv(d / "summary.csv")
        edges = edge_table(read_csv(d / "edgedata.csv"), read_csv(d / "queues.csv"))
    except (OSError, KeyError, ValueError) as exc:
        msg = f"{what}: SUMO finished but its outputs could not be read: {exc}"
        raise SumoError(msg) from exc
    metrics = run_metrics(trips, vehicles, stats, end_s)
    health = run_health(stats, summary, int(metrics["not_inserted_veh"]),
                        blocked=kept_out(trips, vehicles, stats, end_s))
    metrics.update(merge_measure_metrics([(m.label, m.metrics(d)) for m in case.measures]))
    # yardsticks: measures of several plans observe the same one in every run (e.g. two HOV
    # plans on the same road), so one value per key
    for o in case.observers:
        metrics.update(o.observed_metrics(d))
    if begin_s is None:
        begin_s = float(summary["time"][0]) if len(summary.get("time", ())) else end_s
    return RunResult(plan=case.plan, seed=case.seed, metrics=metrics, edges=edges,
                     junctions=junction_table(edges, approaches), health=health,
                     case_dir=d, wall_s=run.wall_s,
                     groups=group_metrics(trips, vehicles, stats, end_s),
                     series=run_series(trips, vehicles, stats, summary, begin_s, end_s))


@dataclass(frozen=True)
class Comparison:
    """Results of plans × seeds, with statistics.  ``to_dict()`` is the JSON contract."""

    scenario: Scenario
    seeds: tuple[int, ...]
    plans: tuple[str, ...]
    runs: tuple[RunResult, ...]
    sumo_version: str

    def run(self, plan: str, seed: int) -> RunResult:
        """The result of one run: ``plan`` with ``seed``.

        Raises
        ------
        StopIteration
            When the comparison holds no such run.
        """
        return next(r for r in self.runs if r.plan == plan and r.seed == seed)

    def values(self, plan: str, metric: str) -> list[float]:
        """Per-seed values of a metric for a plan, in seed order."""
        return [self.run(plan, s).metrics.get(metric, math.nan) for s in self.seeds]

    def group_values(self, plan: str, group: str, metric: str) -> list[float]:
        """Per-seed values of a group metric (NaN where the group had no vehicle)."""
        return [self.run(plan, s).groups.get(group, {}).get(metric, math.nan)
                for s in self.seeds]

    def estimate(self, plan: str, metric: str) -> Estimate:
        """Mean and 95% CI of a metric over seeds."""
        return mean_ci(self.values(plan, metric))

    def difference(self, plan: str, metric: str, baseline: str = BASELINE) -> Difference:
        """Paired plan − baseline difference over the common seeds."""
        return paired_difference(self.values(plan, metric), self.values(baseline, metric))

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Contract metrics, extra metrics, then measure-specific ones in first-seen order."""
        names = list(METRICS + EXTRA_METRICS)
        for r in self.runs:
            names += [k for k in r.metrics if k not in names]
        return tuple(names)

    @property
    def group_names(self) -> tuple[str, ...]:
        """Names of the vehicle groups any run measured, sorted."""
        return tuple(sorted({g for r in self.runs for g in r.groups}))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``--json`` / ``metrics.json``."""
        plans = {p: {m: _estimate_json(self.estimate(p, m)) for m in self.metric_names}
                 for p in self.plans}
        vs = {}
        if BASELINE in self.plans:
            for p in self.plans:
                if p != BASELINE:
                    vs[p] = {m: _diff_json(self.difference(p, m)) for m in self.metric_names}
        groups = {p: {g: {m: _estimate_json(mean_ci(self.group_values(p, g, m)))
                          for m in GROUP_METRICS}
                      for g in self.group_names}
                  for p in self.plans}
        from trafficsim import __version__

        return {
            "scenario": self.scenario.name,
            "scenario_file": str(self.scenario.source),
            "scenario_sha256": scenario_sha256(self.scenario),
            "sumo_version": self.sumo_version,
            "trafficsim_version": __version__,
            "window": {"begin_s": self.scenario.begin_s, "end_s": self.scenario.end_s},
            "seeds": list(self.seeds),
            "plans": plans,
            "vs_baseline": vs,
            "groups": groups,
            "health": {p: {str(s): _health_json(self.run(p, s).health) for s in self.seeds}
                       for p in self.plans},
        }

    def rows(self) -> list[dict[str, Any]]:
        """Per-run metrics as rows (plan, seed, metric columns) for a DataFrame or CSV."""
        return [{"plan": r.plan, "seed": r.seed, **r.metrics} for r in self.runs]

    def series_rows(self) -> list[dict[str, Any]]:
        """Per-run time series as rows (plan, seed, bin columns), as in ``timeseries.csv``."""
        return [{"plan": r.plan, "seed": r.seed, **row} for r in self.runs for row in r.series]

    def to_dataframe(self) -> Any:
        """Per-run metrics as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def warnings(self) -> list[str]:
        """Every health finding, labelled with its plan and seed."""
        return [f"plan '{r.plan}', seed {r.seed}: {w}" for r in self.runs for w in r.health.warnings]

    def write(self, out: Path) -> None:
        """Write ``metrics.json`` and the per-run tables into ``out``.

        The tables are ``runs.csv``, ``edges.csv``, ``junctions.csv`` and ``timeseries.csv``.

        ``metrics.json`` comes last and appears whole (written aside, then renamed): a folder
        that has it holds a complete result, even when the writer was killed.
        """
        out.mkdir(parents=True, exist_ok=True)
        _write_rows(out / "runs.csv", self.rows())
        _write_rows(out / "edges.csv", [{"plan": r.plan, "seed": r.seed, **e}
                                        for r in self.runs for e in r.edges])
        _write_rows(out / "junctions.csv", [{"plan": r.plan, "seed": r.seed, **j}
                                            for r in self.runs for j in r.junctions])
        _write_rows(out / "timeseries.csv", self.series_rows())
        part = out / "metrics.json.part"
        part.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8")
        part.replace(out / "metrics.json")


def scenario_files(sc: Scenario) -> list[Path]:
    """The scenario file and every file it names (network or OSM file, routes, additional)."""
    files = [sc.source]
    if isinstance(sc.network, NetFileSpec | OsmSpec):
        files.append(sc.network.path)
    return [*files, *sc.route_files, *sc.additional_files]


def scenario_sha256(sc: Scenario) -> str:
    """SHA-256 of the scenario file and every file it names (network file, routes, additional).

    It identifies the inputs of a result (report provenance, regression baselines); generated
    networks are fully described by the scenario file itself.
    """
    files = scenario_files(sc)
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        h.update(f.read_bytes() if f.is_file() else b"")
    return h.hexdigest()


# --- finished runs, kept for `compare --resume` ------------------------------------------------
# Each run writes its RunResult into its case folder as it finishes (RUN_FILE, written aside and
# renamed, so it is whole or absent), with the key of the inputs that made it.  A resumed
# comparison reads it back instead of running SUMO again when the key still matches.

RUN_FILE = "run.json"
_RUN_FORMAT = 1  # bumped when the file's layout changes: older files are then run again
_CASE_INPUTS = ("net-file", "route-files", "additional-files")
# netconvert's header names the time it wrote the network: the same network, rebuilt, is the same
_GENERATED_ON = re.compile(rb"(?<=<!-- generated on )\S+")


def run_key(case: Case, inputs: str, digests: dict[Path, str] | None = None) -> str:
    """SHA-256 of everything a finished run's results depend on.

    That is ``inputs`` (see :func:`_inputs_key`: the scenario's files, SUMO's and trafficsim's
    versions, trafficsim's source), the plan, the seed, the signal controllers, and the bytes
    of the case's ``case.sumocfg`` and of every file it loads (the plan's network, the drawn
    routes, the detectors, the measures' file): a changed window, seed, option, measure or
    builder gives another key, and the run is run again.  ``digests`` (file → its SHA-256)
    spares reading a plan's network again for each seed.
    """
    h = hashlib.sha256()
    head = {"format": _RUN_FORMAT, "inputs": inputs, "plan": case.plan, "seed": case.seed,
            "controllers": list(case.controllers)}
    h.update(json.dumps(head, sort_keys=True).encode())
    digests = {} if digests is None else digests
    for f in _case_files(case.config):
        if f not in digests:
            digests[f] = hashlib.sha256(_GENERATED_ON.sub(b"", f.read_bytes(), count=1)
                                        if f.is_file() else b"(missing)").hexdigest()
        h.update(f"\0{os.path.relpath(f, case.dir)}\0{digests[f]}".encode())
    return h.hexdigest()


def _case_files(config: Path) -> list[Path]:
    """``config`` and the input files it names (the drawn vehicles' table too)."""
    files = [config, config.parent / "vehicles.csv"]
    for el in ET.parse(config).getroot():
        if el.tag in _CASE_INPUTS:
            files += [config.parent / v for v in el.get("value", "").split(",") if v]
    return files


def _inputs_key(sc: Scenario) -> str:
    """SHA-256 of what every run of ``sc`` depends on besides its case files.

    The scenario's files (measures compute metrics from parameters that no SUMO input holds),
    SUMO's version and trafficsim's version and source code (the metrics are computed by it).
    """
    from trafficsim import __version__

    h = hashlib.sha256()
    h.update(f"{scenario_sha256(sc)}\0{sumo_version()}\0{__version__}\0".encode())
    package = Path(__file__).parent
    for f in sorted(package.rglob("*.py")):
        h.update(str(f.relative_to(package)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def write_run(result: RunResult, key: str) -> None:
    """Record a finished run in its case folder (``RUN_FILE``), whole or not at all."""
    doc = {"format": _RUN_FORMAT, "key": key, "plan": result.plan, "seed": result.seed,
           "metrics": result.metrics, "edges": result.edges, "junctions": result.junctions,
           "health": asdict(result.health), "wall_s": result.wall_s, "groups": result.groups,
           "series": result.series}
    part = result.case_dir / f"{RUN_FILE}.part"
    # NaN stays NaN (a metric undefined in this run); numpy scalars become Python numbers
    part.write_text(json.dumps(doc, default=_plain), encoding="utf-8")
    with part.open("rb") as fh:  # on disk before it counts as finished
        os.fsync(fh.fileno())
    part.replace(result.case_dir / RUN_FILE)


def read_run(case_dir: Path, key: str) -> RunResult | None:
    """The run recorded in ``case_dir`` when it was made with inputs of ``key``, else None.

    A missing, damaged or older-format record, or one of other inputs, is None: that run is
    simply run again.
    """
    try:
        doc = json.loads((case_dir / RUN_FILE).read_text(encoding="utf-8"))
        if doc.get("format") != _RUN_FORMAT or doc.get("key") != key:
            return None
        h = doc["health"]
        health = Health(**{**h, "warnings": tuple(h["warnings"])})
        return RunResult(plan=doc["plan"], seed=int(doc["seed"]), metrics=doc["metrics"],
                         edges=doc["edges"], junctions=doc["junctions"], health=health,
                         case_dir=case_dir, wall_s=float(doc["wall_s"]), groups=doc["groups"],
                         series=doc["series"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _plain(x: Any) -> Any:
    """A numpy scalar as the Python number it holds (for ``json.dumps``)."""
    if hasattr(x, "item"):
        return x.item()
    msg = f"{type(x).__name__} is not JSON serialisable"
    raise TypeError(msg)


def _prune_cases(out: Path, plans: Sequence[str], seeds: Sequence[int]) -> None:
    """Delete the case folders under ``out/cases`` of plans and seeds this run does not make.

    ``report`` reads every case folder there as this run's.
    """
    cases = out / "cases"
    if not cases.is_dir():
        return
    keep = {f"seed_{s}" for s in seeds}
    for plan_dir in cases.iterdir():
        if not plan_dir.is_dir():
            continue
        if plan_dir.name not in plans:
            shutil.rmtree(plan_dir, ignore_errors=True)
            continue
        for d in plan_dir.iterdir():
            if d.is_dir() and d.name.startswith("seed_") and d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _estimate_json(e: Estimate) -> dict[str, Any]:
    return {"mean": _num(e.mean), "ci95": [_num(e.ci95[0]), _num(e.ci95[1])],
            "per_seed": [_num(v) for v in e.per_seed]}


def _diff_json(d: Difference) -> dict[str, Any]:
    return {"diff": _num(d.diff), "ci95": [_num(d.ci95[0]), _num(d.ci95[1])], "pct": _num(d.pct)}


def _health_json(h: Health) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(h).items()}


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        path.write_text("", encoding="utf-8")
        return
    # Plans with different measures have different metric columns: take all, in first-seen order.
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def compare(scenario: Scenario | str | Path, *, plans: Sequence[str] | None = None,
            seeds: Sequence[int] | None = None, out: str | Path | None = None,
            workers: int | None = None, executor: Executor | None = None,
            progress: bool = True, trajectories: bool | Sequence[str] = False,
            scheduler: str | None = None, resume: bool = False) -> Comparison:
    """Run plans × seeds with common random numbers and compare each plan with the baseline.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario file / ``.sumocfg``.
    plans
        Plans to run (default: all; the baseline is always included).
    seeds
        Seeds (default: the scenario's).  Every plan runs on every seed with the same demand.
    out
        Directory that keeps the case directories and receives ``metrics.json`` and tables;
        a temporary directory (deleted afterwards) when None.
    workers
        Processes for the local pool (default: the cores).
    executor
        Any executor to use instead of the local pool (e.g. Dask's).
    progress
        Show progress on stderr.
    trajectories
        Record vehicle trajectories and signal switches on the first seed of each plan:
        True for the main corridor (both directions), or a chain of edge ids.
    scheduler
        Address of a Dask scheduler (``tcp://host:8786``) whose workers run the cases instead
        of the local pool.  The workers must see ``out`` and the scenario's files at the same
        paths (a shared file system); this is checked before any run starts.  The results
        are those of a local run, bit for bit.
    resume
        Reuse every run that an earlier, interrupted comparison in ``out`` finished with the
        same inputs (see :func:`run_key`) instead of running it again; the result is the same,
        bit for bit.  Without it, ``out``'s earlier cases are deleted first.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    # each plan once: --plans slow,slow ran (and printed) it twice
    names = [BASELINE, *dict.fromkeys(p for p in (plans or sc.plans) if p != BASELINE)]
    return _run_plans(sc, names, seeds, out, workers, executor, progress, trajectories,
                      scheduler, resume)


def simulate(scenario: Scenario | str | Path, plan: str = BASELINE, *,
             seeds: Sequence[int] | None = None, out: str | Path | None = None,
             workers: int | None = None, progress: bool = True,
             trajectories: bool | Sequence[str] = False,
             scheduler: str | None = None, resume: bool = False) -> Comparison:
    """Run one plan over seeds (``trafficsim run``); the result holds that plan only.

    ``scheduler``: a Dask scheduler's address, and ``resume``, as for :func:`compare`.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return _run_plans(sc, [plan], seeds, out, workers, None, progress, trajectories, scheduler,
                      resume)


def _run_plans(sc: Scenario, names: Sequence[str], seeds: Sequence[int] | None,
               out: str | Path | None, workers: int | None, executor: Executor | None,
               progress: bool, trajectories: bool | Sequence[str] = False,
               scheduler: str | None = None, resume: bool = False) -> Comparison:
    """Run the named plans; keep everything under ``out``, or nothing when it is None.

    Raises
    ------
    UsageError
        ``resume`` without ``out``: there is nothing to resume from.
    """
    specs = [sc.plan(p) for p in names]
    seed_list = tuple(seeds or sc.seeds)
    if out is None:
        if resume:
            msg = "--resume needs --out: the folder of the interrupted run"
            raise UsageError(msg)
        with tempfile.TemporaryDirectory(prefix="trafficsim-") as tmp:
            return _compare(sc, specs, seed_list, Path(tmp), workers, executor, progress,
                            trajectories, scheduler, record=False)
    with out_dir_lock(out):
        # a result of an earlier run would otherwise sit beside this run's cases until the end
        # (or for good, if this run is interrupted)
        Path(out, "metrics.json").unlink(missing_ok=True)
        # and an earlier run's case folders (other seeds or plans) would be read by `report`
        # as if they were this run's (--resume keeps this run's, and prunes the others)
        if resume:
            _prune_cases(Path(out), [s.name for s in specs], seed_list)
        else:
            shutil.rmtree(Path(out, "cases"), ignore_errors=True)
        result = _compare(sc, specs, seed_list, Path(out), workers, executor, progress,
                          trajectories, scheduler, resume)
        result.write(Path(out))
    return result


def _compare(sc: Scenario, specs: list[Any], seeds: tuple[int, ...], out: Path,
             workers: int | None, executor: Executor | None, progress: bool,
             trajectories: bool | Sequence[str] = False,
             scheduler: str | None = None, resume: bool = False, *,
             record: bool = True) -> Comparison:
    """Build and run the cases; ``record``: each run keeps its :data:`RUN_FILE` (for resume)."""
    if scheduler:  # a cluster's workers must find the cases at the same, absolute, place
        out = out.resolve()
    base_net, index = prepare_network(sc, out, [s.name for s in specs])
    corridors = trajectory_corridors(base_net, trajectories)
    cases: list[Case] = []
    for spec in specs:
        draft = build_plan(sc, spec, base_net, out)
        # trajectories of the first seed only: one picture per plan, and files stay small
        cases += [build_case(sc, spec, draft, s, out, corridors=corridors if s == seeds[0] else ())
                  for s in seeds]
    approaches = index.signal_approaches
    keys: dict[str, str] = {}
    if record:
        inputs = _inputs_key(sc)
        digests: dict[Path, str] = {}
        keys = {str(c.dir): run_key(c, inputs, digests) for c in cases}
    done = {i: r for i, c in enumerate(cases)
            if resume and (r := read_run(c.dir, keys[str(c.dir)])) is not None}
    if resume:
        print(f"resuming {out}: {len(done)} of {len(cases)} runs finished earlier with the same "
              f"inputs are reused, {len(cases) - len(done)} to run", file=sys.stderr)
    todo = [c for i, c in enumerate(cases) if i not in done]
    for c in todo:  # an older record beside this run's outputs would pass them off as its own
        (c.dir / RUN_FILE).unlink(missing_ok=True)
    labels = [f"plan={c.plan} seed={c.seed}" for c in todo]
    # every run records itself as it finishes: a killed comparison loses no finished run
    task = _CaseTask(sc.end_s, approaches, sc.begin_s, keys)
    if not todo:
        new: list[RunResult] = []
    elif executor is not None:
        new = map_tasks(task, todo, executor, labels, progress=progress)
    elif scheduler:
        with dask_executor(scheduler, shared=out, inputs=scenario_files(sc)) as ex:
            new = map_tasks(task, todo, ex, labels, progress=progress)
    else:
        with local_executor(workers, len(todo)) as ex:
            new = map_tasks(task, todo, ex, labels, progress=progress)
    fresh = iter(new)
    runs = [done[i] if i in done else next(fresh) for i in range(len(cases))]
    return Comparison(scenario=sc, seeds=seeds, plans=tuple(s.name for s in specs),
                      runs=tuple(runs), sumo_version=sumo_version())


@dataclass(frozen=True)
class _CaseTask:
    """A picklable callable for executors (a lambda would not cross process boundaries)."""

    end_s: float
    approaches: dict[str, tuple[str, ...]]
    begin_s: float | None = None
    keys: dict[str, str] = field(default_factory=dict)  # case folder → its run_key

    def __call__(self, case: Case) -> RunResult:
        result = execute_case(case, self.end_s, self.approaches, begin_s=self.begin_s)
        if (key := self.keys.get(str(case.dir))) is not None:
            write_run(result, key)
        return result


def better(metric: str, diff: float) -> bool | None:
    """Whether a difference in ``metric`` is an improvement.

    True for an improvement, False for a deterioration, None for a metric without a direction
    (see :func:`trafficsim.metrics.is_improvement`).
    """
    return is_improvement(metric, diff)

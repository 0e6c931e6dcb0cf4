"""Evaluating one candidate plan on the search seeds (runs in a worker), with the early cut.

A candidate is a plan like any other: the baseline's measures plus a ``signal_plan`` measure
that loads the candidate's programs.  It is built by :mod:`trafficsim.build` (lean cases: the
trip outputs only) and run by :mod:`trafficsim.sumo`, so a search run is the run ``compare``
makes of the same plan, imported ``.sumocfg`` processing options included.

Early cut: the objective's lower bounds are sound.  Delays only grow during a run (the TraCI
monitor, :func:`~trafficsim.sumo.run_sumo_monitored`, bounds the total delay from below) and seeds
not yet run add at least 0 (at least −N vehicles for throughput).  A plan whose bound exceeds
``threshold`` stops early and reports that bound.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trafficsim.build import Case, build_case, build_plan
from trafficsim.compare import read_trip_outputs
from trafficsim.control import make_controllers
from trafficsim.measures.signal_plan import SignalPlanMeasure
from trafficsim.metrics import run_metrics
from trafficsim.optimise.settings import DEFAULT_STOP_WEIGHT_S, Warmup
from trafficsim.outputs import Table, read_csv, read_vehicle_table
from trafficsim.scenario import PlanSpec, Scenario
from trafficsim.signals import SignalPlan, read_plan_file
from trafficsim.sumo import run_sumo, run_sumo_monitored

#: Lane data of the starting plan's runs: arrivals per lane for Webster (see read_lane_flows).
LANE_FLOWS_FILE = "lanes.csv"
#: (internal lanes too: each link's own lane counts its movement, for ``--design-lanes``)
LANE_FLOWS_OUTPUT = (f'<laneData id="lanes" file="{LANE_FLOWS_FILE}" excludeEmpty="true" '
                     'withInternal="true"/>')


def candidate_plan(base: PlanSpec, key: str, plan: SignalPlan, plan_file: Path,
                   warmup: Warmup | None = None, *, fitted: bool = False) -> PlanSpec:
    """The scenario plan that runs ``plan``, named by its key.

    The baseline's measures, then a ``signal_plan`` measure with its programs (``plan_file``
    holds the same, for the record).  With a ``warmup``, the measure loads the warm-up's
    programs and ``plan``, switched by a WAUT at the period's begin (written to ``plan_file``).
    ``fitted``: ``plan`` indexes the links of the plan network (``--plan``), not the base's.
    """
    if warmup is None:
        elements = tuple(plan.elements())
    else:
        plan_file.write_text(warmup.additional(plan), encoding="utf-8")
        elements = tuple(read_plan_file(plan_file)[1])
    measure = SignalPlanMeasure(control="file", file=plan_file, elements=elements,
                                file_tls=plan.tls_ids, fitted=fitted)
    return PlanSpec(key, (*base.measures, measure))


def departing_from(trips: Table, vehicles: Table, begin_s: float) -> tuple[Table, Table]:
    """The trip and vehicle tables cut to the vehicles that want to depart at or after ``begin_s``.

    A period's evaluation after a warm-up scores only its own vehicles: those whose wanted
    departure (``depart_s`` of the vehicle table; in tripinfo, ``depart - departDelay``) is in
    the period.  Vehicles of the warm-up still queued in the period are not scored, but they
    delay the period's vehicles behind them.  Pure: the tables are not changed.

    Parameters
    ----------
    trips
        Tripinfo table (with unfinished vehicles).
    vehicles
        Our vehicle table (id, depart_s, occupancy); may be empty (imported demand: its
        never-inserted vehicles, known only by count, then all stay in).
    begin_s
        First wanted departure kept. [s]
    """
    def rows(t: Table, keep: np.ndarray) -> Table:
        return {k: np.asarray(v)[keep] for k, v in t.items()}

    out_trips = trips
    if len(trips.get("id", ())):
        wanted = np.asarray(trips["depart"], dtype=float) - np.asarray(trips["departDelay"],
                                                                        dtype=float)
        out_trips = rows(trips, wanted >= begin_s - 1e-6)
    out_veh = vehicles
    if vehicles and len(vehicles.get("id", ())):
        out_veh = rows(vehicles, np.asarray(vehicles["depart_s"], dtype=float) >= begin_s - 1e-6)
    return out_trips, out_veh


@dataclass(frozen=True)
class EvalTask:
    """Everything a worker needs to evaluate one plan on the search seeds (picklable).

    Attributes
    ----------
    key
        The plan's key.
    scenario, plan, base_net
        What :func:`~trafficsim.build.build_plan` and :func:`~trafficsim.build.build_case` build
        the plan's cases from (see :func:`candidate_plan`).
    seeds
        The search seeds (common random numbers: every plan runs on the same ones).
    root
        The evaluation's own folder (its cases go under ``root/cases``); removed afterwards
        unless ``keep``.
    objective, stop_weight_s
        What is minimised (see :func:`objective_value`).
    threshold
        Stop as soon as the objective is known to exceed this (``inf``: never).
    n_demand
        Vehicles each seed's demand holds (None: unknown, no sound bound for the cut).
    check_every_s
        Simulated time between the monitor's checks. [s]
    lane_output
        Record arrivals per lane (the starting plan: Webster's flows).
    score_from_s
        Score only the vehicles departing from this time on (a period after its warm-up,
        :func:`departing_from`); lane flows are counted from then on too.  None: all. [s]
    """

    key: str
    scenario: Scenario
    plan: PlanSpec
    base_net: Path
    seeds: tuple[int, ...]
    root: Path
    objective: str
    stop_weight_s: float = DEFAULT_STOP_WEIGHT_S
    threshold: float = math.inf
    n_demand: tuple[int, ...] | None = None
    check_every_s: float = 300.0
    lane_output: bool = False
    keep: bool = False
    score_from_s: float | None = None


@dataclass(frozen=True)
class EvalResult:
    """One evaluated plan: its objective over the seeds run and, when cut, a lower bound.

    Attributes
    ----------
    key, objective, cut
        The plan, its objective (mean over the seeds) or lower bound, and whether it was cut.
    per_seed
        Seed → trip metrics of the runs that finished.
    wall_s, sumo_wall_s
        Wall-clock time of the whole evaluation (building included), and of its SUMO runs. [s]
    cut_at
        ``(seed, simulation time [s])`` of the cut.
    lane_flows_veh_h
        Arrivals per lane, mean over the seeds, with ``lane_output``. [veh/h]
    """

    key: str
    objective: float
    cut: bool
    per_seed: dict[int, dict[str, float]]
    wall_s: float
    sumo_wall_s: float
    cut_at: tuple[int, float] | None = None
    lane_flows_veh_h: dict[str, float] = field(default_factory=dict)


def objective_value(objective: str, m: dict[str, float], stop_weight_s: float) -> float:
    """The value minimised for one run's metrics (throughput is negated)."""
    if objective == "throughput_veh":
        return -m["throughput_veh"]
    if objective == "performance_index_s":
        return m["mean_delay_s"] + stop_weight_s * m["mean_stops"]
    return m[objective]


def evaluate(task: EvalTask) -> EvalResult:
    """Run the plan on each seed in turn; stop early when it cannot beat ``task.threshold``."""
    t0 = time.perf_counter()
    try:
        return _evaluate(task, t0)
    finally:
        if not task.keep:
            shutil.rmtree(task.root, ignore_errors=True)


def _evaluate(task: EvalTask, t0: float) -> EvalResult:
    sc = task.scenario
    k = len(task.seeds)
    # the sum over seeds must exceed this for a cut; never after a warm-up: the monitor's bound
    # counts the warm-up's vehicles, whose delay is not scored, so it would not be a bound
    limit = k * task.threshold if task.score_from_s is None else math.inf
    partial = 0.0
    per_seed: dict[int, dict[str, float]] = {}
    sumo_wall = 0.0
    lanes: dict[str, float] = {}
    draft = build_plan(sc, task.plan, task.base_net, task.root)
    lane_out = LANE_FLOWS_OUTPUT
    if task.score_from_s is not None:  # the period's arrivals, not the warm-up's
        lane_out = lane_out.replace("<laneData ", f'<laneData begin="{task.score_from_s:g}" ')
    outputs = (lane_out,) if task.lane_output else ()
    for i, seed in enumerate(task.seeds):
        case = build_case(sc, task.plan, draft, seed, task.root, lean=True, outputs=outputs)
        what = f"plan {task.key[:12]}, seed {seed}"
        factor = _bound_factor(task, i, case)
        rest_lb = _rest_lower_bound(task, i)
        cut_factor = factor if math.isfinite(limit) else None
        if cut_factor is not None or case.controllers:  # through TraCI: to cut, to drive signals
            left = limit - partial - rest_lb
            stop = _exceeds(cut_factor, left) if cut_factor is not None else None
            mon = run_sumo_monitored(case.config, seed=seed, timeout_s=case.timeout_s,
                                     end_s=sc.end_s, check_every_s=task.check_every_s,
                                     stop=stop, what=what,
                                     controllers=make_controllers(case.controllers))
            sumo_wall += mon.wall_s
            if mon.stopped_at_s is not None and cut_factor is not None:
                value = (partial + mon.delay_lower_bound_veh_s * cut_factor + rest_lb) / k
                return EvalResult(task.key, value, True, per_seed, time.perf_counter() - t0,
                                  sumo_wall, (seed, mon.stopped_at_s))
        else:
            sumo_wall += run_sumo(case.config, seed=seed, timeout_s=case.timeout_s,
                                  what=what).wall_s
        trips, stats, vehicles = read_trip_outputs(case.dir, what)
        if task.score_from_s is not None:
            trips, vehicles = departing_from(trips, vehicles, task.score_from_s)
        m = run_metrics(trips, vehicles, stats, sc.end_s)
        per_seed[seed] = m
        partial += objective_value(task.objective, m, task.stop_weight_s)
        if task.lane_output:
            for lane, q in read_lane_flows(case.dir / LANE_FLOWS_FILE, sc.end_s).items():
                lanes[lane] = lanes.get(lane, 0.0) + q / k
        if not task.keep:
            shutil.rmtree(case.dir, ignore_errors=True)
        rest_lb = _rest_lower_bound(task, i + 1)
        if i < k - 1 and math.isfinite(limit) and partial + rest_lb > limit:
            return EvalResult(task.key, (partial + rest_lb) / k, True, per_seed,
                              time.perf_counter() - t0, sumo_wall, (seed, sc.end_s))
    return EvalResult(task.key, partial / k, False, per_seed, time.perf_counter() - t0, sumo_wall,
                      None, lanes)


def _exceeds(factor: float, left: float) -> Callable[[float, float], bool]:
    """The monitor's stop rule for one seed's run.

    It stops when the seed's objective bound (total delay × ``factor``) is above what is
    ``left`` before the plan is out.
    """
    def stop(_t_s: float, delay_veh_s: float) -> bool:
        return delay_veh_s * factor > left

    return stop


def _bound_factor(task: EvalTask, i: int, case: Case) -> float | None:
    """Total delay [veh·s] → lower bound of this seed's objective, or None (no sound bound)."""
    if task.objective == "throughput_veh" or task.n_demand is None:
        return None
    n = task.n_demand[i]
    if n <= 0:
        return None
    if task.objective == "person_delay_s":
        veh = read_vehicle_table(case.dir / "vehicles.csv")
        if veh:
            occ = veh["occupancy"]
            return float(occ.min()) / float(occ.sum())
    return 1.0 / n


def _rest_lower_bound(task: EvalTask, start: int) -> float:
    """Lower bound of the objective summed over the seeds from index ``start`` on."""
    if task.objective != "throughput_veh":
        return 0.0
    if task.n_demand is None:
        return -math.inf
    return -float(sum(task.n_demand[start:]))


def read_lane_flows(path: Path, window_s: float) -> dict[str, float]:
    """Arrivals per lane [veh/h] from SUMO lane data.

    Each approach edge's arrivals (vehicles that entered or departed on it) are shared over its
    lanes as they discharged (``left``).

    Arrivals rather than discharges: under a starving plan, discharges are capped by capacity.
    """
    if not path.is_file():
        return {}
    t = read_csv(path)
    if not len(t.get("id", ())):
        return {}
    ids = [str(i) for i in t["id"]]
    begin = float(np.nanmin(t["begin"])) if "begin" in t else 0.0
    end = float(np.nanmax(t["end"])) if "end" in t else window_s
    hours = max(end - begin, 1.0) / 3600.0
    by_edge: dict[str, list[int]] = {}
    for j, lane in enumerate(ids):
        by_edge.setdefault(lane.rsplit("_", 1)[0], []).append(j)
    out = {}
    for rows in by_edge.values():
        arrivals = sum(float(t["entered"][j] + t["departed"][j]) for j in rows)
        left = [float(t["left"][j]) for j in rows]
        tot = sum(left)
        for j, lv in zip(rows, left, strict=True):
            share = lv / tot if tot else 1.0 / len(rows)
            out[ids[j]] = arrivals * share / hours
    return out

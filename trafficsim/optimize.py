"""Signal-plan optimisation: SciPy search over cycle, splits and offsets on common random numbers.

The decision vector (:class:`Encoding`) is bounded: a common cycle, per traffic light its stage
splits as proportions of the time above the minimum greens (stick-breaking, so greens always
respect the minimum greens and add up to the cycle), and per traffic light but the first an offset
as a fraction of the cycle.  Yellow and all-red times and the phase structure stay the network's.

Every candidate plan runs on the same K search seeds (common random numbers); the winner is then
validated on seeds the search never used, against the starting plan, Webster and SUMO's
``actuated`` control, with paired confidence intervals.

Early cut (differential evolution and the pattern searches).  SciPy's DE with deferred
updating replaces a population member by its trial only when ``f(trial) <= f(member)``.  With T
the *largest* energy in the current population, a trial whose objective is already known to
exceed T can replace no member, whatever its exact value.  The objective's lower bounds are
sound: delays only grow during a run (the TraCI monitor bounds the total delay from below) and
seeds not yet run add at least 0 (at least −N vehicles for throughput).  A cut trial is returned
with its lower bound, which is > T, so DE takes exactly the decisions it would have taken with
the full value: the search visits the same candidates and the winner (the best *exact* value,
never a cut one) is the same.  The pattern searches take a neighbour only if it beats the
incumbent, so they cut at the incumbent's value (see :func:`_pattern_search`).  Other SciPy
methods may accept worse points: they never cut.

Journal: every finished evaluation is appended (and fsync'ed) to ``journal.jsonl`` as one JSON
line.  The search is deterministic given its seed, so ``--resume`` replays it, answering every
candidate already in the journal from there, and continues where the interrupted run stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.build import build_case, build_plan, prepare_network
from trafficsim.errors import Issue, ScenarioError, SumoError
from trafficsim.measures.signal_plan import SignalPlanMeasure
from trafficsim.metrics import run_metrics
from trafficsim.outdir import holding_out
from trafficsim.outputs import read_csv, read_statistics, read_vehicle_table
from trafficsim.parallel import (
    Progress,
    SerialExecutor,
    cpu_count,
    dask_executor,
    local_executor,
)
from trafficsim.scenario import BASELINE, PlanSpec, Scenario, load_scenario
from trafficsim.signals import (
    PROGRAM_ID,
    SignalPlan,
    WebsterSettings,
    green_wave_offsets,
    read_edges,
    read_links,
    read_plan,
    round_preserving_sum,
    two_way_cycles_s,
    webster_plan,
)
from trafficsim.stats import mean_ci, paired_difference
from trafficsim.sumo import run_python_tool, run_sumo, run_sumo_monitored, run_tool

OBJECTIVES = ("mean_delay_s", "person_delay_s", "performance_index_s", "throughput_veh")
METHODS = ("differential_evolution", "dual_annealing", "direct", "nelder_mead")
DEFAULT_STOP_WEIGHT_S = 15.0
#: Journal roles of fixed-time plans (the others: tuned ``actuated`` and ``coordinated`` control)
FIXED_ROLES = ("start", "webster", "candidate", "refine")
JOURNAL = "journal.jsonl"
STATE = "optimise-state.json"


# --------------------------------------------------------------------------------------------
# The decision vector
# --------------------------------------------------------------------------------------------
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
        need = max(sum(p.intergreens_s) + sum(p.min_greens_s) for p in self.base.programs)
        lo = max(self.min_cycle_s, math.ceil(need))
        hi = max(self.max_cycle_s, lo + 10, *(p.cycle_s for p in self.base.programs))
        return float(lo), float(hi)

    @property
    def bounds(self) -> list[tuple[float, float]]:
        b = [self.cycle_bounds]
        b += [(0.0, 1.0)] * sum(len(p.stages) - 1 for p in self.base.programs)
        b += [(0.0, 1.0)] * (len(self.base.programs) - 1)
        return b

    @property
    def dim(self) -> int:
        return len(self.bounds)

    def decode(self, x: Sequence[float]) -> SignalPlan:
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
    """n − 1 values in [0, 1] → n shares summing to 1."""
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


# --------------------------------------------------------------------------------------------
# Evaluating one candidate (runs in a worker process)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalTask:
    """Everything a worker needs to evaluate one plan on the search seeds (picklable)."""

    key: str
    plan_file: Path
    seeds: tuple[int, ...]
    case_dirs: tuple[Path, ...]
    run_root: Path
    end_s: float
    timeout_s: float
    objective: str
    stop_weight_s: float = DEFAULT_STOP_WEIGHT_S
    threshold: float = math.inf
    n_demand: tuple[int, ...] | None = None
    check_every_s: float = 300.0
    lane_output: bool = False
    keep: bool = False


@dataclass(frozen=True)
class EvalResult:
    """One evaluated plan: its objective over the seeds run and, when cut, a lower bound."""

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
    k = len(task.seeds)
    limit = k * task.threshold  # the sum over seeds must exceed this for a cut
    partial = 0.0
    per_seed: dict[int, dict[str, float]] = {}
    sumo_wall = 0.0
    lanes: dict[str, float] = {}
    for i, (seed, case) in enumerate(zip(task.seeds, task.case_dirs, strict=True)):
        run_dir = task.run_root / f"seed_{seed}"
        cfg = write_eval_config(case, run_dir, task.plan_file, lane_output=task.lane_output,
                                end_s=task.end_s)
        what = f"plan {task.key[:12]}, seed {seed}"
        factor = _bound_factor(task, i, case)
        rest_lb = _rest_lower_bound(task, i)
        if math.isfinite(limit) and factor is not None:
            left = limit - partial - rest_lb
            mon = run_sumo_monitored(cfg, seed=seed, timeout_s=task.timeout_s, end_s=task.end_s,
                                     check_every_s=task.check_every_s,
                                     stop=lambda _t, d, f=factor, left=left: d * f > left,
                                     what=what)
            sumo_wall += mon.wall_s
            if mon.stopped_at_s is not None:
                value = (partial + mon.delay_lower_bound_veh_s * factor + rest_lb) / k
                _cleanup(run_dir, task.keep)
                return EvalResult(task.key, value, True, per_seed, time.perf_counter() - t0,
                                  sumo_wall, (seed, mon.stopped_at_s))
        else:
            sumo_wall += run_sumo(cfg, seed=seed, timeout_s=task.timeout_s, what=what).wall_s
        m = read_run_metrics(run_dir, case, task.end_s, what)
        per_seed[seed] = m
        partial += objective_value(task.objective, m, task.stop_weight_s)
        if task.lane_output:
            for lane, q in read_lane_flows(run_dir / "lanes.csv", task.end_s).items():
                lanes[lane] = lanes.get(lane, 0.0) + q / k
        _cleanup(run_dir, task.keep)
        rest_lb = _rest_lower_bound(task, i + 1)
        if i < k - 1 and math.isfinite(limit) and partial + rest_lb > limit:
            return EvalResult(task.key, (partial + rest_lb) / k, True, per_seed,
                              time.perf_counter() - t0, sumo_wall, (seed, task.end_s))
    return EvalResult(task.key, partial / k, False, per_seed, time.perf_counter() - t0, sumo_wall,
                      None, lanes)


def _bound_factor(task: EvalTask, i: int, case: Path) -> float | None:
    """Total delay [veh·s] → lower bound of this seed's objective, or None (no sound bound)."""
    if task.objective == "throughput_veh" or task.n_demand is None:
        return None
    n = task.n_demand[i]
    if n <= 0:
        return None
    if task.objective == "person_delay_s":
        veh = read_vehicle_table(case / "vehicles.csv")
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


def _cleanup(run_dir: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)


def write_eval_config(case_dir: Path, run_dir: Path, plan_file: Path, *, lane_output: bool,
                      end_s: float) -> Path:
    """A lean copy of a case's configuration that also loads ``plan_file``.

    Paths become absolute; the metric detectors, emissions and summary of the full case are left
    out (the objective needs trip information and statistics only).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    root = ET.parse(case_dir / "case.sumocfg").getroot()
    opts = {el.tag: el.get("value", "") for el in root}

    def absolute(v: str) -> str:
        return ",".join(str((case_dir / p).resolve()) for p in v.split(",") if p)

    opts["net-file"] = absolute(opts["net-file"])
    opts["route-files"] = absolute(opts.get("route-files", ""))
    adds = [p for p in opts.get("additional-files", "").split(",")
            if p and Path(p).name != "detectors.add.xml"]
    adds = [*absolute(",".join(adds)).split(","), str(plan_file)]
    if lane_output:
        (run_dir / "lanes.add.xml").write_text(
            '<additional>\n  <laneData id="lanes" file="lanes.csv" excludeEmpty="true"/>\n'
            "</additional>\n", encoding="utf-8")
        adds.append("lanes.add.xml")
    opts["additional-files"] = ",".join(a for a in adds if a)
    for k in ("device.emissions.probability", "summary-output", "summary-output.period"):
        opts.pop(k, None)
    opts["tripinfo-output"] = "tripinfo.csv"
    opts["statistic-output"] = "stats.xml"
    body = "\n".join(f'    <{k} value="{v}"/>' for k, v in opts.items() if v != "")
    cfg = run_dir / "eval.sumocfg"
    cfg.write_text(f"<configuration>\n{body}\n</configuration>\n", encoding="utf-8")
    return cfg


def read_run_metrics(run_dir: Path, case_dir: Path, end_s: float, what: str) -> dict[str, float]:
    try:
        trips = read_csv(run_dir / "tripinfo.csv")
        stats = read_statistics(run_dir / "stats.xml")
    except (OSError, KeyError, ValueError, ET.ParseError) as exc:
        msg = f"{what}: SUMO finished but its outputs could not be read: {exc}"
        raise SumoError(msg) from exc
    vehicles = read_vehicle_table(case_dir / "vehicles.csv")
    return run_metrics(trips, vehicles, stats, end_s)


def read_lane_flows(path: Path, window_s: float) -> dict[str, float]:
    """Arrivals per lane [veh/h] from SUMO lane data: each approach edge's arrivals (vehicles that
    entered or departed on it) shared over its lanes as they discharged (``left``).

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


# --------------------------------------------------------------------------------------------
# Journal
# --------------------------------------------------------------------------------------------
class Journal:
    """Append-only record of evaluations, one JSON line each, flushed to disk as they complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        e = json.loads(line)
                    except json.JSONDecodeError:
                        break  # a line cut by a kill: that evaluation reruns
                    if e["key"] not in self.entries:
                        self.order.append(e["key"])
                    self.entries[e["key"]] = e
            self._truncate_to_valid()

    def _truncate_to_valid(self) -> None:
        text = "".join(json.dumps(self.entries[k]) + "\n" for k in self.order)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)

    def add(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if entry["key"] not in self.entries:
            self.order.append(entry["key"])
        self.entries[entry["key"]] = entry

    def __len__(self) -> int:
        return len(self.entries)


# --------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------
class _BudgetReached(Exception):
    pass


@dataclass
class OptimiseSettings:
    """Options of :func:`optimise` (see its docstring)."""

    budget: int = 40
    objective: str = "mean_delay_s"
    method: str = "differential_evolution"
    seeds: tuple[int, ...] | None = None
    validate_seeds: tuple[int, ...] | None = None
    rng_seed: int = 0
    stop_weight_s: float = DEFAULT_STOP_WEIGHT_S
    early_cut: bool = True
    check_every_s: float = 300.0
    min_cycle_s: float = 30.0
    max_cycle_s: float = 150.0
    webster: WebsterSettings = field(default_factory=WebsterSettings)
    tune_actuated: bool = False
    refine_share: float = 0.4
    validate: bool = True
    compare_sumo_webster: bool = True


@dataclass
class _Search:
    """State of one optimisation run (orchestrator side)."""

    sc: Scenario
    settings: OptimiseSettings
    out: Path
    work: Path
    executor: Executor
    journal: Journal
    seeds: tuple[int, ...]
    case_dirs: tuple[Path, ...]
    encoding: Any = None  # Encoding or ActuatedEncoding: decode(x) → SignalPlan
    n_demand: tuple[int, ...] | None = None
    progress: Progress | None = None
    threshold: float = math.inf
    calls: int = 0
    stale_generations: int = 0
    plans: dict[str, SignalPlan] = field(default_factory=dict)
    proposed: set[str] = field(default_factory=set)
    numbers: dict[str, int] = field(default_factory=dict)  # key → evaluation number
    role: str = "candidate"
    plan_net: Path = Path()
    limit: int = 0  # evaluations allowed in total so far (the budget, + actuated tuning)

    def restart(self, encoding: Any, role: str, limit: int) -> None:
        """Set up a new search phase (fresh DE bookkeeping) on the same journal."""
        self.encoding, self.role, self.limit = encoding, role, limit
        self.threshold, self.calls, self.stale_generations = math.inf, 0, 0

    def best(self, roles: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The best exact evaluation (of these roles) of a plan this run proposed; ties: the
        one proposed first.  A journal may also hold plans of phases this run does not repeat
        (a run resumed without ``--tune-actuated``): those are left out."""
        exact = [e for e in self.journal.entries.values()
                 if not e["cut"] and e["key"] in self.plans and (roles is None or e["role"] in roles)]
        return min(exact, key=lambda e: (e["objective"], e["n"])) if exact else None

    def task(self, key: str, plan: SignalPlan, *, threshold: float = math.inf,
             lane_output: bool = False) -> EvalTask:
        plan_dir = self.work / "plans"
        plan_dir.mkdir(parents=True, exist_ok=True)
        plan_file = plan.write(plan_dir / f"{key}.add.xml")
        s = self.settings
        return EvalTask(key=key, plan_file=plan_file, seeds=self.seeds, case_dirs=self.case_dirs,
                        run_root=self.work / "evals" / key, end_s=self.sc.end_s,
                        timeout_s=self.sc.timeout_s, objective=s.objective,
                        stop_weight_s=s.stop_weight_s,
                        threshold=threshold if s.early_cut else math.inf,
                        n_demand=self.n_demand, check_every_s=s.check_every_s,
                        lane_output=lane_output)

    def run_batch(self, items: list[tuple[str, SignalPlan, str, list[float] | None]], *,
                  threshold: float = math.inf, lane_output: bool = False) -> list[float]:
        """Evaluate (key, plan, role, x) items not yet in the journal; return all objectives.

        Raises _BudgetReached after recording the evaluations that fit in the budget.
        """
        # Evaluation numbers follow the order of proposal, whether a plan is run now or was run
        # before an interruption (parallel runs finish out of order, so an interrupted batch
        # may have holes): a resumed run numbers, budgets and breaks ties as the first did.
        fresh_keys: list[str] = []
        for key, plan, _, _ in items:
            self.plans[key] = plan
            if key not in self.numbers and key not in fresh_keys:
                fresh_keys.append(key)
        room = self.limit - len(self.numbers)
        stop = len(fresh_keys) > room
        for key in fresh_keys[:max(room, 0)]:
            self.numbers[key] = len(self.numbers) + 1
        todo = []
        queued: set[str] = set()
        for key, plan, role, x in items:
            if key in self.numbers and key not in self.journal.entries and key not in queued:
                queued.add(key)
                todo.append((key, plan, role, x))
        # Stale: the search proposed nothing it had not proposed before.  Judged on proposals,
        # not on the journal, so a resumed run (whose journal knows everything) decides alike.
        keys = {k for k, _, _, _ in items}
        fresh = keys - self.proposed
        self.proposed |= keys
        self.stale_generations = 0 if fresh else self.stale_generations + 1
        if todo and isinstance(self.executor, SerialExecutor):
            # one at a time, journalled as each finishes (a serial executor would otherwise run
            # the whole batch at submission, before anything reaches the journal)
            for k, p, role, x in todo:
                task = self.task(k, p, threshold=threshold, lane_output=lane_output)
                self._record(self.numbers[k], evaluate(task), role, x)
        elif todo:
            futures = {self.executor.submit(evaluate, self.task(k, p, threshold=threshold,
                                                                lane_output=lane_output)):
                       (self.numbers[k], k, role, x) for k, p, role, x in todo}
            try:
                for fut in as_completed(futures):
                    n, key, role, x = futures[fut]
                    self._record(n, fut.result(), role, x)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        if stop:
            raise _BudgetReached
        return [float(self.journal.entries[k]["objective"]) for k, _, _, _ in items]

    def _record(self, n: int, r: EvalResult, role: str, x: list[float] | None) -> None:
        # n: the order in which the search proposed the plan (completion order varies)
        entry = {"n": n, "key": r.key, "role": role, "objective": r.objective,
                 "cut": r.cut, "cut_at": list(r.cut_at) if r.cut_at else None,
                 "per_seed": {str(s): m for s, m in r.per_seed.items()},
                 "wall_s": round(r.wall_s, 3), "sumo_wall_s": round(r.sumo_wall_s, 3),
                 "x": x, "t": time.time()}
        if r.lane_flows_veh_h:
            entry["lane_flows_veh_h"] = r.lane_flows_veh_h
        self.journal.add(entry)
        if self.progress is not None:
            best = self.best()
            b = f"{best['objective']:.2f}" if best else "–"
            mark = " (cut)" if r.cut else ""
            self.progress.step(f"{role} {r.objective:.2f}{mark}  best {b}")

    # -- SciPy glue ---------------------------------------------------------------------------
    def _candidates(self, xs: Sequence[Sequence[float]]) -> list[tuple[str, SignalPlan, str,
                                                                       list[float]]]:
        assert self.encoding is not None
        out = []
        for x in xs:
            plan = self.encoding.decode(x)
            out.append((plan_key(plan), plan, self.role, [float(v) for v in x]))
        return out

    def mapper(self, _func: Callable[..., float], xs: Sequence[Sequence[float]]) -> list[float]:
        """SciPy's ``workers=`` map: a DE generation evaluated in parallel, cut by threshold."""
        values = self.run_batch(self._candidates(list(xs)), threshold=self.threshold)
        self.calls += 1
        if self.calls == 1:
            self.threshold = max(values)  # the initial population's worst energy
        if self.stale_generations >= 5:
            raise _BudgetReached  # converged: five generations proposed only known plans
        return values

    def callback(self, intermediate_result: Any) -> None:
        energies = getattr(intermediate_result, "population_energies", None)
        if energies is not None and len(energies):
            self.threshold = float(np.max(energies))

    def single(self, x: Sequence[float]) -> float:
        return self.run_batch(self._candidates([x]))[0]


def plan_key(plan: SignalPlan) -> str:
    return hashlib.sha256(plan.key().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OptimiseResult:
    """What :func:`optimise` produced (``to_dict()`` is ``optimise.json``)."""

    doc: dict[str, Any]
    best_plan: SignalPlan
    out: Path

    def to_dict(self) -> dict[str, Any]:
        return self.doc


@holding_out  # one run per output folder
def optimise(scenario: Scenario | str | Path, *, out: str | Path,
             settings: OptimiseSettings | None = None, workers: int | None = None,
             scheduler: str | None = None, executor: Executor | None = None,
             resume: bool = False, progress: bool = True) -> OptimiseResult:
    """Optimise a scenario's fixed-time signal plans and validate the winner on unseen seeds.

    Parameters
    ----------
    scenario
        Scenario file / ``.sumocfg`` or a loaded :class:`Scenario`; its baseline's programs are the
        starting plan.
    out
        Output directory: ``signal_plan.add.xml``, ``optimise.json``, ``journal.jsonl`` and the
        reference plans (``start``, ``webster``, ``actuated``) as additional files.
    settings
        Budget (candidate plans simulated, starting plan and Webster included), objective,
        method, search and validation seeds, …
    workers, scheduler, executor
        Parallel local SUMO runs (default: the cores), a Dask scheduler address, or any
        executor.
    resume
        Continue the run recorded in ``out`` (journal entries are not re-run).
    """
    s = settings or OptimiseSettings()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    _check_settings(sc, s)
    out = Path(out).resolve()  # SUMO resolves relative paths against each config's folder
    seeds = tuple(s.seeds or sc.seeds[:3])
    vseeds = tuple(s.validate_seeds or _unseen(seeds, 5))
    if set(seeds) & set(vseeds):
        both = sorted(set(seeds) & set(vseeds))
        raise ScenarioError([Issue(sc.source, "--validate-seeds",
                                   f"seeds {both} are also search seeds; validation needs seeds "
                                   "the search never used")])
    out.mkdir(parents=True, exist_ok=True)
    state = _state(sc, s, seeds)
    _check_resume(out, state, resume, sc)
    work = out / "work"
    t_start = time.perf_counter()
    with _executor(workers, scheduler, executor) as ex:
        base_net, _ = prepare_network(sc, work)
        base_spec = sc.plan(BASELINE)
        draft = build_plan(sc, base_spec, base_net, work)
        case_dirs = tuple(build_case(sc, base_spec, draft, seed, work).dir for seed in seeds)
        plan_net = work / "cases" / BASELINE / "net.net.xml"
        adds = [work / "cases" / BASELINE / "measures.add.xml", *sc.additional_files]
        start = read_plan(plan_net, adds)
        if not start.programs:
            raise ScenarioError([Issue(sc.source, "network", "has no traffic light with a green "
                                                             "phase; there is no plan to optimise")])
        start = start.with_program_id("start")
        journal = Journal(out / JOURNAL)
        search = _Search(sc, s, out, work, ex, journal, seeds, case_dirs, limit=s.budget,
                         plan_net=plan_net)
        tune_budget = max(10, s.budget // 4) if s.tune_actuated else 0
        total = s.budget + 2 * tune_budget
        search.progress = Progress(total, "optimise", enabled=progress,
                                   initial=min(len(journal), total), unit="plan")
        links = read_links(plan_net)
        edges = read_edges(plan_net)
        stopped = "budget"
        webster = None
        try:
            # 1. the starting plan (with lane counts for Webster), 2. Webster
            key0 = plan_key(start)
            search.run_batch([(key0, start, "start", None)], lane_output=True)
            e0 = journal.entries[key0]
            search.n_demand = tuple(int(e0["per_seed"][str(sd)]["throughput_veh"]
                                        + e0["per_seed"][str(sd)]["unfinished_veh"])
                                    for sd in seeds)
            flows = e0.get("lane_flows_veh_h", {})
            webster, _ = webster_plan(start, links, flows, s.webster)
            search.run_batch([(plan_key(webster), webster, "webster", None)])
            # 3. the search
            n_refine = max(0, min(round(s.budget * s.refine_share), s.budget - 3))
            search.restart(Encoding(start, s.min_cycle_s, s.max_cycle_s), "candidate",
                           s.budget - n_refine)
            stopped = _run_phase(lambda: _search(search, start, webster, links, edges, flows),
                                 search)
            if n_refine:
                enc = search.encoding
                search.restart(enc, "refine", s.budget)
                stopped = _run_phase(lambda: refine(search, enc), search)
            if tune_budget:
                # each phase has its own budget (the coordinated one also what the actuated
                # tuning left), whether or not the fixed-time search used all of its own
                n_fixed = len(search.numbers)  # evaluations so far (also when resumed)
                search.restart(ActuatedEncoding(start), "actuated", n_fixed + tune_budget)
                _run_phase(lambda: _tune_vector(search, "actuated"), search)
                fixed_entry = search.best(FIXED_ROLES)
                assert fixed_entry is not None  # the starting plan at least
                base = search.plans[fixed_entry["key"]]
                search.restart(CoordinatedEncoding(base, links, edges),
                               "coordinated", n_fixed + 2 * tune_budget)
                _run_phase(lambda: _tune_vector(search, "coordinated"), search)
        finally:
            search.progress.close()
        search_s = time.perf_counter() - t_start
        best = search.best()
        fixed = search.best(FIXED_ROLES)
        t_best = search.best(("actuated",))
        c_best = search.best(("coordinated",))
        assert best is not None and fixed is not None and webster is not None
        best_plan = search.plans[best["key"]].with_program_id(PROGRAM_ID)
        best_plan.write(out / "signal_plan.add.xml")
        webster.write(out / "webster.add.xml")
        start.write(out / "start.add.xml")
        actuated = start.actuated()
        actuated.write(out / "actuated.add.xml")
        if t_best is not None:
            search.plans[t_best["key"]].write(out / "actuated_tuned.add.xml")
            # the best fixed-time plan too, when tuned actuated control won the search
            search.plans[fixed["key"]].with_program_id("fixed_time").write(
                out / "fixed_time.add.xml")
        if c_best is not None:
            search.plans[c_best["key"]].write(out / "coordinated.add.xml")
        doc: dict[str, Any] = {
            "scenario": sc.name, "scenario_file": str(sc.source), "objective": s.objective,
            "method": s.method, "budget": s.budget, "evaluations": len(journal),
            "stopped": stopped, "seeds": list(seeds), "validate_seeds": list(vseeds),
            "window": {"begin_s": sc.begin_s, "end_s": sc.end_s},
            "early_cut": s.early_cut, "stop_weight_s": s.stop_weight_s,
            "cut_evaluations": sum(1 for e in journal.entries.values() if e["cut"]),
            "search_wall_s": round(search_s, 2),
            "best": {"key": best["key"], "role": best["role"], "objective": best["objective"],
                     "eval": best["n"], "plan": best_plan.to_dict()},
            "start": {"objective": journal.entries[plan_key(start)]["objective"],
                      "plan": start.to_dict()},
            "webster": {"objective": journal.entries[plan_key(webster)]["objective"],
                        "plan": webster.to_dict(),
                        "lane_flows_veh_h": journal.entries[plan_key(start)].get(
                            "lane_flows_veh_h", {})},
            "best_fixed_time": {"key": fixed["key"], "objective": fixed["objective"],
                                "eval": fixed["n"], "role": fixed["role"]},
            "actuated_tuned": ({"objective": t_best["objective"], "eval": t_best["n"],
                                "plan": search.plans[t_best["key"]].to_dict()}
                               if t_best is not None else None),
            "coordinated": ({"objective": c_best["objective"], "eval": c_best["n"],
                             "x": c_best["x"], "plan": search.plans[c_best["key"]].to_dict()}
                            if c_best is not None else None),
            "history": sorted((_history_row(e) for e in journal.entries.values()),
                              key=lambda h: h["n"]),
        }
        if s.compare_sumo_webster:
            doc["tls_cycle_adaptation"] = _sumo_webster(sc, case_dirs[0], plan_net, start, s,
                                                        out)
        if s.validate:
            doc["validation"] = validate(sc, base_spec, vseeds, out, s, ex, progress,
                                         tune_actuated=s.tune_actuated)
        doc["wall_s"] = round(time.perf_counter() - t_start, 2)
    (out / "optimise.json").write_text(json.dumps(_clean(doc), indent=2, allow_nan=False),
                                       encoding="utf-8")
    return OptimiseResult(doc, best_plan, out)


def _run_phase(fn: Callable[[], None], search: _Search) -> str:
    """Run one search phase until its method, its budget or convergence stops it."""
    try:
        fn()
    except _BudgetReached:
        return "converged" if search.stale_generations >= 5 else "budget"
    return "converged" if search.stale_generations >= 5 else "method finished"


@dataclass(frozen=True)
class ActuatedEncoding:
    """Actuated control of every traffic light with shared parameters: ``[min green [s],
    max green [s], max gap [s]]`` (SUMO's ``minDur``, ``maxDur`` and ``max-gap``), tuned by a
    pattern search from SUMO's defaults (:func:`_tune_vector`).

    (A DE over the same box, tried first, spent most of a small budget on its random first
    population; on the imported single intersection its best was 11.2 s where the pattern
    search finds about 10 s, mostly from a shorter max gap.)
    """

    base: SignalPlan
    bounds: tuple[tuple[float, float], ...] = ((3.0, 15.0), (20.0, 90.0), (1.0, 6.0))
    steps: tuple[tuple[float, ...], ...] = ((2.0, 15.0, 1.0), (1.0, 5.0, 0.5))
    order: tuple[int, ...] = (2, 0, 1)  # the max gap matters most

    def decode(self, x: Sequence[float]) -> SignalPlan:
        lo = [b[0] for b in self.bounds]
        hi = [b[1] for b in self.bounds]
        v = [min(max(float(x[i]), lo[i]), hi[i]) for i in range(3)]
        return self.base.actuated(min_green_s=float(round(v[0])), max_green_s=float(round(v[1])),
                                  params={"max-gap": f"{round(v[2], 1):g}"},
                                  program_id="actuated_tuned")

    def default(self) -> np.ndarray:
        """SUMO's defaults: minDur 5 s, maxDur 50 s, max-gap 3 s."""
        return np.array([5.0, 50.0, 3.0])


def _search(search: _Search, start: SignalPlan, webster: SignalPlan,
            links: dict[str, Any], edges: dict[str, Any], flows: dict[str, float]) -> None:
    from scipy import optimize as so

    s = search.settings
    enc = search.encoding
    assert enc is not None
    bounds = enc.bounds
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    # Warm starts: the starting plan and Webster on a common cycle (the longest Webster cycle).
    common = max(p.cycle_s for p in webster.programs)
    web_common, _ = webster_plan(start, links, flows, replace(s.webster, min_cycle_s=common,
                                                              max_cycle_s=common))
    x_wave = None
    coordinated: list[np.ndarray] = []
    if len(start.programs) > 1:
        wave = green_wave_offsets(web_common, links, edges, flows, None)
        enc = search.encoding = replace(enc, wave_s=tuple(wave.get(p.tls_id, 0.0)
                                                          for p in start.programs))
        x_wave = enc.encode(web_common, common)
        x_wave[-(len(start.programs) - 1):] = 0.0  # offset 0: on the wave
        x_wave = np.clip(x_wave, lo, hi)
        # Webster's cycle minimises isolated delay; a two-way green wave may pay more at the
        # cycles where both directions of a corridor progress: start from those too.
        for c in two_way_cycles_s(web_common, links, edges, flows, *enc.cycle_bounds):
            if abs(c - common) >= 5.0:
                web_c, _ = webster_plan(start, links, flows, replace(s.webster, min_cycle_s=c,
                                                                     max_cycle_s=c))
                x = enc.encode(web_c, c)
                x[-(len(start.programs) - 1):] = 0.0
                coordinated.append(np.clip(x, lo, hi))
    x_start = np.clip(enc.encode(start), lo, hi)
    x_web = np.clip(enc.encode(web_common, common), lo, hi)  # Webster's offsets: all 0
    if s.method == "differential_evolution":
        init = initial_population(enc, x_start, [x_web], s.budget, s.rng_seed, wave=x_wave,
                                  coordinated=coordinated)
        so.differential_evolution(
            lambda x: 0.0, bounds, init=init, workers=search.mapper, updating="deferred",
            polish=False, tol=0.0, atol=0.0, maxiter=100_000, rng=s.rng_seed,
            callback=search.callback)
    elif s.method == "dual_annealing":
        so.dual_annealing(search.single, bounds, x0=x_start, maxfun=10 * s.budget,
                          rng=s.rng_seed, no_local_search=True)
    elif s.method == "direct":
        so.direct(search.single, bounds, maxfun=10 * s.budget)
    else:  # nelder_mead
        so.minimize(search.single, x_start, method="Nelder-Mead", bounds=bounds,
                    options={"maxfev": 10 * s.budget, "xatol": 0.5, "fatol": 0.01})


def initial_population(enc: Encoding, x_start: np.ndarray, anchors: Sequence[np.ndarray],
                       budget: int, rng_seed: int, *, wave: np.ndarray | None = None,
                       coordinated: Sequence[np.ndarray] = ()) -> np.ndarray:
    """DE's first population: the starting plan, the anchors (Webster on a common cycle, and
    with green-wave offsets when ``wave`` is given, and the ``coordinated`` plans: Webster on
    the wave at the two-way progression cycles), then the rest split between the anchors'
    neighbourhoods and a Latin hypercube over the whole box for diversity.

    Uniform random plans alone gridlock a busy arterial (every bad plan is slow to simulate and,
    being in the first population, cannot be cut), so most of the population starts near a
    sensible plan: cycle and splits perturbed, offsets near the green wave or, around plain
    Webster, drawn at random.  Size: about a sixth of the budget, between 5 and 40.
    """
    from scipy.stats import qmc

    lo, hi = (np.array(b) for b in zip(*enc.bounds, strict=True))
    waves = ([wave] if wave is not None else []) + list(coordinated)
    heads = [x_start, *anchors, *waves]
    size = int(min(max(5, budget // 6), max(8, 3 * enc.dim), 40))
    rest = max(size - len(heads), 3)
    n_spread = max(1, rest // 4)
    n_local = rest - n_spread
    rng = np.random.default_rng(rng_seed)
    n_off = len(enc.base.programs) - 1
    n_wave = n_local - n_local // 3 if waves else 0
    centres = [waves[i % len(waves)] for i in range(n_wave)] + [anchors[0]] * (n_local - n_wave)
    local = []
    for c in centres:
        x = c + rng.normal(0.0, 0.08, enc.dim) * (hi - lo)
        if n_off:
            if any(c is w for w in waves):
                x[-n_off:] = (c[-n_off:] + rng.normal(0.0, 0.05, n_off)) % 1.0
            else:
                x[-n_off:] = rng.uniform(0.0, 1.0, n_off)
        local.append(x)
    lhs = qmc.LatinHypercube(d=enc.dim, rng=rng)
    spread = qmc.scale(lhs.random(n_spread), lo, hi)
    return np.clip(np.vstack([*heads, *local, spread]), lo, hi)


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


def refine(search: _Search, enc: Encoding) -> None:
    """Polish the best fixed-time plan by a pattern search in seconds.

    DE's ``polish`` (L-BFGS-B) is useless here: plans are rounded to whole seconds, so the
    objective is piecewise constant and its gradient zero almost everywhere.  Instead: try the
    :func:`neighbours` of the incumbent in batches of :data:`REFINE_BATCH` (evaluated in
    parallel); move to the best of a batch as soon as it beats the incumbent; when no neighbour
    does, shrink the steps (:data:`REFINE_STEPS_S`); stop after the finest.  On a coordinated
    corridor this is where per-light splits and offsets get fitted, which DE's few generations
    in a ten-dimensional box seldom reach.  Deterministic given the objective values (the batch
    does not depend on the number of workers), so ``--resume`` replays it from the journal.
    """
    best = search.best(("start", "webster", "candidate"))
    assert best is not None  # the starting plan at least

    def moves(plan: SignalPlan, level: int, last: Any) -> list[tuple[Any, Any, SignalPlan,
                                                                      None]]:
        return [(m, q, q, None) for m, q in neighbours(plan, enc, *REFINE_STEPS_S[level],
                                                        first=last)]

    _pattern_search(search, search.plans[best["key"]], float(best["objective"]), moves,
                    len(REFINE_STEPS_S), "refine")


def _pattern_search(search: _Search, state: Any, value: float,
                    moves: Callable[[Any, int, Any], list[tuple[Any, Any, SignalPlan,
                                                                 list[float] | None]]],
                    n_levels: int, role: str) -> None:
    """Greedy pattern search: ``moves(state, level, last_move)`` lists ``(move, state, plan,
    x)`` neighbours; the best of each batch that beats the incumbent becomes the incumbent; no
    improvement in the whole neighbourhood → next (finer) level.

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
            values = search.run_batch([(plan_key(q), q, role, x) for _, _, q, x in chunk],
                                      threshold=value)
            j = int(np.argmin(values))
            if values[j] < value:
                last, state, value = chunk[j][0], chunk[j][1], values[j]
                improved = True
                break
        if not improved:
            level += 1
            last = None


@dataclass(frozen=True)
class CoordinatedEncoding:
    """Coordinated actuated control on a fixed-time plan: ``[extension [s], max gap [s], skip]``
    (see :meth:`~trafficsim.signals.SignalPlan.coordinated_actuated`), tuned by a pattern
    search from its default (:func:`_tune_vector`)."""

    base: SignalPlan
    links: Any
    edges: Any
    bounds: tuple[tuple[float, float], ...] = ((0.0, 15.0), (1.0, 6.0), (0.0, 1.0))
    steps: tuple[tuple[float, ...], ...] = ((3.0, 1.0, 1.0), (1.0, 0.5, 1.0))
    order: tuple[int, ...] = (1, 0, 2)

    def decode(self, x: Sequence[float]) -> SignalPlan:
        return self.base.coordinated_actuated(
            self.links, self.edges, skip=x[2] >= 0.5, extension_s=float(round(x[0])),
            max_gap_s=round(float(x[1]) * 2) / 2, program_id="coordinated")

    def default(self) -> np.ndarray:
        """Side stages may run 3 s over, max gap 4 s, empty side stages skipped."""
        return np.array([3.0, 4.0, 1.0])


def _tune_vector(search: _Search, role: str) -> None:
    """Pattern search over a small parameter vector (``search.encoding``: ``bounds``,
    ``steps`` per level, ``order`` of the coordinates, ``default()``, ``decode(x)``)."""
    enc = search.encoding
    x0 = enc.default()
    plan0 = enc.decode(x0)
    value = search.run_batch([(plan_key(plan0), plan0, role, [float(v) for v in x0])])[0]

    def moves(x: np.ndarray, level: int, last: Any) -> list[tuple[Any, Any, SignalPlan,
                                                                   list[float]]]:
        out = []
        for i in enc.order:
            for sign in (-1, 1):
                y = x.copy()
                y[i] = min(max(y[i] + sign * enc.steps[level][i], enc.bounds[i][0]),
                           enc.bounds[i][1])
                if y[i] != x[i]:
                    out.append(((i, sign), y, enc.decode(y), [float(v) for v in y]))
        out.sort(key=lambda m: m[0] != last)
        return out

    _pattern_search(search, x0, value, moves, len(enc.steps), role)


def _history_row(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e.get(k) for k in ("n", "key", "role", "objective", "cut", "cut_at", "wall_s",
                                   "sumo_wall_s", "x")} | {
        "mean_delay_s": _mean_metric(e, "mean_delay_s")}


def _mean_metric(e: dict[str, Any], m: str) -> float | None:
    vals = [v[m] for v in e["per_seed"].values() if m in v]
    return float(np.mean(vals)) if vals and not e["cut"] else None


def _unseen(seeds: Sequence[int], n: int) -> tuple[int, ...]:
    out = []
    s = 101
    while len(out) < n:
        if s not in seeds:
            out.append(s)
        s += 1
    return tuple(out)


def _check_settings(sc: Scenario, s: OptimiseSettings) -> None:
    problems = []
    if s.objective not in OBJECTIVES:
        problems.append(("--objective", f"= {s.objective!r}; expected one of "
                                        f"{', '.join(OBJECTIVES)}"))
    if s.method not in METHODS:
        problems.append(("--method", f"= {s.method!r}; expected one of {', '.join(METHODS)}"))
    if s.budget < 3:
        problems.append(("--budget", f"= {s.budget}; expected at least 3 (the starting plan, "
                                     "Webster and one candidate)"))
    if not 0.0 <= s.refine_share < 1.0:
        problems.append(("--refine-share", f"= {s.refine_share}; expected a fraction of the "
                                           "budget in [0, 1)"))
    if problems:
        raise ScenarioError([Issue(sc.source, f, m) for f, m in problems])


# What the journal's numbers depend on besides the settings: a resumed run with other inputs
# would silently mix two models' results in one search.
_PROVENANCE = {"scenario_sha256": "the scenario or a file it names (SHA-256)",
               "sumo_version": "the SUMO version", "trafficsim_version": "the trafficsim version"}


def _state(sc: Scenario, s: OptimiseSettings, seeds: tuple[int, ...]) -> dict[str, Any]:
    from trafficsim import __version__
    from trafficsim.compare import scenario_sha256
    from trafficsim.sumo import sumo_version

    return {"scenario_file": str(sc.source), "end_s": sc.end_s, "objective": s.objective,
            "method": s.method, "seeds": list(seeds), "rng_seed": s.rng_seed,
            "stop_weight_s": s.stop_weight_s, "min_cycle_s": s.min_cycle_s,
            "max_cycle_s": s.max_cycle_s, "early_cut": s.early_cut,
            "refine_share": s.refine_share, "scenario_sha256": scenario_sha256(sc),
            "sumo_version": sumo_version(), "trafficsim_version": __version__}


def _check_resume(out: Path, state: dict[str, Any], resume: bool, sc: Scenario) -> None:
    path = out / STATE
    if resume:
        if path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ScenarioError([Issue(path, "", f"cannot be read ({exc}); the recorded "
                                                     "run cannot be checked, so it is not "
                                                     "resumed")]) from None
            changed = [k for k in _PROVENANCE if old.get(k) != state[k]]
            if changed:
                def short(v: object) -> str:  # a SHA-256 in 12 digits is plenty to tell apart
                    return f"{v}"[:12] + "…" if len(f"{v}") == 64 else f"{v}"

                detail = "; ".join(
                    f"{_PROVENANCE[k]} changed: {short(old[k])} → {short(state[k])}"
                    if k in old else f"{_PROVENANCE[k]} was not recorded" for k in changed)
                raise ScenarioError([Issue(out, "--resume", f"refusing to resume: {detail}; the "
                                           "journal's results would be mixed with results of "
                                           "other inputs. Run afresh with another --out")])
            diff = [k for k in state if old.get(k) != state[k]]
            if diff:
                detail = ", ".join(f"{k}: {old.get(k)!r} → {state[k]!r}" for k in diff)
                raise ScenarioError([Issue(out, "--resume", "the recorded run used other "
                                                            f"settings ({detail})")])
        elif (out / JOURNAL).is_file():
            raise ScenarioError([Issue(out, "--resume", f"the journal has no {STATE} beside "
                                       "it, so its inputs cannot be checked; run afresh with "
                                       "another --out")])
    elif (out / JOURNAL).is_file():
        raise ScenarioError([Issue(out, "--out", "already holds an optimisation journal; pass "
                                                 "--resume to continue it or choose another "
                                                 "--out")])
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")


@contextlib.contextmanager
def _executor(workers: int | None, scheduler: str | None,
              executor: Executor | None) -> Iterator[Executor]:
    if executor is not None:
        yield executor
    elif scheduler:
        with dask_executor(scheduler) as ex:
            yield ex
    else:
        with local_executor(workers or cpu_count(), 1 << 30) as ex:
            yield ex


def _clean(x: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.floating | np.integer):
        return _clean(x.item())
    return x


# --------------------------------------------------------------------------------------------
# Reference methods and validation
# --------------------------------------------------------------------------------------------
def _sumo_webster(sc: Scenario, case_dir: Path, net: Path, start: SignalPlan,
                  s: OptimiseSettings, out: Path) -> dict[str, Any]:
    """SUMO's own ``tlsCycleAdaptation.py`` on the same network and (expanded) demand.

    The tool reads ``<vehicle>`` routes only (it ignores ``<flow>`` and ``<trip>``), so the first
    search seed's demand is expanded by ``duarouter`` first.
    """
    d = out / "work" / "tls_cycle_adaptation"
    d.mkdir(parents=True, exist_ok=True)
    root = ET.parse(case_dir / "case.sumocfg").getroot()
    routes = ",".join(str((case_dir / p).resolve()) for p in
                      (root.find("route-files").get("value", "")  # type: ignore[union-attr]
                       if root.find("route-files") is not None else "").split(",") if p)
    try:
        run_tool("duarouter", ["-n", str(net), "-r", routes, "-o", "expanded.rou.xml",
                               "--begin", f"{sc.begin_s:g}", "--end", f"{sc.end_s:g}",
                               "--ignore-errors", "true", "--no-warnings", "true",
                               "--no-step-log", "true"], cwd=d, what="expanding routes")
        yellow = max(round(min(p.intergreens_s)) for p in start.programs)
        args = ["-n", str(net), "-r", "expanded.rou.xml", "-o", "tls_cycle_adaptation.add.xml",
                "-b", f"{sc.begin_s:g}", "--yellow-time", str(yellow),
                "--saturation-headway", f"{3600.0 / s.webster.saturation_flow_veh_h:g}",
                "--min-cycle", f"{s.webster.min_cycle_s:g}",
                "--max-cycle", f"{s.webster.max_cycle_s:g}", "--program", "sumo_webster"]
        if s.webster.lost_time_s is not None:
            args += ["--lost-time", f"{s.webster.lost_time_s:g}"]
        else:
            args += ["--lost-time", str(yellow)]
        run_python_tool("tlsCycleAdaptation.py", args, cwd=d, what="SUMO's Webster tool")
    except SumoError as exc:
        return {"error": str(exc)}
    path = d / "tls_cycle_adaptation.add.xml"
    shutil.copyfile(path, out / "tls_cycle_adaptation.add.xml")
    from trafficsim.signals import parse_programs

    progs = parse_programs(ET.parse(path).getroot())
    return {"file": "tls_cycle_adaptation.add.xml",
            "programs": {p.tls_id: {"cycle_s": p.cycle_s, "greens_s": list(p.greens_s)}
                         for p in progs}}


def validate(sc: Scenario, base: PlanSpec, seeds: tuple[int, ...], out: Path,
             s: OptimiseSettings, executor: Executor, progress: bool, *,
             tune_actuated: bool = False) -> dict[str, Any]:
    """Run the optimised plan and the references on unseen seeds and compare them, paired."""
    from trafficsim.compare import compare

    def measure(control: str, file: Path | None = None) -> SignalPlanMeasure:
        if file is None:
            return SignalPlanMeasure(control=control)
        from trafficsim.signals import read_plan_file

        progs, elements = read_plan_file(file)
        return SignalPlanMeasure(control="file", file=file, elements=tuple(elements),
                                 file_tls=tuple(p.tls_id for p in progs))

    plans = {BASELINE: base,
             "webster": PlanSpec("webster", (*base.measures, measure("file", out / "webster.add.xml"))),
             "actuated": PlanSpec("actuated", (*base.measures, measure("actuated"))),
             "optimised": PlanSpec("optimised", (*base.measures,
                                                 measure("file", out / "signal_plan.add.xml")))}
    if tune_actuated and (out / "actuated_tuned.add.xml").is_file():
        plans["actuated_tuned"] = PlanSpec("actuated_tuned", (
            *base.measures, measure("file", out / "actuated_tuned.add.xml")))
        plans["fixed_time"] = PlanSpec("fixed_time", (
            *base.measures, measure("file", out / "fixed_time.add.xml")))
    if tune_actuated and (out / "coordinated.add.xml").is_file():
        plans["coordinated"] = PlanSpec("coordinated", (
            *base.measures, measure("file", out / "coordinated.add.xml")))
    if (out / "tls_cycle_adaptation.add.xml").is_file():
        plans["sumo_webster"] = PlanSpec("sumo_webster", (
            *base.measures, measure("file", out / "tls_cycle_adaptation.add.xml")))
    vsc = replace(sc, plans=plans)
    result = compare(vsc, seeds=seeds, out=out / "validation", executor=executor,
                     progress=progress)
    metrics = ["mean_delay_s", "person_delay_s", "mean_stops", "throughput_veh",
               "mean_travel_time_s"]

    def obj(plan: str) -> list[float]:
        return [objective_value(s.objective, result.run(plan, sd).metrics, s.stop_weight_s)
                for sd in seeds]

    table: dict[str, Any] = {"seeds": list(seeds), "plans": {}, "optimised_vs": {}}
    for p in plans:
        label = "start" if p == BASELINE else p
        row = {m: _est(result.estimate(p, m)) for m in metrics}
        row["objective"] = _est(mean_ci(obj(p)))
        row["warnings"] = [w for r in result.runs if r.plan == p for w in r.health.warnings]
        table["plans"][label] = row
    refs = [p for p in plans if p in (BASELINE, "webster", "actuated", "sumo_webster")]
    for cand in ("optimised", "fixed_time", "coordinated"):
        if cand not in plans:
            continue
        rows = table.setdefault(f"{cand}_vs", {})
        extra = (["actuated_tuned", "coordinated", "fixed_time"] if cand == "optimised"
                 else ["fixed_time"] if cand == "coordinated" else [])
        for ref in [*refs, *extra]:
            if ref not in plans:
                continue
            d = paired_difference(result.values(cand, "mean_delay_s"),
                                  result.values(ref, "mean_delay_s"))
            do = paired_difference(obj(cand), obj(ref))
            rows["start" if ref == BASELINE else ref] = {
                "mean_delay_s": {"diff": d.diff, "ci95": list(d.ci95), "pct": d.pct},
                "objective": {"diff": do.diff, "ci95": list(do.ci95), "pct": do.pct}}
    return table


def _est(e: Any) -> dict[str, Any]:
    return {"mean": e.mean, "ci95": list(e.ci95)}


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def run_cli(args: Any) -> int:
    """``trafficsim optimise`` (arguments parsed by :mod:`trafficsim.cli`)."""
    import sys

    sc = load_scenario(args.scenario, end_s=args.end)
    out = args.out or Path(f"optimise_{sc.name}")
    settings = OptimiseSettings(
        budget=args.budget, objective=args.objective, method=args.method,
        seeds=tuple(args.seeds) if args.seeds else None,
        validate_seeds=tuple(args.validate_seeds) if args.validate_seeds else None,
        rng_seed=args.rng_seed, stop_weight_s=args.stop_weight_s, early_cut=not args.no_cut,
        validate=not args.no_validate, tune_actuated=args.tune_actuated,
        refine_share=args.refine_share)
    result = optimise(sc, out=out, settings=settings, workers=args.workers,
                      scheduler=args.scheduler, resume=args.resume, progress=not args.quiet)
    print(format_result(result.doc))
    print(f"\nwrote {out / 'signal_plan.add.xml'} and {out / 'optimise.json'}")
    warnings = [w for p in result.doc.get("validation", {}).get("plans", {}).values()
                for w in p.get("warnings", [])]
    for w in warnings[:10]:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _f(x: Any, d: int = 1) -> str:
    return "–" if x is None or not math.isfinite(float(x)) else f"{float(x):,.{d}f}"


def format_result(doc: dict[str, Any]) -> str:
    """Plain-text summary: the search, the best plan, the validation table."""
    lines = [f"{doc['scenario']}: {doc['method']} on {doc['objective']}, "
             f"{doc['evaluations']} plans evaluated ({doc['cut_evaluations']} cut short), "
             f"seeds {','.join(map(str, doc['seeds']))}, stopped: {doc['stopped']}",
             f"search objective: start {_f(doc['start']['objective'], 2)}, "
             f"Webster {_f(doc['webster']['objective'], 2)}, "
             f"best {_f(doc['best']['objective'], 2)} (evaluation {doc['best']['eval']}, "
             f"{doc['best']['role']})", ""]
    if doc["best"]["role"] in ("actuated", "coordinated"):
        lines.append(f"  ({'SUMO actuated' if doc['best']['role'] == 'actuated' else 'coordinated actuated'}"
                     " control: nominal greens, phases in SUMO's order)")
    for tls, p in doc["best"]["plan"].items():
        greens = "/".join(_f(g, 0) for g in p["greens_s"])
        lines.append(f"  {tls:<12} cycle {_f(p['cycle_s'], 0):>4} s  greens {greens} s  "
                     f"offset {_f(p['offset_s'], 0)} s")
    v = doc.get("validation")
    if v:
        seeds = ",".join(map(str, v["seeds"]))
        lines += ["", f"validation on unseen seeds {seeds} (mean [95% CI]):",
                  f"{'plan':<14}{'objective':>28}{'mean_delay_s':>28}"]
        for name, row in v["plans"].items():
            o, d = row["objective"], row["mean_delay_s"]
            lines.append(f"{name:<14}{_f(o['mean'], 2):>10} [{_f(o['ci95'][0], 2)}, "
                         f"{_f(o['ci95'][1], 2)}]".ljust(42)
                         + f"{_f(d['mean'], 2):>10} [{_f(d['ci95'][0], 2)}, "
                           f"{_f(d['ci95'][1], 2)}]")
        lines += ["", "optimised vs (paired on the same seeds; mean delay):"]
        for ref, row in v["optimised_vs"].items():
            d = row["mean_delay_s"]
            if d["diff"] == 0 and d["ci95"][0] == d["ci95"][1] == 0:
                continue  # the optimised plan itself (the best of its type)
            lines.append(f"  {ref:<14} {d['diff']:+8.2f} s [{_f(d['ci95'][0], 2)}, "
                         f"{_f(d['ci95'][1], 2)}]  {_f(d['pct'], 1)}%")
    return "\n".join(lines)

"""The search: one :class:`Search` state per run, the journal glue, and the global methods.

Differential evolution and the early cut.  SciPy's DE with deferred updating replaces a
population member by its trial only when ``f(trial) <= f(member)``.  With T the *largest* energy
in the current population, a trial whose objective is already known to exceed T can replace no
member, whatever its exact value.  A cut trial is returned with its lower bound (see
:mod:`~trafficsim.optimise.evaluation`), which is > T, so DE takes exactly the decisions it would
have taken with the full value: the search visits the same candidates and the winner (the best
*exact* value, never a cut one) is the same.  Other SciPy methods may accept worse points: they
never cut.

The first population has no T yet, and a hopeless member of it (a gridlocking plan) would run
to its end, up to ten times as long as a good plan.  Its lower bound cannot simply stand in for
its energy: a member's energy decides which trials may replace it later, and a bound below the
true value would refuse trials the full value accepts.  So DE sees a *capped* objective,
``min(f, C)`` with ``C = FIRST_POPULATION_CAP × f_ref`` (:data:`FIRST_POPULATION_CAP`), where
``f_ref`` is the best objective known when DE starts (the starting plan and Webster, evaluated
first); a plan whose lower bound passes ``C`` has a capped value of exactly ``C``, so it is cut
there, in the first population and after it (every threshold is ``min(T, C)``).  Each value
DE receives is then either the exact capped value, or (a trial cut below ``C``) a bound above
T, which is rejected as its exact value would be and never enters the population.  So the
population's energies are the same with the cut as without, and with them every use DE makes
of them (acceptance, the best member that ``best1bin`` mutates around, the convergence test,
the next threshold): the same plans are proposed in the same order.  The journal keeps the
exact values (and the bounds of cut plans); the winner, the best exact value, is the same, and
is never a capped plan: it is at most ``f_ref`` < ``C``.  The cap applies whether or not
``early_cut`` is on, so that setting never changes a result; it changes DE's view (against
the uncapped search before it) only of plans more than ``FIRST_POPULATION_CAP`` times worse
than the best reference plan, which DE treats as equally bad: a trial no worse than ``C``
replaces such a member (and should every member be capped, DE stops as converged).  Cut
entries keep the journal's ``cut`` and ``cut_at`` fields; a resumed run recomputes ``C`` from
the journal.  Throughput (maximised, negative values) is never capped.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.errors import SumoError
from trafficsim.optimise.encoding import Encoding, plan_key
from trafficsim.optimise.evaluation import EvalResult, EvalTask, candidate_plan, evaluate
from trafficsim.optimise.journal import Journal, JournalEntry
from trafficsim.optimise.settings import OptimiseSettings
from trafficsim.parallel import Progress, SerialExecutor
from trafficsim.scenario import PlanSpec, Scenario
from trafficsim.signals import SignalPlan, green_wave_offsets, two_way_cycles_s, webster_plan
from trafficsim.sumo import stopping

#: A plan to evaluate: ``(key, plan, role, decision vector or None)``
Item = tuple[str, SignalPlan, str, list[float] | None]
#: DE's objective is capped at this many times the best reference plan's (see the module
#: docstring).  A plan three times as bad as the starting plan or Webster can never win, and
#: only guides DE through a region it should leave; a gridlocking plan's delay grows faster
#: than linearly with time, so its bound passes 3x early in the run (2x would cut it little
#: sooner, and would flatten DE's view of merely poor plans).
FIRST_POPULATION_CAP = 3.0
#: Roles whose SUMO failure ends the search: every other plan is judged against the starting
#: plan, so without it there is nothing to search from.
FATAL_ROLES = ("start",)
#: A candidate whose SUMO run fails is journalled as failed and the search goes on; this many
#: failures in a row are the machine's or the scenario's, not the candidates': the search stops.
MAX_FAILURES_IN_A_ROW = 5


class BudgetReached(Exception):
    """The phase's budget is used up, or the search converged (no new plan proposed)."""


@dataclass
class Search:
    """State of one optimisation run (orchestrator side).

    Candidates are the plan ``base`` (the scenario's baseline) with their programs loaded on
    top, built on the network ``base_net`` under ``work/evals``.
    """

    sc: Scenario
    settings: OptimiseSettings
    out: Path
    work: Path
    executor: Executor
    journal: Journal
    seeds: tuple[int, ...]
    base: PlanSpec
    base_net: Path
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
    limit: int = 0  # evaluations allowed in total so far (the budget, + actuated tuning)
    #: Safety check of a plan before it is simulated (issues; empty: safe), see ``run_batch``
    check: Callable[[SignalPlan], list[str]] | None = None
    rejected: dict[str, list[str]] = field(default_factory=dict)  # key → its safety issues
    cap: float = math.inf  # DE's objective cap C (see the module docstring)
    #: Lane layout the plans now proposed run on (``--design-lanes``; "": the baseline's
    #: network): part of each plan's key, so one program on two layouts are two plans
    layout: str = ""
    layout_of: dict[str, str] = field(default_factory=dict)  # key → layout it ran on
    #: key → the plan it builds on, for plans proposed on another layout than :attr:`base`'s
    bases: dict[str, PlanSpec] = field(default_factory=dict)
    failures_in_a_row: int = 0  # candidates whose SUMO run failed since the last success

    def key(self, plan: SignalPlan, layout: str | None = None) -> str:
        """The journal key of ``plan`` on ``layout`` (default: the current :attr:`layout`)."""
        layout = self.layout if layout is None else layout
        if not layout:
            return plan_key(plan)
        return hashlib.sha256(f"{layout}\n{plan.key()}".encode()).hexdigest()[:16]
    warm_used: bool = False  # settings.warm_start seeded DE's first population

    def restart(self, encoding: Any, role: str, limit: int) -> None:
        """Set up a new search phase (fresh DE bookkeeping) on the same journal."""
        self.encoding, self.role, self.limit = encoding, role, limit
        self.threshold, self.calls, self.stale_generations = math.inf, 0, 0

    def best(self, roles: Sequence[str] | None = None) -> JournalEntry | None:
        """The best exact evaluation (of these roles) of a plan this run proposed.

        Ties: the one proposed first.  A journal may also hold plans of phases this run does not
        repeat (a run resumed without ``--tune-actuated``): those are left out.
        """
        exact = [e for e in self.journal.entries.values()
                 if not e.cut and e.error is None and e.key in self.plans
                 and (roles is None or e.role in roles)]
        return min(exact, key=lambda e: (e.objective, e.n)) if exact else None

    def task(self, key: str, plan: SignalPlan, *, threshold: float = math.inf,
             lane_output: bool = False) -> EvalTask:
        """What a worker needs to evaluate ``plan``."""
        plan_dir = self.work / "plans"
        plan_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        plan_file = plan_dir / f"{key}.add.xml"
        if s.warmup is None:
            plan.write(plan_file)
        return EvalTask(key=key, scenario=self.sc,
                        plan=candidate_plan(self.bases.get(key, self.base), key, plan,
                                            plan_file, s.warmup,
                                            fitted=self.sc.tuned_plan is not None),
                        base_net=self.base_net, seeds=self.seeds, root=self.work / "evals" / key,
                        objective=s.objective, stop_weight_s=s.stop_weight_s,
                        threshold=threshold if s.early_cut else math.inf,
                        n_demand=self.n_demand, check_every_s=s.check_every_s,
                        lane_output=lane_output,
                        score_from_s=s.warmup.score_from_s if s.warmup else None)

    def run_batch(self, items: list[Item], *,
                  threshold: float = math.inf, lane_output: bool = False) -> list[float]:
        """Evaluate (key, plan, role, x) items not yet in the journal; return all objectives.

        Raises BudgetReached after recording the evaluations that fit in the budget.  With a
        ``check``, a plan with safety issues is never simulated: it is recorded in ``rejected``
        (not in the journal, nor in the budget) and its objective is infinite.  A plan whose
        SUMO run fails is journalled with its error and an infinite objective (so ``--resume``
        does not run it again) and the batch goes on, except for :data:`FATAL_ROLES` and
        :data:`MAX_FAILURES_IN_A_ROW` failures in a row, which raise the :class:`SumoError`.
        """
        if self.check is not None:
            for key, plan, _, _ in items:
                if key not in self.numbers and key not in self.rejected:
                    issues = self.check(plan)
                    if issues:
                        self.rejected[key] = issues
            unsafe = [it for it in items if it[0] in self.rejected]
            if unsafe:
                safe = [it for it in items if it[0] not in self.rejected]
                values = iter(self.run_batch(safe, threshold=threshold, lane_output=lane_output)
                              if safe else [])
                self.proposed |= {it[0] for it in unsafe}
                return [math.inf if it[0] in self.rejected else next(values) for it in items]
        # Evaluation numbers follow the order of proposal, whether a plan is run now or was run
        # before an interruption (parallel runs finish out of order, so an interrupted batch
        # may have holes): a resumed run numbers, budgets and breaks ties as the first did.
        fresh_keys: list[str] = []
        for key, plan, _, _ in items:
            self.plans[key] = plan
            self.layout_of.setdefault(key, self.layout)
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
                try:
                    result = evaluate(task)
                except SumoError as exc:
                    self._record_failure(self.numbers[k], k, role, x, exc)
                else:
                    self._record(self.numbers[k], result, role, x)
        elif todo:
            futures = {self.executor.submit(evaluate, self.task(k, p, threshold=threshold,
                                                                lane_output=lane_output)):
                       (self.numbers[k], k, role, x) for k, p, role, x in todo}
            try:
                for fut in as_completed(futures):
                    n, key, role, x = futures[fut]
                    try:
                        result = fut.result()
                    except SumoError as exc:
                        self._record_failure(n, key, role, x, exc)
                    else:
                        self._record(n, result, role, x)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        if stop:
            raise BudgetReached
        return [float(self.journal.entries[k].objective) for k, _, _, _ in items]

    def _record_failure(self, n: int, key: str, role: str, x: list[float] | None,
                        exc: SumoError) -> None:
        """Journal a plan whose SUMO run failed (infinite objective, SUMO's error), or raise.

        Raises ``exc`` when the failure is not the plan's own: this process is stopping (its
        SUMOs were killed), the plan is the starting plan, or too many failed in a row.
        """
        self.failures_in_a_row += 1
        if stopping() or role in FATAL_ROLES:
            raise exc
        entry = JournalEntry(n=n, key=key, role=role, objective=math.inf, cut=False,
                             cut_at=None, per_seed={}, wall_s=0.0, sumo_wall_s=0.0,
                             x=tuple(x) if x is not None else None, t=time.time(),
                             error=str(exc))
        self.journal.add(entry)
        if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            msg = (f"{self.failures_in_a_row} plans in a row failed in SUMO (journalled as "
                   f"failed; the cause is likely the scenario or the machine, not the plans); "
                   f"the last: {exc}")
            raise SumoError(msg) from exc
        if self.progress is not None:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.progress.step(f"{role} failed ({first}); the search goes on")

    def _record(self, n: int, r: EvalResult, role: str, x: list[float] | None) -> None:
        # n: the order in which the search proposed the plan (completion order varies)
        self.failures_in_a_row = 0
        entry = JournalEntry(n=n, key=r.key, role=role, objective=r.objective, cut=r.cut,
                             cut_at=r.cut_at, per_seed=r.per_seed, wall_s=round(r.wall_s, 3),
                             sumo_wall_s=round(r.sumo_wall_s, 3),
                             x=tuple(x) if x is not None else None, t=time.time(),
                             lane_flows_veh_h=r.lane_flows_veh_h)
        self.journal.add(entry)
        if self.progress is not None:
            best = self.best()
            b = f"{best.objective:.2f}" if best else "–"
            mark = " (cut)" if r.cut else ""
            self.progress.step(f"{role} {r.objective:.2f}{mark}  best {b}")

    # -- SciPy glue ---------------------------------------------------------------------------
    def _candidates(self, xs: Sequence[Sequence[float]]) -> list[Item]:
        assert self.encoding is not None
        out: list[Item] = []
        for x in xs:
            plan = self.encoding.decode(x)
            out.append((self.key(plan), plan, self.role, [float(v) for v in x]))
        return out

    def mapper(self, _func: Callable[..., float], xs: Sequence[Sequence[float]]) -> list[float]:
        """SciPy's ``workers=`` map: a DE generation evaluated in parallel, cut by threshold.

        DE sees each value capped at :attr:`cap` (the first population is cut there too).
        """
        values = self.run_batch(self._candidates(list(xs)),
                                threshold=min(self.threshold, self.cap))
        values = [min(v, self.cap) for v in values]
        self.calls += 1
        if self.calls == 1:
            self.threshold = max(values)  # the initial population's worst energy
        if self.stale_generations >= 5:
            raise BudgetReached  # converged: five generations proposed only known plans
        return values

    def callback(self, intermediate_result: Any) -> None:
        """SciPy's DE callback: the cut threshold becomes the population's worst energy."""
        energies = getattr(intermediate_result, "population_energies", None)
        if energies is not None and len(energies):
            self.threshold = float(np.max(energies))

    def single(self, x: Sequence[float]) -> float:
        """The objective of one vector: evaluated uncut, or taken from the journal."""
        return self.run_batch(self._candidates([x]))[0]


def run_phase(fn: Callable[[], None], search: Search) -> str:
    """Run one search phase until its method, its budget or convergence stops it."""
    try:
        fn()
    except BudgetReached:
        return "converged" if search.stale_generations >= 5 else "budget"
    return "converged" if search.stale_generations >= 5 else "method finished"


def global_search(search: Search, start: SignalPlan, webster: SignalPlan,
                  links: dict[str, Any], edges: dict[str, Any], flows: dict[str, float]) -> None:
    """The fixed-time search with ``search.settings.method`` over ``search.encoding``.

    It is warm started from the starting plan, Webster, (several lights) the green waves and
    ``settings.warm_start`` when it fits the starting plan's phases.

    Parameters
    ----------
    start, webster
        The starting plan and Webster's plan (on the starting plan's structure).
    links, edges
        The plan network's signal links and edges (for the green-wave offsets).
    flows
        Arrivals per lane under the starting plan. [veh/h]
    """
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
    anchors = [x_web]
    warm = s.warm_start
    if warm is not None and _fits(warm, start):
        anchors.append(np.clip(enc.encode(warm), lo, hi))
        search.warm_used = True
    # offered plans (--periods: the best single plan) were evaluated before the search; in
    # DE's first population they cost nothing more and let DE build on them
    anchors += [np.clip(enc.encode(p), lo, hi) for p in s.offered if _fits(p, start)
                and all(q.kind == "static" for q in p.programs)]
    if s.method == "differential_evolution":
        search.cap = objective_cap(search)
        init = initial_population(enc, x_start, anchors, s.budget, s.rng_seed, wave=x_wave,
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


def _fits(plan: SignalPlan, start: SignalPlan) -> bool:
    """Whether ``plan`` times the same lights with the same stages as ``start``."""
    try:
        return all(len(plan[p.tls_id].stages) == len(p.stages) for p in start.programs)
    except (KeyError, ValueError):
        return False


def objective_cap(search: Search) -> float:
    """DE's objective cap: :data:`FIRST_POPULATION_CAP` × the best exact value so far.

    The best of the reference plans evaluated before DE (the starting plan and Webster); no cap
    (inf) for throughput, or when that value is not positive.
    """
    best = search.best()
    if search.settings.objective == "throughput_veh" or best is None or best.objective <= 0:
        return math.inf
    return FIRST_POPULATION_CAP * float(best.objective)


def initial_population(enc: Encoding, x_start: np.ndarray, anchors: Sequence[np.ndarray],
                       budget: int, rng_seed: int, *, wave: np.ndarray | None = None,
                       coordinated: Sequence[np.ndarray] = ()) -> np.ndarray:
    """DE's first population: the starting plan, anchors, their neighbours and a Latin hypercube.

    The anchors are Webster on a common cycle, with green-wave offsets when ``wave`` is given,
    and the ``coordinated`` plans (Webster on the wave at the two-way progression cycles); the
    rest of the population is split between the anchors' neighbourhoods and a Latin hypercube
    over the whole box for diversity.

    Uniform random plans alone gridlock a busy arterial (every bad plan is slow to simulate, and
    in the first population it is cut only once it is hopeless, at the objective cap), so most
    of the population starts near a sensible plan: cycle and splits perturbed, offsets near the
    green wave or, around plain Webster, drawn at random.  Size: about a sixth of the budget,
    between 5 and 40.
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
    population: np.ndarray = np.clip(np.vstack([*heads, *local, spread]), lo, hi)
    return population


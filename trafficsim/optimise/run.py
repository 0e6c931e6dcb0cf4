"""The orchestrator: :func:`optimise` runs the phases of a search and writes its results.

Phases: the starting plan (with lane counts) and Webster; the global search
(:func:`~trafficsim.optimise.search.global_search`); the pattern-search polish; with
``tune_actuated``, actuated and coordinated control tuning; then SUMO's Webster tool and the
validation on unseen seeds.  With ``design``, the phases after Webster are those of
:func:`~trafficsim.optimise.design.run_design` (phasing choice, then timings and control on the
chosen phases).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.build import build_case, build_plan, prepare_network
from trafficsim.compare import scenario_files
from trafficsim.errors import Issue, ScenarioError
from trafficsim.measures.base import Measure
from trafficsim.netmodel import read_network
from trafficsim.optimise.design import (
    LANES_ROLE,
    DesignOutcome,
    DesignSpace,
    best_fixed,
    fixed_time,
    ite_or_network,
    run_design,
    running_choice,
    with_ite_transitions,
)
from trafficsim.optimise.encoding import ActuatedEncoding, CoordinatedEncoding, Encoding, plan_key
from trafficsim.optimise.journal import JOURNAL, Journal, JournalEntry
from trafficsim.optimise.lanes import LaneOutcome, LaneSearch, search_lanes, write_lane_outputs
from trafficsim.optimise.pattern import refine, tune_vector
from trafficsim.optimise.search import Search, global_search, run_phase
from trafficsim.optimise.settings import FIXED_ROLES, OptimiseSettings, check_settings, on_plan
from trafficsim.optimise.validation import sumo_rebuilt_actuated, sumo_webster, validate
from trafficsim.outdir import holding_out
from trafficsim.parallel import Progress, cpu_count, dask_executor, local_executor
from trafficsim.scenario import BASELINE, PlanSpec, Scenario, load_scenario
from trafficsim.signals import (
    PROGRAM_ID,
    Program,
    SignalPlan,
    read_edges,
    read_links,
    read_plan,
    read_plan_file,
    webster_plan,
    webster_program,
)

STATE = "optimise-state.json"
#: ``--design-lanes``: the winner's programs indexed by the baseline network's links (the file
#: ``design.toml``'s signal_plan names; the network builder fits them to the patched network)
LANES_PLAN_FILE = "design_signal_plan.add.xml"
#: programID of the plans ``--design`` writes
DESIGN_PROGRAM_ID = "ts_design"


@dataclass(frozen=True)
class OptimiseResult:
    """What :func:`optimise` produced (``to_dict()`` is ``optimise.json``)."""

    doc: dict[str, Any]
    best_plan: SignalPlan
    out: Path

    def to_dict(self) -> dict[str, Any]:
        """The ``optimise.json`` document."""
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
    if s.design_lanes and not s.design:
        s = replace(s, design=True)  # (--design-lanes implies --design)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_settings(sc, s)
    sc = on_plan(sc, s.plan)
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
    with _executor(workers, scheduler, executor, out, scenario_files(sc)) as ex:
        base_net, _ = prepare_network(sc, work)
        base_spec = sc.plan(BASELINE)
        # the baseline's network and measures: the programs the search starts from (candidates
        # are built alike, in their own folders, by the workers)
        draft = build_plan(sc, base_spec, base_net, work)
        if draft.controllers:
            raise ScenarioError([Issue(sc.source, f"plans.{s.plan}", (
                "its signals are driven by an external controller (control = "
                "\"max_pressure\"); the optimiser tunes signal programs, so optimise a "
                "baseline with fixed-time or actuated programs and compare the result with "
                "max-pressure as a plan"))])
        plan_net = work / "cases" / BASELINE / "net.net.xml"
        adds = [work / "cases" / BASELINE / "measures.add.xml", *sc.additional_files]
        start = read_plan(plan_net, adds)
        if not start.programs:
            raise ScenarioError([Issue(sc.source, "network", "has no traffic light with a green "
                                                             "phase; there is no plan to optimise")])
        start = start.with_program_id("start")
        journal = Journal(out / JOURNAL)
        search = Search(sc, s, out, work, ex, journal, seeds, base_spec, base_net,
                        limit=s.budget)
        # --design: a third of the budget for each control phase (on irregular networks the
        # winner is actuated control; its vector has five or six coordinates)
        tune_budget = (max(12, s.budget // 3) if s.design
                       else max(10, s.budget // 4) if s.tune_actuated else 0)
        total = s.budget + 2 * tune_budget
        search.progress = Progress(total, "optimise", enabled=progress,
                                   initial=min(len(journal), total), unit="plan")
        links = read_links(plan_net)
        edges = read_edges(plan_net)
        stopped = "budget"
        webster = None
        design: DesignRun | None = None
        try:
            # 1. the starting plan (with lane counts for Webster), 2. Webster
            key0 = plan_key(start)
            search.run_batch([(key0, start, "start", None)], lane_output=True)
            e0 = journal.entries[key0]
            search.n_demand = tuple(int(e0.per_seed[sd]["throughput_veh"]
                                        + e0.per_seed[sd]["unfinished_veh"]) for sd in seeds)
            flows = e0.lane_flows_veh_h
            # (--design: on the network's phases with ITE transitions, as every plan the design
            # may output has them)
            webster = (_design_webster(plan_net, start, links, flows, s) if s.design
                       else webster_plan(start, links, flows, s.webster)[0])
            search.run_batch([(plan_key(webster), webster, "webster", None)])
            # plans offered by the caller (--periods: the best single plan), as they are
            offered: list[tuple[str, SignalPlan, str, list[float] | None]] = [
                (plan_key(p), p, "offered" if all(q.kind == "static" for q in p.programs)
                 else "offered_control", None) for p in s.offered]
            if offered:
                search.run_batch(offered)
            # 3. the search
            if s.design:
                design = _run_design(search, plan_net, start, links, edges, flows,
                                     tune_budget)
                stopped = design.stopped
            n_refine = max(0, min(round(s.budget * s.refine_share), s.budget - 3))
            if design is None:
                search.restart(Encoding(start, s.min_cycle_s, s.max_cycle_s), "candidate",
                               s.budget - n_refine)
                stopped = run_phase(lambda: global_search(search, start, webster, links, edges,
                                                          flows), search)
            if n_refine and design is None:
                enc = search.encoding
                search.restart(enc, "refine", s.budget)
                stopped = run_phase(lambda: refine(search, enc), search)
            if tune_budget and design is None:
                # each phase has its own budget (the coordinated one also what the actuated
                # tuning left), whether or not the fixed-time search used all of its own
                n_fixed = len(search.numbers)  # evaluations so far (also when resumed)
                search.restart(ActuatedEncoding(start), "actuated", n_fixed + tune_budget)
                run_phase(lambda: tune_vector(search, "actuated"), search)
                fixed_entry = search.best(FIXED_ROLES)
                assert fixed_entry is not None  # the starting plan at least
                base = search.plans[fixed_entry.key]
                search.restart(CoordinatedEncoding(base, links, edges),
                               "coordinated", n_fixed + 2 * tune_budget)
                run_phase(lambda: tune_vector(search, "coordinated"), search)
        finally:
            search.progress.close()
        search_s = time.perf_counter() - t_start
        # --design outputs safe plans only: the starting plan (the network's transitions, a
        # 3 s yellow and no all-red where netconvert wrote them) is a reference, never the winner
        winners = None if not s.design else tuple(
            {e.role for e in journal.entries.values()} - {"start"})
        best = search.best(winners)
        fixed = search.best(FIXED_ROLES if not s.design else
                            tuple(r for r in FIXED_ROLES if r != "start"))
        t_best = search.best(("actuated",))
        c_best = search.best(("coordinated",))
        assert best is not None and fixed is not None and webster is not None
        best_plan = search.plans[best.key].with_program_id(DESIGN_PROGRAM_ID if s.design
                                                           else PROGRAM_ID)
        if design is not None and design.lanes is not None:
            # baseline-indexed (design.toml's file); signal_plan.add.xml: on network.net.xml
            best_plan.write(out / LANES_PLAN_FILE)
            lane_doc, lane_refs, on_layout = _lane_outputs(design, search, best.key, best_plan,
                                                          sc, base_spec, base_net, out)
        else:
            best_plan.write(out / "signal_plan.add.xml")
        webster.write(out / "webster.add.xml")
        start.write(out / "start.add.xml")
        actuated = start.actuated()
        actuated.write(out / "actuated.add.xml")
        if t_best is not None:
            search.plans[t_best.key].write(out / "actuated_tuned.add.xml")
            # the best fixed-time plan too, when tuned actuated control won the search
            search.plans[fixed.key].with_program_id("fixed_time").write(
                out / "fixed_time.add.xml")
        if c_best is not None:
            search.plans[c_best.key].write(out / "coordinated.add.xml")
        doc: dict[str, Any] = {
            "scenario": sc.name, "scenario_file": str(sc.source), "objective": s.objective,
            "method": s.method, "budget": s.budget, "evaluations": len(journal),
            "stopped": stopped, "seeds": list(seeds), "validate_seeds": list(vseeds),
            "window": {"begin_s": sc.begin_s, "end_s": sc.end_s},
            "plan": sc.tuned_plan or BASELINE,
            "early_cut": s.early_cut, "stop_weight_s": s.stop_weight_s,
            "cut_evaluations": sum(1 for e in journal.entries.values() if e.cut),
            "failed_evaluations": sum(1 for e in journal.entries.values() if e.error),
            "search_wall_s": round(search_s, 2), "warm_start": search.warm_used,
            "best": {"key": best.key, "role": best.role, "objective": best.objective,
                     "eval": best.n, "plan": best_plan.to_dict()},
            "start": {"objective": journal.entries[plan_key(start)].objective,
                      "plan": start.to_dict()},
            "webster": {"objective": journal.entries[plan_key(webster)].objective,
                        "plan": webster.to_dict(),
                        "lane_flows_veh_h": journal.entries[plan_key(start)].lane_flows_veh_h},
            "best_fixed_time": {"key": fixed.key, "objective": fixed.objective,
                                "eval": fixed.n, "role": fixed.role},
            "actuated_tuned": ({"objective": t_best.objective, "eval": t_best.n,
                                "plan": search.plans[t_best.key].to_dict()}
                               if t_best is not None else None),
            "coordinated": ({"objective": c_best.objective, "eval": c_best.n,
                             "x": c_best.x, "plan": search.plans[c_best.key].to_dict()}
                            if c_best is not None else None),
            "history": sorted((_history_row(e) for e in journal.entries.values()),
                              key=lambda h: h["n"]),
        }
        references: dict[str, Path | str] = {}
        layouts: dict[str, tuple[Measure, ...]] = {}
        if design is not None:
            doc["design"], references = _design_outputs(design, search, plan_net, out)
            if design.lanes is not None:
                doc["design"]["lanes"] = lane_doc
                references |= lane_refs
                layouts = on_layout(fixed.key, t_best.key if t_best else None,
                                    c_best.key if c_best else None)
        if s.compare_sumo_webster:
            first = build_case(sc, base_spec, draft, seeds[0], work)
            doc["tls_cycle_adaptation"] = sumo_webster(sc, first.dir, plan_net, start, s, out)
        if s.validate:
            doc["validation"] = validate(
                sc, base_spec, vseeds, out, s, ex, progress,
                tune_actuated=s.tune_actuated or s.design, references=references,
                plan_measures=layouts,
                optimised_file=(out / LANES_PLAN_FILE if layouts else None))
        doc["wall_s"] = round(time.perf_counter() - t_start, 2)
    (out / "optimise.json").write_text(json.dumps(_clean(doc), indent=2, allow_nan=False),
                                       encoding="utf-8")
    return OptimiseResult(doc, best_plan, out)


@dataclass
class DesignRun:
    """The design search's phasing choice (see :mod:`~trafficsim.optimise.design`)."""

    space: DesignSpace
    outcome: DesignOutcome
    stopped: str
    rebuilt: dict[str, Any]
    lanes: LaneOutcome | None = None
    lane_search: LaneSearch | None = None


def _run_design(search: Search, plan_net: Path, start: SignalPlan, links: dict[str, Any],
                edges: dict[str, Any], flows: dict[str, float], tune_budget: int) -> DesignRun:
    """``--design``: choose phasings, time them, tune actuated control on them."""
    s = search.settings
    # SUMO's own phasing of each light (netconvert --tls.rebuild) is one more alternative
    rebuilt = sumo_rebuilt_actuated(plan_net, search.out)
    extra: dict[str, dict[str, Program]] = {}
    net = read_network(plan_net)
    if "file" in rebuilt:
        progs, _ = read_plan_file(search.out / rebuilt["file"])
        for p in progs:
            with contextlib.suppress(KeyError, ValueError):  # not laid out: not an option
                extra[p.tls_id] = {"sumo": with_ite_transitions(net, fixed_time(p))}
    space = DesignSpace(net, start, links, flows, s.webster, program_id=DESIGN_PROGRAM_ID,
                        extra=extra)
    search.check = space.generated_issues  # no generated program runs unless it is safe
    design_limit = max(3, min(round(s.budget * s.design_share), s.budget - 1))
    lanes: list[LaneOutcome] = []
    ctx = LaneSearch(search, search.base, search.base_net, start, flows)

    def after_phasing(outcome: DesignOutcome) -> tuple[DesignOutcome, DesignSpace]:
        # the lane search sets its own limit (lanes.lane_limit: its share, at least one batch)
        search.restart(search.encoding, LANES_ROLE, len(search.numbers))
        value = search.journal.entries[outcome.key].objective
        res = search_lanes(ctx, space, outcome, value)
        lanes.append(res)
        return res.outcome, res.layout.space

    outcome, stopped = run_design(search, space, edges=edges, design_limit=design_limit,
                                  fixed_limit=s.budget, tune_budget=tune_budget,
                                  after_phasing=after_phasing if s.design_lanes else None)
    return DesignRun(space, outcome, stopped, rebuilt, lanes[0] if lanes else None, ctx)


def _design_webster(plan_net: Path, start: SignalPlan, links: dict[str, Any],
                    flows: dict[str, float], s: OptimiseSettings) -> SignalPlan:
    """``--design``'s Webster reference: on the network's phases with ITE transitions.

    As :class:`~trafficsim.optimise.design.DesignSpace` keeps them
    (:func:`~trafficsim.optimise.design.ite_or_network`).
    """
    net = read_network(plan_net)

    def timed(p: Program) -> Program:  # (as webster_plan times each light)
        res = webster_program(p, links.get(p.tls_id, ()), flows, s.webster)
        return replace(res.program, program_id="webster", offset_s=0.0)

    return SignalPlan(tuple(ite_or_network(net, p, timed)[0] for p in start.programs))


def _design_outputs(design: DesignRun, search: Search, plan_net: Path,
                    out: Path) -> tuple[dict[str, Any], dict[str, Path | str]]:
    """The ``design`` section of ``optimise.json`` and the reference plans of the validation.

    Written: ``design_fixed.add.xml`` (the best fixed-time plan on the designed phases),
    ``design_actuated.add.xml`` (SUMO actuated with its defaults on the same phases) and, when
    SUMO's rebuilt programs fit the unchanged network, ``sumo_rebuilt.add.xml``.
    """
    space, outcome = design.space, design.outcome
    fixed = best_fixed(search, outcome.plan)
    fixed.with_program_id("design_fixed").write(out / "design_fixed.add.xml")
    min_green = max(max(p.min_greens_s) for p in fixed.programs)
    fixed.actuated(min_green_s=max(min_green, 5.0), program_id="design_actuated").write(
        out / "design_actuated.add.xml")
    refs: dict[str, Path | str] = {"design_fixed": out / "design_fixed.add.xml",
                                   "design_actuated": out / "design_actuated.add.xml"}
    rebuilt = design.rebuilt
    if "file" in rebuilt:
        refs["sumo_rebuilt"] = out / rebuilt["file"]
    best = search.best()
    winner = search.plans[best.key] if best is not None else outcome.plan
    section = {
        "program_id": DESIGN_PROGRAM_ID,
        # what the winner runs (its actuated base may be the network's or SUMO's phases)
        "choice": running_choice(space, winner, outcome.choice),
        "phasing_choice": outcome.choice,
        "options": {t: list(k) for t, k in space.options.items()},
        "tried": outcome.tried,
        "everywhere": outcome.everywhere,
        "not_designed": space.failures,
        "kept_unsafe": space.kept_unsafe,
        "designed_key": outcome.key,
        "winner_control": ("fixed_time" if best is None or best.role in FIXED_ROLES
                           else best.role),
        "unsafe_rejected": dict(search.rejected),
        "sumo_rebuilt": rebuilt,
    }
    return section, refs


def _lane_outputs(design: DesignRun, search: Search, best_key: str, best_plan: SignalPlan,
                  sc: Scenario, base_spec: PlanSpec, base_net: Path, out: Path
                  ) -> tuple[dict[str, Any], dict[str, Path | str], Any]:
    """``--design-lanes``: the patched network, its programs, ``design.toml``, the section.

    Returns the ``design.lanes`` section, the reference plans of the validation (the best
    plan on the unchanged network: the signals-only design) and a function that tells the
    lane measures each validated plan runs with.
    """
    assert design.lanes is not None and design.lane_search is not None
    ctx, lanes = design.lane_search, design.lanes
    layout_of = search.layout_of

    def measures(key: str | None) -> tuple[Measure, ...]:
        lay = ctx.layouts.get(layout_of.get(key or "", ""))
        return lay.measures if lay is not None else ()

    won = measures(best_key)
    section = lanes.to_dict() | write_lane_outputs(sc, base_spec, base_net, out, won,
                                                    best_plan, LANES_PLAN_FILE)
    refs: dict[str, Path | str] = {}
    signals_only = [e for e in search.journal.entries.values()
                    if not e.cut and e.key in search.plans and not layout_of.get(e.key, "")]
    if signals_only:
        e = min(signals_only, key=lambda e: (e.objective, e.n))
        search.plans[e.key].with_program_id("design_signals").write(
            out / "design_signals.add.xml")
        refs["design_signals"] = out / "design_signals.add.xml"
        section["signals_only"] = {"key": e.key, "role": e.role, "objective": e.objective}
    section["winner_on_lanes"] = bool(won)

    def on_layout(fixed: str, tuned: str | None, coordinated: str | None
                  ) -> dict[str, tuple[Measure, ...]]:
        return {"optimised": won, "fixed_time": measures(fixed),
                "actuated_tuned": measures(tuned), "coordinated": measures(coordinated),
                "design_fixed": lanes.layout.measures, "design_actuated": lanes.layout.measures,
                "design_signals": ()}

    return section, refs, on_layout


def _history_row(e: JournalEntry) -> dict[str, Any]:
    """One evaluation in ``optimise.json``'s history."""
    d = e.to_dict()
    return {k: d[k] for k in ("n", "key", "role", "objective", "cut", "cut_at", "wall_s",
                              "sumo_wall_s", "x")} | {"mean_delay_s": e.mean("mean_delay_s")} | (
        {"error": e.error} if e.error is not None else {})


def _unseen(seeds: Sequence[int], n: int) -> tuple[int, ...]:
    out: list[int] = []
    s = 101
    while len(out) < n:
        if s not in seeds:
            out.append(s)
        s += 1
    return tuple(out)


# What the journal's numbers depend on besides the settings: a resumed run with other inputs
# would silently mix two models' results in one search.
_PROVENANCE = {"scenario_sha256": "the scenario or a file it names (SHA-256)",
               "sumo_version": "the SUMO version", "trafficsim_version": "the trafficsim version"}


def _state(sc: Scenario, s: OptimiseSettings, seeds: tuple[int, ...]) -> dict[str, Any]:
    from trafficsim import __version__
    from trafficsim.compare import scenario_sha256
    from trafficsim.sumo import sumo_version

    state = {"scenario_file": str(sc.source), "end_s": sc.end_s, "objective": s.objective,
            "method": s.method, "seeds": list(seeds), "rng_seed": s.rng_seed,
            "stop_weight_s": s.stop_weight_s, "min_cycle_s": s.min_cycle_s,
            "max_cycle_s": s.max_cycle_s, "early_cut": s.early_cut,
            "refine_share": s.refine_share, "scenario_sha256": scenario_sha256(sc),
            "sumo_version": sumo_version(), "trafficsim_version": __version__}
    if sc.tuned_plan is not None:  # (only then, as below; --periods' periods too)
        state["plan"] = sc.tuned_plan
    if s.design:  # (only then: a journal of a run without it resumes as before)
        state |= {"design": True, "design_share": s.design_share}
    if s.design_lanes:
        state |= {"design_lanes": True, "lanes_share": s.lanes_share}
    if s.offered:  # (--periods) the journal's plans were scored against these
        state["offered"] = [plan_key(p) for p in s.offered]
    if s.warmup is not None:
        state["warmup"] = {"begin_s": sc.begin_s, "score_from_s": s.warmup.score_from_s,
                           "plans": [[t, plan_key(p)] for t, p in s.warmup.plans]}
    return state


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
            # (the scenario's path may differ: a search folder moved or copied with its
            # scenario is the same run, and its contents were compared above)
            diff = [k for k in state if old.get(k) != state[k] and k != "scenario_file"]
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
def _executor(workers: int | None, scheduler: str | None, executor: Executor | None,
              out: Path | None = None, inputs: Sequence[Path] = ()) -> Iterator[Executor]:
    """The executor of a search; on a Dask cluster, checked to see ``out`` and ``inputs``."""
    if executor is not None:
        yield executor
    elif scheduler:
        with dask_executor(scheduler, shared=out, inputs=inputs) as ex:
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

"""Time-of-day plans: one plan optimised per period, switched by SUMO's ``<WAUT>``.

:func:`optimise_periods` (``trafficsim optimise SCENARIO --periods …``) finds or checks the
periods (:mod:`~trafficsim.optimise.periods`), runs the ordinary optimiser
(:func:`~trafficsim.optimise.optimise`) once on the whole window (the best *single* plan, the
yardstick), then once per period, each in its own folder with its own journal (so ``--resume``
resumes period by period), offered the single plan and warm-started from the previous period's
winner.  A period is evaluated after a warm-up (:func:`period_warmup`): the simulation starts
:data:`WARMUP_S` before it with the earlier periods' winners switched as in the day plan, and
only the period's own departures are scored, so each period inherits the queues the day hands
it.  The winners become one ``signal_plan.add.xml``: every period's programs (``tod0``,
``tod1``, …) and a ``<WAUT>`` that switches them at the breakpoints
(:class:`~trafficsim.signals.DayPlan`).

Switching procedure: ``GSP`` with ``synchron="true"`` on every ``<wautJunction>``.  At a
switch each light finishes its running cycle (to its cycle start, the greenwave switching
point 0) and starts the new program at its first phase, whose green SUMO stretches until the
new program is at the position its offset prescribes; from then on every light runs on its
offset, so the new period's coordination holds after at most one old and one new cycle, all
lights counting their offsets from the same time 0.  No light jumps into the middle of a
phase (SUMO's default, immediate switch, may cut a green straight into a conflicting one), and
the old program ends with its last intergreen.  The ``Stretch`` procedure needs stretch areas
declared per program and fails without them.  A light whose programs are actuated (a
``--tune-actuated`` or ``--design`` winner) switches immediately: GSP waits for a cycle position
an actuated program never reports, so it would never switch (``periods.procedure_by_light``).

The day plan is validated on unseen seeds over the whole window against the single plan, the
baseline and actuated control, paired; SUMO's own record of the programs it ran
(``SaveTLSProgram``, a bare ``sumo -a`` on the unchanged network) says which program was active
when.
"""

from __future__ import annotations

import json
import math
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

from trafficsim.compare import scenario_files
from trafficsim.errors import Issue, ScenarioError
from trafficsim.measures.signal_plan import SignalPlanMeasure
from trafficsim.optimise.periods import FIELD, Window, resolve_periods
from trafficsim.optimise.run import OptimiseResult, _clean, _executor, _unseen, optimise
from trafficsim.optimise.settings import (
    WAUT_ID,
    WAUT_PROCEDURE,
    OptimiseSettings,
    Warmup,
    check_settings,
    on_plan,
)
from trafficsim.outdir import holding_out
from trafficsim.scenario import BASELINE, PlanSpec, Scenario, load_scenario
from trafficsim.signals import DayPlan, SignalPlan, read_plan_file
from trafficsim.spec import clock
from trafficsim.stats import mean_ci, paired_difference
from trafficsim.sumo import run_tool

#: The WAUT switching procedure (see the module docstring)
PROCEDURE = WAUT_PROCEDURE
#: A period is evaluated after this much of the day before it (see :func:`period_warmup`) [s]
WARMUP_S = 900.0
SWITCH_LOG = "tls_programs.xml"
METRICS = ("mean_delay_s", "person_delay_s", "mean_stops", "throughput_veh",
           "mean_travel_time_s")


def period_scenario(sc: Scenario, begin_s: float, end_s: float) -> Scenario:
    """The scenario cut to one period: its window and its demand bins.

    The demand's profiles are per bin from the window's begin, so a period starts at the
    begin of the demand bin it starts in (at most one bin early) and keeps the profile from
    there on.  Measures and situations keep their clock times and are checked against the whole
    day (``day``): a tidal lane may have opened before the period.  Only the baseline is kept
    (the optimiser starts from it; with ``--plan`` it holds that plan's measures).
    """
    sc = replace(sc, plans={BASELINE: sc.plans[BASELINE]},
                 day=sc.day or (sc.begin_s, sc.end_s))
    dem = sc.demand
    if dem is None:
        return replace(sc, begin_s=begin_s, end_s=end_s)
    k = math.floor((begin_s - sc.begin_s) / dem.bin_s + 1e-9)
    begin = sc.begin_s + k * dem.bin_s
    flows = tuple(replace(f, profile=f.profile[k:] or f.profile[-1:]) for f in dem.flows)
    stops = tuple(replace(st, profile=st.profile[k:] or st.profile[-1:]) for st in dem.stops)
    return replace(sc, begin_s=begin, end_s=end_s,
                   demand=replace(dem, flows=flows, stops=stops))


def period_warmup(sc: Scenario, begin_s: float, end_s: float,
                  winners: list[tuple[float, SignalPlan]], warmup_s: float
                  ) -> tuple[Scenario, Warmup | None]:
    """The scenario a period is optimised on, and its warm-up (None for the first period).

    Rule: the simulation starts :data:`WARMUP_S` before the period (never before the window,
    at the begin of the demand bin that time falls in, :func:`period_scenario`) and runs the
    earlier periods' winners there, switched as in the day plan (the same WAUT, GSP), then the
    candidate from the period's begin; only vehicles departing in the period are scored.

    Parameters
    ----------
    begin_s, end_s
        The period. [s]
    winners
        (begin [s], plan) of the periods before it, ascending.
    warmup_s
        Warm-up length; 0: none (each period from an empty network). [s]
    """
    if not winners or warmup_s <= 0:
        return period_scenario(sc, begin_s, end_s), None
    psc = period_scenario(sc, max(sc.begin_s, begin_s - warmup_s), end_s)
    w0 = psc.begin_s
    first = max(j for j, (t, _) in enumerate(winners) if t <= w0 + 1e-9)
    plans = [(w0, winners[first][1])] + [(t, p) for t, p in winners[first + 1:] if t < begin_s]
    return psc, Warmup(begin_s, tuple(plans))


def day_plan_xml(winners: list[tuple[float, SignalPlan]]) -> str:
    """The additional file: every period's programs and the WAUT, procedure :data:`PROCEDURE`."""
    return DayPlan(tuple(winners)).to_additional(WAUT_ID, procedure=PROCEDURE, synchron=True)


@holding_out  # one run per output folder
def optimise_periods(scenario: Scenario | str | Path, periods: str, *, out: str | Path,
                     settings: OptimiseSettings | None = None, workers: int | None = None,
                     scheduler: str | None = None, resume: bool = False,
                     progress: bool = True, warmup_s: float = WARMUP_S) -> OptimiseResult:
    """Optimise one plan per time-of-day period and validate the day plan over the whole day.

    Parameters
    ----------
    scenario
        Scenario file or loaded :class:`Scenario`.
    periods
        ``"auto"`` or ``"HH:MM-HH:MM,…"`` tiling the scenario window (see
        :mod:`~trafficsim.optimise.periods`).
    out
        Output folder: ``signal_plan.add.xml`` (the day plan), ``single.add.xml`` (the best
        single plan), ``optimise.json`` and a folder per period under ``periods/`` (plus
        ``single/``), each an ordinary optimiser folder.
    settings, workers, scheduler, resume, progress
        As for :func:`~trafficsim.optimise.optimise`; the budget is per period (and for the
        single plan).
    warmup_s
        Each period after the first is evaluated after a warm-up this long, in which the
        earlier periods' winners run (:func:`period_warmup`); 0: from an empty network. [s]

    Raises
    ------
    ScenarioError
        Bad ``--periods`` (naming the field).
    """
    s = settings or OptimiseSettings()
    if s.design_lanes and not s.design:
        s = replace(s, design=True)  # (--design-lanes implies --design)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    check_settings(sc, s)
    windows, info = resolve_periods(sc, periods, s.max_cycle_s)
    # --plan: every period and the single plan run with that plan's measures (on_plan)
    sc = on_plan(sc, s.plan)
    if s.method != "differential_evolution" and not s.design:
        info["warm_start"] = "only differential evolution is warm-started"
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    seeds = tuple(s.seeds or sc.seeds[:3])
    vseeds = tuple(s.validate_seeds or _unseen(seeds, 5))
    if set(seeds) & set(vseeds):
        raise ScenarioError([Issue(sc.source, "--validate-seeds", "shares seeds with the "
                                   "search seeds; validation needs seeds the search never used")])
    sub = replace(s, validate=False, compare_sumo_webster=False, seeds=seeds,
                  validate_seeds=vseeds)
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    winners: list[tuple[float, SignalPlan]] = []
    with _executor(workers, scheduler, None, out, scenario_files(sc)) as ex:
        # the best single plan first: every period's search is offered it
        single = optimise(sc, out=out / "single", settings=sub, executor=ex, resume=resume,
                          progress=progress)
        # (--design-lanes: the single plan may run on another lane layout than a period's)
        offered = () if s.design_lanes else (single.best_plan,)
        warm: SignalPlan | None = None
        for i, (b, e) in enumerate(windows):
            # (--design-lanes: a candidate may run on another lane layout than the earlier
            # periods' programs were made for, so its periods start from an empty network)
            psc, warmup = period_warmup(sc, b, e, winners, 0.0 if s.design_lanes else warmup_s)
            folder = out / "periods" / f"p{i}"
            # --design changes the phases per period: a neighbour's winner does not fit them
            r = optimise(psc, out=folder, settings=replace(
                sub, warm_start=None if s.design else warm, offered=offered,
                warmup=warmup),
                executor=ex, resume=resume, progress=progress)
            warm = r.best_plan
            winners.append((b, r.best_plan))
            d = r.doc
            single_here = [h for h in d["history"] if h["role"].startswith("offered")]
            results.append({"index": i, "begin_s": b, "end_s": e, "clock": f"{clock(b)}–"
                            f"{clock(e)}", "window_simulated": d["window"],
                            "warmup": ({"begin_s": d["window"]["begin_s"], "scored_from_s": b,
                                        "programs": [{"begin_s": t, "program_id": f"tod{j}"}
                                                     for j, (t, _) in enumerate(warmup.plans)]}
                                       if warmup is not None else None),
                            "single_objective": (single_here[0]["objective"] if single_here
                                                 else None),
                            "folder": str(folder.relative_to(out)), "evaluations":
                            d["evaluations"], "stopped": d["stopped"],
                            "warm_started": d.get("warm_start", False),
                            "best": {k: d["best"][k] for k in ("objective", "role", "eval")}
                            | {"plan": d["best"]["plan"]},
                            "start_objective": d["start"]["objective"],
                            "webster_objective": d["webster"]["objective"],
                            "program_id": f"tod{i}"})
        single.best_plan.with_program_id("single").write(out / "single.add.xml")
        (out / "signal_plan.add.xml").write_text(day_plan_xml(winners), encoding="utf-8")
        net = out / "single" / "work" / "cases" / BASELINE / "net.net.xml"
        switches = switch_log(net, out / "signal_plan.add.xml", sc.begin_s, sc.end_s,
                              out / "work" / "switch_log")
        doc: dict[str, Any] = {
            "scenario": sc.name, "scenario_file": str(sc.source), "objective": s.objective,
            "method": s.method, "budget": s.budget, "seeds": list(seeds),
            "validate_seeds": list(vseeds),
            "window": {"begin_s": sc.begin_s, "end_s": sc.end_s}, "plan": sc.tuned_plan or BASELINE,
            "periods": info | {
                "breakpoints_s": [b for b, _ in windows[1:]],
                "breakpoints": [clock(b) for b, _ in windows[1:]],
                "procedure": PROCEDURE, "synchron": True, "waut_ref_time_s": windows[0][0],
                "procedure_by_light": procedures(out / "signal_plan.add.xml"),
                "per_period": results,
                "single": {"folder": "single", "evaluations": single.doc["evaluations"],
                           "objective": single.doc["best"]["objective"],
                           "plan": single.doc["best"]["plan"]},
                "switch_log": switches,
                "switch_check": check_switches(switches, windows, winners)}}
        if s.validate:
            doc["validation"] = validate_day(sc, vseeds, out, s, ex, progress)
            doc["periods"]["validation"] = doc["validation"]["day_plan_vs"]
        doc["wall_s"] = round(time.perf_counter() - t0, 2)
    (out / "optimise.json").write_text(json.dumps(_clean(doc), indent=2, allow_nan=False),
                                       encoding="utf-8")
    return OptimiseResult(doc, winners[0][1], out)


def switch_log(net: Path, plan_file: Path, begin_s: float, end_s: float,
               work: Path) -> dict[str, list[dict[str, Any]]]:
    """Which program each light ran when, from SUMO's ``SaveTLSProgram`` output.

    A bare ``sumo -n NET -a PLAN`` (no demand: the programs switch by the clock alone) on the
    unchanged network; also the proof that SUMO loads the file as it is.

    Returns
    -------
    dict
        tlLogic id → [{"program_id", "begin_s"}] in the order SUMO ran them.
    """
    work.mkdir(parents=True, exist_ok=True)
    progs, _ = read_plan_file(plan_file)
    tls = sorted({p.tls_id for p in progs})
    events = "".join(f'<timedEvent type="SaveTLSProgram" source="{t}" dest="prog_{i}.xml"/>'
                     for i, t in enumerate(tls))
    (work / "save.add.xml").write_text(f"<additional>{events}</additional>\n", encoding="utf-8")
    run_tool("sumo", ["-n", str(net), "-a", f"{plan_file},save.add.xml", "-b", f"{begin_s:g}",
                      "-e", f"{end_s:g}", "--no-step-log", "true"], cwd=work,
             what="loading the day plan")
    out: dict[str, list[dict[str, Any]]] = {}
    for i, t in enumerate(tls):
        at = begin_s
        rows: list[dict[str, Any]] = []
        for tl in ET.parse(work / f"prog_{i}.xml").getroot().iter("tlLogic"):
            pid = tl.get("programID", "")
            if not rows or rows[-1]["program_id"] != pid:
                rows.append({"program_id": pid, "begin_s": at, "clock": clock(at)})
            at += sum(float(ph.get("duration", 0)) for ph in tl.iter("phase"))
        out[t] = rows
    return out


def procedures(plan_file: Path) -> dict[str, str]:
    """Per tlLogic id: the WAUT switching procedure written for it (``immediate`` when none)."""
    root = ET.parse(plan_file).getroot()
    return {j.get("junctionID", ""): j.get("procedure") or "immediate"
            for j in root.iter("wautJunction")}


def check_switches(log: dict[str, list[dict[str, Any]]], windows: list[Window],
                   winners: list[tuple[float, SignalPlan]]) -> dict[str, Any]:
    """Check that every light ran period i's program from breakpoint i on, within a cycle.

    GSP waits for the end of the old program's running cycle, so the switch is at most one
    old cycle after the breakpoint.
    """
    late: list[str] = []
    for t, rows in log.items():
        got = [r["program_id"] for r in rows]
        want = [f"tod{i}" for i in range(len(windows))]
        if got != want:
            late.append(f"{t}: ran {got}, expected {want}")
            continue
        for i in range(1, len(windows)):
            old = winners[i - 1][1]
            c_old = old[t].cycle_s if t in old.tls_ids else 0.0
            b = windows[i][0]
            if not b <= rows[i]["begin_s"] <= b + c_old + 1.0:
                late.append(f"{t}: tod{i} began at {clock(rows[i]['begin_s'])}, expected "
                            f"{clock(b)} + at most one cycle ({c_old:g} s)")
    return {"ok": not late, "problems": late}


def validate_day(sc: Scenario, seeds: tuple[int, ...], out: Path, s: OptimiseSettings,
                 executor: Any, progress: bool) -> dict[str, Any]:
    """The day plan against the single plan, the baseline and actuated control, whole window.

    Paired differences of mean delay and of the objective on the unseen ``seeds``.
    """
    from trafficsim.compare import compare
    from trafficsim.optimise.evaluation import objective_value

    base = sc.plan(BASELINE)

    def from_file(path: Path) -> SignalPlanMeasure:
        progs, elements = read_plan_file(path)
        return SignalPlanMeasure(control="file", file=path, elements=tuple(elements),
                                 file_tls=tuple(sorted({p.tls_id for p in progs})),
                                 fitted=sc.tuned_plan is not None)

    plans = {BASELINE: base,
             "actuated": PlanSpec("actuated", (*base.measures,
                                               SignalPlanMeasure(control="actuated"))),
             "single": PlanSpec("single", (*base.measures, from_file(out / "single.add.xml"))),
             "day_plan": PlanSpec("day_plan", (*base.measures,
                                               from_file(out / "signal_plan.add.xml")))}
    result = compare(replace(sc, plans=plans), seeds=seeds, out=out / "validation",
                     executor=executor, progress=progress)

    def obj(plan: str) -> list[float]:
        return [objective_value(s.objective, result.run(plan, sd).metrics, s.stop_weight_s)
                for sd in seeds]

    table: dict[str, Any] = {"seeds": list(seeds), "plans": {}, "day_plan_vs": {}}
    for p in plans:
        row: dict[str, Any] = {}
        for m in METRICS:
            e = result.estimate(p, m)
            row[m] = {"mean": e.mean, "ci95": list(e.ci95)}
        o = mean_ci(obj(p))
        row["objective"] = {"mean": o.mean, "ci95": list(o.ci95)}
        row["warnings"] = [w for r in result.runs if r.plan == p for w in r.health.warnings]
        table["plans"]["start" if p == BASELINE else p] = row
    for ref in ("single", BASELINE, "actuated"):
        d = paired_difference(result.values("day_plan", "mean_delay_s"),
                              result.values(ref, "mean_delay_s"))
        do = paired_difference(obj("day_plan"), obj(ref))
        table["day_plan_vs"]["start" if ref == BASELINE else ref] = {
            "mean_delay_s": {"diff": d.diff, "ci95": list(d.ci95), "pct": d.pct},
            "objective": {"diff": do.diff, "ci95": list(do.ci95), "pct": do.pct}}
    # the report's optimiser table reads "optimised_vs"
    table["optimised_vs"] = table["day_plan_vs"]
    return table


__all__ = ["FIELD", "PROCEDURE", "check_switches", "day_plan_xml", "optimise_periods",
           "period_scenario", "switch_log", "validate_day"]

"""Validation of the winner on seeds the search never used.

The winner runs against the starting plan, Webster, SUMO's ``actuated`` control, max-pressure
control (:mod:`trafficsim.control`, the adaptive research baseline) and SUMO's own Webster tool,
with paired confidence intervals.

The plans run through :func:`trafficsim.compare.compare`, as any other plans do.
"""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

from trafficsim.errors import SumoError
from trafficsim.measures.base import Measure
from trafficsim.measures.signal_plan import SignalPlanMeasure
from trafficsim.netmodel import read_network
from trafficsim.optimise.evaluation import objective_value
from trafficsim.optimise.settings import OptimiseSettings
from trafficsim.scenario import BASELINE, PlanSpec, Scenario
from trafficsim.signals import SignalPlan, parse_programs, program_of, read_plan_file
from trafficsim.stats import Estimate, mean_ci, paired_difference
from trafficsim.sumo import run_python_tool, run_tool
from trafficsim.sumocfg import read_sumocfg


def sumo_webster(sc: Scenario, case_dir: Path, net: Path, start: SignalPlan,
                  s: OptimiseSettings, out: Path) -> dict[str, Any]:
    """SUMO's own ``tlsCycleAdaptation.py`` on the same network and (expanded) demand.

    The tool reads ``<vehicle>`` routes only (it ignores ``<flow>`` and ``<trip>``), so the first
    search seed's demand is expanded by ``duarouter`` first.
    """
    d = out / "work" / "tls_cycle_adaptation"
    d.mkdir(parents=True, exist_ok=True)
    routes = read_sumocfg(case_dir / "case.sumocfg").get("route-files", "")
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
    progs = parse_programs(ET.parse(path).getroot())
    return {"file": "tls_cycle_adaptation.add.xml",
            "programs": {p.tls_id: {"cycle_s": p.cycle_s, "greens_s": list(p.greens_s)}
                         for p in progs}}


def sumo_rebuilt_actuated(net: Path, out: Path, *,
                          program_id: str = "sumo_rebuilt") -> dict[str, Any]:
    """SUMO's own actuated programs, rebuilt by ``netconvert --tls.rebuild`` on the same network.

    SUMO chooses the phases itself (protected left phases where it finds left-turn lanes,
    ``--tls.default-type actuated``).  The rebuilt programs are written to
    ``sumo_rebuilt.add.xml`` under a new programID, for the *unchanged* network, and that only
    when every signal link keeps its traffic light and link index (a program addresses links by
    index); otherwise the reason is returned instead of a file.
    """
    d = out / "work" / "sumo_rebuilt"
    d.mkdir(parents=True, exist_ok=True)
    rebuilt = d / "rebuilt.net.xml"
    try:
        run_tool("netconvert", ["-s", str(net), "--tls.rebuild", "true",
                                "--tls.default-type", "actuated", "-o", str(rebuilt),
                                "--no-warnings", "true"], cwd=d, what="rebuilding the lights")
    except SumoError as exc:
        return {"error": str(exc)}
    old, new = read_network(net), read_network(rebuilt)
    before = {c.key: (c.tl, c.link_index) for c in old.connections if c.tl}
    after = {c.key: (c.tl, c.link_index) for c in new.connections if c.tl}
    if before != after:
        moved = sorted(set(before.items()) ^ set(after.items()))[:3]
        return {"error": "netconvert --tls.rebuild changed the signal links (e.g. "
                         f"{moved}); its programs do not fit the unchanged network"}
    progs = [program_of(p) for p in new.programs]
    plan = SignalPlan(tuple(p for p in progs if any(ph.is_green for ph in p.phases)))
    plan.with_program_id(program_id).write(out / "sumo_rebuilt.add.xml")
    return {"file": "sumo_rebuilt.add.xml", "programs": plan.to_dict()}


def validate(sc: Scenario, base: PlanSpec, seeds: tuple[int, ...], out: Path,
             s: OptimiseSettings, executor: Executor, progress: bool, *,
             tune_actuated: bool = False,
             references: Mapping[str, Path | str] | None = None,
             plan_measures: Mapping[str, Sequence[Measure]] | None = None,
             optimised_file: Path | None = None) -> dict[str, Any]:
    """Run the optimised plan and the references on unseen seeds and compare them, paired.

    ``references`` adds reference plans by name: a plan file (:class:`~pathlib.Path`) or a
    ``signal_plan`` control (e.g. ``"actuated"``); the optimised plan is compared with each.
    ``plan_measures`` adds measures (``--design-lanes``: lane use) to the plans it names,
    before their signal plan; ``optimised_file`` replaces ``signal_plan.add.xml`` as the
    optimised plan's programs.
    """
    from trafficsim.compare import compare

    def measure(control: str, file: Path | None = None) -> SignalPlanMeasure:
        if file is None:
            return SignalPlanMeasure(control=control)
        progs, elements = read_plan_file(file)
        # (our files hold programs of the plan network, --plan's too: not fitted again)
        return SignalPlanMeasure(control="file", file=file, elements=tuple(elements),
                                 file_tls=tuple(p.tls_id for p in progs),
                                 fitted=sc.tuned_plan is not None)

    plans = {BASELINE: base,
             "webster": PlanSpec("webster", (*base.measures, measure("file", out / "webster.add.xml"))),
             "actuated": PlanSpec("actuated", (*base.measures, measure("actuated"))),
             # the adaptive yardstick, with the measure's defaults (min green 5 s, no max)
             "max_pressure": PlanSpec("max_pressure", (*base.measures, SignalPlanMeasure(
                 control="max_pressure", max_green_s=math.inf))),
             "optimised": PlanSpec("optimised", (*base.measures, measure(
                 "file", optimised_file or out / "signal_plan.add.xml")))}
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
    for name, ref in (references or {}).items():
        m = measure("file", ref) if isinstance(ref, Path) else measure(ref)
        plans[name] = PlanSpec(name, (*base.measures, m))
    for name, added in (plan_measures or {}).items():
        if name in plans and added:
            *before, last = plans[name].measures
            plans[name] = PlanSpec(name, (*before, *added, last))
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
        row: dict[str, Any] = {m: _est(result.estimate(p, m)) for m in metrics}
        row["objective"] = _est(mean_ci(obj(p)))
        row["warnings"] = [w for r in result.runs if r.plan == p for w in r.health.warnings]
        table["plans"][label] = row
    refs = [p for p in plans if p in (BASELINE, "webster", "actuated", "max_pressure",
                                      "sumo_webster", *(references or {}))]
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


def _est(e: Estimate) -> dict[str, Any]:
    return {"mean": e.mean, "ci95": list(e.ci95)}



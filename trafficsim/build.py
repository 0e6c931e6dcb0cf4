"""Compiling a scenario and a plan into case directories that plain ``sumo -c`` can run.

Layout under the output directory::

    network/net.net.xml                    the base network (built once)
    cases/PLAN/net.net.xml                 the plan's network (base + the measures' edge patches,
                                           with the base's signal programs: signals.tll.xml)
    cases/PLAN/measures.add.xml            the measures' additional elements
    cases/PLAN/seed_N/case.sumocfg         one run: seed, window and outputs are in the config,
    cases/PLAN/seed_N/routes.rou.xml       so `sumo -c case.sumocfg` repeats it exactly
    cases/PLAN/seed_N/vehicles.csv         drawn vehicles with occupancy (for person delay)
    cases/PLAN/seed_N/detectors.add.xml    edge and lane-area detectors for the metric tables
    cases/PLAN/seed_N/trajectories.csv.gz  with trajectories: corridor vehicle positions every
    cases/PLAN/seed_N/tls_states.xml       second and the signals' switches (first seed only)
    cases/PLAN/seed_N/controllers.json     plans whose signals are driven through TraCI
                                           (max-pressure): what drives them; such a run is
                                           repeated by trafficsim, not by `sumo -c` alone
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trafficsim.control import CONTROLLERS_FILE, CONTROLLERS_NOTE
from trafficsim.demand import draw_vehicles, write_routes, write_vehicle_table
from trafficsim.errors import IntegrityError, Issue, ScenarioError
from trafficsim.measures import CaseDraft, Measure, NetIndex
from trafficsim.netgeom import corridor, find_corridors, read_net
from trafficsim.network import (
    build_network,
    fit_programs,
    net_index,
    patch_network,
    resolve_vias,
    signal_differences,
)
from trafficsim.routeflows import demand_route_flows
from trafficsim.scenario import (
    NetFileSpec,
    PlanSpec,
    Scenario,
    check_references,
    plan_measures,
)
from trafficsim.sumocfg import sumocfg_text

# Above this many lanes, queue detectors go on signal approaches only (they cost a little per step).
MAX_DETECTED_LANES = 2000
#: Time-space diagrams show this much; trajectories are recorded for it (and the trips in it). [s]
TRAJECTORY_WINDOW_S = 900.0
SUMMARY_PERIOD_S = 60
#: Options a lean case leaves out: outputs only the full metric tables need (see build_case).
LEAN_OMITS = ("device.emissions.probability", "summary-output", "summary-output.period")


@dataclass(frozen=True)
class Case:
    """One run's files.

    Attributes
    ----------
    plan, seed
        What it runs.
    measures
        The plan's measures, with those the scenario's situations add (they compute their own
        metrics from the run's outputs).
    observers
        Every measure of the scenario: each computes its yardstick metrics
        (:meth:`~trafficsim.measures.Measure.observed_metrics`) in every plan's run.
    config
        The ``.sumocfg``.
    net
        The plan's network.
    controllers
        JSON specs of the controllers that drive its signals through TraCI
        (:mod:`trafficsim.control`; also in the case's ``controllers.json``).
    """

    plan: str
    seed: int
    config: Path
    net: Path
    timeout_s: float
    measures: tuple[Measure, ...] = ()
    observers: tuple[Measure, ...] = ()
    controllers: tuple[dict[str, Any], ...] = ()

    @property
    def dir(self) -> Path:
        """Directory of the run's case: where its SUMO config and outputs live."""
        return self.config.parent


def prepare_network(scenario: Scenario, out_dir: Path,
                    plans: Iterable[str] | None = None) -> tuple[Path, NetIndex]:
    """Build the base network and check every reference of the scenario against it.

    ``plans``: the plans that will run (default: all); the others' measures are not checked
    (see :func:`~trafficsim.scenario.check_references`).

    Raises
    ------
    ScenarioError
        When ids, lane indices or windows do not fit the network.
    """
    net = build_network(scenario.network, out_dir / "network")
    try:
        index = net_index(net)
    except (ET.ParseError, ValueError) as exc:  # an imported network damaged past its root
        src = scenario.network.path if isinstance(scenario.network, NetFileSpec) else net
        raise ScenarioError([Issue(src, "", f"is not a readable SUMO network: {exc}")]) from None
    issues = check_references(scenario, index, plans)
    if issues:
        raise ScenarioError(issues)
    return net, index


def build_plan(scenario: Scenario, plan: PlanSpec, base_net: Path, out_dir: Path) -> CaseDraft:
    """Write a plan's network and measure file under ``out_dir/cases/PLAN``."""
    plan_dir = out_dir / "cases" / plan.name
    plan_dir.mkdir(parents=True, exist_ok=True)
    draft = CaseDraft(net=net_index(base_net), begin_s=scenario.begin_s, end_s=scenario.end_s,
                      net_file=base_net)
    for m in plan_measures(scenario, plan):
        m.apply(draft)
    for o in observers(scenario):
        o.observe(draft)
    if draft.edge_patches or draft.connection_patches or draft.waiting_links:
        patch_network(base_net, draft.edge_patches, plan_dir / "net.net.xml",
                      draft.connection_patches, draft.waiting_links)
        check_signals(base_net, plan_dir / "net.net.xml", plan.name, draft.waiting_links)
        # programs a measure derived from the base network, fitted to the links added here
        draft.additional = fit_programs(base_net, plan_dir / "net.net.xml", draft.additional)
    else:
        shutil.copyfile(base_net, plan_dir / "net.net.xml")
    # programs read from this plan's own network (the optimiser's --plan): as they are
    draft.additional += draft.fitted
    # internal lanes that measures name by their connection, numbered as this network numbers them
    draft.additional = resolve_vias(plan_dir / "net.net.xml", draft.additional)
    draft.outputs = resolve_vias(plan_dir / "net.net.xml", draft.outputs)
    # Observers of several plans may ask for the same element: write it once.
    body = "\n  ".join(_detectors_once(dict.fromkeys(draft.additional)))
    (plan_dir / "measures.add.xml").write_text(f"<additional>\n  {body}\n</additional>\n",
                                               encoding="utf-8")
    return draft


def _detectors_once(elements: Iterable[str]) -> list[str]:
    """``elements`` with a lane-area detector declared again, the same way, left out.

    A plan file's programs read back keep the detectors their conditions read (written
    with them again); a plan that loads the file and then runs its programs rewritten (the
    optimiser's candidates on a baseline with ``optimise --design``'s plan) would declare
    them twice, which SUMO refuses.  A detector declared again differently is kept (SUMO then
    names it).
    """
    seen: dict[str, tuple[str | None, ...]] = {}
    out = []
    for el in elements:
        lines = []
        for line in el.split("\n"):
            text = line.strip()
            if text.startswith("<laneAreaDetector") and text.endswith("/>"):
                try:
                    d = ET.fromstring(text)
                except ET.ParseError:
                    d = None
                if d is not None:
                    key = tuple(d.get(k) for k in ("lane", "pos", "endPos", "length", "freq",
                                                     "period", "file"))
                    if seen.get(d.get("id", "")) == key:
                        continue
                    seen.setdefault(d.get("id", ""), key)
            lines.append(line)
        if any(ln.strip() for ln in lines):
            out.append("\n".join(lines))
    return out


def check_signals(base_net: Path, plan_net: Path, plan: str,
                  waiting: Sequence[tuple[str, str, str]] = ()) -> None:
    """Refuse a plan network whose signal programs differ from the baseline's.

    Measures change signals only through the case's additional file (``signal_plan``), never
    through the network, so this holds for every plan: a difference here would mix a
    signal-timing change into the measure's effect.  The one exception is a waiting area
    (``waiting``: traffic light, from edge, to edge), whose entry and internal stop change the
    program by design, in exactly the way :func:`trafficsim.network.waiting_area_states` says.

    Raises
    ------
    IntegrityError
        Listing the first differences.
    """
    diffs = signal_differences(base_net, plan_net, waiting)
    if diffs:
        more = f" (and {len(diffs) - 5} more)" if len(diffs) > 5 else ""
        msg = (f"plan '{plan}': its network ({plan_net}) would run other signal programs than "
               "the baseline's, which its measures do not ask for:\n  "
               + "\n  ".join(diffs[:5]) + more)
        raise IntegrityError(msg)


def trajectory_corridors(net: Path, request: bool | Sequence[str]
                         ) -> tuple[tuple[str, ...], ...]:
    """The edge chains whose vehicle trajectories a run records.

    Parameters
    ----------
    net
        The base network.
    request
        False: none; True: the main corridor and its opposite direction
        (:func:`trafficsim.netgeom.find_corridors`); edge ids: that chain, in driving order.

    Raises
    ------
    ScenarioError
        When the given edges are not a connected chain, or no corridor can be found.
    """
    if request is False or (not isinstance(request, bool) and not request):
        return ()
    geo = read_net(net)
    if request is True:
        chains = find_corridors(geo)
        if not chains:
            raise ScenarioError([Issue("--trajectories", "", "the network has no chain of "
                                       "straight movements; name the edges with --corridor")])
        return chains
    edges = tuple(request)
    try:
        corridor(geo, edges)
    except ValueError as exc:
        raise ScenarioError([Issue("--corridor", "", str(exc))]) from None
    return (edges,)


def observers(scenario: Scenario) -> tuple[Measure, ...]:
    """Every distinct measure of the scenario's plans (they observe every plan's runs)."""
    return tuple(dict.fromkeys(m for p in scenario.plans.values() for m in p.measures))


def build_case(scenario: Scenario, plan: PlanSpec, draft: CaseDraft, seed: int,
               out_dir: Path, *, corridors: Sequence[Sequence[str]] = (), lean: bool = False,
               outputs: Sequence[str] = (), sumo_options: Sequence[str] = ()) -> Case:
    """Write one (plan, seed) run directory and return its :class:`Case`.

    ``corridors`` (edge chains) makes the run record vehicle trajectories on those edges
    (``trajectories.csv.gz``, SUMO fcd output) and every signal switch (``tls_states.xml``).

    ``lean`` (the optimiser's evaluations): the run writes trip information and statistics only,
    the outputs of the trip metrics (:func:`~trafficsim.metrics.run_metrics`); no edge and queue
    detectors, measure outputs, summary, stop output or emission device (so ``co2_kg`` and
    ``nox_kg`` are not measured).  Everything that shapes the simulation is the same as in a
    full case.  ``outputs``: further output elements for the run's additional file (e.g. a
    ``<laneData>``); ``sumo_options``: further SUMO options (``--name value`` pairs, e.g. an
    output a caller reads), written into ``case.sumocfg`` so that ``sumo -c`` writes it too.
    """
    plan_dir = out_dir / "cases" / plan.name
    run_dir = plan_dir / f"seed_{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    net = plan_dir / "net.net.xml"
    index = net_index(net)
    routes = []
    vehicles = []
    if scenario.demand is not None:
        # SUMO's last step is end - step_length: a later departure could never be inserted.
        last_depart = scenario.end_s - scenario.step_length_s
        # route flows (fitted to counts: on the base network, once, cached) are the same in
        # every plan, like the OD flows
        rflows = demand_route_flows(scenario, out_dir / "network" / "net.net.xml")
        vehicles = draw_vehicles(scenario.demand, index, scenario.begin_s, last_depart, seed,
                                 rflows)
        write_routes(vehicles, run_dir / "routes.rou.xml", draft.vtype_attrs, draft.vtypes,
                     draft.retype, draft.stop_rules)
        write_vehicle_table(vehicles, run_dir / "vehicles.csv")
        routes.append("routes.rou.xml")
    for sit in scenario.situations:  # drawn per seed, like the flows: the same in every plan
        routes += sit.write_demand(run_dir, scenario.begin_s,
                                   scenario.end_s - scenario.step_length_s, seed)
    routes += [_rel(p, run_dir) for p in scenario.route_files]
    if lean:
        _write_outputs(run_dir / "detectors.add.xml", outputs)
    else:
        _write_detectors(index, scenario, run_dir / "detectors.add.xml",
                         [*draft.outputs, *outputs])
    # The measures' file last: SUMO makes the last loaded program of a traffic light the active
    # one, so a signal_plan measure must come after an imported model's own programs.
    adds = ["detectors.add.xml", *[_rel(p, run_dir) for p in scenario.additional_files],
            "../measures.add.xml"]
    options = [*draft.sumo_options, *sumo_options]
    if corridors:
        adds.append("trajectories.add.xml")
        window = trajectory_window([v.depart_s for v in vehicles], scenario.begin_s,
                                   scenario.end_s)
        # only vehicles due shortly before or in the window carry the fcd device: the diagram
        # shows 15 minutes, and a whole peak of trajectories would be large and slow to read
        ids = [v.id for v in vehicles if window[0] - TRAJECTORY_WINDOW_S <= v.depart_s
               <= window[1]]
        options += _write_trajectory_files(index, corridors, window, ids, run_dir)
    cfg = run_dir / "case.sumocfg"
    cfg.write_text(_sumocfg(scenario, seed, routes, adds, options,
                            omit=LEAN_OMITS if lean else ()), encoding="utf-8")
    if draft.controllers:  # the folder says what drives it: sumo -c alone cannot repeat it
        (run_dir / CONTROLLERS_FILE).write_text(json.dumps(
            {"note": CONTROLLERS_NOTE, "controllers": draft.controllers}, indent=2),
            encoding="utf-8")
    return Case(plan=plan.name, seed=seed, config=cfg, net=net, timeout_s=scenario.timeout_s,
                measures=plan_measures(scenario, plan), observers=observers(scenario),
                controllers=tuple(draft.controllers))


def _rel(p: Path, start: Path) -> str:
    return os.path.relpath(p, start)


def _write_outputs(path: Path, outputs: Sequence[str]) -> None:
    """An additional file with just these output elements."""
    body = "".join(f"  {el}\n" for el in outputs)
    path.write_text(f"<additional>\n{body}</additional>\n", encoding="utf-8")


def _write_detectors(index: NetIndex, scenario: Scenario, path: Path,
                     outputs: Sequence[str] = ()) -> None:
    """Write the additional file of the run's detectors and measure outputs.

    Edge data over the window, lane-area (E2) detectors that measure queues, and the
    output elements of the plan's measures (written here so that each run has its own files).
    """
    period = scenario.end_s - scenario.begin_s
    begin = scenario.begin_s
    lines = ["<additional>",
             f'  <edgeData id="edges" file="edgedata.csv" begin="{begin:g}" '
             f'period="{period:g}" excludeEmpty="true"/>']
    approaches = {e for edges in index.signal_approaches.values() for e in edges}
    all_lanes = sum(index.edges.values())
    edges = sorted(index.edges) if all_lanes <= MAX_DETECTED_LANES else sorted(approaches)
    for e in edges:
        for i in range(index.edges[e]):
            lines.append(f'  <laneAreaDetector id="q_{e}_{i}" lane="{e}_{i}" pos="0" endPos="-1" '
                         f'friendlyPos="true" period="{period:g}" file="queues.csv"/>')
    lines += [f"  {el}" for el in outputs]
    lines.append("</additional>\n")
    path.write_text("\n".join(lines), encoding="utf-8")


def trajectory_window(departs_s: Sequence[float], begin_s: float, end_s: float
                      ) -> tuple[float, float]:
    """Window of the trajectory output as (begin, end) [s].

    The 15 minutes (on a minute grid) in which the most vehicles are due to depart; the
    middle 15 minutes when the departures are unknown (imported route files); the whole
    run when it lasts no longer than 15 minutes.
    """
    width = TRAJECTORY_WINDOW_S
    if end_s - begin_s <= width:
        return (begin_s, end_s)
    starts = [begin_s + 60.0 * k for k in range(int((end_s - begin_s - width) // 60) + 1)]
    if not departs_s:
        mid = begin_s + (end_s - begin_s - width) / 2
        return (mid, mid + width)
    best = max(starts, key=lambda s: (sum(s <= d < s + width for d in departs_s), -s))
    return (best, best + width)


def _write_trajectory_files(index: NetIndex, corridors: Sequence[Sequence[str]],
                            window: tuple[float, float], vehicle_ids: Sequence[str],
                            run_dir: Path) -> list[str]:
    """Selection and timed-event files for trajectories; returns the SUMO options they need."""
    edges = sorted({e for chain in corridors for e in chain})
    (run_dir / "trajectory_edges.txt").write_text("".join(f"edge:{e}\n" for e in edges),
                                                  encoding="utf-8")
    (run_dir / "corridors.json").write_text(
        json.dumps({"corridors": [list(c) for c in corridors], "window_s": list(window)}),
        encoding="utf-8")
    # SaveTLSSwitchStates writes a line only when a signal changes: cheap, and it shows what
    # actuated programs really did, not just the programmed plan.
    events = "".join(f'  <timedEvent type="SaveTLSSwitchStates" source="{t}" '
                     f'dest="tls_states.xml"/>\n' for t in sorted(index.signals))
    (run_dir / "trajectories.add.xml").write_text(f"<additional>\n{events}</additional>\n",
                                                  encoding="utf-8")
    # gzip: SUMO compresses any output whose name ends in .gz (about 7x smaller here)
    devices = (["--device.fcd.explicit", ",".join(vehicle_ids)] if vehicle_ids else [])
    return ["--fcd-output", "trajectories.csv.gz",
            "--fcd-output.filter-edges.input-file", "trajectory_edges.txt",
            "--fcd-output.attributes", "lane,pos,speed",
            "--fcd-output.skip-empty", "true",
            "--device.fcd.begin", f"{window[0]:g}", *devices]


def _sumocfg(scenario: Scenario, seed: int, routes: list[str], adds: list[str],
             extra: list[str], *, omit: Sequence[str] = ()) -> str:
    opts = {
        "net-file": "../net.net.xml",
        "route-files": ",".join(routes),
        "additional-files": ",".join(adds),
        "begin": f"{scenario.begin_s:g}",
        "end": f"{scenario.end_s:g}",
        "step-length": f"{scenario.step_length_s:g}",
        "seed": str(seed),
        "time-to-teleport": f"{scenario.time_to_teleport_s:g}",
        "tripinfo-output": "tripinfo.csv",
        "tripinfo-output.write-unfinished": "true",
        "device.emissions.probability": "1",
        "statistic-output": "stats.xml",
        "summary-output": "summary.csv",
        "summary-output.period": str(SUMMARY_PERIOD_S),
        "no-step-log": "true",
        "duration-log.disable": "true",
    }
    # An imported configuration's processing options (the outputs above stay the builder's:
    # the metrics are read from them).
    for key, value in scenario.sumo_options:
        opts.setdefault(key, value)
    for k in omit:
        opts.pop(k, None)
    for i in range(0, len(extra), 2):
        opts[extra[i].lstrip("-")] = extra[i + 1]
    return sumocfg_text(opts)

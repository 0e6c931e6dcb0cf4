"""Benchmark networks for ``design_quality.py``: networks nobody here designed, one hour each.

Each network becomes a folder ``benchmarks/results/design_nets/NAME/`` (not committed: it is
rebuilt by this script, deterministically) with a trafficsim scenario ``NAME.toml`` whose plans
are the yardsticks of issue 11:

- ``baseline``: the network's shipped static programs;
- ``webster``: Webster timings (trafficsim's, as ``optimise`` computes them) from the lane flows
  the baseline carried on the calibration seeds 1, 2, 3 (``webster.add.xml``);
- ``actuated``: SUMO actuated control on the same phases (``control = "actuated"``);
- ``rebuilt_actuated``: SUMO's own actuated programs, ``netconvert --tls.rebuild
  --tls.default-type actuated`` on the same network, loaded as a plan file with programID
  ``rebuilt_actuated`` onto the *unchanged* network -- only when every traffic light's link
  indices are identical in both networks (checked; ``meta.json`` says so), else the plan is left
  out because it would not be comparable;
- commented stubs for ``max_pressure`` and the designed plan (``design_quality.py`` adds them
  when trafficsim offers them).

Networks (see :data:`NETWORKS`):

- ``rand_a``, ``rand_b``: irregular random districts, ``netgenerate --rand`` (two seeds), two
  lanes, left-turn pockets, every junction of three or more roads signalised; one hour of
  ``randomTrips.py`` trips (fringe factor 10, validated routes, fixed seed);
- ``lucas4x4``: sumo-rl's 4x4-Lucas grid with its own ``.sumocfg`` and routes;
- ``grid2x2``: sumo-rl's 2x2 grid (net and route file; it has no ``.sumocfg``);
- ``lust_district``: a district of the LuST half city (``lust/lust_west.osm``), imported with
  ``netconvert`` (OSM typemap, guessed and joined signals) and cut to a box with 14 signals; one
  hour of random trips.

The demand period of the generated networks was chosen so that the shipped static plan is busy
but not gridlocked (see ``meta.json`` for the baseline's delay and teleports on the
calibration seeds).

    python benchmarks/design_networks.py [--only rand_a,lust_district] [--force]

Needs ``../shared/data`` (sumo-rl and LuST); networks whose source is absent are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import trafficsim as ts
from trafficsim.build import build_plan, prepare_network
from trafficsim.netmodel import Network, read_network
from trafficsim.optimise import EvalTask, evaluate
from trafficsim.phasing import layout, with_ite_intergreens
from trafficsim.scenario import BASELINE, PlanSpec
from trafficsim.signals import (
    Program,
    SignalPlan,
    WebsterSettings,
    fit_greens,
    read_links,
    read_plan,
    read_plan_file,
    webster_plan,
)
from trafficsim.sumo import run_python_tool, run_tool, sumo_home

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
OUT = HERE / "results" / "design_nets"
WINDOW_S = 3600.0
#: Seeds of the baseline runs whose lane flows Webster uses (the optimiser's search seeds).
CALIBRATION_SEEDS = (1, 2, 3)
TRIPS_SEED = 42
REBUILT_PROGRAM_ID = "rebuilt_actuated"


@dataclass(frozen=True)
class RandomDistrict:
    """``netgenerate --rand``: an irregular district, two lanes, left-turn pockets.

    Attributes
    ----------
    seed, iterations
        ``netgenerate``'s seed and ``--rand.iterations`` (the district's size).
    period_s
        Mean time between random trips (``randomTrips.py -p``). [s]
    """

    seed: int
    iterations: int
    period_s: float


@dataclass(frozen=True)
class OsmDistrict:
    """A box of an OSM map imported with ``netconvert``.

    Attributes
    ----------
    osm
        The OSM file.
    box
        ``lon_min, lat_min, lon_max, lat_max`` (``--keep-edges.in-geo-boundary``). [°]
    period_s
        Mean time between random trips. [s]
    """

    osm: Path
    box: tuple[float, float, float, float]
    period_s: float


@dataclass(frozen=True)
class SharedModel:
    """A third-party SUMO model used as it is: a ``.sumocfg``, or a net and route files."""

    sumocfg: Path | None = None
    net: Path | None = None
    routes: tuple[Path, ...] = ()


NETWORKS: dict[str, tuple[str, RandomDistrict | OsmDistrict | SharedModel]] = {
    "rand_a": ("Irregular random district (netgenerate --rand, seed 11), 2 lanes, left pockets",
               RandomDistrict(seed=11, iterations=30, period_s=1.0)),
    "rand_b": ("Irregular random district (netgenerate --rand, seed 23), 2 lanes, left pockets",
               RandomDistrict(seed=23, iterations=30, period_s=1.4)),
    "lucas4x4": ("sumo-rl 4x4-Lucas grid with its own .sumocfg and routes (4x4c2)",
                 SharedModel(sumocfg=SHARED / "sumo-rl" / "4x4-Lucas" / "4x4.sumocfg")),
    "grid2x2": ("sumo-rl 2x2 grid with its own route file",
                SharedModel(net=SHARED / "sumo-rl" / "2x2grid" / "2x2.net.xml",
                            routes=(SHARED / "sumo-rl" / "2x2grid" / "2x2.rou.xml",))),
    "lust_district": ("A district of the LuST half city (OSM, netconvert), 14 signals",
                      OsmDistrict(osm=SHARED / "lust" / "lust_west.osm",
                                  box=(6.111, 49.6079, 6.123, 49.6159), period_s=2.0)),
}


# --------------------------------------------------------------------------------------------
# Networks and demand
# --------------------------------------------------------------------------------------------
def random_district(spec: RandomDistrict, d: Path, name: str) -> Path:
    """``netgenerate --rand`` into ``d/NAME.net.xml``: every junction signalised, left pockets."""
    net = d / f"{name}.net.xml"
    run_tool("netgenerate", [
        "--rand", "--rand.iterations", str(spec.iterations), "--seed", str(spec.seed),
        "--rand.min-distance", "150", "--rand.max-distance", "350", "--rand.min-angle", "45",
        "--default.lanenumber", "2", "--default.speed", "13.89",
        "--turn-lanes", "1", "--turn-lanes.length", "40",
        # junctions of two roads (the pockets' split points) stay priority junctions
        "--default.junctions.type", "traffic_light",
        "--no-turnarounds", "true", "--tls.default-type", "static", "--no-warnings", "true",
        "-o", net.name], cwd=d, what=f"{name}: generating the network")
    return net


def osm_district(spec: OsmDistrict, d: Path, name: str) -> Path:
    """Import a box of an OSM map with ``netconvert`` (SUMO's typemap, guessed signals)."""
    net = d / f"{name}.net.xml"
    typemap = Path(sumo_home()) / "data" / "typemap" / "osmNetconvert.typ.xml"
    run_tool("netconvert", [
        "--osm-files", str(spec.osm), "--type-files", str(typemap),
        "--keep-edges.by-vclass", "passenger",
        "--keep-edges.in-geo-boundary", ",".join(f"{v:g}" for v in spec.box),
        "--tls.guess-signals", "--tls.join", "--junctions.join", "--ramps.guess",
        "--remove-edges.isolated", "--geometry.remove",
        "--no-turnarounds", "true", "--tls.default-type", "static", "--no-warnings", "true",
        "-o", net.name], cwd=d, what=f"{name}: importing the OSM district")
    return net


def random_trips(net: Path, d: Path, period_s: float) -> Path:
    """One hour of validated random trips between fringe edges (mostly), fixed seed."""
    routes = d / "trips.rou.xml"
    run_python_tool("randomTrips.py", [
        "-n", net.name, "-o", "trips.trips.xml", "-r", routes.name,
        "-b", "0", "-e", f"{WINDOW_S:g}", "-p", f"{period_s:g}",
        "--fringe-factor", "10", "--min-distance", "300", "--seed", str(TRIPS_SEED),
        "--trip-attributes", 'departLane="best" departSpeed="max"',
        "--validate", "--remove-loops"], cwd=d, what="random trips")
    (d / "trips.trips.xml").unlink(missing_ok=True)
    return routes


# --------------------------------------------------------------------------------------------
# SUMO's own rebuilt actuated programs
# --------------------------------------------------------------------------------------------
def tls_links(root: ET.Element) -> set[tuple[str | None, ...]]:
    """Every signalised connection with its traffic light and link index."""
    return {(c.get("tl"), c.get("from"), c.get("fromLane"), c.get("to"), c.get("toLane"),
             c.get("linkIndex")) for c in root.iter("connection") if c.get("tl")}


def rebuilt_actuated(net: Path, d: Path) -> dict[str, object]:
    """``netconvert --tls.rebuild --tls.default-type actuated``; its programs as a plan file.

    The plan file ``rebuilt_actuated.add.xml`` holds the rebuilt ``<tlLogic>``s with programID
    ``rebuilt_actuated``, to be loaded onto the unchanged network.  That is only sound when the
    rebuilt network has the same traffic lights with the same link indices.
    """
    rebuilt = d / "rebuilt.net.xml"
    run_tool("netconvert", ["-s", str(net), "--tls.rebuild", "--tls.default-type", "actuated",
                            "--no-warnings", "true", "-o", rebuilt.name],
             cwd=d, what="rebuilding the signal programs")
    base_root = ET.parse(net).getroot()
    new_root = ET.parse(rebuilt).getroot()
    same = tls_links(base_root) == tls_links(new_root)
    base_ids = {t.get("id") for t in base_root.iter("tlLogic")}
    # one program per light: SUMO runs the one loaded last (4x4-Lucas ships two for light 10)
    programs = list({t.get("id"): t for t in new_root.iter("tlLogic")}.values())
    same = same and base_ids == {t.get("id") for t in programs}
    rebuilt.unlink()
    if not same:
        return {"comparable": False,
                "reason": "the rebuilt network's traffic lights or link indices differ"}
    # netconvert-built networks already have netconvert's phases: then the rebuilt programs
    # differ from same-phase actuated control only in type and timing bounds
    states = {t.get("id"): [p.get("state") for p in t.iter("phase")]
              for t in base_root.iter("tlLogic")}
    same_phases = sum(states[t.get("id")] == [p.get("state") for p in t.iter("phase")]
                      for t in programs)
    add = ET.Element("additional")
    for t in programs:
        t.set("programID", REBUILT_PROGRAM_ID)
        add.append(t)
    ET.indent(add)
    (d / "rebuilt_actuated.add.xml").write_text(ET.tostring(add, encoding="unicode") + "\n",
                                                encoding="utf-8")
    return {"comparable": True, "file": "rebuilt_actuated.add.xml", "programs": len(programs),
            "programs_with_the_network_phases": same_phases}


# --------------------------------------------------------------------------------------------
# The scenario file
# --------------------------------------------------------------------------------------------
def _rel(p: Path, d: Path) -> str:
    return os.path.relpath(p.resolve(), d.resolve())


def scenario_toml(name: str, description: str, network_lines: list[str], *, webster: bool,
                  rebuilt: bool) -> str:
    """The benchmark scenario: 1 h window, the yardstick plans, stubs for what is coming."""
    lines = [
        "# Generated by benchmarks/design_networks.py; rebuild with",
        f"#   python benchmarks/design_networks.py --only {name} --force",
        f'name = "{name}"',
        f'description = "{description}"',
        "",
        "[simulation]",
        "begin = 0",
        f"end = {WINDOW_S:g}",
        "seeds = [1, 2, 3]",
        "timeout_s = 900",
        "",
        "[network]",
        *network_lines,
        "",
        "[plans.baseline]",
        'description = "The network\'s shipped static programs"',
    ]
    if webster:
        lines += ["", "[plans.webster]",
                  'description = "Webster timings from the lane flows the baseline carried '
                  '(seeds 1-3)"',
                  "[[plans.webster.measures]]", 'type = "signal_plan"',
                  'file = "webster.add.xml"']
    lines += ["", "[plans.actuated]",
              'description = "SUMO actuated control on the shipped phases"',
              "[[plans.actuated.measures]]", 'type = "signal_plan"', 'control = "actuated"']
    if rebuilt:
        lines += ["", "[plans.rebuilt_actuated]",
                  'description = "SUMO\'s own actuated programs (netconvert --tls.rebuild '
                  '--tls.default-type actuated), same link indices"',
                  "[[plans.rebuilt_actuated.measures]]", 'type = "signal_plan"',
                  'file = "rebuilt_actuated.add.xml"']
    lines += ["", "# Added by design_quality.py when trafficsim offers them:",
              "# [plans.max_pressure]", "# [[plans.max_pressure.measures]]",
              '# type = "signal_plan"', '# control = "max_pressure"', "#",
              "# [plans.designed]   # trafficsim optimise NAME.toml --design",
              "# [[plans.designed.measures]]", '# type = "signal_plan"',
              '# file = "design/signal_plan.add.xml"', ""]
    return "\n".join(lines)


def _baseline_case(sc: ts.Scenario, work: Path) -> tuple[PlanSpec, Path, Path, SignalPlan]:
    """Build the baseline in a fresh ``work`` folder as ``trafficsim optimise`` does.

    Returns the baseline plan, the base network, the baseline's network and its programs.
    """
    shutil.rmtree(work, ignore_errors=True)
    base_net, _ = prepare_network(sc, work)
    base = sc.plan(BASELINE)
    build_plan(sc, base, base_net, work)
    plan_net = work / "cases" / BASELINE / "net.net.xml"
    start = read_plan(plan_net, [work / "cases" / BASELINE / "measures.add.xml",
                                 *sc.additional_files])
    return base, base_net, plan_net, start


def calibrate_webster(toml: Path, d: Path) -> dict[str, object]:
    """Run the baseline on the calibration seeds; write Webster's plan from its lane flows.

    As ``trafficsim optimise`` does: arrivals per lane (lane data), Webster per junction on the
    network's phases.  Returns the baseline's delay and teleports on those seeds.
    """
    sc = ts.load_scenario(toml)
    work = d / "calibration"
    base, base_net, plan_net, start = _baseline_case(sc, work)
    res = evaluate(EvalTask(key="baseline", scenario=sc, plan=base, base_net=base_net,
                            seeds=CALIBRATION_SEEDS, root=work / "eval",
                            objective="mean_delay_s", lane_output=True))
    plan, _ = webster_plan(start, read_links(plan_net), res.lane_flows_veh_h, WebsterSettings())
    plan.write(d / "webster.add.xml")
    shutil.rmtree(work, ignore_errors=True)
    per = res.per_seed
    return {"seeds": list(CALIBRATION_SEEDS),
            "baseline_mean_delay_s": [round(per[s]["mean_delay_s"], 2) for s in per],
            "baseline_teleports": [int(per[s]["teleports"]) for s in per],
            "baseline_unfinished_veh": [int(per[s]["unfinished_veh"]) for s in per],
            "baseline_throughput_veh": [int(per[s]["throughput_veh"]) for s in per],
            "webster_cycle_s": {p.tls_id: p.cycle_s for p in plan.programs}}


# --------------------------------------------------------------------------------------------
# The yardsticks with ITE transitions (the same safety as the designed programs)
# --------------------------------------------------------------------------------------------
#: Plan files of the yardsticks with ITE intergreens (``design_quality.py`` adds their plans).
ITE_FILES = {"baseline_ite": "baseline_ite.add.xml", "webster_ite": "webster_ite.add.xml",
             "rebuilt_actuated_ite": "rebuilt_actuated_ite.add.xml"}


def ite_program(net: Network, prog: Program) -> Program | None:
    """``prog`` with ITE transitions; None where the phasing module cannot lay the light out."""
    try:
        return with_ite_intergreens(layout(net, prog.tls_id), prog)
    except (KeyError, ValueError):
        return None


def keep_cycle(ite: Program, cycle_s: float) -> tuple[Program, bool]:
    """A fixed-time program with ITE transitions stretched back to the network's cycle.

    The longer transitions come out of the greens: the time left for green (the cycle less the
    new intergreens) is shared as the network's greens share it above each stage's minimum green
    (:func:`trafficsim.signals.fit_greens`, whole seconds; offset kept).  When the minimum
    greens and the transitions do not fit in the cycle, the greens are the minimum greens and
    the cycle grows (returned flag: False).
    """
    total = cycle_s - sum(ite.intergreens_s)
    mins = list(ite.min_greens_s)
    if total < sum(mins):
        return ite.with_greens(mins), False
    return ite.with_greens(fit_greens(ite.greens_s, mins, total)), True


def ite_yardsticks(toml: Path, d: Path) -> dict[str, object]:
    """Write the ITE plan files of :data:`ITE_FILES` beside the scenario.

    - ``baseline_ite``: the shipped static programs with ITE transitions, on the network's
      cycle (:func:`keep_cycle`);
    - ``webster_ite``: Webster on the same phases with ITE transitions (its lost time the new
      intergreens), from the lane flows the baseline carried on the calibration seeds;
    - ``rebuilt_actuated_ite``: SUMO's rebuilt actuated programs with ITE transitions.

    Lights the phasing module cannot lay out keep their programs as they are (counted).
    """
    sc = ts.load_scenario(toml)
    work = d / "calibration_ite"
    base, base_net, plan_net, start = _baseline_case(sc, work)
    net = read_network(plan_net)
    kept, grown = [], []
    static, same_phases = [], []
    for p in start.programs:
        ite = ite_program(net, p)
        if ite is None:
            kept.append(p.tls_id)
            static.append(p)
            same_phases.append(p)
            continue
        q, fits = keep_cycle(ite, p.cycle_s)
        if not fits:
            grown.append(p.tls_id)
        static.append(q)
        same_phases.append(ite)
    SignalPlan(tuple(static)).with_program_id("baseline_ite").write(d / ITE_FILES["baseline_ite"])
    res = evaluate(EvalTask(key="baseline", scenario=sc, plan=base, base_net=base_net,
                            seeds=CALIBRATION_SEEDS, root=work / "eval",
                            objective="mean_delay_s", lane_output=True))
    web, _ = webster_plan(SignalPlan(tuple(same_phases)), read_links(plan_net),
                          res.lane_flows_veh_h, WebsterSettings(), program_id="webster_ite")
    web.write(d / ITE_FILES["webster_ite"])
    out: dict[str, object] = {"not_laid_out": kept, "cycle_grown": grown,
                              "webster_ite_cycle_s": {p.tls_id: p.cycle_s for p in web.programs}}
    if (d / "rebuilt_actuated.add.xml").is_file():
        progs, _ = read_plan_file(d / "rebuilt_actuated.add.xml")
        rebuilt = [ite_program(net, p) or p for p in progs]
        SignalPlan(tuple(rebuilt)).with_program_id("rebuilt_actuated_ite").write(
            d / ITE_FILES["rebuilt_actuated_ite"])
    shutil.rmtree(work, ignore_errors=True)
    return out


def signal_counts(net: Path) -> dict[str, int]:
    """Traffic lights, and those with at least two green stages (real choices to make)."""
    root = ET.parse(net).getroot()
    programs = {t.get("id"): t for t in root.iter("tlLogic")}  # the active (last) program
    real = 0
    for t in programs.values():
        greens = {p.get("state") for p in t.iter("phase")
                  if "y" not in (p.get("state") or "") and any(c in "Gg" for c in p.get("state", ""))}
        real += len(greens) >= 2
    edges = sum(1 for e in root.iter("edge") if e.get("function") is None)
    return {"traffic_lights": len(programs), "signals_with_2_stages": real, "edges": edges}


def build(name: str, *, force: bool = False) -> Path | None:
    """Build network ``name`` (unless already built); return its scenario file (None: skipped)."""
    description, spec = NETWORKS[name]
    d = OUT / name
    toml = d / f"{name}.toml"
    if toml.is_file() and (d / "meta.json").is_file() and not force:
        return toml
    sources = [p for p in (getattr(spec, "osm", None), getattr(spec, "sumocfg", None),
                           getattr(spec, "net", None), *getattr(spec, "routes", ())) if p]
    if missing := [p for p in sources if not Path(p).is_file()]:
        print(f"{name}: {missing[0]} not found, skipped")
        return None
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    meta: dict[str, object] = {"name": name, "description": description}
    if isinstance(spec, SharedModel):
        if spec.sumocfg is not None:
            net_lines = [f'sumocfg = "{_rel(spec.sumocfg, d)}"']
            cfg = ET.parse(spec.sumocfg).getroot()
            net = spec.sumocfg.parent / cfg.find("./input/net-file").get("value")  # type: ignore[union-attr]
        else:
            assert spec.net is not None
            net = spec.net
            net_lines = [f'file = "{_rel(net, d)}"',
                         "routes = [" + ", ".join(f'"{_rel(r, d)}"' for r in spec.routes) + "]"]
        meta["source"] = str(spec.sumocfg or spec.net)
    else:
        if isinstance(spec, RandomDistrict):
            net = random_district(spec, d, name)
            meta["netgenerate"] = {"seed": spec.seed, "iterations": spec.iterations}
        else:
            net = osm_district(spec, d, name)
            meta["osm"] = {"file": str(spec.osm), "box_lon_lat": list(spec.box)}
        random_trips(net, d, spec.period_s)
        n_trips = sum(1 for _ in ET.parse(d / "trips.rou.xml").getroot().iter("vehicle"))
        meta["demand"] = {"period_s": spec.period_s, "seed": TRIPS_SEED, "vehicles": n_trips,
                          "fringe_factor": 10}
        net_lines = [f'file = "{net.name}"', 'routes = ["trips.rou.xml"]']
    meta.update(signal_counts(net))
    meta["rebuilt_actuated"] = rebuilt = rebuilt_actuated(net, d)
    if not rebuilt["comparable"]:
        print(f"{name}: rebuilt actuated programs are not comparable: {rebuilt['reason']}")
    kw = {"rebuilt": bool(rebuilt["comparable"])}
    toml.write_text(scenario_toml(name, description, net_lines, webster=False, **kw),
                    encoding="utf-8")
    meta["calibration"] = calibrate_webster(toml, d)
    toml.write_text(scenario_toml(name, description, net_lines, webster=True, **kw),
                    encoding="utf-8")
    meta["build_wall_s"] = round(time.perf_counter() - t0, 1)
    (d / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    cal = meta["calibration"]
    print(f"{name}: {meta['traffic_lights']} traffic lights ({meta['signals_with_2_stages']} "
          f"with 2+ stages), baseline delay {cal['baseline_mean_delay_s']} s, "
          f"teleports {cal['baseline_teleports']}, built in {meta['build_wall_s']} s")
    return toml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(NETWORKS), help="comma-separated network names")
    ap.add_argument("--force", action="store_true", help="rebuild networks already built")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    if unknown := [n for n in names if n not in NETWORKS]:
        ap.error(f"unknown network {unknown[0]!r}; networks: {', '.join(NETWORKS)}")
    for name in names:
        build(name, force=args.force)


if __name__ == "__main__":
    main()

"""What SUMO pays for trafficsim's switching rules, and what writing them compactly saves.

Usage: python benchmarks/switching_rules.py [--net rand_a] [--repeat 3] [--end 3600]

On a network of ``design_networks.py`` (built if missing), every light gets SUMO actuated
control on the network's phases, then queue choice (``with_queue_choice``, greens ending on
gaps, as ``optimise --design`` tries it).  The same programs are written three ways and run
with the bare ``sumo`` command on the same seed, alternately, ``--repeat`` times each:

- ``actuated``: plain SUMO actuated control (no switching rules: the floor);
- ``in_place``: the switching rules written out in every condition, each detector read at
  every ``a:DET`` (as trafficsim wrote them before);
- ``compact``: as trafficsim writes them now: each detector read once per switching decision
  and the parts the conditions share computed once (SUMO ``<assignment>``).

``in_place`` and ``compact`` must give the same trips, byte for byte (checked).  Printed: the
median wall time of each and the ratios ``in_place / compact`` and ``compact / actuated``.
Results go to ``benchmarks/results/switching_rules.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import sumo

from trafficsim.netmodel import read_network
from trafficsim.optimise.design import DesignSpace, stage_actuated, with_queue_choice
from trafficsim.signals import SignalPlan, WebsterSettings, read_links, read_plan

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results/switching_rules.json"


def programs(net_file: Path) -> dict[str, str]:
    """The additional file text of each variant."""
    net = read_network(net_file)
    links = read_links(net_file)
    flows = {lk.lane_id: 300.0 for ls in links.values() for lk in ls}
    plan = DesignSpace(net, read_plan(net_file), links, flows, WebsterSettings()).plan({})
    actuated, choice = [], []
    for prog in plan.programs:
        n = len(prog.stages)
        act = stage_actuated(prog, [5.0] * n, [35.0] * n, {"max-gap": "3"})
        actuated.append(act)
        choice.append(with_queue_choice(net, act, end="gap"))
    in_place = "\n".join(p.inlined().to_xml(read_detectors_once=False) for p in choice)
    return {"actuated": SignalPlan(tuple(actuated)).to_additional(),
            "in_place": f"<additional>\n{in_place}\n</additional>\n",
            "compact": SignalPlan(tuple(choice)).to_additional()}


def run(net: Path, routes: Path, add: Path, end: float, trips: Path) -> float:
    cmd = [str(Path(sumo.SUMO_HOME) / "bin" / "sumo"), "-n", str(net), "-r", str(routes),
           "-a", str(add), "--seed", "1", "-e", f"{end:g}", "--no-step-log", "-W",
           "--tripinfo-output", str(trips)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", default="rand_a", help="a network of design_networks.py")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--end", type=float, default=3600.0, help="simulated time [s]")
    args = ap.parse_args()
    import design_networks  # (beside this script)

    if design_networks.build(args.net) is None:
        raise SystemExit(f"{args.net}: its source data is missing")
    d = design_networks.OUT / args.net
    net, routes = d / f"{args.net}.net.xml", d / "trips.rou.xml"
    work = d / "switching_rules"
    work.mkdir(exist_ok=True)
    files = {}
    for name, text in programs(net).items():
        files[name] = work / f"{name}.add.xml"
        files[name].write_text(text, encoding="utf-8")
    walls: dict[str, list[float]] = {name: [] for name in files}
    for _ in range(args.repeat):
        for name, add in files.items():
            walls[name].append(run(net, routes, add, args.end, work / f"{name}.trips.xml"))

    def trips(name: str) -> str:  # (the header holds the run's date and options)
        text = (work / f"{name}.trips.xml").read_text(encoding="utf-8")
        return text[text.index("<tripinfos"):]

    same = trips("in_place") == trips("compact")
    med = {name: statistics.median(w) for name, w in walls.items()}
    result = {"net": args.net, "end_s": args.end, "repeat": args.repeat,
              "wall_s": {k: [round(x, 2) for x in v] for k, v in walls.items()},
              "median_wall_s": {k: round(v, 2) for k, v in med.items()},
              "in_place_over_compact": round(med["in_place"] / med["compact"], 2),
              "compact_over_actuated": round(med["compact"] / med["actuated"], 2),
              "identical_trips": same,
              "lights_with_rules": sum("<assignment " in p for p in
                                       files["compact"].read_text().split("</tlLogic>"))}
    for name, m in med.items():
        print(f"{name:9s} median {m:6.1f} s  ({', '.join(f'{x:.1f}' for x in walls[name])})")
    print(f"in_place / compact {result['in_place_over_compact']:.2f}   compact / actuated "
          f"{result['compact_over_actuated']:.2f}   identical trips: {same}")
    RESULTS.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if not same:
        raise SystemExit("the compact rules changed the simulation")


if __name__ == "__main__":
    main()

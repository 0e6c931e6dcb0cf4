"""Calibration to counts: does a demand fitted to counts alone reproduce a known true demand?

On networks with a known "true" demand (origin–destination flows that SUMO routes itself), one
simulated run of the truth is the "observed day": its passages give 15-minute counts at 30
locations, in two layouts: ``entries`` (every entry the truth uses, then inner edges and turning
movements) and ``cordon`` (every entry and exit the truth uses, then turning movements).
``trafficsim calibrate`` then fits route flows to those counts alone -- with our
linear program (``lp``) and with SUMO's ``routeSampler.py`` on the same candidate routes
(``routesampler``: ``--optimize full``; ``routesampler_minveh``: also ``--minimize-vehicles
0.5``) -- and runs the calibrated scenario on 3 seeds.  Reported, per network and method:

- ``geh_lt5_share``: share of location-hours (15-minute counts summed per hour) with GEH < 5,
  simulated = mean over the 3 seeds (target ≥ 0.95);
- ``vehicles_error_pct``: vehicles per run against the truth run's vehicles (target within 5%);
- ``sum_of_counts``: what fitting each count on its own would have put in (double counting);
- ``holdout.geh_lt5_share``: the same on hourly volumes of the edges the truth used but that
  were not counted (the fit never saw them): does the fitted demand reproduce the truth beyond
  the count points?

Networks: ``grid4x4`` (``[network.grid]`` 4×4, 200 m, signalised), ``rand`` (``netgenerate
--rand``, fixed seed, unsignalised priority junctions).  Two hours (07:00–09:00) with a peak in
the second quarter-hour of each hour.

    python benchmarks/calibration.py [--seeds 1,2,3]

Writes ``benchmarks/results/calibration.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

from trafficsim.calibrate import (
    Passages,
    calibrate,
    read_passages,
    simulate_passages,
    write_counts,
)
from trafficsim.counts import geh
from trafficsim.network import build_network, net_index
from trafficsim.routeflows import candidate_routes, fringe_edges
from trafficsim.scenario import load_scenario
from trafficsim.sumo import run_tool

HERE = Path(__file__).resolve().parent
WORK = HERE / "results" / "calibration_work"
OUT = HERE / "results" / "calibration.json"
TRUTH_SEED = 12345
NETWORKS = ("grid4x4", "rand")
METHODS = ("lp", "routesampler", "routesampler_minveh")
#: Count layouts: every entry plus inner edges and turns; or every entry and exit plus turns.
LAYOUTS = ("entries", "cordon")
HEAD = """name = "{name}"
[simulation]
begin = "07:00"
end = "09:00"
seeds = [1, 2, 3]
{network}
[demand]
bin_minutes = 15
{counts}
[demand.mix]
car = 0.95
truck = 0.05
"""


def _network_toml(name: str, work: Path) -> str:
    if name == "grid4x4":
        return ("[network.grid]\nrows = 4\ncols = 4\nspacing_m = 200\nlanes = 1\n"
                "speed_kmh = 50\n")
    net = work / "rand.net.xml"
    run_tool("netgenerate", ["--rand", "--rand.iterations", "40", "--seed", "7",
                             "--rand.min-distance", "120", "--rand.max-distance", "300",
                             "--default.lanenumber", "1", "--default.speed", "13.89",
                             "--no-turnarounds", "true", "--default-junction-type", "priority",
                             "-o", net.name], cwd=work)
    return f'[network]\nfile = "{net.name}"\n'


def _truth_flows(routes: list[tuple[str, ...]], rng: random.Random, n: int) -> list[str]:
    """``n`` OD flows between fringe edges (reachable: a candidate route links them)."""
    pairs = sorted({(r[0], r[-1]) for r in routes})
    chosen = rng.sample(pairs, min(n, len(pairs)))
    out = []
    for o, d in chosen:
        vph = rng.randint(40, 220)
        profile = [0.7, 1.2, 1.0, 0.8, 0.9, 1.3, 1.0, 0.8]
        out.append(f'[[demand.flows]]\nfrom = "{o}"\nto = "{d}"\nveh_per_hour = {vph}\n'
                   f"profile = {profile}\n")
    return out


def _locations(routes: list[tuple[str, ...]], entries: list[str], exits: list[str],
               rng: random.Random, n_total: int, truth_edges: set[str], layout: str
               ) -> list[str]:
    """Count locations the true demand uses.

    ``entries``: every entry edge, then inner edges and turning movements.  ``cordon``: every
    entry and every exit edge, then turning movements (and inner edges) up to ``n_total``.
    """
    locs = [e for e in entries if e in truth_edges]
    if layout == "cordon":
        locs += [e for e in exits if e in truth_edges]
    inner = sorted(truth_edges - set(entries) - set(exits))
    turns = sorted({f"{r[i]}>{r[i + 1]}" for r in routes for i in range(len(r) - 1)
                    if r[i] in truth_edges and r[i + 1] in truth_edges
                    and r[i] not in entries})
    k_turn = min(6, len(turns), max(0, n_total - len(locs)))
    k_inner = max(0, n_total - len(locs) - k_turn)
    locs += rng.sample(inner, min(k_inner, len(inner)))
    locs += rng.sample(turns, k_turn)
    return locs


def _hourly_edges(p: Passages, edges: list[str], begin_s: float) -> dict[tuple[str, int], int]:
    """Vehicles entering each edge per hour from ``begin_s`` (all kinds)."""
    out: dict[tuple[str, int], int] = {}
    for (e, _), times in p.edges.items():
        if e in edges:
            for t in times:
                key = (e, int((t - begin_s) // 3600))
                out[key] = out.get(key, 0) + 1
    return out


def holdout(truth: Passages, out: Path, edges: list[str], begin_s: float, hours: int
            ) -> dict[str, float]:
    """GEH < 5 share on edges that were NOT counted: truth vs the calibrated runs' mean."""
    runs = [read_passages(d / "vehroutes.xml")
            for d in sorted((out / "runs" / "cases" / "baseline").glob("seed_*"))]
    obs = _hourly_edges(truth, edges, begin_s)
    sims = [_hourly_edges(p, edges, begin_s) for p in runs]
    g = [geh(obs.get((e, h), 0), sum(s.get((e, h), 0) for s in sims) / len(sims))
         for e in edges for h in range(hours)]
    return {"edges": len(edges), "geh_lt5_share": round(sum(x < 5 for x in g) / len(g), 4)}


def run_network(name: str, seeds: list[int], methods: list[str]) -> dict[str, object]:
    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rng = random.Random(2024)  # the true demand
    network = _network_toml(name, work)
    head = HEAD.format(name=f"{name}_truth", network=network, counts="")
    # candidate routes only to pick reachable OD pairs for the truth
    probe = work / "probe.toml"
    probe.write_text(head + '[[demand.flows]]\nfrom = "x"\nto = "y"\nveh_per_hour = 1\n')
    net = net_index(build_network(load_scenario(probe).network, work / "probe"))
    routes = candidate_routes(net, per_od=1)
    entries, exits = fringe_edges(net)
    truth = work / "truth.toml"
    truth.write_text(head + "\n".join(_truth_flows(routes, rng, 14)))
    sc = load_scenario(truth)
    t0 = time.perf_counter()
    p = simulate_passages(sc, work / "truth_run", [TRUTH_SEED])[0]
    truth_edges = {e for e, _ in p.edges}
    result: dict[str, object] = {"truth_vehicles": p.vehicles,
                                 "truth_s": round(time.perf_counter() - t0, 1)}
    for layout in LAYOUTS:
        locs = _locations(routes, entries, exits, random.Random(7), 30, truth_edges, layout)
        # edges the true demand used that are not counted: the fit never saw them
        counted = {x for loc in locs for x in loc.split(">")}
        held_out = sorted(truth_edges - counted)
        counts = work / f"counts_{layout}.csv"
        total_counts = write_counts(p, locs, sc.begin_s, sc.end_s, 900.0, counts)
        cal = work / f"calibrate_{layout}.toml"
        cal.write_text(HEAD.format(name=name, network=network,
                                   counts=f'counts = "{counts.name}"'))
        res: dict[str, object] = {"locations": len(locs), "sum_of_counts": total_counts}
        for method in methods:
            t0 = time.perf_counter()
            out = work / f"out_{layout}_{method}"
            doc = calibrate(cal, counts, out, seeds=seeds, method=method)
            s = doc["summary"]
            res[method] = {
                "geh_lt5_share": s["geh_lt5_share"], "r2": s["r2"], "rmse_pct": s["rmse_pct"],
                "location_hours": s["location_hours"], "vehicles": s["vehicles"],
                "vehicles_fitted": s["vehicles_fitted"],
                "vehicles_error_pct": round(100 * (s["vehicles"] - p.vehicles) / p.vehicles, 2),
                "flagged": len(doc["flagged"]), "route_flows": s["route_flows"],
                "wall_s": round(time.perf_counter() - t0, 1),
                "holdout": holdout(p, out, held_out, sc.begin_s, 2)}
            print(name, layout, method, res[method], flush=True)
        result[layout] = res
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--only", help="comma-separated networks (default: all; the JSON file is "
                                   "written only for all)")
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    doc = {"seeds": seeds, "truth_seed": TRUTH_SEED, "interval_min": 15,
           "targets": {"geh_lt5_share": 0.95, "vehicles_error_pct": 5.0},
           "networks": {n: run_network(n, seeds, methods)
                        for n in (args.only.split(",") if args.only else NETWORKS)}}
    if args.only or args.methods != ",".join(METHODS):
        return
    OUT.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

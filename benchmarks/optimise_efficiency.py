"""Efficiency of ``trafficsim optimise``: parallel speed-up and per-evaluation overhead.

1. Speed-up: the same search (same candidates: the search is deterministic) with 1 and with 2
   local workers (parallel SUMO processes); wall time of the search phase.  Target ≥ 1.7×.
2. Overhead: one plan evaluated on 3 seeds three ways — bare ``sumo -c`` on the lean cases
   ``build`` writes for an evaluation, ``evaluate`` with a plain SUMO run (building its cases
   included), and ``evaluate`` watched through TraCI (as candidates that may be cut are run) —
   median of ``--repeats`` alternating rounds.

    python benchmarks/optimise_efficiency.py [--scenario grid] [--budget 48] [--repeats 5]

Evaluations needed to get within 2% of the final best come from the quality runs
(``optimise_quality.py``).  Writes ``benchmarks/results/optimise_efficiency.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import trafficsim as ts
from trafficsim.build import build_case, build_plan, prepare_network
from trafficsim.optimise import EvalTask, OptimiseSettings, evaluate, optimise
from trafficsim.optimise.evaluation import candidate_plan
from trafficsim.scenario import BASELINE
from trafficsim.signals import SignalPlan, read_plan_file
from trafficsim.sumo import run_sumo

HERE = Path(__file__).resolve().parent
SCENARIOS = {"grid": HERE / "scenarios" / "grid_peak_hour.toml",
             "arterial": HERE / "scenarios" / "arterial_peak_hour.toml"}


def speed_up(sc: ts.Scenario, budget: int, out: Path) -> dict:
    walls = {}
    keys = {}
    for workers in (1, 2):
        d = out / f"speedup_w{workers}"
        shutil.rmtree(d, ignore_errors=True)
        settings = OptimiseSettings(budget=budget, seeds=(1, 2, 3), validate=False,
                                    compare_sumo_webster=False)
        load = os.getloadavg()[0]
        res = optimise(sc, out=d, settings=settings, workers=workers, progress=False)
        walls[workers] = res.doc["search_wall_s"]
        keys[workers] = sorted(h["key"] for h in res.doc["history"])
        print(f"  {workers} worker(s): search {walls[workers]:.1f} s "
              f"({res.doc['evaluations']} plans, load average before {load:.2f})")
    return {"budget": budget, "wall_s_1_worker": walls[1], "wall_s_2_workers": walls[2],
            "speed_up": walls[1] / walls[2], "same_candidates": keys[1] == keys[2],
            "cpu_count": os.cpu_count()}


def overhead(out: Path, repeats: int) -> dict:
    """Per-evaluation overhead, measured on the plans of the speed-up run."""
    d = out / "speedup_w1"
    plan_file = d / "start.add.xml"
    seeds = (1, 2, 3)
    state = json.loads((d / "optimise-state.json").read_text())
    sc = ts.load_scenario(state["scenario_file"])
    base_net, _ = prepare_network(sc, out / "overhead_net")
    plan = SignalPlan(tuple(read_plan_file(plan_file)[0]))
    spec = candidate_plan(sc.plan(BASELINE), "bench", plan, plan_file)
    task = EvalTask(key="bench", scenario=sc, plan=spec, base_net=base_net, seeds=seeds,
                    root=out / "overhead", objective="mean_delay_s")
    # the same lean cases, built once, for bare sumo runs
    bare = out / "overhead_bare"
    draft = build_plan(sc, spec, base_net, bare)
    bare_dirs = [build_case(sc, spec, draft, s, bare, lean=True).config for s in seeds]
    times: dict[str, list[float]] = {"bare_sumo": [], "evaluate_plain": [], "evaluate_traci": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        for s, cfg in zip(seeds, bare_dirs, strict=True):
            run_sumo(cfg, seed=s, timeout_s=600)
        times["bare_sumo"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        evaluate(task)
        times["evaluate_plain"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        # a finite threshold no plan can exceed: watched through TraCI, never cut
        evaluate(replace(task, threshold=1e12, n_demand=(10**6,) * 3))
        times["evaluate_traci"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"repeats": repeats, "median_s": med,
            "overhead_plain_pct": 100 * (med["evaluate_plain"] / med["bare_sumo"] - 1),
            "overhead_traci_pct": 100 * (med["evaluate_traci"] / med["bare_sumo"] - 1),
            "per_evaluation_overhead_s": med["evaluate_plain"] - med["bare_sumo"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="grid", choices=sorted(SCENARIOS))
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--overhead-only", action="store_true",
                    help="re-measure the overhead on the plans of an earlier speed-up run")
    args = ap.parse_args()
    out = HERE / "results" / "efficiency"
    out.mkdir(parents=True, exist_ok=True)
    sc = ts.load_scenario(SCENARIOS[args.scenario])
    path = HERE / "results" / "optimise_efficiency.json"
    if args.overhead_only:
        su = json.loads(path.read_text())["speed_up"]
    else:
        print(f"speed-up on {sc.name}, budget {args.budget}:")
        su = speed_up(sc, args.budget, out)
    print(f"  speed-up {su['speed_up']:.2f}x (target ≥ 1.7x), same candidates: "
          f"{su['same_candidates']}")
    ov = overhead(out, args.repeats)
    med = ov["median_s"]
    print(f"overhead per evaluation (3 seeds, median of {args.repeats}): bare sumo "
          f"{med['bare_sumo']:.2f} s, evaluate {med['evaluate_plain']:.2f} s "
          f"({ov['overhead_plain_pct']:+.1f}%), watched through TraCI "
          f"{med['evaluate_traci']:.2f} s ({ov['overhead_traci_pct']:+.1f}%)")
    result = {"scenario": str(SCENARIOS[args.scenario]), "speed_up": su, "overhead": ov,
              "load_average_at_end": os.getloadavg()}
    path.write_text(json.dumps(result, indent=2, default=lambda x: None if isinstance(x, float)
                               and not math.isfinite(x) else x))


if __name__ == "__main__":
    main()

"""Quality of ``trafficsim optimise``: the validated plan's delay against the standard methods.

For each scenario the optimiser searches on seeds 1,2,3 and validates its winner on the unseen
seeds 101..105 against the network's own static plan, Webster (trafficsim's, from measured lane
flows), SUMO's ``tlsCycleAdaptation.py`` and SUMO ``actuated`` control, paired on the same seeds.

Targets (issue 4): at least 15% less mean delay than the better of static and Webster, and no
worse than actuated.

    python benchmarks/optimise_quality.py [--budget 80] [--workers 2] [--only arterial,grid,sumocfg,lucas4x4]
                                          [--tune-actuated] [--design] [--resume]

Writes ``benchmarks/results/optimise_quality.json`` and prints a table.  Each scenario's search
stays under ``benchmarks/results/optimise_<name>/`` (``--resume`` continues an interrupted one).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import trafficsim as ts
from trafficsim.optimise import OptimiseSettings, optimise

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "sumo-rl"
SCENARIOS = {
    "arterial": (HERE / "scenarios" / "arterial_peak_hour.toml", None),
    "grid": (HERE / "scenarios" / "grid_peak_hour.toml", None),
    "sumocfg": (SHARED / "single-intersection" / "single-intersection.sumocfg", 3600.0),
    "lucas4x4": (SHARED / "4x4-Lucas" / "4x4.sumocfg", 3600.0),
}


def summarise(doc: dict) -> dict:
    v = doc["validation"]
    delay = {p: row["mean_delay_s"]["mean"] for p, row in v["plans"].items()}
    best_std = min(("start", "webster"), key=lambda p: delay[p])
    vs = v["optimised_vs"]
    hist = [h for h in doc["history"] if not h["cut"]]
    final = min(h["objective"] for h in hist)
    within = next(h["n"] for h in sorted(hist, key=lambda h: h["n"])
                  if h["objective"] <= final * 1.02)
    def judge(plan: str) -> dict | None:
        # tuned actuated control took part: judge the fixed-time / coordinated plan on its own
        if f"{plan}_vs" not in v:
            return None
        fv = v[f"{plan}_vs"]
        return {"delay_s": v["plans"][plan]["mean_delay_s"]["mean"],
                "vs_better_standard": fv[best_std]["mean_delay_s"],
                "vs_actuated": fv["actuated"]["mean_delay_s"]}

    return {
        "winner": doc["best"]["role"],
        "fixed_time_plan": judge("fixed_time"),
        "coordinated_plan": judge("coordinated"),
        "delay_s": delay,
        "better_standard": best_std,
        "vs_better_standard": vs[best_std]["mean_delay_s"],
        "vs_actuated": vs["actuated"]["mean_delay_s"],
        "vs_sumo_webster": vs.get("sumo_webster", {}).get("mean_delay_s"),
        "target_15pct_met": vs[best_std]["mean_delay_s"]["pct"] <= -15.0,
        "not_worse_than_actuated": vs["actuated"]["mean_delay_s"]["ci95"][0] <= 0.0
        or vs["actuated"]["mean_delay_s"]["diff"] <= 0.0,
        "evaluations": doc["evaluations"],
        "cut_evaluations": doc["cut_evaluations"],
        "evaluations_to_within_2pct": within,
        "search_wall_s": doc["search_wall_s"],
        "wall_s": doc["wall_s"],
        "best_cycle_s": {t: p["cycle_s"] for t, p in doc["best"]["plan"].items()},
        "webster_cycle_s": {t: p["cycle_s"] for t, p in doc["webster"]["plan"].items()},
        "sumo_tool_cycle_s": {t: p["cycle_s"] for t, p in
                              doc.get("tls_cycle_adaptation", {}).get("programs", {}).items()},
        **({"design_choice": doc["design"]["choice"],
            "design_winner_control": doc["design"]["winner_control"],
            **{f"vs_{ref}": vs[ref]["mean_delay_s"]
               for ref in ("design_actuated", "sumo_rebuilt", "max_pressure") if ref in vs}}
           if doc.get("design") else {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=int, default=80)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default="arterial,grid,sumocfg")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--tune-actuated", action="store_true",
                    help="also tune actuated control (budget/4 more evaluations)")
    ap.add_argument("--design", action="store_true",
                    help="optimise --design (phasings too); results in "
                         "optimise_quality_design.json")
    args = ap.parse_args()
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    tag = "_design" if args.design else ""
    path = results_dir / f"optimise_quality{tag}.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in args.only.split(","):
        scenario, end = SCENARIOS[name]
        if not scenario.is_file():
            print(f"{name}: {scenario} not found, skipped")
            continue
        sc = ts.load_scenario(scenario, end_s=end)
        t0 = time.perf_counter()
        res = optimise(sc, out=results_dir / f"optimise_{name}{tag}", workers=args.workers,
                       settings=OptimiseSettings(budget=args.budget, seeds=(1, 2, 3),
                                                 validate_seeds=(101, 102, 103, 104, 105),
                                                 tune_actuated=args.tune_actuated,
                                                 design=args.design),
                       resume=args.resume)
        results[name] = {"scenario": str(scenario), "end_s": sc.end_s, "budget": args.budget,
                         "workers": args.workers, "tune_actuated": args.tune_actuated, **summarise(res.doc),
                         "total_wall_s": round(time.perf_counter() - t0, 1)}
        path.write_text(json.dumps(results, indent=2))
        r = results[name]
        d = r["delay_s"]
        print(f"\n{name}: mean delay [s] on unseen seeds: " + ", ".join(
            f"{p} {v:.1f}" for p, v in d.items()))
        b, a = r["vs_better_standard"], r["vs_actuated"]
        print(f"  optimised vs {r['better_standard']}: {b['pct']:+.1f}% "
              f"[{b['ci95'][0]:+.1f}, {b['ci95'][1]:+.1f}] s; vs actuated: {a['pct']:+.1f}% "
              f"[{a['ci95'][0]:+.1f}, {a['ci95'][1]:+.1f}] s; "
              f"{r['evaluations_to_within_2pct']} evaluations to within 2% of the best")


if __name__ == "__main__":
    main()

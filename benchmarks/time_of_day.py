"""Time-of-day plans on the tidal corridor: the day plan against the best single plan.

Runs ``trafficsim optimise SCENARIO --periods auto`` (one plan per period, switched by a GSP
WAUT) and reads its whole-day validation: the day plan against the best single plan tuned on
the whole window, the baseline and actuated control, paired on unseen seeds.

    nice -n 10 python benchmarks/time_of_day.py [--scenario FILE] [--budget 8] [--seeds 1]
                                                [--validate-seeds 101,102,103] [--workers 2]
                                                [--resume]

Default scenario: ``benchmarks/scenarios/tidal_day_compressed.toml`` (the tidal corridor's day
compressed 6x in time; ``--scenario scenarios/tidal_corridor.toml`` runs the real day, about
2 CPU-minutes per simulation).  Writes ``benchmarks/results/time_of_day[_TAG].json``; the run's
folder is ``benchmarks/results/time_of_day[_TAG]/`` (``--resume`` continues it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from trafficsim.optimise import OptimiseSettings
from trafficsim.optimise.day import optimise_periods

HERE = Path(__file__).resolve().parent


def summarise(doc: dict) -> dict:
    """The numbers the closing note quotes."""
    p, v = doc["periods"], doc["validation"]
    return {
        "scenario": doc["scenario"], "periods": [r["clock"] for r in p["per_period"]],
        "rule": p["rule"], "forced": p["forced_breakpoints"],
        "per_period": [{"clock": r["clock"], "objective": r["best"]["objective"],
                        "role": r["best"]["role"],
                        # the single plan on the same period's evaluation (search seeds)
                        "single_objective": r.get("single_objective"),
                        "warmup_from_s": (r.get("warmup") or {}).get("begin_s"),
                        "cycles_s": sorted({v["cycle_s"] for v in r["best"]["plan"].values()}),
                        "timings": timings(r["best"]["plan"])}
                       for r in p["per_period"]],
        "single_cycles_s": sorted({v["cycle_s"] for v in p["single"]["plan"].values()}),
        "single_timings": timings(p["single"]["plan"]),
        "switch_check": p["switch_check"],
        "delay_s": {k: row["mean_delay_s"] for k, row in v["plans"].items()},
        "day_plan_vs": {k: row["mean_delay_s"] for k, row in v["day_plan_vs"].items()},
        "validate_seeds": v["seeds"], "search_seeds": doc["seeds"], "budget": doc["budget"],
        "wall_s": doc["wall_s"],
        "delay_by_period_s": delay_by_period(doc),
        # the same by the period each vehicle departed in (its whole delay)
        "delay_by_departure_s": delay_by_departure(doc),
    }


def timings(plan: dict) -> dict:
    """Per light: cycle, offset and stage greens [s] (what differs between periods)."""
    return {t: {"cycle_s": v.get("cycle_s"), "offset_s": v.get("offset_s"),
                "greens_s": v.get("greens_s")} for t, v in sorted(plan.items())}


def delay_by_period(doc: dict) -> list[dict]:
    """Mean delay per plan in each period's window, from the validation's 5-minute series."""
    import csv

    path = HERE / "results" / doc["_folder"] / "validation" / "timeseries.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in doc["periods"]["per_period"]:
        b, e = r["begin_s"], r["end_s"]
        row = {"period": r["clock"]}
        for plan in ("baseline", "actuated", "single", "day_plan"):
            v = [float(x["mean_delay_s"]) for x in rows if x["plan"] == plan
                 and b <= float(x["bin_begin_s"]) < e and x["mean_delay_s"] not in ("", "nan")]
            row[plan] = sum(v) / len(v) if v else None
        out.append(row)
    return out


def delay_by_departure(doc: dict, plans: tuple[str, ...] = ("single", "day_plan")) -> list[dict]:
    """Mean delay per plan of the vehicles departing in each period, per flow too.

    From the validation's trip outputs: each vehicle's whole delay (to its arrival, or to the
    window's end) counted in the period it wanted to depart in, mean over the unseen seeds.
    """
    import numpy as np

    from trafficsim.compare import read_trip_outputs
    from trafficsim.optimise.evaluation import departing_from
    from trafficsim.outputs import vehicle_delays

    cases = HERE / "results" / doc["_folder"] / "validation" / "cases"
    if not cases.is_dir():
        return []
    end = doc["window"]["end_s"]
    out = []
    for r in doc["periods"]["per_period"]:
        b, e = r["begin_s"], r["end_s"]
        row: dict = {"period": r["clock"]}
        for plan in plans:
            means, flows = [], {}
            for seed in doc["validation"]["seeds"]:
                trips, stats, veh = read_trip_outputs(cases / plan / f"seed_{seed}", plan)
                t_in, v_in = departing_from(trips, veh, b)
                t_out, v_out = departing_from(t_in, v_in, e)
                d_in, _, ids_in = vehicle_delays(t_in, v_in, stats, end)
                _, _, ids_out = vehicle_delays(t_out, v_out, stats, end)
                later = set(ids_out)
                keep = np.array([i not in later for i in ids_in], dtype=bool)
                d, ids = d_in[keep], ids_in[keep]
                means.append(float(np.mean(d)) if len(d) else float("nan"))
                for f in sorted({str(i).rsplit(".", 1)[0] for i in ids}):
                    m = np.array([str(i).rsplit(".", 1)[0] == f for i in ids])
                    flows.setdefault(f, []).append(float(np.mean(d[m])))
            row[plan] = float(np.mean(means))
            row[f"{plan}_by_flow"] = {f: round(float(np.mean(v)), 1) for f, v in flows.items()}
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", type=Path,
                    default=HERE / "scenarios" / "tidal_day_compressed.toml")
    ap.add_argument("--periods", default="auto")
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--validate-seeds", default="101,102,103")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--plan", default="baseline",
                    help="tune for this plan's measures (optimise --plan), e.g. tidal")
    ap.add_argument("--tag", default="", help="suffix of the result names (a second study)")
    ap.add_argument("--summarise", action="store_true",
                    help="only rewrite the summary from the run's optimise.json")
    a = ap.parse_args()
    name = "time_of_day" + (f"_{a.tag}" if a.tag else "")
    out = HERE / "results" / name
    if a.summarise:
        doc = json.loads((out / "optimise.json").read_text(encoding="utf-8"))
        old = json.loads((HERE / "results" / f"{name}.json").read_text(encoding="utf-8"))
        summary = summarise(doc | {"_folder": name}) | {"bench_wall_s": old.get("bench_wall_s")}
        (HERE / "results" / f"{name}.json").write_text(json.dumps(summary, indent=2),
                                                      encoding="utf-8")
        print(json.dumps(summary, indent=2))
        return
    settings = OptimiseSettings(budget=a.budget, seeds=tuple(map(int, a.seeds.split(","))),
                                validate_seeds=tuple(map(int, a.validate_seeds.split(","))),
                                plan=a.plan)
    t0 = time.perf_counter()
    res = optimise_periods(a.scenario, a.periods, out=out, settings=settings,
                           workers=a.workers, resume=a.resume, progress=False)
    summary = summarise(res.doc | {"_folder": name}) | {"bench_wall_s": round(time.perf_counter() - t0, 1)}
    path = HERE / "results" / f"{name}.json"
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

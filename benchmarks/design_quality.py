"""Quality of ``trafficsim optimise --design`` on networks nobody here designed (issue 11 §4).

For each benchmark network of ``design_networks.py`` (built on first use) every control runs on
the unseen seeds (default 101..105; the search and Webster's calibration use 1, 2, 3), paired:

- ``baseline`` (shipped static), ``webster``, ``actuated`` (same phases), ``rebuilt_actuated``
  (SUMO's ``netconvert --tls.rebuild --tls.default-type actuated``);
- ``max_pressure`` when ``signal_plan`` offers ``control = "max_pressure"`` (on the network's
  transitions);
- every yardstick again with ITE intergreens (yellow from the approach speed, all-red from the
  clearing distance, pedestrian walk and clearance), as every program ``--design`` outputs has
  them: ``baseline_ite`` (the shipped phases on the shipped cycle: the longer transitions come
  out of the greens, shared as the shipped greens share the time above the minimum greens;
  ``design_networks.keep_cycle``), ``webster_ite`` (Webster with the ITE intergreens as lost
  time, same lane flows), ``actuated_ite`` (``intergreens = "ite"``), ``rebuilt_actuated_ite``
  and ``max_pressure_ite``;
- ``designed``: the winner of ``trafficsim optimise NAME.toml --design`` (search seeds 1, 2, 3)
  when the command has that flag; otherwise skipped with a message.

Targets: designed ≤ 0.85 × the better of static and Webster, and ≤ 0.90 × the best of actuated,
rebuilt actuated and max-pressure (mean delay; ratios of the means over the same seeds, with a
95% interval from the paired differences).  Judged twice: ``targets_ite`` (primary: every
yardstick with ITE intergreens, the same safety as the designed plan) and ``targets`` (the
yardsticks on the network's transitions, netconvert's 3 s yellow and no all-red).

    python benchmarks/design_quality.py [--only rand_a,lust_district] [--seeds 101,...,105]
                                        [--budget auto|N] [--workers 2] [--end S]
                                        [--no-design] [--resume]

``--budget auto`` sizes the design search to about 22 minutes of SUMO time on ``--workers``
cores from the measured wall time of one Webster (ITE) run (3 search seeds per candidate).
``--resume`` keeps every (network, plan) already measured with the same seeds and window, and
continues an interrupted ``--design`` search; ``--redesign`` (with ``--resume``) searches afresh
(the old search folder is kept as ``design.prev``).  Writes ``benchmarks/results/design_quality.json``;
the networks and searches stay under ``benchmarks/results/design_nets/`` (not committed).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import design_networks as nets

import trafficsim as ts
from trafficsim.compare import simulate
from trafficsim.measures.signal_plan import CONTROLS
from trafficsim.stats import mean_ci, paired_difference

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "design_quality.json"
SEARCH_SEEDS = "1,2,3"
STATIC = ("baseline", "webster")
ADAPTIVE = ("actuated", "rebuilt_actuated", "max_pressure")
#: The same yardsticks with ITE intergreens (the primary regime: the designed plan's safety).
STATIC_ITE = ("baseline_ite", "webster_ite")
ADAPTIVE_ITE = ("actuated_ite", "rebuilt_actuated_ite", "max_pressure_ite")
TARGET_STATIC, TARGET_ADAPTIVE = 0.85, 0.90
#: SUMO time a design search may take, with head room under the 30-minute limit. [s]
SEARCH_BUDGET_S = 22 * 60


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``trafficsim`` command of the package this process imported.

    ``python -m`` puts its working folder first on ``sys.path``: it runs in the package's
    checkout, so that ``PYTHONPATH=../other-branch`` measures that branch throughout.
    """
    return subprocess.run([sys.executable, "-m", "trafficsim.cli", *args], capture_output=True,
                          text=True, check=False, cwd=Path(ts.__file__).resolve().parents[1])


def design_available() -> bool:
    """Whether ``trafficsim optimise`` has ``--design`` (another branch is building it)."""
    out = cli("optimise", "--help").stdout
    return "--design" in out


def _file_plan(name: str, description: str, file: str) -> str:
    return (f'\n[plans.{name}]\ndescription = "{description}"\n[[plans.{name}.measures]]\n'
            f'type = "signal_plan"\nfile = "{file}"\n')


def extra_plans(design_file: Path | None, d: Path | None = None) -> str:
    """TOML of the plans the scenario file leaves as stubs, for what trafficsim offers now.

    With the network's folder ``d``: the yardsticks with ITE intergreens whose files are there.
    """
    text = ""
    ite = {} if d is None else {k: f for k, f in nets.ITE_FILES.items() if (d / f).is_file()}
    if "baseline_ite" in ite:
        text += _file_plan("baseline_ite", "The shipped static programs, ITE intergreens, "
                           "shipped cycle", ite["baseline_ite"])
    if "webster_ite" in ite:
        text += _file_plan("webster_ite", "Webster timings, ITE intergreens", ite["webster_ite"])
    text += ('\n[plans.actuated_ite]\ndescription = "SUMO actuated control on the shipped '
             'phases, ITE intergreens"\n[[plans.actuated_ite.measures]]\ntype = "signal_plan"\n'
             'control = "actuated"\nintergreens = "ite"\n')
    if "rebuilt_actuated_ite" in ite:
        text += _file_plan("rebuilt_actuated_ite", "SUMO's rebuilt actuated programs, ITE "
                           "intergreens", ite["rebuilt_actuated_ite"])
    if "max_pressure" in CONTROLS:
        text += ('\n[plans.max_pressure]\ndescription = "Max-pressure control (trafficsim)"\n'
                 '[[plans.max_pressure.measures]]\ntype = "signal_plan"\n'
                 'control = "max_pressure"\n')
        # the same with ITE intergreens, as the designed programs have them (a fairness check:
        # the network's transitions have a 3 s yellow and no all-red)
        text += ('\n[plans.max_pressure_ite]\ndescription = "Max-pressure control, ITE '
                 'intergreens"\n[[plans.max_pressure_ite.measures]]\ntype = "signal_plan"\n'
                 'control = "max_pressure"\nintergreens = "ite"\n')
    if design_file is not None:
        text += ('\n[plans.designed]\ndescription = "trafficsim optimise --design"\n'
                 '[[plans.designed.measures]]\ntype = "signal_plan"\n'
                 f'file = "{design_file.as_posix()}"\n')
    return text


def bench_scenario(toml: Path, design_file: Path | None, end_s: float | None) -> ts.Scenario:
    """The network's scenario with the extra plans (written beside it: paths stay relative)."""
    bench = toml.with_name(toml.stem + ".bench.toml")
    bench.write_text(toml.read_text(encoding="utf-8") + extra_plans(design_file, toml.parent),
                     encoding="utf-8")
    return ts.load_scenario(bench, end_s=end_s)


def measure_plan(sc: ts.Scenario, plan: str, seeds: list[int], workers: int) -> dict[str, Any]:
    """Run one plan on the seeds: per-seed delay, run health and wall times."""
    t0 = time.perf_counter()
    res = simulate(sc, plan, seeds=seeds, workers=workers, progress=False)
    runs = [res.run(plan, s) for s in seeds]
    return {
        "mean_delay_s": [r.metrics["mean_delay_s"] for r in runs],
        "teleports": [int(r.metrics["teleports"]) for r in runs],
        "unfinished_veh": [int(r.metrics["unfinished_veh"]) for r in runs],
        "throughput_veh": [int(r.metrics["throughput_veh"]) for r in runs],
        "gridlock": [r.health.gridlock for r in runs],
        "run_wall_s": [round(r.wall_s, 2) for r in runs],
        "approach_delay_s": approach_delays(runs),
        "wall_s": round(time.perf_counter() - t0, 1),
        "code": code_version(),
    }


def approach_delays(runs: list[Any]) -> dict[str, dict[str, list[float]]]:
    """Junction → approach (``ALL``: the junction) → [volume [veh], control delay [s]], means
    over the runs: where a plan wins or loses."""
    acc: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in runs:
        for j in r.junctions:
            acc.setdefault((str(j["junction"]), str(j["approach"])), []).append(
                (float(j["volume_veh"]), float(j["mean_delay_s"])))
    out: dict[str, dict[str, list[float]]] = {}
    for (junction, approach), vals in sorted(acc.items()):
        delays = [d for _, d in vals if math.isfinite(d)]
        out.setdefault(junction, {})[approach] = [
            round(sum(v for v, _ in vals) / len(vals), 1),
            round(sum(delays) / len(delays), 2) if delays else None]  # type: ignore[list-item]
    return out


def auto_budget(run_wall_s: float, workers: int) -> int:
    """Candidates that fit :data:`SEARCH_BUDGET_S` at 3 search seeds each.

    ``run_wall_s`` is the wall time of one run of a plan like those the search tries
    (:func:`typical_run_wall`).  ``--design`` tunes actuated and coordinated control too
    (budget/3 more candidates each), hence the 5/3.
    """
    per_candidate_s = 3 * run_wall_s / workers
    return max(20, min(400, math.floor(SEARCH_BUDGET_S / (5 / 3 * per_candidate_s))))


def typical_run_wall(plans: dict[str, dict[str, Any]]) -> float:
    """Mean wall time of one run of Webster with ITE intergreens [s] (else of the baseline).

    The search starts there and its candidates stay near it; the shipped static plan is a
    poor guide (on rand_b its congested runs took 4× as long, so the budget hit its floor).
    """
    for p in ("webster_ite", "baseline"):
        if p in plans:
            w = plans[p]["run_wall_s"]
            return float(sum(w) / len(w))
    raise KeyError("no baseline run measured")


@functools.cache
def code_version() -> str:
    """Which trafficsim measured: its checkout's folder and commit (results may mix branches)."""
    pkg = Path(ts.__file__).resolve().parent
    head = subprocess.run(["git", "-C", str(pkg), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    return f"{pkg.parent.name}@{head or 'unknown'}"


def run_design(toml: Path, out: Path, budget: int, workers: int, end_s: float | None,
               resume: bool) -> dict[str, Any]:
    """``trafficsim optimise --design`` on the search seeds; its plan file and wall time."""
    cmd = ["optimise", str(toml.resolve()), "--design",
           "--budget", str(budget), "--workers", str(workers), "--seeds", SEARCH_SEEDS,
           "--out", str(out.resolve()), "--no-validate", "--quiet"]
    if end_s is not None:
        cmd += ["--end", f"{end_s:g}"]
    if resume and (out / "journal.jsonl").is_file():
        cmd.append("--resume")
    code = code_version()  # (the code the search loads now: the checkout may move on meanwhile)
    t0 = time.perf_counter()
    proc = cli(*cmd)
    wall = round(time.perf_counter() - t0, 1)
    plan = out / "signal_plan.add.xml"
    if proc.returncode != 0 or not plan.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"ok": False, "wall_s": wall, "error": "\n".join(tail)}
    doc = json.loads((out / "optimise.json").read_text()) if (out / "optimise.json").is_file() else {}
    return {"ok": True, "budget": budget, "wall_s": wall, "file": str(plan), "code": code,
            "evaluations": doc.get("evaluations"), "winner": doc.get("best", {}).get("role")}


def ratio(cand: list[float], ref: list[float]) -> dict[str, Any]:
    """Mean ratio of a candidate to a reference, its interval from the paired difference."""
    d = paired_difference(cand, ref)
    m = sum(ref) / len(ref)
    lo, hi = d.ci95
    return {"ratio": (m + d.diff) / m,
            "ci95": [(m + lo) / m if math.isfinite(lo) else None,
                     (m + hi) / m if math.isfinite(hi) else None]}


def judge(plans: dict[str, dict[str, Any]], static_set: tuple[str, ...] = STATIC,
          adaptive_set: tuple[str, ...] = ADAPTIVE) -> dict[str, Any]:
    """The issue's two ratios (and, without a designed plan, where the yardsticks stand)."""
    delay = {p: sum(v["mean_delay_s"]) / len(v["mean_delay_s"]) for p, v in plans.items()}
    if not any(p in delay for p in static_set):
        return {}
    static = min((p for p in static_set if p in delay), key=delay.__getitem__)
    adaptive = [p for p in adaptive_set if p in delay]
    best_adaptive = min(adaptive, key=delay.__getitem__) if adaptive else None
    out: dict[str, Any] = {"better_static": static, "best_adaptive": best_adaptive}
    if best_adaptive is not None:
        out["best_adaptive_vs_better_static"] = ratio(plans[best_adaptive]["mean_delay_s"],
                                                      plans[static]["mean_delay_s"])
    if "designed" in plans:
        d = plans["designed"]["mean_delay_s"]
        out["designed_vs_static"] = r1 = ratio(d, plans[static]["mean_delay_s"])
        ok = r1["ratio"] <= TARGET_STATIC
        if best_adaptive is not None:
            out["designed_vs_adaptive"] = r2 = ratio(d, plans[best_adaptive]["mean_delay_s"])
            ok = ok and r2["ratio"] <= TARGET_ADAPTIVE
        out["target_met"] = ok
    return out


def bench_network(name: str, args: argparse.Namespace, previous: dict[str, Any],
                  with_design: bool) -> dict[str, Any] | None:
    """Measure every control on one network (building it first if needed); None: skipped.

    With ``--resume``, plans measured before on the same seeds and window are kept.
    """
    toml = nets.build(name)
    if toml is None:
        return None
    d = toml.parent
    seeds = args.seeds
    same = (previous.get("seeds") == seeds and previous.get("end_s") == args.end)
    plans: dict[str, Any] = dict(previous.get("plans", {})) if (args.resume and same) else {}
    design: dict[str, Any] = dict(previous.get("design", {})) if (args.resume and same) else {}
    if args.redesign:
        design = {}
        plans.pop("designed", None)
        # the old search's journal would be replayed by --resume (its candidates measured by
        # the old code), and without --resume optimise refuses an --out holding a journal
        if (d / "design").is_dir():
            shutil.rmtree(d / "design.prev", ignore_errors=True)
            (d / "design").rename(d / "design.prev")
    meta = json.loads((d / "meta.json").read_text())
    if any(not (d / f).is_file() for f in nets.ITE_FILES.values()) or "ite" not in meta:
        print(f"{name}: writing the yardsticks with ITE intergreens ...", flush=True)
        meta["ite"] = nets.ite_yardsticks(toml, d)
        (d / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    sc = bench_scenario(toml, None, args.end)
    print(f"\n{name}: {sc.description}")
    for p in sc.plans:
        if p not in plans:
            plans[p] = measure_plan(sc, p, seeds, args.workers)
            _print_plan(p, plans[p])
    if with_design:
        if not design.get("ok"):
            run_wall = typical_run_wall(plans)
            budget = (auto_budget(run_wall, args.workers) if args.budget == "auto"
                      else int(args.budget))
            print(f"  designing (budget {budget}) ...", flush=True)
            design = run_design(toml, d / "design", budget, args.workers, args.end, args.resume)
            if not design["ok"]:
                print(f"  optimise --design failed: {design['error']}")
        if design.get("ok") and "designed" not in plans:
            sc = bench_scenario(toml, Path(design["file"]).relative_to(d), args.end)
            plans["designed"] = measure_plan(sc, "designed", seeds, args.workers)
            _print_plan("designed", plans["designed"])
    elif not design.get("ok"):  # a search kept by --resume stays on record
        design = {"ok": False, "skipped": "trafficsim optimise has no --design yet"
                  if not args.no_design else "--no-design"}
    return {"scenario": str(toml.relative_to(HERE.parent)), "seeds": seeds, "end_s": args.end,
            "network": {k: meta.get(k) for k in ("description", "traffic_lights",
                                                 "signals_with_2_stages", "edges", "demand",
                                                 "rebuilt_actuated", "ite")},
            "plans": plans, "design": design, "targets": judge(plans),
            "targets_ite": judge(plans, STATIC_ITE, ADAPTIVE_ITE), "primary": "targets_ite"}


def _print_plan(plan: str, v: dict[str, Any]) -> None:
    e = mean_ci(v["mean_delay_s"])
    lo, hi = e.ci95
    print(f"  {plan:17s} delay {e.mean:7.1f} s [{lo:6.1f}, {hi:6.1f}]  teleports "
          f"{sum(v['teleports'])}  unfinished {sum(v['unfinished_veh']) / len(v['unfinished_veh']):.0f}"
          f"  gridlock {sum(v['gridlock'])}  wall {v['wall_s']:.0f} s", flush=True)


def print_table(results: dict[str, Any]) -> None:
    """Mean delay per control with its 95% interval, and the target ratios of both regimes."""
    print("\nmean delay [s] on the unseen seeds, 95% CI; ratios (95% CI): designed / better "
          f"static (≤ {TARGET_STATIC}), designed / best adaptive (≤ {TARGET_ADAPTIVE})")
    for name, r in results.items():
        des = r.get("design", {})
        wall = f"design search {des['wall_s']:.0f} s" if des.get("ok") else "no design search"
        print(f"\n{name} ({wall})")
        for net_plan, ite_plan in (("baseline", "baseline_ite"), ("webster", "webster_ite"),
                                   ("actuated", "actuated_ite"),
                                   ("rebuilt_actuated", "rebuilt_actuated_ite"),
                                   ("max_pressure", "max_pressure_ite"), ("designed", None)):
            cells = [_cell(r["plans"].get(net_plan)),
                     _cell(r["plans"].get(ite_plan)) if ite_plan else ""]
            print(f"  {net_plan:17s} network {cells[0]:>22s}   ITE {cells[1]:>22s}")
        for key, label in (("targets_ite", "ITE (primary)"), ("targets", "network")):
            t = r.get(key, {})
            rs, ra = t.get("designed_vs_static"), t.get("designed_vs_adaptive")
            print(f"  {label:14s} vs {t.get('better_static')}: {_r(rs)}; vs "
                  f"{t.get('best_adaptive')}: {_r(ra)}; met: {t.get('target_met')}")


def _cell(v: dict[str, Any] | None) -> str:
    if v is None:
        return "-"
    e = mean_ci(v["mean_delay_s"])
    return f"{e.mean:6.1f} [{e.ci95[0]:5.1f},{e.ci95[1]:5.1f}]"


def _r(x: dict[str, Any] | None) -> str:
    if x is None:
        return "-"
    lo, hi = x["ci95"]
    return f"{x['ratio']:.3f} [{_f(lo)}, {_f(hi)}]"


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(nets.NETWORKS))
    ap.add_argument("--seeds", default="101,102,103,104,105")
    ap.add_argument("--budget", default="auto", help="design search budget: auto or a number")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--end", type=float, default=None, help="cut the window to END seconds")
    ap.add_argument("--no-design", action="store_true", help="skip optimise --design")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--redesign", action="store_true",
                    help="with --resume: run the design search again (and its plan)")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.budget != "auto" and not args.budget.isdigit():
        ap.error(f"--budget {args.budget!r}: expected 'auto' or a whole number")
    names = [n for n in args.only.split(",") if n]
    if unknown := [n for n in names if n not in nets.NETWORKS]:
        ap.error(f"unknown network {unknown[0]!r}; networks: {', '.join(nets.NETWORKS)}")
    with_design = not args.no_design and design_available()
    if not with_design and not args.no_design:
        print("trafficsim optimise has no --design yet: the designed plan is skipped")
    doc = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results = doc.get("networks", {})
    t0 = time.perf_counter()
    for name in names:
        r = bench_network(name, args, results.get(name, {}), with_design)
        if r is None:
            continue
        results[name] = r
        # re-read: another run (--only OTHER) may have written its networks meanwhile
        doc = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        doc.setdefault("networks", {})[name] = r
        RESULTS.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print_table({n: results[n] for n in names if n in results})
    print(f"\ntotal wall time {time.perf_counter() - t0:.0f} s; written to {RESULTS}")


if __name__ == "__main__":
    main()

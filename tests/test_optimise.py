"""The optimiser on a small real crossing: encoding, early cut, journal and resume, CLI, Dask."""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, build_net
from trafficsim.cli import main
from trafficsim.optimise import Encoding, OptimiseSettings, optimise
from trafficsim.outputs import read_csv
from trafficsim.signals import read_plan
from trafficsim.sumo import run_sumo_monitored, run_tool


@pytest.fixture
def cross_sc(tmp_path: Path) -> Path:
    build_net("cross", tmp_path)
    sc = tmp_path / "cross.toml"
    sc.write_text((DATA / "cross.toml").read_text())
    return sc


def _journal(out: Path, *, proposed: bool = True) -> list[dict]:
    """Journal entries in the order the search proposed them (or as they completed)."""
    text = (out / "journal.jsonl").read_text()
    # a line the SIGKILL cut short is not an evaluation (the resumed run truncates it)
    lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    entries = [json.loads(line) for line in lines]
    return sorted(entries, key=lambda e: e["n"]) if proposed else entries


@pytest.mark.sumo
def test_encoding_respects_min_greens_and_cycle(tmp_path: Path) -> None:
    net = build_net("cross", tmp_path)
    start = read_plan(net)
    enc = Encoding(start, min_cycle_s=30, max_cycle_s=120)
    assert enc.dim == 2  # cycle and one split (a single traffic light has no offset to tune)
    rng = np.random.default_rng(0)
    lo, hi = np.array(enc.bounds).T
    for x in rng.uniform(lo, hi, size=(200, enc.dim)):
        p = enc.decode(x)["ctrl"]
        assert p.cycle_s == round(x[0])
        assert all(g >= m for g, m in zip(p.greens_s, p.min_greens_s, strict=True))
        assert p.intergreens_s == (3, 3)  # yellow kept from the network
    # the network's own plan is representable exactly
    assert enc.decode(enc.encode(start)).key() == start.key()


@pytest.mark.sumo
def test_monitored_run_matches_a_plain_run(cross_sc: Path, tmp_path: Path) -> None:
    """Stepping through TraCI to watch the delay changes nothing in SUMO's results."""
    from trafficsim.compare import simulate

    simulate(cross_sc, seeds=[3], out=tmp_path / "o", progress=False)
    case = tmp_path / "o/cases/baseline/seed_3/case.sumocfg"
    plain = read_csv(case.parent / "tripinfo.csv")
    bounds: list[tuple[float, float]] = []
    optimistic: dict[float, float] = {}

    def stop(t: float, d: float) -> bool:
        if t not in optimistic:  # first the cheap optimistic value: ask for the exact bound
            optimistic[t] = d
            return True
        bounds.append((t, d))
        return False

    mon = run_sumo_monitored(case, seed=3, timeout_s=60, end_s=600, check_every_s=100,
                             stop=stop)
    assert mon.stopped_at_s is None
    watched = read_csv(case.parent / "tripinfo.csv")
    assert np.array_equal(plain["timeLoss"], watched["timeLoss"])
    # the delay bound grows and never exceeds the final total delay
    final = float(np.sum(plain["timeLoss"] + plain["departDelay"]))
    assert all(b1 <= b2 for (_, b1), (_, b2) in itertools.pairwise(bounds))
    assert 0 < bounds[-1][1] <= final + 1e-6
    assert all(optimistic[t] >= d for t, d in bounds)


def _settings(**kw) -> OptimiseSettings:
    base = {"budget": 14, "seeds": (1, 2), "validate": False, "compare_sumo_webster": False,
            "check_every_s": 100.0}
    return OptimiseSettings(**(base | kw))


@pytest.mark.sumo
@pytest.mark.slow
def test_early_cut_never_changes_the_search(cross_sc: Path, tmp_path: Path) -> None:
    """Same candidates in the same order and the same winner with and without cutting; every
    cut value is a lower bound of that plan's full value."""
    # search seed 2: a run in which the population's worst plan is bad enough for cuts to happen;
    # the whole budget to DE (the pattern search after it never cuts)
    full = optimise(cross_sc, out=tmp_path / "full",
                    settings=_settings(early_cut=False, rng_seed=2, refine_share=0.0), workers=1,
                    progress=False)
    cut = optimise(cross_sc, out=tmp_path / "cut",
                   settings=_settings(rng_seed=2, refine_share=0.0), workers=1, progress=False)
    jf, jc = _journal(tmp_path / "full"), _journal(tmp_path / "cut")
    assert [e["key"] for e in jf] == [e["key"] for e in jc]
    assert full.doc["best"]["key"] == cut.doc["best"]["key"]
    exact = {e["key"]: e["objective"] for e in jf}
    cuts = [e for e in jc if e["cut"]]
    assert cuts, "the test needs at least one cut candidate"
    for e in cuts:
        assert e["objective"] <= exact[e["key"]] + 1e-9
        seed, t_s = e["cut_at"]
        assert len(e["per_seed"]) < 2 and (t_s < 600 or seed == 1)  # simulation was skipped
    # the optimiser beats the network's equal split on the search seeds
    assert cut.doc["best"]["objective"] < cut.doc["start"]["objective"]


def _simulated_s(entries: list[dict], seeds: tuple[int, ...], window_s: float) -> float:
    """Simulated time the evaluations took: whole seeds, and a cut run up to its cut. [s]"""
    total = 0.0
    for e in entries:
        if e["cut"]:
            seed, t_s = e["cut_at"]
            total += seeds.index(seed) * window_s + t_s
        else:
            total += len(seeds) * window_s
    return total


@pytest.mark.sumo
@pytest.mark.slow
def test_first_population_cut_keeps_the_winner_and_saves_simulation(cross_sc: Path,
                                                                    tmp_path: Path) -> None:
    """A hopeless member of DE's first population (search seed 11: 9 s of green for the heavy
    north-south road, ~88 s mean delay against Webster's 11.5 s) is cut at the objective cap
    (3x the best reference plan) before its runs end: the same plans in the same order, the
    same winner with the same objective, less simulated time."""
    kw = {"rng_seed": 11, "refine_share": 0.0, "budget": 12}
    full = optimise(cross_sc, out=tmp_path / "full", settings=_settings(early_cut=False, **kw),
                    workers=2, progress=False)
    cut = optimise(cross_sc, out=tmp_path / "cut", settings=_settings(**kw), workers=2,
                   progress=False)
    jf, jc = _journal(tmp_path / "full"), _journal(tmp_path / "cut")
    assert [e["key"] for e in jf] == [e["key"] for e in jc]
    assert full.doc["best"]["key"] == cut.doc["best"]["key"]
    assert full.doc["best"]["objective"] == cut.doc["best"]["objective"]
    exact = {e["key"]: e["objective"] for e in jf}
    ref = min(exact[jf[0]["key"]], exact[jf[1]["key"]])  # starting plan and Webster
    pop = 5  # DE's first population here (budget 12, two decision variables)
    first = [e for e in jc[2:2 + pop] if e["cut"]]
    assert first, "the test needs a first-population candidate past the cap"
    for e in first:
        assert exact[e["key"]] > 3 * ref  # it was hopeless: it can never win
        assert 3 * ref < e["objective"] <= exact[e["key"]] + 1e-9  # cut at the cap, a bound
        seed, _ = e["cut_at"]
        assert seed == 1 and len(e["per_seed"]) < 2  # its second seed was never run
    seeds = (1, 2)
    assert _simulated_s(jc, seeds, 600) <= _simulated_s(jf, seeds, 600) - 600


@pytest.mark.sumo
@pytest.mark.slow
def test_pattern_searches_cut_without_changing_a_decision(cross_sc: Path, tmp_path: Path) -> None:
    """The pattern searches (fixed-time polish, actuated and coordinated tuning) cut a neighbour
    once it is known to be worse than the incumbent: same plans, same winners as uncut."""
    kw = {"budget": 12, "refine_share": 0.5, "tune_actuated": True}
    full = optimise(cross_sc, out=tmp_path / "full", settings=_settings(early_cut=False, **kw),
                    workers=2, progress=False)
    cut = optimise(cross_sc, out=tmp_path / "cut", settings=_settings(**kw), workers=2,
                   progress=False)
    jf, jc = _journal(tmp_path / "full"), _journal(tmp_path / "cut")
    assert [e["key"] for e in jf] == [e["key"] for e in jc]
    for k in ("best", "best_fixed_time", "actuated_tuned", "coordinated"):
        a, b = full.doc[k], cut.doc[k]
        assert a["objective"] == b["objective"] and a.get("key", a["eval"]) == b.get("key",
                                                                                   b["eval"])
    exact = {e["key"]: e["objective"] for e in jf}
    cuts = [e for e in jc if e["cut"]]
    assert cuts and {e["role"] for e in cuts} <= {"refine", "actuated", "coordinated"}
    assert all(e["objective"] <= exact[e["key"]] + 1e-9 for e in cuts)


@pytest.mark.sumo
@pytest.mark.slow
def test_cli_writes_a_plan_that_sumo_loads_and_a_validation_table(cross_sc: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(["optimise", str(cross_sc), "--budget", "10", "--seeds", "1,2",
                 "--validate-seeds", "11,12,13", "--workers", "2", "--out", str(out), "--quiet"])
    assert code == 0
    doc = json.loads((out / "optimise.json").read_text())
    assert {"history", "best", "validation", "webster", "tls_cycle_adaptation"} <= set(doc)
    assert len(doc["history"]) == doc["evaluations"] <= 10
    exact = [h["objective"] for h in doc["history"] if not h["cut"]]
    assert doc["best"]["objective"] == min(exact)
    v = doc["validation"]
    assert v["seeds"] == [11, 12, 13]
    assert {"start", "webster", "actuated", "max_pressure", "optimised"} <= set(v["plans"])
    for ref in ("start", "webster", "actuated", "max_pressure"):
        d = v["optimised_vs"][ref]["mean_delay_s"]
        assert d["ci95"][0] <= d["diff"] <= d["ci95"][1]
    # the convergence picture: its best-so-far line never rises and ends at the best plan
    from trafficsim import plots

    fig = plots.optimiser_convergence(doc)
    best = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "best").get_ydata()
    assert np.all(np.diff(best) <= 0) and best[-1] == pytest.approx(doc["best"]["objective"])
    bars = [b.get_height() for b in fig.axes[1].patches]
    assert bars == pytest.approx([p["objective"]["mean"] for p in v["plans"].values()])
    # `report DIR` reads an optimise folder: validation table, convergence, the comparison
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "<h2>Signal optimisation</h2>" in page and "<h2>Comparison</h2>" in page
    # the written plan loads with sumo -a as it is and becomes the active program
    net = cross_sc.parent / "cross.net.xml"
    (tmp_path / "save.add.xml").write_text(
        '<additional><timedEvent type="SaveTLSStates" source="ctrl" dest="tls.xml"/>'
        "</additional>")
    run_tool("sumo", ["-n", str(net), "-a", f"{out / 'signal_plan.add.xml'},save.add.xml",
                      "-e", "200", "--no-step-log", "true"], cwd=tmp_path)
    progs = {e.get("programID") for e in ET.parse(tmp_path / "tls.xml").getroot()}
    assert progs == {"trafficsim"}
    best = doc["best"]["plan"]["ctrl"]
    assert sum(best["greens_s"]) + sum(best["intergreens_s"]) == best["cycle_s"]


@pytest.mark.sumo
@pytest.mark.slow
def test_resume_after_sigkill_reruns_nothing(cross_sc: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "trafficsim.cli", "optimise", str(cross_sc), "--budget", "12",
           "--seeds", "1,2", "--workers", "1", "--no-validate", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _journal(out, proposed=False)
    assert 4 <= len(before) < 12, f"killed after {len(before)} evaluations"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"resuming {out}: {len(before)} evaluations in its journal.jsonl" in done.stderr
    after = _journal(out, proposed=False)
    assert after[:len(before)] == before  # finished evaluations were not run again
    keys = [e["key"] for e in _journal(out)]
    assert len(keys) == len(set(keys)) == 12
    # the resumed run is the run that was never interrupted
    whole = tmp_path / "whole"
    subprocess.run([*cmd[:-1], str(whole)], capture_output=True, check=True)
    assert [e["key"] for e in _journal(whole)] == keys, "the resumed run differs"
    assert json.loads((out / "optimise.json").read_text())["best"]["key"] == json.loads(
        (whole / "optimise.json").read_text())["best"]["key"]
    # a finished directory is not overwritten by accident
    again = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "--resume" in again.stderr, again.stderr


@pytest.mark.sumo
@pytest.mark.slow
def test_resume_replays_many_generations(cross_sc: Path, tmp_path: Path) -> None:
    """A journal cut after several DE generations resumes into the uninterrupted run."""
    settings = _settings(budget=30)
    whole = optimise(cross_sc, out=tmp_path / "whole", settings=settings, workers=1,
                     progress=False)
    part = tmp_path / "part"
    part.mkdir()
    for name in ("optimise-state.json",):
        (part / name).write_text((tmp_path / "whole" / name).read_text())
    lines = (tmp_path / "whole" / "journal.jsonl").read_text().splitlines()
    assert len(lines) > 20  # DE generations and pattern-search steps
    k = len(lines) - 3  # cut inside the pattern search, the last line half written
    (part / "journal.jsonl").write_text("\n".join(lines[:k]) + "\n" + lines[k][:20])
    resumed = optimise(cross_sc, out=part, settings=settings, workers=1, progress=False,
                       resume=True)
    assert [e["key"] for e in _journal(part)] == [e["key"] for e in _journal(tmp_path / "whole")]
    assert resumed.doc["best"]["key"] == whole.doc["best"]["key"]
    # a finished run with an extra (actuated) phase resumes too, running only that phase
    tuned = replace(settings, tune_actuated=True)
    more = optimise(cross_sc, out=part, settings=tuned, workers=1, progress=False, resume=True)
    again = optimise(cross_sc, out=part, settings=tuned, workers=1, progress=False, resume=True)
    assert more.doc["evaluations"] == again.doc["evaluations"] <= len(lines) + 2 * 10
    assert again.doc["best"]["key"] == more.doc["best"]["key"]


@pytest.mark.sumo
@pytest.mark.slow
def test_resume_after_a_parallel_batch_was_cut_midway(cross_sc: Path, tmp_path: Path) -> None:
    """Parallel workers finish out of order: a journal may hold evaluations 7 and 9 but not 8.
    The resumed run numbers every plan as the uninterrupted one did (ties and the best plan
    follow the numbers)."""
    settings = _settings(budget=16, tune_actuated=True)
    whole = optimise(cross_sc, out=tmp_path / "whole", settings=settings, workers=2,
                     progress=False)
    entries = _journal(tmp_path / "whole")
    part = tmp_path / "part"
    part.mkdir()
    (part / "optimise-state.json").write_text((tmp_path / "whole/optimise-state.json").read_text())
    kept = [e for e in entries if e["n"] <= 12 and e["n"] != 8]
    (part / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in kept))
    resumed = optimise(cross_sc, out=part, settings=settings, workers=2, progress=False,
                       resume=True)
    assert [(e["n"], e["key"]) for e in _journal(part)] == [(e["n"], e["key"]) for e in entries]
    for k in ("best", "best_fixed_time", "actuated_tuned", "coordinated"):
        assert resumed.doc[k]["eval"] == whole.doc[k]["eval"]
    # resumed without the tuning flag: the tuned plans in the journal are left out, no crash
    plain = optimise(cross_sc, out=part, settings=replace(settings, tune_actuated=False),
                     workers=2, progress=False, resume=True)
    assert plain.doc["actuated_tuned"] is None and plain.doc["best"]["role"] not in (
        "actuated", "coordinated")


@pytest.mark.sumo
@pytest.mark.slow
def test_dask_cluster_gives_the_same_search(cross_sc: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    serial = optimise(cross_sc, out=tmp_path / "serial", settings=_settings(budget=10),
                      workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        dask = optimise(cross_sc, out=tmp_path / "dask", settings=_settings(budget=10),
                        scheduler=cluster.scheduler_address, progress=False)
    assert sorted(e["key"] for e in _journal(tmp_path / "dask")) == sorted(
        e["key"] for e in _journal(tmp_path / "serial"))
    assert dask.doc["best"]["key"] == serial.doc["best"]["key"]


@pytest.mark.sumo
@pytest.mark.slow
def test_imported_sumocfg_with_defaults(shared_data: Path, tmp_path: Path) -> None:
    """`trafficsim optimise X.sumocfg --end 600` on a third-party model, nothing else given."""
    cfg = shared_data / "single-intersection" / "single-intersection.sumocfg"
    out = tmp_path / "o"
    assert main(["optimise", str(cfg), "--end", "600", "--budget", "8", "--out", str(out),
                 "--validate-seeds", "7,8", "--quiet", "--tune-actuated"]) == 0
    doc = json.loads((out / "optimise.json").read_text())
    assert doc["best"]["plan"]["t"]["cycle_s"] > 0
    assert set(doc["validation"]["plans"]) >= {"start", "webster", "actuated", "optimised",
                                                "actuated_tuned"}
    roles = [h["role"] for h in doc["history"]]
    assert roles.count("actuated") == 10  # max(10, budget / 4) actuated settings tried
    tuned = (out / "actuated_tuned.add.xml").read_text()
    assert 'type="actuated"' in tuned and "max-gap" in tuned


def test_refine_neighbours_keep_cycles_min_greens_and_try_the_last_move_first() -> None:
    from trafficsim.optimise import neighbours
    from trafficsim.signals import Phase, Program, SignalPlan

    def prog(tls: str, main: float, side: float, offset: float) -> Program:
        return Program(tls, (Phase("GGrr", main), Phase("yyrr", 3), Phase("rrGG", side),
                             Phase("rryy", 3)), offset_s=offset)

    plan = SignalPlan((prog("A", 30, 8, 0), prog("B", 33, 5, 20)))  # B's side at its minimum
    enc = Encoding(plan, min_cycle_s=30, max_cycle_s=120)
    moves = neighbours(plan, enc, 2, 4, 4)
    kinds = [m[0] for m, _ in moves]
    assert kinds.count("green") == 3  # A both ways, B only towards its side street
    assert kinds.count("offset") == 2 and kinds.count("cycle") == 2
    for move, q in moves:
        for p, old in zip(q.programs, plan.programs, strict=True):
            assert all(g >= m for g, m in zip(p.greens_s, p.min_greens_s, strict=True))
            assert 0 <= p.offset_s < p.cycle_s
            if move[0] != "cycle":
                assert p.cycle_s == old.cycle_s
        if move[0] == "offset":
            assert q["B"].offset_s in (24, 16) and q["A"].offset_s == 0
        if move[0] == "cycle":
            assert {p.cycle_s for p in q.programs} == {44 + 4 * move[1]}
    last = moves[-3][0]
    again = neighbours(plan, enc, 2, 4, 4, first=last)
    assert again[0][0] == last and len(again) == len(moves)


@pytest.mark.sumo
def test_search_runs_are_compare_runs_without_unmeasured_metrics(cross_sc: Path,
                                                                tmp_path: Path) -> None:
    """A candidate is built and run as `compare` builds and runs a plan: the starting plan's
    search runs reproduce compare's baseline runs exactly, and a metric the lean search runs do
    not measure (emissions) is absent, never 0."""
    from trafficsim.build import LEAN_OMITS, build_case, build_plan, prepare_network
    from trafficsim.compare import compare
    from trafficsim.scenario import load_scenario

    optimise(cross_sc, out=tmp_path / "o", settings=_settings(budget=3, refine_share=0.0),
             workers=1, progress=False)
    start = next(e for e in _journal(tmp_path / "o") if e["role"] == "start")
    full = compare(cross_sc, seeds=[1, 2], out=tmp_path / "c", progress=False)
    for seed in (1, 2):
        searched, measured = start["per_seed"][str(seed)], full.run("baseline", seed).metrics
        assert "co2_kg" not in searched and "nox_kg" not in searched
        assert measured["co2_kg"] > 0
        assert searched == {k: measured[k] for k in searched}  # the same simulation
    # a lean case differs from the full one in its outputs only
    sc = load_scenario(cross_sc)
    net, _ = prepare_network(sc, tmp_path / "b")
    draft = build_plan(sc, sc.plan("baseline"), net, tmp_path / "b")

    def options(lean: bool) -> dict[str, str]:
        case = build_case(sc, sc.plan("baseline"), draft, 1, tmp_path / ("lean" if lean else "b"),
                          lean=lean)
        return {el.tag: el.get("value", "") for el in ET.parse(case.config).getroot()}

    (tmp_path / "lean" / "cases" / "baseline").mkdir(parents=True)
    shutil.copy(tmp_path / "b/cases/baseline/net.net.xml", tmp_path / "lean/cases/baseline")
    shutil.copy(tmp_path / "b/cases/baseline/measures.add.xml", tmp_path / "lean/cases/baseline")
    lean, whole = options(True), options(False)
    assert set(whole) - set(lean) == set(LEAN_OMITS)
    assert {k: v for k, v in whole.items() if k not in LEAN_OMITS} == lean


def test_the_old_module_name_is_a_deprecated_alias() -> None:
    import importlib

    with pytest.warns(DeprecationWarning, match=r"trafficsim\.optimise"):
        import trafficsim.optimize as old

        importlib.reload(old)
    assert old.optimise is optimise and old.OptimiseSettings is OptimiseSettings


@pytest.mark.sumo
def test_plan_flag_tunes_the_signals_for_that_plans_measures(cross_sc: Path,
                                                            tmp_path: Path) -> None:
    """``--plan slow``: every candidate runs with the plan's measures, so the starting plan's
    search runs are compare's runs of plan 'slow' (20 km/h on the N–S approaches: longer
    travel times than the baseline's), and an unknown plan is refused naming --plan."""
    from trafficsim.compare import compare

    cross_sc.write_text(cross_sc.read_text() + '\n[plans.slow]\n[[plans.slow.measures]]\n'
                        'type = "speed_limit"\nedges = ["NC", "SC"]\nspeed_kmh = 20\n')
    r = optimise(cross_sc, out=tmp_path / "o", workers=1, progress=False,
                 settings=_settings(budget=3, refine_share=0.0, plan="slow"))
    assert r.doc["plan"] == "slow"
    start = next(e for e in _journal(tmp_path / "o") if e["role"] == "start")
    full = compare(cross_sc, seeds=[1, 2], out=tmp_path / "c", progress=False)
    for seed in (1, 2):
        searched, slow = start["per_seed"][str(seed)], full.run("slow", seed).metrics
        assert searched == {k: slow[k] for k in searched}  # the same simulation
        assert searched["mean_travel_time_s"] > full.run("baseline", seed).metrics[
            "mean_travel_time_s"] + 5
    code = main(["optimise", str(cross_sc), "--plan", "slwo", "--out", str(tmp_path / "x"),
                 "--quiet"])
    assert code == 2


@pytest.mark.sumo
def test_plan_that_adds_signal_links_keeps_the_tuned_programs_as_written(tmp_path: Path) -> None:
    """``--plan tidal`` adds the reversible lane's links to both lights: the programs the
    optimiser reads from that plan's network must run as they are (not be fitted to the base
    network's links a second time, which gave a side street's right turn green with the main
    road): the start's search run is compare's run of plan 'tidal', and the validation case
    runs exactly the states of the written signal_plan.add.xml."""
    from trafficsim.compare import compare

    day = DATA / "day_corridor.toml"
    out = tmp_path / "o"
    optimise(day, out=out, workers=1, progress=False,
             settings=_settings(budget=3, refine_share=0.0, plan="tidal", seeds=(1,),
                                validate=True, validate_seeds=(11,)))
    start = next(e for e in _journal(out) if e["role"] == "start")
    tidal = compare(day, plans=["tidal"], seeds=[1], out=tmp_path / "c", progress=False)
    searched = start["per_seed"]["1"]
    assert searched == {k: tidal.run("tidal", 1).metrics[k] for k in searched}
    written = {(tl.get("id"), tuple(p.get("state") for p in tl.iter("phase")))
               for tl in ET.parse(out / "signal_plan.add.xml").getroot().iter("tlLogic")}
    case = out / "validation" / "cases" / "optimised"
    ran = {(tl.get("id"), tuple(p.get("state") for p in tl.iter("phase")))
           for tl in ET.parse(case / "measures.add.xml").getroot().iter("tlLogic")
           if tl.get("programID") == "trafficsim"}
    assert ran == written


@pytest.mark.parametrize(("plan", "extra", "says"), [
    ("actuated", {}, "runs its signals under actuated control"),
    ("max_pressure", {}, "under max_pressure control"),
    ("lane_use", {"design_lanes": True}, "with --design-lanes"),
    ("lane_uses", {}, "is not a plan of the scenario; plans: baseline, webster"),
])
def test_plans_the_optimiser_cannot_tune_for_are_refused_naming_the_flag(
        plan: str, extra: dict, says: str) -> None:
    from trafficsim.errors import ScenarioError
    from trafficsim.optimise.settings import check_settings
    from trafficsim.scenario import load_scenario

    sc = load_scenario(Path(__file__).parents[1] / "scenarios" / "intersection_organisation.toml")
    with pytest.raises(ScenarioError) as err:
        check_settings(sc, OptimiseSettings(plan=plan, **extra))
    (issue,) = err.value.issues
    assert issue.field == "--plan" and says in issue.message


@pytest.mark.parametrize(("settings", "flag"), [
    ({"stop_weight_s": math.nan}, "--stop-weight-s"),
    ({"stop_weight_s": -5.0}, "--stop-weight-s"),
    ({"stop_weight_s": math.inf}, "--stop-weight-s"),
    ({"rng_seed": -1}, "--rng-seed"),
])
def test_nonsense_stop_weight_and_rng_seed_are_refused_naming_the_flag(
        settings: dict, flag: str) -> None:
    """A nan, negative or infinite stop weight used to be accepted silently (performance_index_s
    then ranked every plan as nan), and ``--rng-seed -1`` ended in an internal error after the
    reference runs."""
    from trafficsim.errors import ScenarioError
    from trafficsim.optimise.settings import check_settings
    from trafficsim.scenario import load_scenario

    sc = load_scenario(Path(__file__).parents[1] / "scenarios" / "intersection_organisation.toml")
    with pytest.raises(ScenarioError) as err:
        check_settings(sc, OptimiseSettings(**settings))
    (issue,) = err.value.issues
    assert issue.field == flag

"""Time-of-day plans: the period rule, bad ``--periods``, the WAUT in SUMO, a tiny end-to-end run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, build_net
from trafficsim import safety
from trafficsim.build import prepare_network
from trafficsim.cli import main
from trafficsim.errors import ScenarioError
from trafficsim.netmodel import read_network
from trafficsim.optimise.day import PROCEDURE, day_plan_xml, period_warmup, switch_log
from trafficsim.optimise.design import network_phases
from trafficsim.optimise.evaluation import EvalTask, candidate_plan, evaluate
from trafficsim.optimise.periods import (
    Constraints,
    check_periods,
    parse_periods,
    resolve_periods,
    segment,
)
from trafficsim.outputs import read_vehicle_table
from trafficsim.scenario import BASELINE, Scenario, load_scenario
from trafficsim.signals import SignalPlan, read_plan, read_plan_file

DAY = DATA / "day_corridor.toml"
H = 3600.0


def _profile(noise: float = 20.0) -> tuple[list[float], np.ndarray]:
    """07:00–19:00 in 15-minute bins: AM peak to 09:30, midday to 16:00, PM peak after."""
    edges = [7 * H + 900 * i for i in range(49)]
    x = np.zeros((48, 3))
    x[:10] = [1200, 300, 200]
    x[10:36] = [500, 500, 250]
    x[36:] = [300, 1300, 200]
    return edges, x + np.random.default_rng(0).normal(0.0, noise, x.shape)


def test_auto_finds_the_am_midday_pm_steps_exactly() -> None:
    edges, x = _profile()
    seg = segment(edges, x, min_length_s=300)
    assert seg.periods == ((7 * H, 9.5 * H), (9.5 * H, 16 * H), (16 * H, 19 * H))
    # the rule stopped because a fourth period removes almost nothing (noise only)
    assert (seg.sse_by_k[3] - seg.sse_by_k[4]) < 0.10 * seg.total_sse
    assert seg.sse_by_k[2] - seg.sse_by_k[3] > 0.10 * seg.total_sse


def test_auto_keeps_forced_switches_and_stays_out_of_clearances() -> None:
    edges, x = _profile()
    # a tidal lane opens at 10:10 (forced) and clears 15:45–16:05 before reversing
    cons = Constraints((10 * H + 600,), ((15.75 * H, 16 * H + 300),))
    seg = segment(edges, x, min_length_s=300, constraints=cons)
    bounds = [b for b, _ in seg.periods[1:]]
    assert 10 * H + 600 in bounds
    assert not any(15.75 * H < b < 16 * H + 300 for b in bounds)
    assert 15.75 * H in bounds  # the step moves to the clearance's start, not inside it
    # the minimum length holds, and a flat profile needs only the forced boundary
    flat = segment(edges, np.ones((48, 2)), min_length_s=3 * H, constraints=cons)
    assert [b for b, _ in flat.periods[1:]] == [10 * H + 600]
    assert all(e - b >= 3 * H for b, e in flat.periods)


def test_auto_on_the_scenario_forces_the_tidal_reversal() -> None:
    periods, info = resolve_periods(load_scenario(DAY), "auto", 150.0)
    assert periods == [(7 * H, 7 * H + 600), (7 * H + 600, 7 * H + 1200)]
    assert [f["clock"] for f in info["forced_breakpoints"]] == ["07:10"]
    assert info["forbidden"] == [[7 * H + 480, 7 * H + 600]]  # the 2-minute clearance


@pytest.mark.parametrize(("spec", "expected"), [
    ("07:00-07:12,07:10-07:20", "overlap"),
    ("07:00-07:08,07:10-07:20", "gap 07:08–07:10"),
    ("07:00-07:03,07:03-07:20", "lasts 180 s; expected at least two cycles"),
    ("07:00-07:09,07:09-07:20", "inside the tidal lane's clearance interval 07:08–07:10"),
    ("07:05-07:20", "expected the window's begin 07:00"),
    ("07:00-morning", "is not a period; expected 'HH:MM-HH:MM'"),
    # a valid tiling listed out of order was sorted silently
    ("07:10-07:20,07:00-07:10", "period '07:00-07:10' is listed after '07:10-07:20', which "
                                "begins later; expected the periods in time order"),
])
def test_bad_periods_name_the_field(spec: str, expected: str,
                                    capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        resolve_periods(load_scenario(DAY), spec, 150.0)
    assert all(i.field == "--periods" for i in err.value.issues)
    assert expected in str(err.value)
    # the command line: exit 2, the message, no traceback (and no SUMO started)
    assert main(["optimise", str(DAY), "--periods", spec, "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    msg = capsys.readouterr().err
    assert "--periods" in msg and expected in msg and "Traceback" not in msg


def test_check_periods_sorts_a_valid_tiling() -> None:
    assert parse_periods("07:00-08:00,08:00-09:00") == [(7 * H, 8 * H), (8 * H, 9 * H)]
    got = check_periods([(8 * H, 9 * H), (7 * H, 8 * H)], 7 * H, 9 * H, min_length_s=300)
    assert got == [(7 * H, 8 * H), (8 * H, 9 * H)]


@pytest.mark.sumo
def test_waut_switches_programs_at_the_breakpoints_and_resynchronises(tmp_path: Path) -> None:
    """SUMO's own program log: tod1 begins at the breakpoint + at most one old cycle (GSP waits
    for the old cycle's end), and from then on its first green starts on its offset."""
    net = build_net("cross", tmp_path)
    base = read_plan(net)["ctrl"]
    am = SignalPlan((base.with_greens([30, 30]),))                # cycle 66, offset 0
    pm = SignalPlan((base.with_greens([60, 10], offset_s=20),))   # cycle 76, offset 20
    begin, brk = 1000.0, 1300.0  # refTime is the first period's start: not 0
    plan = tmp_path / "day.add.xml"
    plan.write_text(day_plan_xml([(begin, am), (brk, pm)]), encoding="utf-8")
    junction = ET.parse(plan).getroot().find("wautJunction")
    assert junction is not None and junction.get("procedure") == PROCEDURE
    log = switch_log(net, plan, begin, 2200.0, tmp_path / "log")["ctrl"]
    assert [r["program_id"] for r in log] == ["tod0", "tod1"]
    t1 = log[1]["begin_s"]
    assert brk <= t1 <= brk + am["ctrl"].cycle_s
    assert t1 % am["ctrl"].cycle_s == 0  # the old program ran to its cycle's end
    # after the stretched first green, tod1 runs on its own offset
    prog = ET.parse(tmp_path / "log" / "prog_0.xml").getroot()
    t, starts = begin, []
    for tl in prog.iter("tlLogic"):
        for ph in tl.iter("phase"):
            if tl.get("programID") == "tod1" and ph.get("state") == base.phases[0].state:
                starts.append(t)
            t += float(ph.get("duration", 0))
    assert len(starts) >= 3
    assert starts[0] == t1
    assert all((s - 20.0) % 76.0 == 0 for s in starts[1:])


@pytest.mark.sumo
def test_actuated_programs_switch_immediately(tmp_path: Path) -> None:
    """GSP would wait forever for an actuated program's switching point: such a light gets
    SUMO's immediate switch, and SUMO's log shows it at the breakpoint."""
    net = build_net("cross", tmp_path)
    static = read_plan(net)
    act = static.actuated()
    plan = tmp_path / "day.add.xml"
    plan.write_text(day_plan_xml([(0.0, static), (300.0, act)]), encoding="utf-8")
    junction = ET.parse(plan).getroot().find("wautJunction")
    assert junction is not None and junction.get("procedure") is None
    log = switch_log(net, plan, 0.0, 600.0, tmp_path / "log")["ctrl"]
    assert [(r["program_id"], r["begin_s"]) for r in log] == [("tod0", 0.0), ("tod1", 300.0)]


@pytest.mark.sumo
@pytest.mark.slow  # three optimiser runs and a resume: ~12 s on an idle core, 27 s under load
def test_tiny_periods_run_writes_one_day_plan_that_bare_sumo_switches(tmp_path: Path) -> None:
    out = tmp_path / "o"
    args = ["optimise", str(DAY), "--periods", "auto", "--budget", "3", "--seeds", "1",
            "--no-validate", "--out", str(out), "--quiet"]
    assert main(args) == 0
    root = ET.parse(out / "signal_plan.add.xml").getroot()
    ids = {(tl.get("id"), tl.get("programID")) for tl in root.iter("tlLogic")}
    assert ids == {(t, p) for t in ("J1", "J2") for p in ("tod0", "tod1")}
    assert [s.get("time") for s in root.iter("wautSwitch")] == ["600"]  # from refTime 07:00
    doc = json.loads((out / "optimise.json").read_text())
    p = doc["periods"]
    assert p["breakpoints"] == ["07:10"] and p["procedure"] == "GSP"
    assert p["switch_check"]["ok"], p["switch_check"]
    for t in ("J1", "J2"):  # SUMO switched each light at 07:10 (within one cycle)
        first, second = p["switch_log"][t]
        assert first["program_id"] == "tod0" and second["program_id"] == "tod1"
        assert 7 * H + 600 <= second["begin_s"] <= 7 * H + 600 + 150
    assert p["per_period"][1]["warm_started"]  # from period 0's winner
    # period 1 ran after a warm-up from 07:00 on period 0's winner, scored from 07:10
    w = p["per_period"][1]["warmup"]
    assert (w["begin_s"], w["scored_from_s"]) == (7 * H, 7 * H + 600)
    assert w["programs"] == [{"begin_s": 7 * H, "program_id": "tod0"}]
    assert p["per_period"][0]["warmup"] is None
    # every period's search was offered the single plan: no winner is worse on its seeds
    for r in p["per_period"]:
        assert r["best"]["objective"] <= r["single_objective"]
    # the report: the section, both periods' timing diagrams and the program log
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    sec = page[page.index("Time-of-day plans"):]
    assert sec.count("<img") >= 3 and "tod1" in sec and "single plan" in sec
    # --resume re-runs no evaluation: every period's journal is replayed
    sizes = [len((out / "periods" / f"p{i}" / "journal.jsonl").read_text().splitlines())
             for i in range(2)]
    assert main([*args, "--resume"]) == 0
    assert sizes == [len((out / "periods" / f"p{i}" / "journal.jsonl").read_text()
                         .splitlines()) for i in range(2)]


def _period_eval(sc: Scenario, warm: list[tuple[float, SignalPlan]], plan: SignalPlan,
                 root: Path) -> tuple[dict[str, float], Path]:
    """Evaluate ``plan`` on 07:10–07:20 after a 10-minute warm-up running ``warm`` (seed 1)."""
    psc, warmup = period_warmup(sc, 7 * H + 600, 7 * H + 1200, warm, 600.0)
    net, _ = prepare_network(psc, root / "net")
    task = EvalTask(key="k", scenario=psc, plan=candidate_plan(psc.plan(BASELINE), "k", plan,
                                                               root / "plan.add.xml", warmup),
                    base_net=net, seeds=(1,), root=root / "eval", objective="mean_delay_s",
                    keep=True, score_from_s=warmup.score_from_s if warmup else None)
    return evaluate(task).per_seed[1], root / "eval"


@pytest.mark.sumo
def test_queues_carried_in_from_an_oversaturated_period_raise_the_period_delay(
        tmp_path: Path) -> None:
    """Same plan, same period: after a warm-up that starves the main street (5 s of green in
    90), the period's own vehicles queue behind the carried-in queue and lose more time than
    from an empty network; vehicles that departed in the warm-up are not scored."""
    sc = load_scenario(DAY)
    good = read_plan(prepare_network(sc, tmp_path / "n")[0]).with_program_id("good")  # 42+42
    starving = SignalPlan(tuple(p.with_greens([5.0, 79.0]) for p in good.programs))
    empty, _ = _period_eval(sc, [], good, tmp_path / "empty")
    calm, _ = _period_eval(sc, [(7 * H, good)], good, tmp_path / "calm")
    jam, folder = _period_eval(sc, [(7 * H, starving)], good, tmp_path / "jam")
    assert jam["mean_delay_s"] > 1.5 * empty["mean_delay_s"], (jam, empty)
    assert jam["mean_delay_s"] > 1.5 * calm["mean_delay_s"], (jam, calm)
    # the scored vehicles are exactly those that wanted to depart in the period
    veh = read_vehicle_table(next(folder.rglob("vehicles.csv")))
    in_period = int(np.count_nonzero(veh["depart_s"] >= 7 * H + 600))
    assert 0 < in_period < len(veh["depart_s"])
    assert jam["throughput_veh"] + jam["unfinished_veh"] == in_period
    assert calm["throughput_veh"] + calm["unfinished_veh"] == in_period


@pytest.mark.sumo
@pytest.mark.slow  # three --design searches (phasing, timings, actuated tuning): ~1 min
def test_periods_with_design_write_safe_programs_that_sumo_switches(tmp_path: Path) -> None:
    """``--periods`` with ``--design``: every period's program in the day plan is safe on the
    network (conflicts, intergreens, minimum greens) and SUMO's own log shows every light
    switching to each period's program at its breakpoint (within one old cycle)."""
    out = tmp_path / "o"
    assert main(["optimise", str(DAY), "--periods", "auto", "--design", "--budget", "3",
                 "--seeds", "1", "--no-validate", "--out", str(out), "--quiet"]) == 0
    net = read_network(out / "single" / "work" / "network" / "net.net.xml")
    start = {p.tls_id: p for p in read_plan_file(out / "periods" / "p0" / "start.add.xml")[0]}
    progs, _ = read_plan_file(out / "signal_plan.add.xml")
    assert {(p.tls_id, p.program_id) for p in progs} == {
        (t, f"tod{i}") for t in ("J1", "J2") for i in range(2)}
    for prog in progs:
        issues = safety.program_issues(net, prog)
        # never two conflicting movements green together, whatever the phasing
        assert not [i for i in issues if "green together" in i], issues
        # generated phases are safe in full (a light that kept the network's phases keeps its
        # 3 s yellows, short of ITE's 3.28 s here: those are SUMO's, not the design's)
        if not network_phases(prog, start[prog.tls_id]):
            assert issues == [], (prog.tls_id, prog.program_id)
    p = json.loads((out / "optimise.json").read_text())["periods"]
    assert p["switch_check"]["ok"], p["switch_check"]
    kinds = {(q.tls_id, q.program_id): q.kind for q in progs}
    for t in ("J1", "J2"):
        assert [r["program_id"] for r in p["switch_log"][t]] == ["tod0", "tod1"]
        switched = p["switch_log"][t][1]["begin_s"]
        assert 7 * H + 600 <= switched <= 7 * H + 600 + 150
        if "actuated" in (kinds[t, "tod0"], kinds[t, "tod1"]):  # immediate: at the breakpoint
            assert p["procedure_by_light"][t] == "immediate" and switched == 7 * H + 600


@pytest.mark.sumo
@pytest.mark.slow  # two tiny searches, the single plan and a one-seed validation: ~20 s
def test_periods_with_plan_tune_the_day_for_the_tidal_lane(tmp_path: Path) -> None:
    """``--periods --plan tidal``: the tidal lane opens inbound before the second period and
    outbound after the first, so each period runs with windows reaching outside it (checked
    against the day, not refused), and the validation's start row is the plan 'tidal' as
    compare runs it: the same delay to the bit."""
    from trafficsim.compare import compare

    out = tmp_path / "o"
    assert main(["optimise", str(DAY), "--periods", "07:00-07:10,07:10-07:20", "--plan",
                 "tidal", "--budget", "3", "--seeds", "1", "--validate-seeds", "11", "--out",
                 str(out), "--quiet"]) == 0
    doc = json.loads((out / "optimise.json").read_text())
    assert doc["plan"] == "tidal"
    start = doc["validation"]["plans"]["start"]["mean_delay_s"]["mean"]
    tidal = compare(DAY, plans=["baseline", "tidal"], seeds=[11], out=tmp_path / "c",
                    progress=False)
    assert start == tidal.run("tidal", 11).metrics["mean_delay_s"]
    assert start != tidal.run("baseline", 11).metrics["mean_delay_s"]

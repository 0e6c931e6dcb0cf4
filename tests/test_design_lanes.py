"""``optimise --design-lanes`` on a real junction with a heavy left turn.

Re-markings are proposed where the turning volumes call for them and nowhere else; the plan
the search writes as ``design.toml`` validates when pasted into the scenario and ``compare``
runs it; the patched ``network.net.xml`` loads in a bare ``sumo`` with its
``signal_plan.add.xml``; an interrupted lane search resumes without re-running anything.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA
from trafficsim.build import prepare_network
from trafficsim.cli import main
from trafficsim.compare import compare
from trafficsim.measures.lane_use import LaneUse
from trafficsim.netmodel import read_network
from trafficsim.optimise import OptimiseSettings, optimise
from trafficsim.optimise.lanes import MIN_LEFT_VEH_H, propose, survey, write_lane_outputs
from trafficsim.scenario import BASELINE, PlanSpec, load_scenario
from trafficsim.signals import read_plan
from trafficsim.sumo import run_tool

SCENARIO = DATA / "heavy_left.toml"


def _flows(net_path: Path, per_movement: dict[tuple[str, str], float]) -> dict[str, float]:
    """Counts on the junction's internal lanes as the starting plan's runs give them. [veh/h]"""
    net = read_network(net_path)
    links: dict[tuple[str, str], list[str]] = {}
    for c in net.connections:
        if c.tl and c.via and not c.from_edge.startswith(":"):
            links.setdefault((c.from_edge, c.to_edge), []).append(c.via)
    out: dict[str, float] = {}
    for move, q in per_movement.items():
        for via in links[move]:
            out[via] = q / len(links[move])
    return out


@pytest.mark.sumo
def test_a_heavy_left_gets_re_markings_balanced_turns_none(tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO)
    net_path, _ = prepare_network(sc, tmp_path)
    net = read_network(net_path)
    heavy = _flows(net_path, {("W_J1", "J1_E"): 550, ("W_J1", "J1_N1"): 300,
                              ("E_J1", "J1_W"): 500, ("N1_J1", "J1_S1"): 150})
    cands, skipped = propose(net, survey(net, heavy), sc, net_path)
    # the west approach only: its left turn shares the median lane with the through traffic
    assert {c.approach for c in cands} == {"W_J1"}
    marks = {c.name: c.measures[0] for c in cands}
    assert {"left_lane", "left_pocket"} <= set(marks)
    own, pocket = marks["left_lane"], marks["left_pocket"]
    assert isinstance(own, LaneUse) and isinstance(pocket, LaneUse)
    assert own.lanes == ("L", "TR") and own.pocket_m is None
    assert pocket.lanes == ("L", "T", "TR") and pocket.pocket_m == 60
    # SUMO's programs here let the left turn go permissively: no waiting area, and why
    assert "protected green" in skipped["W_J1:waiting_area:J1_N1"]
    assert "no call" in skipped["E_J1"]
    # balanced turning volumes: below the left-turn lane warrant, nothing is proposed
    balanced = _flows(net_path, {("W_J1", "J1_E"): 550, ("W_J1", "J1_N1"): 60,
                                 ("W_J1", "J1_S1"): 60, ("E_J1", "J1_W"): 500})
    assert MIN_LEFT_VEH_H > 60
    cands, skipped = propose(net, survey(net, balanced), sc, net_path)
    assert cands == []
    assert "no call" in skipped["W_J1"]


@pytest.mark.sumo
def test_a_protected_heavy_left_gets_a_waiting_area_and_no_re_marking(tmp_path: Path) -> None:
    from tests.test_waiting_area import SCENARIO as WAITING
    from tests.test_waiting_area import build_junction

    build_junction(tmp_path)
    (tmp_path / "waiting.toml").write_text(WAITING)
    sc = load_scenario(tmp_path / "waiting.toml")
    net_path, _ = prepare_network(sc, tmp_path / "work")
    net = read_network(net_path)
    flows = _flows(net_path, {("W_C", "C_N"): 250, ("W_C", "C_E"): 600, ("E_C", "C_W"): 700,
                              ("E_C", "C_S"): 150, ("N_C", "C_S"): 300})
    cands, skipped = propose(net, survey(net, flows), sc, net_path)
    # both arterial lefts have a lane of their own and a protected stage after the through
    # stage: each is offered a waiting area, and no re-marking (a third of the lanes for a
    # left turn that is less than a third of the flow)
    assert {(c.approach, c.name) for c in cands} == {("W_C", "waiting_area:C_N"),
                                                     ("E_C", "waiting_area:C_S")}
    assert [c.approach for c in cands] == ["W_C", "E_C"]  # heaviest left first
    assert "no call for a re-marking" in skipped["W_C"]
    # the side road's left is permissive: no left flow here, nothing offered
    assert "no call" in skipped["N_C"]


def _paste(scenario: Path, design_toml: Path) -> Path:
    text = scenario.read_text() + "\n" + design_toml.read_text()
    scenario.write_text(text)
    return scenario


@pytest.mark.sumo
def test_a_written_lane_plan_validates_runs_and_loads_in_bare_sumo(tmp_path: Path) -> None:
    scenario = tmp_path / "heavy_left.toml"
    shutil.copyfile(SCENARIO, scenario)
    sc = load_scenario(scenario)
    base_net, _ = prepare_network(sc, tmp_path / "work")
    out = tmp_path / "out"
    out.mkdir()
    plan = read_plan(base_net).with_program_id("ts_design")
    plan.write(out / "design_signal_plan.add.xml")
    pocket = LaneUse("W_J1", ("L", "T", "TR"), pocket_m=60.0)
    files = write_lane_outputs(sc, sc.plan(BASELINE), base_net, out, (pocket,), plan,
                               "design_signal_plan.add.xml")
    assert set(files["files"]) == {"network", "signal_plan", "design_toml", "plan_file"}
    # the patched network: the pocket's lane and the left turn from it alone
    net = read_network(out / "network.net.xml")
    assert len(net.edges["W_J1"].lanes) == 3
    lefts = {c.from_lane for c in net.connections if c.from_edge == "W_J1"
             and c.to_edge == "J1_N1"}
    assert lefts == {2}
    # pasted into the scenario, the plan validates, and compare runs it with every vehicle
    # of the demand accounted for (no route lost its lane)
    _paste(scenario, out / "design.toml")
    assert main(["validate", str(scenario)]) == 0
    res = compare(load_scenario(scenario), plans=["designed"], seeds=[1],
                  out=tmp_path / "cmp", progress=False, workers=1)
    base, des = res.run(BASELINE, 1).metrics, res.run("designed", 1).metrics
    assert des["teleports"] == 0
    assert (des["throughput_veh"] + des["unfinished_veh"]
            == base["throughput_veh"] + base["unfinished_veh"])
    # bare sumo: the patched network with its programs, which become the active ones
    (tmp_path / "save.add.xml").write_text(
        '<additional><timedEvent type="SaveTLSStates" source="J1" dest="tls.xml"/>'
        "</additional>")
    run_tool("sumo", ["-n", str(out / "network.net.xml"),
                      "-a", f"{out / 'signal_plan.add.xml'},save.add.xml",
                      "-e", "120", "--no-step-log", "true"], cwd=tmp_path)
    states = ET.parse(tmp_path / "tls.xml").getroot()
    assert {e.get("programID") for e in states} == {"ts_design"}
    n_links = 1 + max(c.link_index for c in net.connections if c.tl == "J1")
    assert {len(e.get("state", "")) for e in states} == {n_links}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("dlanes")
    scenario = d / "heavy_left.toml"
    shutil.copyfile(SCENARIO, scenario)
    out = d / "out"
    optimise(scenario, out=out, settings=_settings(), workers=2, progress=False)
    return scenario, out


def test_the_lane_limit_rule() -> None:
    """Its share, no more than leaves one plan for the timings, at least one batch."""
    from trafficsim.optimise.lanes import lane_limit

    assert lane_limit(3, 14, 0.3, 2) == 3 + 4          # round(14 × 0.3) = 4
    assert lane_limit(3, 14, 0.01, 2) == 3 + 2         # the share rounds to 0: one batch
    assert lane_limit(10, 14, 0.5, 2) == 13            # budget − 1
    assert lane_limit(3, 3, 0.01, 3) == 6              # one batch even past --budget
    assert lane_limit(3, 14, 0.3, 0) == 7              # no candidates: the share (unused)


@pytest.mark.sumo
def test_a_tiny_lane_share_runs_exactly_one_batch(tmp_path: Path) -> None:
    """``--budget 3 --lanes-share 0.01``: the phasing choice uses the budget; the lane search
    still runs its one batch (both W_J1 candidates with the incumbent's programs; it ran none)
    and nothing more (no re-designed phasings), as the journal counts."""
    s = OptimiseSettings(budget=3, seeds=(1,), validate=False, compare_sumo_webster=False,
                         check_every_s=100.0, design_lanes=True, lanes_share=0.01)
    optimise(SCENARIO, out=tmp_path / "o", settings=s, workers=2, progress=False)
    roles = [json.loads(line)["role"]
             for line in (tmp_path / "o/journal.jsonl").read_text().splitlines()]
    assert roles.count("lanes") == 2  # (a re-designed phasing would be a third)
    assert roles.count("start") + roles.count("webster") + roles.count("design") == 3
    doc = json.loads((tmp_path / "o/optimise.json").read_text())
    tried = doc["design"]["lanes"]["candidates"]
    assert {c["name"] for c in tried} == {"left_lane", "left_pocket"}
    assert all(c.get("objective_carried") is not None for c in tried)


def _settings() -> OptimiseSettings:
    return OptimiseSettings(budget=14, seeds=(1,), validate_seeds=(101, 102),
                            compare_sumo_webster=False, check_every_s=100.0,
                            design_lanes=True, lanes_share=0.5)


@pytest.mark.sumo
@pytest.mark.slow
def test_the_lane_search_tries_the_heavy_left_and_writes_its_winner(
        searched: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, out = searched
    doc = json.loads((out / "optimise.json").read_text())
    lanes = doc["design"]["lanes"]
    tried = lanes["candidates"]
    assert tried and {c["approach"] for c in tried} == {"W_J1"}
    assert {c["measures"][0]["type"] for c in tried} == {"lane_use"}
    kept = [c for c in tried if c["decision"] == "kept"]
    assert len(kept) <= 1  # one re-marking per approach
    for c in kept:  # kept only if it beat the incumbent by the margin
        assert c["objective"] < c["bar"]
    layout = lanes["layout"]
    assert layout == (kept[0]["measures"] if kept else [])
    toml = (out / "design.toml").read_text()
    assert ('type = "lane_use"' in toml) == (lanes["winner_on_lanes"] and bool(layout))
    # the validation ran the winner (on its lanes) against the baseline and the signals alone
    vs = doc["validation"]["optimised_vs"]
    assert {"start", "design_signals"} <= set(vs)
    # pasted into the scenario, the plan validates
    pasted = tmp_path / "heavy_left.toml"
    shutil.copyfile(scenario, pasted)
    text = toml.replace('file = "out/', f'file = "{out.as_posix()}/')
    pasted.write_text(pasted.read_text() + "\n" + text)
    assert main(["validate", str(pasted)]) == 0


@pytest.mark.sumo
@pytest.mark.slow
def test_a_resumed_lane_search_re_runs_nothing(searched: tuple[Path, Path]) -> None:
    scenario, out = searched
    before = json.loads((out / "optimise.json").read_text())
    n = len((out / "journal.jsonl").read_text().splitlines())
    s = _settings()
    s.validate = False
    optimise(scenario, out=out, settings=s, workers=2, progress=False, resume=True)
    after = json.loads((out / "optimise.json").read_text())
    assert len((out / "journal.jsonl").read_text().splitlines()) == n
    assert after["best"]["key"] == before["best"]["key"]
    assert after["design"]["lanes"]["candidates"] == before["design"]["lanes"]["candidates"]


def test_a_u_turn_of_the_median_lane_stays_with_the_left_lane() -> None:
    """Edge '9' of a netgenerate network, ["LTU", "T"]: the left lane candidate was ["L", "T"],
    which leaves the u-turn without a lane; lane_use refused it and it was never tried."""
    from trafficsim.optimise.lanes import Approach, _markings

    a = Approach(edge="9", tls="8", marking=("LTU", "T"), length_m=200.0,
                 flows_veh_h={"T": 134.0, "L": 206.0, "U": 12.0}, to_edges={})
    marks = {name: m.lanes for name, m in _markings(a)}
    assert marks["left_lane"] == ("LU", "T")
    assert marks["left_pocket"] == ("L", "TU", "T")  # the u-turn keeps its lane beside the pocket
    # a u-turn another lane serves too is not repeated on the left lane
    b = Approach(edge="9", tls="8", marking=("LTU", "TU"), length_m=200.0,
                 flows_veh_h={"T": 134.0, "L": 206.0, "U": 12.0}, to_edges={})
    assert {name: m.lanes for name, m in _markings(b)}["left_lane"] == ("L", "TU")


def test_a_pocket_never_leaves_a_lane_for_u_turns_alone() -> None:
    """["LU", "T", "TR"] (an outside check's netgenerate approach): the pocket candidate was
    ["L", "U", "T", "TR"], a whole lane for u-turns only; the u-turn now goes with the left
    turn into the pocket and the old median lane carries through traffic."""
    from trafficsim.optimise.lanes import Approach, _markings

    flows = {"T": 400.0, "L": 300.0, "U": 10.0, "R": 100.0}
    a = Approach(edge="7", tls="6", marking=("LU", "T", "TR"), length_m=200.0,
                 flows_veh_h=flows, to_edges={})
    marks = {name: m.lanes for name, m in _markings(a)}
    assert marks["left_pocket"] == ("LU", "T", "T", "TR")
    for lanes in marks.values():
        assert all(set(lane) - {"U"} for lane in lanes), marks
    # with no through movement to give the old median lane, no pocket is offered
    b = Approach(edge="7", tls="6", marking=("LU", "R"), length_m=200.0,
                 flows_veh_h={"L": 300.0, "U": 10.0, "R": 100.0}, to_edges={})
    assert "left_pocket" not in {name for name, _ in _markings(b)}
    # nor a "left lane" that is the lane it already has
    assert "left_lane" not in {name for name, _ in _markings(b)}


def _break_sumo_input(monkeypatch: pytest.MonkeyPatch, which: Callable[[PlanSpec], bool]) -> None:
    """Cut the network of the cases of plans ``which`` picks short: SUMO itself refuses it."""
    import trafficsim.optimise.evaluation as evaluation

    build = evaluation.build_case

    def broken(sc: Any, plan: PlanSpec, *args: Any, **kwargs: Any) -> Any:
        case = build(sc, plan, *args, **kwargs)
        if which(plan):
            case.net.write_text(case.net.read_text()[:5000])
        return case

    monkeypatch.setattr(evaluation, "build_case", broken)


def _is_pocket(plan: PlanSpec) -> bool:
    return any(isinstance(m, LaneUse) and m.pocket_m for m in plan.measures)


@pytest.mark.sumo
@pytest.mark.slow
def test_a_lane_candidate_whose_sumo_run_fails_is_journalled_and_the_search_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One candidate of the batch (the pocket) has a network SUMO refuses: the optimise used
    to end with exit 1.  Now its failure (SUMO's own error) is journalled, the other candidate
    decides the approach, and ``--resume`` answers the failed one from the journal."""
    _break_sumo_input(monkeypatch, _is_pocket)
    s = OptimiseSettings(budget=3, seeds=(1,), validate=False, compare_sumo_webster=False,
                         check_every_s=100.0, design_lanes=True, lanes_share=0.01)
    out = tmp_path / "o"
    optimise(SCENARIO, out=out, settings=s, workers=1, progress=False)
    lines = (out / "journal.jsonl").read_text().splitlines()
    lanes = [json.loads(ln) for ln in lines if json.loads(ln)["role"] == "lanes"]
    failed = [e for e in lanes if e.get("error")]
    assert len(lanes) == 2 and len(failed) == 1
    assert "Error" in failed[0]["error"] and failed[0]["objective"] is None
    doc = json.loads((out / "optimise.json").read_text())
    assert doc["failed_evaluations"] == 1
    rows = {c["name"]: c for c in doc["design"]["lanes"]["candidates"]}
    assert rows["left_pocket"]["decision"] == "error" and "Error" in rows["left_pocket"]["error"]
    assert rows["left_lane"]["objective_carried"] > 0  # the other candidate ran
    assert doc["best"]["key"] != failed[0]["key"]
    # resumed, still broken: nothing runs again (a retried failure would add a line)
    optimise(SCENARIO, out=out, settings=s, workers=1, progress=False, resume=True)
    assert (out / "journal.jsonl").read_text().splitlines() == lines


@pytest.mark.sumo
def test_a_starting_plan_sumo_refuses_still_ends_the_optimise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        ) -> None:
    """Every plan is judged against the starting plan: its failure stays fatal (exit 1 with
    SUMO's text) and is not journalled, so a resumed run tries it again."""
    _break_sumo_input(monkeypatch, lambda plan: True)
    out = tmp_path / "o"
    assert main(["optimise", str(SCENARIO), "--design", "--budget", "3", "--seeds", "1",
                 "--out", str(out), "--quiet", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "Error" in err and "Traceback" not in err
    journal = out / "journal.jsonl"
    assert not journal.exists() or not journal.read_text().strip()


def test_a_failed_evaluation_survives_the_journal_as_strict_json(tmp_path: Path) -> None:
    """A failed plan: objective null (not the non-JSON Infinity), its error kept; read back,
    its objective is infinite, so it never wins."""
    import math

    from trafficsim.optimise.journal import Journal, JournalEntry

    j = Journal(tmp_path / "journal.jsonl")
    j.add(JournalEntry(n=1, key="a", role="lanes", objective=math.inf, cut=False, cut_at=None,
                       per_seed={}, wall_s=0.0, sumo_wall_s=0.0, error="sumo failed"))
    line = (tmp_path / "journal.jsonl").read_text()
    assert json.loads(line, parse_constant=lambda c: pytest.fail(c))["objective"] is None
    e = Journal(tmp_path / "journal.jsonl").entries["a"]
    assert e.objective == math.inf and e.error == "sumo failed"

"""``optimise --design`` on two real junctions with heavy left turns.

The written plan loads with a bare ``sumo -a`` on the unchanged network and becomes the active
program; every program the design outputs is safe (also where it keeps the network's phases);
the winner is no worse than the starting plan on the search seeds; an interrupted design search
resumes without re-running anything.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import DATA
from trafficsim import safety
from trafficsim.netmodel import read_network
from trafficsim.optimise import OptimiseSettings, optimise
from trafficsim.optimise.design import MIN_GAIN, NETWORK, network_phases
from trafficsim.signals import read_plan_file
from trafficsim.sumo import run_tool

SCENARIO = DATA / "left_turn_pair.toml"


def _settings(**kw: object) -> OptimiseSettings:
    # the phasing phase may take nearly all of the budget: one full pass over both lights
    base: dict[str, object] = {"budget": 14, "seeds": (1,), "validate": False,
                               "compare_sumo_webster": False, "check_every_s": 100.0,
                               "design": True, "design_share": 0.9}
    return OptimiseSettings(**(base | kw))  # type: ignore[arg-type]


def _keys(out: Path) -> list[str]:
    lines = (out / "journal.jsonl").read_text().splitlines()
    return [e["key"] for e in sorted(map(json.loads, lines), key=lambda e: e["n"])]


@pytest.fixture(scope="module")
def designed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("design") / "out"
    optimise(SCENARIO, out=out, settings=_settings(), workers=2, progress=False)
    return out


@pytest.mark.sumo
def test_the_design_loads_with_bare_sumo_on_the_unchanged_network(designed: Path,
                                                                  tmp_path: Path) -> None:
    net = designed / "work" / "network" / "net.net.xml"
    assert net.is_file()
    (tmp_path / "save.add.xml").write_text(
        "<additional>" + "".join(f'<timedEvent type="SaveTLSStates" source="{t}" dest="tls.xml"/>'
                                 for t in ("J1", "J2")) + "</additional>")
    run_tool("sumo", ["-n", str(net), "-a", f"{designed / 'signal_plan.add.xml'},save.add.xml",
                      "-e", "120", "--no-step-log", "true"], cwd=tmp_path)
    states = ET.parse(tmp_path / "tls.xml").getroot()
    assert {e.get("programID") for e in states} == {"ts_design"}
    assert {e.get("id") for e in states} == {"J1", "J2"}
    # the network's own programs are still there, untouched
    assert {p.program_id for p in read_network(net).programs} == {"0"}


@pytest.mark.sumo
def test_every_generated_program_is_safe_and_the_design_beats_the_start(designed: Path) -> None:
    doc = json.loads((designed / "optimise.json").read_text())
    net = read_network(designed / "work" / "network" / "net.net.xml")
    start = {p.tls_id: p for p in read_plan_file(designed / "start.add.xml")[0]}
    generated = 0
    d = doc["design"]
    assert d["kept_unsafe"] == {} and d["not_designed"] == {}
    for name in ("signal_plan", "design_fixed", "design_actuated"):
        for prog in read_plan_file(designed / f"{name}.add.xml")[0]:
            # every program, also where a light keeps the network's phases: they get ITE
            # transitions (the network's 3 s yellows are short of ITE's 3.28 s here)
            assert safety.program_issues(net, prog) == [], (name, prog.tls_id)
            generated += not network_phases(prog, start[prog.tls_id])
    # the starting plan (the network's transitions) is a reference, never the design's winner
    assert doc["best"]["role"] != "start"
    if any(kind != NETWORK for kind in d["choice"].values()):
        assert generated
    assert set(d["choice"]) == {"J1", "J2"} == set(d["phasing_choice"])
    # "choice" names what the winner runs: where it is the network's, so are its stages
    winner = {p.tls_id: p for p in read_plan_file(designed / "signal_plan.add.xml")[0]}
    for tls, kind in d["choice"].items():
        assert network_phases(winner[tls], start[tls]) == (kind == NETWORK), (tls, kind)
        assert kind in d["options"][tls]
        assert len(d["options"][tls]) > 1  # the junctions had phasings to choose from
        # every alternative was simulated (or cut, known worse) against the network's phases
        assert set(d["tried"][tls]) == set(d["options"][tls])
    # no phasing tried beat the chosen one by MIN_GAIN (or it would have been taken); the
    # chosen one is no worse than Webster on the network's phases; the winner no worse than both
    rows = {h["key"]: h for h in doc["history"]}
    chosen = rows[d["designed_key"]]["objective"]
    exact = [h["objective"] for h in doc["history"] if h["role"] == "design" and not h["cut"]]
    assert all(v >= chosen - MIN_GAIN * abs(chosen) - 1e-9 for v in exact)
    assert doc["best"]["objective"] <= chosen <= doc["webster"]["objective"]
    assert doc["best"]["objective"] <= doc["start"]["objective"]
    assert d["winner_control"] in ("fixed_time", "actuated", "coordinated")
    assert all(p["program_id"] == "ts_design" for p in doc["best"]["plan"].values())


@pytest.mark.sumo
@pytest.mark.slow
def test_an_interrupted_design_search_resumes_into_the_same_search(designed: Path,
                                                                   tmp_path: Path) -> None:
    lines = (designed / "journal.jsonl").read_text().splitlines()
    roles = [json.loads(ln)["role"] for ln in lines]
    k = max(i for i, r in enumerate(roles) if r == "design")  # cut inside the phasing phase
    part = tmp_path / "part"
    part.mkdir()
    (part / "optimise-state.json").write_text((designed / "optimise-state.json").read_text())
    (part / "journal.jsonl").write_text("\n".join(lines[:k]) + "\n" + lines[k][:25])
    resumed = optimise(SCENARIO, out=part, settings=_settings(), workers=2, progress=False,
                       resume=True)
    after = (part / "journal.jsonl").read_text().splitlines()
    assert after[:k] == lines[:k]  # the journalled evaluations were not run again
    assert _keys(part) == _keys(designed)
    whole = json.loads((designed / "optimise.json").read_text())
    assert resumed.doc["best"]["key"] == whole["best"]["key"]
    assert resumed.doc["design"]["choice"] == whole["design"]["choice"]


def test_an_unsafe_plan_is_never_simulated_nor_budgeted(tmp_path: Path) -> None:
    from trafficsim.optimise.journal import Journal
    from trafficsim.optimise.search import Search
    from trafficsim.parallel import SerialExecutor
    from trafficsim.signals import Phase, Program, SignalPlan

    plan = SignalPlan((Program("t", (Phase("Gr", 10.0), Phase("yr", 1.0), Phase("rG", 10.0),
                                     Phase("ry", 1.0))),))
    journal = Journal(tmp_path / "journal.jsonl")
    search = Search(None, OptimiseSettings(), tmp_path, tmp_path, SerialExecutor(),  # type: ignore[arg-type]
                    journal, (1,), None, tmp_path, limit=5)  # type: ignore[arg-type]
    search.check = lambda p: ["t: 1 s of yellow"]
    assert search.run_batch([("k", plan, "design", None)]) == [float("inf")]
    assert len(journal) == 0 and not search.numbers  # nothing ran, the budget is untouched
    assert search.rejected == {"k": ["t: 1 s of yellow"]}


@pytest.mark.sumo
def test_the_cli_says_which_phasing_won_per_light(designed: Path) -> None:
    from trafficsim.cli import format_optimisation

    doc = json.loads((designed / "optimise.json").read_text())
    text = format_optimisation(doc)
    assert "phase design" in text
    for tls, kind in doc["design"]["choice"].items():
        assert any(line.split()[:2] == [tls, kind] for line in text.splitlines())


def test_a_design_share_out_of_range_names_the_flag(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from trafficsim.cli import main

    code = main(["optimise", str(SCENARIO), "--design", "--design-share", "1.5",
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--design-share" in err and "(0, 1)" in err

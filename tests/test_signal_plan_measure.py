"""The signal_plan measure: plan files, SUMO actuated and Webster programs through a scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import DATA
from trafficsim.errors import ScenarioError
from trafficsim.outputs import read_csv

# J1 of the small corridor: phase 0 serves the main road, phase 2 the side street N1–S1.
STARVE = """<additional>
  <tlLogic id="J1" type="static" programID="starve" offset="0">
    <phase duration="79" state="rrrGGgrrrGGg"/>
    <phase duration="3" state="rrryyyrrryyy"/>
    <phase duration="5" state="GGgrrrGGgrrr"/>
    <phase duration="3" state="yyyrrryyyrrr"/>
  </tlLogic>
</additional>
"""


def _scenario(tmp_path: Path, plans: str) -> Path:
    (tmp_path / "starve.add.xml").write_text(STARVE)
    sc = tmp_path / "sc.toml"
    sc.write_text((DATA / "small_corridor.toml").read_text().split("[plans.slow]")[0] + plans)
    return sc


@pytest.mark.sumo
def test_a_plan_file_starving_the_side_street_delays_it(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, """
[plans.starve]
[[plans.starve.measures]]
type = "signal_plan"
file = "starve.add.xml"
[plans.actuated]
[[plans.actuated.measures]]
type = "signal_plan"
control = "actuated"
[plans.webster]
[[plans.webster.measures]]
type = "signal_plan"
control = "webster"
flows_veh_h = { W_J1 = 500, N1_J1 = 120, J2_J1 = 0, S1_J1 = 0, J1_J2 = 500, E_J2 = 0, N2_J2 = 0, S2_J2 = 0 }
""")
    r = ts.compare(sc, seeds=[1, 2], out=tmp_path / "out", progress=False)
    side = [r.run(p, s).groups["flow:N1_S2"]["mean_delay_s"] for p in ("baseline", "starve")
            for s in (1, 2)]
    assert min(side[2:]) > max(side[:2]) + 10  # 5 s of green in 90 s instead of 42
    main = [r.run(p, s).groups["flow:W_E"]["mean_delay_s"] for p in ("baseline", "starve")
            for s in (1, 2)]
    assert max(main[2:]) < min(main[:2])
    adds = (tmp_path / "out/cases/actuated/measures.add.xml").read_text()
    assert 'type="actuated"' in adds and 'minDur="5"' in adds and 'maxDur="50"' in adds
    # Webster gives the main road (y = 500/1800) far more green than the side (120/1800)
    web = (tmp_path / "out/cases/webster/measures.add.xml").read_text()
    assert 'programID="webster"' in web
    assert r.estimate("webster", "mean_delay_s").mean < r.estimate("baseline", "mean_delay_s").mean
    trips = read_csv(tmp_path / "out/cases/starve/seed_1/tripinfo.csv")
    assert len(trips["id"]) > 0
    # the report's timing diagram shows each plan's own programs, not the network's
    from trafficsim.report import all_sections, load_folder

    timing = next(fn for _, title, fn in all_sections() if title == "Signal timing")
    figs = timing(load_folder(tmp_path / "out"))
    labels = {fig.texts[0].get_text() if fig.texts else "": {t.get_text() for ax in fig.axes
                                                           for t in ax.texts} for fig in figs}
    assert "0: 79s" in labels["plan starve"] and "0: 79s" not in labels["plan baseline"]
    assert any("actuated: nominal durations" in t for t in labels["plan actuated"])


@pytest.mark.sumo
def test_unknown_traffic_light_in_a_plan_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bad.add.xml").write_text(STARVE.replace('id="J1"', 'id="J9"'))
    sc = _scenario(tmp_path, """
[plans.bad]
[[plans.bad.measures]]
type = "signal_plan"
file = "bad.add.xml"
""")
    with pytest.raises(ScenarioError, match="J9"):
        ts.compare(sc, seeds=[1], progress=False)


def test_missing_control_and_file_is_an_error(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, """
[plans.bad]
[[plans.bad.measures]]
type = "signal_plan"
""")
    with pytest.raises(ScenarioError, match="control"):
        ts.load_scenario(sc)


@pytest.mark.sumo
def test_coordinated_control_on_a_plan_file_serves_the_starved_side_street(tmp_path: Path) -> None:
    """Built on the 79/5 s plan, the side stage may run 10 s over when cars keep coming: the
    side street's delay falls, and the main road keeps its force-off."""
    sc = _scenario(tmp_path, """
[plans.starve]
[[plans.starve.measures]]
type = "signal_plan"
file = "starve.add.xml"
[plans.coordinated]
[[plans.coordinated.measures]]
type = "signal_plan"
control = "coordinated"
file = "starve.add.xml"
extension_s = 10
max_gap_s = 3
""")
    r = ts.compare(sc, seeds=[1, 2], out=tmp_path / "out", progress=False)
    side = {p: [r.run(p, s).groups["flow:N1_S2"]["mean_delay_s"] for s in (1, 2)]
            for p in ("starve", "coordinated")}
    assert all(c < s - 5 for c, s in zip(side["coordinated"], side["starve"], strict=True))
    adds = (tmp_path / "out/cases/coordinated/measures.add.xml").read_text()
    assert '<param key="coordinated" value="true"/>' in adds and "<laneAreaDetector" in adds
    assert 'earliestEnd="90" latestEnd="90"' in adds  # main green ends at the force-off
    assert not any(run.health.warnings for run in r.runs if run.plan == "coordinated")


def test_coordinated_control_needs_fixed_time_programs(tmp_path: Path) -> None:
    (tmp_path / "act.add.xml").write_text(STARVE.replace('type="static"', 'type="actuated"'))
    sc = _scenario(tmp_path, """
[plans.bad]
[[plans.bad.measures]]
type = "signal_plan"
control = "coordinated"
file = "act.add.xml"
""")
    with pytest.raises(ScenarioError, match=r"act\.add\.xml.*fixed-time"):
        ts.compare(sc, seeds=[1], progress=False)


@pytest.mark.sumo
def test_a_plan_program_overrides_the_imported_model_program(tmp_path: Path) -> None:
    """A model's own additional file (as an imported .sumocfg brings) starves the side street;
    a signal_plan measure's programs must still be the active ones in the plan's runs (SUMO
    activates the program loaded last), in compare as in the optimiser's evaluations."""
    (tmp_path / "own.add.xml").write_text(STARVE.replace('programID="starve"', 'programID="own"'))
    sc = _scenario(tmp_path, """
[plans.actuated]
[[plans.actuated.measures]]
type = "signal_plan"
control = "actuated"
""")
    sc.write_text(sc.read_text().replace(
        "[network.corridor]", '[network]\nadditional = ["own.add.xml"]\n\n[network.corridor]'))
    r = ts.compare(sc, seeds=[1], out=tmp_path / "out", progress=False)
    side = {p: r.run(p, 1).groups["flow:N1_S2"]["mean_delay_s"] for p in ("baseline", "actuated")}
    # the baseline runs the model's 5-s side green; actuated control serves the side street
    assert side["actuated"] < side["baseline"] - 10, side


@pytest.mark.sumo
def test_a_plan_file_with_conflicting_greens_is_refused(tmp_path: Path) -> None:
    """An all-green J1 (main road and side street together) validated, and SUMO ran it: its
    compare showed a 40% cut in delay.  The starving plan, safe but odd, is still accepted."""
    (tmp_path / "green.add.xml").write_text(STARVE.replace("rrrGGgrrrGGg", "GGGGGGGGGGGG"))
    sc = _scenario(tmp_path, """
[plans.green]
[[plans.green.measures]]
type = "signal_plan"
file = "green.add.xml"
[plans.starve]
[[plans.starve.measures]]
type = "signal_plan"
file = "starve.add.xml"
""")
    with pytest.raises(ScenarioError) as err:
        ts.compare(sc, seeds=[1], progress=False)
    (issue,) = err.value.issues
    assert issue.field == "plans.green.measures[0].file"
    assert "program 'starve' of traffic light 'J1' is unsafe" in issue.message
    assert "conflict and are green together; both have priority ('G')" in issue.message

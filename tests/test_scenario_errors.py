"""Bad scenario files give one clear error per problem: file, field path, bad value, what is allowed."""

from __future__ import annotations

import pytest

import trafficsim as ts
from tests.conftest import DATA
from trafficsim.build import prepare_network
from trafficsim.cli import main

GOOD = (DATA / "small_corridor.toml").read_text()


def load_text(write, text: str) -> ts.ScenarioError:
    path = write("bad.toml", text)
    with pytest.raises(ts.ScenarioError) as info:
        sc = ts.load_scenario(path)
        prepare_network(sc, path.parent / "net")
    return info.value


def fields(err: ts.ScenarioError) -> list[str]:
    return [i.field for i in err.issues]


def test_good_scenario_loads() -> None:
    sc = ts.load_scenario(DATA / "small_corridor.toml")
    assert list(sc.plans) == ["baseline", "slow"]
    assert sc.begin_s == 7 * 3600 and sc.end_s == 7 * 3600 + 900
    assert sc.demand is not None and sc.demand.flows[0].profile == (0.8, 1.0, 0.9)


def test_missing_field(write) -> None:
    err = load_text(write, GOOD.replace("spacing_m = 250\n", ""))
    assert fields(err) == ["network.corridor.spacing_m"]
    assert "bad.toml: network.corridor.spacing_m: is missing" in str(err)


def test_wrong_type(write) -> None:
    err = load_text(write, GOOD.replace("lanes = 1", 'lanes = "two"'))
    assert fields(err) == ["network.corridor.lanes"]
    assert "'two' is a string; expected an integer" in str(err)


def test_unknown_measure_suggests_the_nearest(write) -> None:
    err = load_text(write, GOOD.replace('type = "speed_limit"', 'type = "speedlimit"'))
    assert fields(err) == ["plans.slow.measures[0].type"]
    assert "Did you mean 'speed_limit'?" in str(err)


@pytest.mark.sumo
def test_unknown_edge_id_is_found_against_the_network(write) -> None:
    err = load_text(write, GOOD.replace('"J1_J2"', '"J1_J9"'))
    assert fields(err) == ["plans.slow.measures[0].edges[1]"]
    assert "edge 'J1_J9' is not in the network. Did you mean 'J1_J2'?" in str(err)


def test_negative_flow(write) -> None:
    err = load_text(write, GOOD.replace("veh_per_hour = 500", "veh_per_hour = -500"))
    assert fields(err) == ["demand.flows[0].veh_per_hour"]
    assert "-500.0 is out of range; expected ≥ 0.0 veh/h" in str(err)


def test_typo_in_key_is_flagged_with_suggestion(write) -> None:
    err = load_text(write, GOOD.replace("spacing_m = 250", "spacing_m = 250\nspaceing_m = 3"))
    assert fields(err) == ["network.corridor.spaceing_m"]
    assert "Did you mean 'spacing_m'?" in str(err)


def test_profile_length_must_cover_the_window(write) -> None:
    err = load_text(write, GOOD.replace("profile = [0.8, 1.0, 0.9]", "profile = [0.8, 1.0]"))
    assert fields(err) == ["demand.flows[0].profile"]
    assert "needs 3" in str(err)


@pytest.mark.sumo
def test_unknown_origin(write) -> None:
    err = load_text(write, GOOD.replace('from = "N1"', 'from = "N7"'))
    assert fields(err) == ["demand.flows[1].from"]
    assert "'N7' is neither a junction nor an edge" in str(err)


def test_every_error_is_listed(write) -> None:
    bad = (GOOD.replace("lanes = 1", "lanes = 0")
           .replace("veh_per_hour = 500", "veh_per_hour = -1")
           .replace('type = "speed_limit"', 'type = "nope"'))
    err = load_text(write, bad)
    assert len(err.issues) == 3


def test_invalid_toml(write) -> None:
    err = load_text(write, "name = \n")
    assert "is not valid TOML" in str(err)


def test_broken_sumocfg_path(write) -> None:
    cfg = write("model.sumocfg", '<configuration><input><net-file value="nowhere.net.xml"/>'
                                 '<route-files value="r.rou.xml"/></input>'
                                 '<time><end value="100"/></time></configuration>')
    with pytest.raises(ts.ScenarioError) as info:
        ts.load_scenario(cfg)
    text = str(info.value)
    assert "model.sumocfg: input.net-file: = 'nowhere.net.xml': file not found" in text
    assert "input.route-files" in text


@pytest.mark.sumo
def test_cli_validate_lists_errors_without_traceback(write, capsys) -> None:
    bad = write("bad.toml", GOOD.replace('"J1_J2"', '"J1_J9"').replace("lanes = 1", "lanes = 1.5"))
    good = DATA / "small_corridor.toml"
    code = main(["validate", str(good), str(bad)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "small_corridor.toml: OK" in out
    assert "bad.toml: 1 error" in err and "network.corridor.lanes" in err
    assert "Traceback" not in err


def test_cli_reports_unknown_plan(capsys) -> None:
    code = main(["run", str(DATA / "small_corridor.toml"), "--plan", "slwo", "--quiet"])
    assert code == 2
    assert "Did you mean 'slow'?" in capsys.readouterr().err


def test_end_override_shortens_profiles() -> None:
    sc = ts.load_scenario(DATA / "small_corridor.toml", end_s=7 * 3600 + 600)
    assert sc.end_s == 7 * 3600 + 600
    assert sc.demand is not None and sc.demand.flows[0].profile == (0.8, 1.0)


@pytest.mark.sumo
def test_clip_windows_cuts_measure_windows_to_a_shortened_run(tmp_path) -> None:
    """A quick look at a long scenario: the tidal lane's evening window is dropped and its
    morning one cut at the new end, so the shortened scenario passes the network checks that
    refuse it unclipped."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "tidal_corridor.toml"
    end = 7 * 3600 + 900
    with pytest.raises(ts.ScenarioError, match="lies outside the simulation window"):
        prepare_network(ts.load_scenario(path, end_s=end), tmp_path / "a")
    sc = ts.load_scenario(path, end_s=end, clip_windows=True)
    (m,) = sc.plans["tidal"].measures
    assert m.inbound_windows == ((7 * 3600, end),) and m.outbound_windows == ()
    prepare_network(sc, tmp_path / "b")

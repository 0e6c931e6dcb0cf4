"""SUMO crashes, time-outs and imported models: detected and reported, never a silent number."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import DATA, build_net
from trafficsim.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.sumo
def test_sumo_error_text_is_surfaced(tmp_path: Path, capsys) -> None:
    build_net("link", tmp_path)
    shutil.copy(DATA / "one_vehicle.rou.xml", tmp_path)
    (tmp_path / "broken.add.xml").write_text('<additional><busStop id="b" lane="XX_0" '
                                             'startPos="0" endPos="20"/></additional>')
    cfg = tmp_path / "model.sumocfg"
    cfg.write_text('<configuration><input><net-file value="link.net.xml"/>'
                   '<route-files value="one_vehicle.rou.xml"/>'
                   '<additional-files value="broken.add.xml"/></input>'
                   '<time><begin value="0"/><end value="100"/></time></configuration>')
    with pytest.raises(ts.SumoError) as info:
        ts.simulate(cfg, seeds=[1], progress=False)
    assert "Error" in str(info.value) and "XX_0" in str(info.value)
    assert main(["run", str(cfg), "--seeds", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "XX_0" in err and "Traceback" not in err


@pytest.mark.sumo
def test_wall_clock_timeout(tmp_path: Path) -> None:
    text = (SCENARIOS / "arterial_am_peak.toml").read_text()
    sc = tmp_path / "slow.toml"
    sc.write_text(text.replace('end = "09:00"', 'end = "09:00"\ntimeout_s = 1'))
    with pytest.raises(ts.SumoTimeout, match="time limit of 1 s"):
        ts.simulate(sc, seeds=[1], progress=False)


@pytest.mark.sumo
def test_imported_sumocfg_runs_with_its_own_files(shared_data: Path, tmp_path: Path) -> None:
    cfg = shared_data / "single-intersection" / "single-intersection.sumocfg"
    r = ts.simulate(ts.load_scenario(cfg, end_s=600), seeds=[1, 2], out=tmp_path / "o",
                    progress=False)
    m = r.run("baseline", 1).metrics
    assert m["throughput_veh"] > 100
    assert m["mean_delay_s"] > 0
    rows = [j for j in r.run("baseline", 1).junctions if j["approach"] == "ALL"]
    assert [j["junction"] for j in rows] == ["t"]
    assert rows[0]["los"] in "ABCDEF"


def test_sumocfg_with_missing_route_file_is_a_clear_error(shared_data: Path, capsys) -> None:
    cfg = shared_data / "2way-single-intersection" / "single-intersection.sumocfg"
    assert main(["validate", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "input.route-files" in err and "single-intersection.rou.xml" in err

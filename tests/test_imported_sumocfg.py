"""An imported ``.sumocfg`` keeps its own processing options in every run's case.sumocfg."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.cli import main

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

# The model's own settings, in sections and outside them (SUMO reads both), and options that
# belong to the case builder (files, outputs, logging, seed), which a run must not inherit.
CONFIG = """<configuration>
    <input>
        <net-file value="{net}"/>
        <route-files value="{routes}"/>
    </input>
    <time>
        <begin value="0"/>
        <end value="400"/>
        <step-length value="0.5"/>
    </time>
    <processing>
        <time-to-teleport value="77"/>
        <lateral-resolution value="0.8"/>
        <ignore-route-errors value="true"/>
        <collision.action value="warn"/>
        <collision.check-junctions value="true"/>
    </processing>
    <output>
        <tripinfo-output value="theirs.xml"/>
    </output>
    <report>
        <verbose value="true"/>
    </report>
    <random_number>
        <seed value="99"/>
    </random_number>
    <max-depart-delay value="600"/>
</configuration>
"""
CARRIED = {"step-length": "0.5", "time-to-teleport": "77", "lateral-resolution": "0.8",
           "ignore-route-errors": "true", "collision.action": "warn",
           "collision.check-junctions": "true", "max-depart-delay": "600"}


@pytest.fixture
def model(shared_data: Path, tmp_path: Path) -> Path:
    src = shared_data / "single-intersection"
    cfg = tmp_path / "model.sumocfg"
    cfg.write_text(CONFIG.format(net=src / "single-intersection.net.xml",
                                 routes=src / "single-intersection.rou.xml"), encoding="utf-8")
    return cfg


def options(case_cfg: Path) -> dict[str, str]:
    return {el.tag: el.get("value", "") for el in ET.parse(case_cfg).getroot()}


def test_a_run_keeps_the_models_processing_options(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(model), "--seeds", "3", "--out", str(out), "--quiet"]) == 0
    case = out / "cases/baseline/seed_3"
    opts = options(case / "case.sumocfg")
    assert {k: opts.get(k) for k in CARRIED} == CARRIED
    # the builder's own: the run's seed and outputs, no verbose log
    assert (opts["seed"], opts["tripinfo-output"]) == ("3", "tripinfo.csv")
    assert "verbose" not in opts and not (case / "theirs.xml").exists()
    # SUMO really ran with the model's half-second step: flows insert on half seconds
    with (case / "tripinfo.csv").open() as fh:
        departs = [float(r["tripinfo_depart"]) for r in csv.DictReader(fh, delimiter=";")]
    assert len(departs) > 50
    assert any(d % 1.0 == 0.5 for d in departs)


def test_a_scenario_on_the_model_keeps_its_options_unless_it_sets_them(
        model: Path, tmp_path: Path) -> None:
    toml = tmp_path / "on_model.toml"
    toml.write_text(f'name = "on_model"\n[simulation]\nend = 400\n[network]\nsumocfg = "{model.name}"\n',
                    encoding="utf-8")
    sc = ts.load_scenario(toml)
    assert (sc.time_to_teleport_s, sc.step_length_s) == (77.0, 0.5)
    assert dict(sc.sumo_options)["lateral-resolution"] == "0.8"
    toml.write_text(f'name = "on_model"\n[simulation]\nend = 400\ntime_to_teleport_s = 120\n'
                    f'[network]\nsumocfg = "{model.name}"\n', encoding="utf-8")
    sc = ts.load_scenario(toml)
    assert (sc.time_to_teleport_s, sc.step_length_s) == (120.0, 0.5)  # the scenario's holds
    out = tmp_path / "out"
    assert main(["run", str(toml), "--seeds", "1", "--end", "60", "--out", str(out),
                 "--quiet"]) == 0
    opts = options(out / "cases/baseline/seed_1/case.sumocfg")
    assert opts["time-to-teleport"] == "120" and opts["collision.action"] == "warn"


def test_a_bad_time_option_is_a_clear_error(model: Path, capsys) -> None:
    model.write_text(model.read_text().replace('value="77"', 'value="soon"'))
    assert main(["validate", str(model)]) == 2
    err = capsys.readouterr().err
    assert "time-to-teleport" in err and "soon" in err and "Traceback" not in err

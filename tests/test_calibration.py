"""``trafficsim calibrate`` on a small grid with a known true demand (real SUMO, seconds)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from trafficsim.calibrate import calibrate, simulate_passages, write_counts
from trafficsim.cli import main
from trafficsim.compare import compare
from trafficsim.report import write_report
from trafficsim.scenario import load_scenario

pytestmark = pytest.mark.sumo

HEAD = """name = "cal_grid"
[simulation]
begin = "07:00"
end = "07:30"
seeds = [1, 2]
[network.grid]
rows = 2
cols = 2
spacing_m = 150
lanes = 1
speed_kmh = 50
signalised = false
[demand]
bin_minutes = 15
{demand}
[plans.slow]
[[plans.slow.measures]]
type = "speed_limit"
edges = ["A0B0", "B0B1"]
speed_kmh = 20
"""
TRUTH = """[[demand.flows]]
from = "left0"
to = "right1"
veh_per_hour = 300
[[demand.flows]]
from = "bottom0"
to = "top1"
veh_per_hour = 200
[[demand.flows]]
from = "right0"
to = "left1"
veh_per_hour = 150
[[demand.flows]]
from = "top0"
to = "bottom1"
veh_per_hour = 150
"""
ENTRIES = ["left0A0", "left1A1", "right0B0", "right1B1", "bottom0A0", "bottom1B0", "top0A1",
           "top1B1"]
INNER = ["A0B0", "B0B1", "A1B1", "A0A1", "B1A1", "A1A0", "A0B0>B0B1"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, int, int]:
    d = tmp_path_factory.mktemp("cal")
    (d / "truth.toml").write_text(HEAD.format(demand=TRUTH))
    truth = simulate_passages(load_scenario(d / "truth.toml"), d / "truth", [99])[0]
    total = write_counts(truth, ENTRIES + INNER, 7 * 3600, 7.5 * 3600, 900, d / "counts.csv")
    (d / "cal.toml").write_text(HEAD.format(demand='counts = "counts.csv"'))
    (d / "tt.csv").write_text("from_edge,to_edge,begin,end,seconds\n"
                              "left0A0,B1right1,07:00,07:30,60\n")
    doc = calibrate(d / "cal.toml", d / "counts.csv", d / "out", travel_times=d / "tt.csv")
    return d, doc, truth.vehicles, total


def test_counts_of_a_known_demand_are_reproduced(calibrated) -> None:
    _, doc, _, _ = calibrated
    assert doc["summary"]["geh_lt5_share"] == 1.0
    assert all(h["geh"] < 5 for h in doc["location_hours"])
    assert doc["summary"]["locations"] == len(ENTRIES + INNER)
    assert not doc["flagged"]  # the truth is consistent


def test_a_bare_sumo_run_of_a_case_repeats_its_passages(calibrated) -> None:
    """case.sumocfg names the route output the passages are read from (it was passed on the
    command line only): a bare ``sumo -c`` writes it again, the same vehicles and times."""
    import shutil

    from trafficsim.calibrate import VEHROUTES
    from trafficsim.sumo import run_tool
    from trafficsim.sumocfg import read_sumocfg

    d, _, _, _ = calibrated
    case = d / "out" / "runs" / "cases" / "baseline" / "seed_1"
    opts = read_sumocfg(case / "case.sumocfg", resolve=False)
    assert opts["vehroute-output"] == VEHROUTES
    assert opts["vehroute-output.exit-times"] == "true"
    bare = case.with_name("seed_1_bare")  # (beside it: ../net.net.xml is the same file)
    shutil.copytree(case, bare, ignore=shutil.ignore_patterns(VEHROUTES))
    run_tool("sumo", ["-c", "case.sumocfg"], cwd=bare)

    def body(path: Path) -> str:  # (after SUMO's header comment, which holds the clock time)
        text = path.read_text(encoding="utf-8")
        return text[text.index("<routes"):]

    assert body(bare / VEHROUTES) == body(case / VEHROUTES)
    assert body(bare / VEHROUTES).count("<vehicle ") > 100


def test_a_vehicle_passing_several_counts_is_one_vehicle(calibrated) -> None:
    _, doc, truth_vehicles, sum_of_counts = calibrated
    assert sum_of_counts > 2 * truth_vehicles  # a vehicle passes several count locations
    s = doc["summary"]
    assert s["vehicles_fitted"] == pytest.approx(truth_vehicles, rel=0.02)
    assert s["vehicles"] == pytest.approx(truth_vehicles, rel=0.1)  # Poisson, 2 seeds


def test_calibration_json_has_the_summary_and_simulated_counts(calibrated) -> None:
    d, doc, _, _ = calibrated
    on_disk = json.loads((d / "out" / "calibration.json").read_text())
    assert on_disk == doc
    assert {"geh_lt5_share", "r2", "rmse_pct", "locations", "vehicles"} <= set(doc["summary"])
    assert doc["seeds"] == [1, 2]
    row = doc["intervals"][0]
    assert {"location", "begin", "end", "observed", "simulated"} <= set(row)
    # simulated counts are measured in the runs, not copied from the fit: they differ somewhere
    assert any(r["simulated"] != r["fitted"] for r in doc["intervals"])


def test_travel_times_are_measured_from_the_simulated_trips(calibrated) -> None:
    _, doc, _, _ = calibrated
    (tt,) = doc["travel_times"]
    assert tt["trips"] > 20
    # the 200 m fringe edge and two 150 m blocks at 50 km/h at the least, and not a jam
    assert (200 + 2 * 150) / (50 / 3.6) <= tt["simulated_s"] < 150
    assert tt["error_pct"] == pytest.approx(100 * (tt["simulated_s"] - 60) / 60, abs=0.1)


def test_calibrated_scenario_keeps_plans_and_compares(calibrated, tmp_path: Path) -> None:
    d, _, _, _ = calibrated
    sc = load_scenario(d / "out" / "calibrated.toml")
    assert list(sc.plans) == ["baseline", "slow"]
    assert sc.demand is not None and sc.demand.route_flows == d / "out" / "route_flows.csv"
    result = compare(sc, seeds=[3], out=tmp_path, progress=False)
    assert set(result.plans) == {"baseline", "slow"}

    def vehicles(plan: str) -> list[tuple[str | None, ...]]:
        root = ET.parse(tmp_path / "cases" / plan / "seed_3" / "routes.rou.xml").getroot()
        return [(v.get("id"), v.get("depart"), v.find("route").get("edges"))
                for v in root.iter("vehicle")]

    # common random numbers: the same vehicles on the same routes in both plans
    assert vehicles("baseline") == vehicles("slow") and len(vehicles("baseline")) > 100


def test_a_counts_scenario_runs_and_fits_once(calibrated, tmp_path: Path) -> None:
    from trafficsim import routeflows

    d, _, _, _ = calibrated
    before = set(routeflows._FITS)
    result = compare(d / "cal.toml", seeds=[1], out=tmp_path, progress=False)
    assert set(result.plans) == {"baseline", "slow"}
    assert len(set(routeflows._FITS) - before) <= 1  # one fit for every plan and seed


def test_inconsistent_counts_are_flagged_and_calibration_finishes(calibrated) -> None:
    d, _, _, _ = calibrated
    rows = [f"{e},07:00,07:15,10" for e in ENTRIES] + ["A0B0,07:00,07:15,200"]
    (d / "bad_counts.csv").write_text("location,begin,end,count\n" + "\n".join(rows) + "\n")
    doc = calibrate(d / "cal.toml", d / "bad_counts.csv", d / "out_bad", seeds=[1])
    flagged = {f["location"]: f["reason"] for f in doc["flagged"]}
    assert "A0B0" in flagged
    assert "observed 200" in flagged["A0B0"] and "fewer vehicles" not in flagged["A0B0"]
    assert "consistent with the counts at" in flagged["A0B0"]
    assert doc["summary"]["geh_lt5_share"] < 1.0


def test_report_renders_the_calibration(calibrated) -> None:
    d, _, _, _ = calibrated
    html = write_report(d / "out").read_text()
    assert "Calibration against counts" in html and "worst locations" in html


def test_cli_names_line_and_column_of_a_bad_count(calibrated, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d, _, _, _ = calibrated
    bad = tmp_path / "counts.csv"
    bad.write_text("location,begin,end,count\nA0B0,07:00,07:15,-3\n")
    assert main(["calibrate", str(d / "cal.toml"), "--counts", str(bad), "--out",
                 str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line 2, column 'count'" in err and "Traceback" not in err
    assert err.startswith("error: invalid counts\n")


def test_cli_heads_travel_time_errors_as_travel_times(calibrated, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """They were headed "invalid counts" (both files raise CountsError)."""
    d, _, _, _ = calibrated
    bad = tmp_path / "tt.csv"
    bad.write_text("from_edge,to_edge,begin,end,seconds\nleft0A0,B1right1,07:00,07:30,-60\n")
    assert main(["calibrate", str(d / "cal.toml"), "--counts", str(d / "counts.csv"),
                 "--travel-times", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid travel times\n") and "invalid counts" not in err
    assert f"{bad}: line 2, column 'seconds'" in err and "Traceback" not in err


def test_validate_checks_a_scenarios_counts(calibrated, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "counts.csv").write_text("location,begin,end,count\nA0B0,07:00,07:15,5\n"
                                         "A0B0,07:10,07:20,5\nA0C0,07:00,07:15,5\n")
    (tmp_path / "s.toml").write_text(HEAD.format(demand='counts = "counts.csv"'))
    assert main(["validate", str(tmp_path / "s.toml")]) == 2
    err = capsys.readouterr().err
    assert "counts.csv: line 4, column 'location': 'A0C0' is neither" in err
    assert "counts.csv: line 3, column 'begin': interval 07:10–07:20 of 'A0B0' overlaps" in err


def test_validate_checks_route_flows_against_the_window(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A route flow outside 07:00–07:30 would lose its vehicles silently (it validated OK);
    an ``--end`` that shortens the run still accepts flows running past its end."""
    from trafficsim.build import prepare_network
    from trafficsim.errors import ScenarioError

    rows = ("r1,07:00,07:30,100,,left0A0 A0B0\n"
            "r2,06:50,07:10,100,,left0A0 A0B0\n"
            "r3,07:20,07:40,100,,left0A0 A0B0\n")
    (tmp_path / "rf.csv").write_text("id,begin,end,veh_per_hour,vclass,edges\n" + rows)
    (tmp_path / "s.toml").write_text(HEAD.format(demand='route_flows = "rf.csv"'))
    assert main(["validate", str(tmp_path / "s.toml")]) == 2
    err = capsys.readouterr().err
    rf = tmp_path / "rf.csv"
    assert (f"{rf}: line 3, column 'begin': interval 06:50–07:10 lies outside the scenario "
            "window 07:00–07:30") in err
    assert f"{rf}: line 4, column 'end': interval 07:20–07:40 lies outside" in err
    assert "line 2" not in err and "Traceback" not in err
    # run with --end 07:20: r1 runs past the end (cut there, as a profile is), r3 begins at it
    (tmp_path / "rf.csv").write_text("id,begin,end,veh_per_hour,vclass,edges\n"
                                     + rows.splitlines(keepends=True)[0])
    prepare_network(load_scenario(tmp_path / "s.toml", end_s=7 * 3600 + 1200), tmp_path / "a")
    (tmp_path / "rf.csv").write_text("id,begin,end,veh_per_hour,vclass,edges\n" + rows)
    with pytest.raises(ScenarioError) as exc:
        prepare_network(load_scenario(tmp_path / "s.toml", end_s=7 * 3600 + 1200),
                        tmp_path / "b")
    assert [i.field for i in exc.value.issues] == ["line 3, column 'begin'",
                                                   "line 4, column 'begin'"]


def test_a_folder_in_use_is_refused_before_any_work(calibrated, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Two calibrations never share an output folder: the second is refused, nothing written."""
    import threading

    from trafficsim.outdir import out_dir_lock

    d, _, _, _ = calibrated
    out, held, done = tmp_path / "o", threading.Event(), threading.Event()

    def hold() -> None:
        with out_dir_lock(out):
            held.set()
            done.wait(30)

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert held.wait(10)
        assert main(["calibrate", str(d / "cal.toml"), "--counts", str(d / "counts.csv"),
                     "--out", str(out), "--quiet"]) == 2
    finally:
        done.set()
        other.join()
    err = capsys.readouterr().err
    assert f"{out} is in use by another trafficsim run" in err and "Traceback" not in err
    assert not (out / "calibrated.toml").exists() and not (out / "runs").exists()

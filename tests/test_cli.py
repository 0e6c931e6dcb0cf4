"""The command line and its JSON contract, on a small real corridor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trafficsim.cli import main
from trafficsim.metrics import METRICS
from trafficsim.sumo import binary

CONTRACT = {"mean_delay_s", "mean_travel_time_s", "mean_waiting_time_s", "mean_stops",
            "throughput_veh", "unfinished_veh", "person_delay_s", "co2_kg", "teleports"}


def test_metric_contract_keys() -> None:
    assert set(METRICS) == CONTRACT


@pytest.mark.sumo
def test_compare_json_and_out_dir(small_corridor: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["compare", str(small_corridor), "--seeds", "1,2,3", "--out", str(out),
                 "--json", "--quiet"])
    stdout = capsys.readouterr().out
    assert code == 0
    doc = json.loads(stdout)  # stdout is exactly one JSON document
    assert doc["scenario"] == "small_corridor"
    assert doc["sumo_version"] == "1.28.0"
    assert doc["seeds"] == [1, 2, 3]
    assert set(doc["plans"]) == {"baseline", "slow"}
    for plan in doc["plans"].values():
        assert set(plan) >= CONTRACT
        for m in CONTRACT:
            assert set(plan[m]) == {"mean", "ci95", "per_seed"}
            assert len(plan[m]["per_seed"]) == 3
            lo, hi = plan[m]["ci95"]
            assert lo <= plan[m]["mean"] <= hi
    assert set(doc["vs_baseline"]) == {"slow"}
    assert set(doc["vs_baseline"]["slow"]["mean_delay_s"]) == {"diff", "ci95", "pct"}
    # the paired difference is the mean of the per-seed differences
    base = doc["plans"]["baseline"]["mean_travel_time_s"]["per_seed"]
    slow = doc["plans"]["slow"]["mean_travel_time_s"]["per_seed"]
    diff = doc["vs_baseline"]["slow"]["mean_travel_time_s"]["diff"]
    assert diff == pytest.approx(sum(s - b for s, b in zip(slow, base, strict=True)) / 3)
    # 30 km/h instead of 50 on the main road makes trips longer, significantly
    assert doc["vs_baseline"]["slow"]["mean_travel_time_s"]["ci95"][0] > 0

    groups = doc["groups"]["baseline"]
    assert {"flow:W_E", "flow:N1_S2", "kind:car", "kind:bus", "occupancy:1",
            "occupancy:2+"} <= set(groups)
    n = doc["plans"]["baseline"]["throughput_veh"]["per_seed"][0]
    by_flow = sum(groups[g]["throughput_veh"]["per_seed"][0] for g in groups
                  if g.startswith("flow:"))
    assert by_flow == n  # the flow groups partition the vehicles
    assert json.loads((out / "metrics.json").read_text()) == doc
    for table in ("runs.csv", "edges.csv", "junctions.csv"):
        assert (out / table).stat().st_size > 0
    junctions = (out / "junctions.csv").read_text()
    assert "J1,ALL" in junctions and "J2,W_J1" not in junctions


@pytest.mark.sumo
def test_a_kept_case_repeats_with_bare_sumo(small_corridor: Path, tmp_path: Path) -> None:
    """`sumo -c case.sumocfg` in a kept case directory reproduces the run bit for bit."""
    out = tmp_path / "out"
    assert main(["run", str(small_corridor), "--seeds", "4", "--out", str(out), "--quiet"]) == 0
    case = out / "cases" / "baseline" / "seed_4"
    first = (case / "tripinfo.csv").read_bytes()
    (case / "tripinfo.csv").unlink()
    # plain `sumo -c`: the seed and every option are in the configuration
    subprocess.run([binary("sumo"), "-c", "case.sumocfg"], cwd=case, check=True,
                   capture_output=True, timeout=60)
    assert (case / "tripinfo.csv").read_bytes() == first


@pytest.mark.sumo
def test_run_json_has_one_plan(small_corridor: Path, capsys) -> None:
    code = main(["run", str(small_corridor), "--plan", "slow", "--seeds", "1", "--json",
                 "--quiet"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(doc["plans"]) == ["slow"]
    assert doc["vs_baseline"] == {}
    assert doc["plans"]["slow"]["mean_delay_s"]["ci95"] == [None, None]  # one seed: no CI
    # the table of one plan other than the baseline has no comparison column (was a traceback)
    assert main(["run", str(small_corridor), "--plan", "slow", "--seeds", "1", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "mean_delay_s" in table and "vs baseline" not in table


@pytest.mark.sumo
def test_console_script_prints_table(small_corridor: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "trafficsim.cli", "compare", str(small_corridor),
                           "--seeds", "1,2", "--workers", "2"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "mean_delay_s" in proc.stdout and "Δ slow vs baseline" in proc.stdout
    assert "HCM level of service" in proc.stdout
    assert "[4/4]" in proc.stderr  # progress lines readable in a log (no terminal here)


@pytest.mark.parametrize("argv", [
    ["run", "SC", "--workers", "0"], ["run", "SC", "--workers", "-1"],
    ["compare", "SC", "--seeds", "1,,2"], ["run", "SC", "--end", "25:99"],
    ["regress", "SC", "--baseline", "b.json", "--rel-tol", "-1"],
    ["regress", "SC", "--baseline", "b.json", "--rel-tol", "nan"],
    ["regress", "SC", "--baseline", "b.json", "--confidence", "2"],
    ["regress", "SC", "--baseline", "b.json", "--confidence", "0"],
    # an empty --out was the current folder
    ["run", "SC", "--out", ""], ["compare", "SC", "--out", " "],
    ["sweep-clearance", "SC", "--minutes", "0", "--out", ""], ["optimise", "SC", "--out", ""],
    ["calibrate", "SC", "--counts", "c.csv", "--out", ""], ["import-osm", "m.osm", "--out", ""],
])
def test_bad_options_exit_2_before_any_run(argv: list[str], small_corridor: Path,
                                           capsys) -> None:
    argv = [str(small_corridor) if a == "SC" else a for a in argv]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "expected" in err and "Traceback" not in err
    if "--out" in argv:
        assert "argument --out: '" in err and "is empty; expected a folder" in err


def test_regress_refuses_unknown_metrics_and_an_unwritable_baseline(
        small_corridor: Path, tmp_path: Path, capsys) -> None:
    """An unknown metric would be 'missing on both sides' and pass a CI check that checks
    nothing; a baseline path that is a folder would fail only after every run."""
    code = main(["regress", str(small_corridor), "--baseline", str(tmp_path / "b.json"),
                 "--metrics", "nosuch", "--quiet"])
    assert code == 2 and "nosuch is not a metric" in capsys.readouterr().err
    code = main(["regress", str(small_corridor), "--baseline", str(tmp_path), "--update",
                 "--quiet"])
    assert code == 2 and "exists and is not a file" in capsys.readouterr().err


@pytest.mark.sumo
def test_end_takes_a_clock_time(small_corridor: Path, capsys) -> None:
    """--end 07:01 is 25,260 s, as scenario files write times."""
    assert main(["run", str(small_corridor), "--seeds", "1", "--end", "07:01", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["window"]["end_s"] == 25260.0


@pytest.mark.parametrize("plans", ["", ",", " , "])
def test_plans_naming_no_plan_is_refused(small_corridor: Path, tmp_path: Path, capsys,
                                         plans: str) -> None:
    """``--plans ""`` (say, from an empty shell variable) ran every plan of the scenario."""
    assert main(["compare", str(small_corridor), "--plans", plans, "--seeds", "1", "--out",
                 str(tmp_path / "out"), "--quiet"]) == 2
    assert "names no plan" in capsys.readouterr().err
    assert not (tmp_path / "out" / "cases").exists()


@pytest.mark.sumo
def test_a_plan_listed_twice_in_plans_runs_once(small_corridor: Path, tmp_path: Path,
                                               capsys) -> None:
    """``--plans slow,slow,baseline`` ran and printed 'slow' twice; each plan runs once."""
    out = tmp_path / "out"
    assert main(["compare", str(small_corridor), "--plans", "slow,slow,baseline", "--seeds", "1",
                 "--end", "07:03", "--out", str(out), "--json", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["plans"]) == ["baseline", "slow"]
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["baseline", "slow"]
    runs = (out / "runs.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in runs) == ["baseline", "slow"]

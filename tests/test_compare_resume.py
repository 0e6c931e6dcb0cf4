"""``compare --resume`` reuses the runs an interrupted comparison finished, and only those.

The reference is a comparison run in one go; the resumed one must write the same tables, bit for
bit, having run SUMO only for the runs the interrupted one had not finished.  The interruption is
real: the command line is killed with SIGKILL (its whole process group, SUMO included) once a
first run has recorded itself.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA
from trafficsim.cli import main
from trafficsim.compare import RUN_FILE

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("metrics.json", "runs.csv", "edges.csv", "junctions.csv", "timeseries.csv")


def reused(err: str) -> tuple[int, int]:
    """(runs reused, runs in all) from the resumed command's stderr."""
    m = re.search(r"(\d+) of (\d+) runs finished earlier with the same inputs are reused", err)
    assert m, err
    return int(m[1]), int(m[2])


def records(out: Path) -> dict[str, int]:
    """Case folder → modification time of its run record [ns]."""
    return {str(p.parent.relative_to(out)): p.stat().st_mtime_ns
            for p in sorted(out.glob(f"cases/*/seed_*/{RUN_FILE}"))}


@pytest.fixture
def corridor(tmp_path: Path) -> tuple[Path, list[str]]:
    """The small corridor (2 plans) and the command comparing it over 6 min, one run at a time."""
    sc = tmp_path / "corridor.toml"
    sc.write_text((DATA / "small_corridor.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return sc, ["compare", str(sc), "--workers", "1", "--quiet", "--end", "07:06"]


def test_killed_compare_resumes_bit_for_bit(corridor: tuple[Path, list[str]], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _, cmd = corridor
    cmd = [*cmd, "--seeds", "1,2,3"]
    whole = tmp_path / "whole"
    assert main([*cmd, "--out", str(whole)]) == 0
    assert len(records(whole)) == 6  # every run recorded itself

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "trafficsim.cli", *cmd, "--out", str(out)],
                            cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not records(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its SUMO child, as a crash would
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the comparison ended before it was killed"
    finished = records(out)
    assert 1 <= len(finished) < 6
    assert not (out / "metrics.json").exists()

    capsys.readouterr()
    assert main([*cmd, "--out", str(out), "--resume"]) == 0
    assert reused(capsys.readouterr().err) == (len(finished), 6)
    after = records(out)
    # the finished runs were not run again (their records are untouched), the others were
    assert {k: after[k] for k in finished} == finished
    assert len(after) == 6
    for name in TABLES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_resume_reruns_what_changed(corridor: tuple[Path, list[str]], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    sc, cmd = corridor
    out = tmp_path / "out"
    # an interrupted comparison that had finished seed 1 (of both plans)
    assert main([*cmd, "--seeds", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    cmd = [*cmd, "--seeds", "1,2"]
    assert main([*cmd, "--out", str(out), "--resume"]) == 0
    assert reused(capsys.readouterr().err) == (2, 4)
    first = (out / "runs.csv").read_text()

    # a changed scenario (more demand): no stale run is reused, and the result is the new
    # scenario's, as a fresh comparison gives it
    text = sc.read_text()
    sc.write_text(text.replace("veh_per_hour = 500", "veh_per_hour = 600"))
    assert main([*cmd, "--out", str(out), "--resume"]) == 0
    assert reused(capsys.readouterr().err) == (0, 4)
    fresh = tmp_path / "fresh"
    assert main([*cmd, "--out", str(fresh)]) == 0
    assert (out / "runs.csv").read_bytes() == (fresh / "runs.csv").read_bytes()
    assert (out / "runs.csv").read_text() != first

    # another window of the same scenario: every run is another run
    assert main([*cmd, "--out", str(out), "--resume", "--end", "07:05"]) == 0
    assert reused(capsys.readouterr().err) == (0, 4)

    # fewer seeds: the dropped seed's case folders go (`report` would read them as this run's)
    assert main([*cmd[:-1], "1", "--out", str(out), "--resume", "--end", "07:05"]) == 0
    assert reused(capsys.readouterr().err) == (2, 2)
    assert sorted(records(out)) == ["cases/baseline/seed_1", "cases/slow/seed_1"]


def test_resume_needs_out(corridor: tuple[Path, list[str]],
                          capsys: pytest.CaptureFixture[str]) -> None:
    _, cmd = corridor
    assert main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume needs --out" in err
    assert "Traceback" not in err

"""One run per ``--out`` folder: a second run on the same folder is refused, never mixed in."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.test_kill import long_corridor
from trafficsim.cli import main
from trafficsim.outdir import LOCK_FILE, OutDirError, out_dir_lock

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def cli(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "trafficsim.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_compares_on_one_folder(tmp_path: Path) -> None:
    """The second of two concurrent runs is refused at once; the first finishes unmixed."""
    out = tmp_path / "out"
    first = cli(["compare", str(long_corridor(tmp_path, hours=1)), "--seeds", "1,2",
                 "--workers", "1", "--quiet", "--json", "--out", str(out)], tmp_path)
    lock = out / LOCK_FILE
    deadline = time.monotonic() + 30
    while not (lock.is_file() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.poll() is None, first.communicate()[1]
    t0 = time.monotonic()
    second = cli(["compare", str(DATA / "small_corridor.toml"), "--seeds", "7", "--quiet",
                  "--out", str(out)], tmp_path)
    _, err2 = second.communicate(timeout=60)
    assert first.poll() is None, "the first run ended too soon for the test to mean anything"
    assert second.returncode == 2, err2
    assert f"{out} is in use by another trafficsim run (pid {first.pid})" in err2
    assert "Traceback" not in err2
    assert time.monotonic() - t0 < 20  # refused before simulating anything
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    # the folder holds the first run only, and says so consistently
    doc = json.loads((out / "metrics.json").read_text())
    assert doc == json.loads(out1)
    assert doc["seeds"] == [1, 2]
    with (out / "runs.csv").open() as fh:
        assert {(r["plan"], r["seed"]) for r in csv.DictReader(fh)} == {
            (p, s) for p in ("baseline", "slow") for s in ("1", "2")}
    assert not (out / "cases" / "baseline" / "seed_7").exists()
    assert not lock.exists()  # released, and nothing left behind


@contextlib.contextmanager
def held_by_another_process(out: Path) -> Iterator[int]:
    """Hold ``out`` from a child process; yield its pid."""
    code = ("import sys; from trafficsim.outdir import out_dir_lock\n"
            f"with out_dir_lock({str(out)!r}):\n    print('held', flush=True); sys.stdin.read()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder.pid
    finally:
        holder.communicate("", timeout=10)  # end of input: the holder lets go


@pytest.mark.parametrize("command", [
    ["run", str(DATA / "small_corridor.toml")],
    ["compare", str(DATA / "small_corridor.toml")],
    ["sweep-clearance", str(SCENARIOS / "incident_corridor.toml"), "--minutes", "0,10"],
    ["optimise", str(DATA / "small_corridor.toml"), "--budget", "3"],
], ids=["run", "compare", "sweep-clearance", "optimise"])
def test_every_command_refuses_a_folder_in_use(command: list[str], tmp_path: Path,
                                               capsys) -> None:
    out = tmp_path / "out"
    with held_by_another_process(out) as pid:
        code = main([*command, "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{out} is in use by another trafficsim run (pid {pid})" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written; the holder's lock file went with it


def test_a_lock_is_reentrant_in_its_thread_only(tmp_path: Path) -> None:
    with out_dir_lock(tmp_path / "out"):
        with out_dir_lock(tmp_path / "out"):  # a sweep running its comparison
            pass
        assert (tmp_path / "out" / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        errors: list[Exception] = []

        def other() -> None:
            try:
                with out_dir_lock(tmp_path / "out"):
                    pass
            except OutDirError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 1 and "in use by another trafficsim run" in str(errors[0])
    assert not (tmp_path / "out" / LOCK_FILE).exists()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).write_text("999999\n")  # its holder was killed: the flock went with it
    with out_dir_lock(out):
        assert (out / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_out_that_is_a_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "taken").write_text("x")
    code = main(["run", str(DATA / "small_corridor.toml"), "--quiet",
                 "--out", str(tmp_path / "taken")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "exists and is not a folder; expected a folder" in err


def test_a_rerun_into_a_folder_leaves_no_case_of_the_earlier_run(tmp_path: Path) -> None:
    """Seeds 1,2 then seed 3 into one folder: only seed 3's cases remain, so `report` cannot
    mix an earlier run's files into this run's pictures."""
    out = tmp_path / "out"
    sc = str(DATA / "small_corridor.toml")
    assert main(["compare", sc, "--seeds", "1,2", "--quiet", "--out", str(out)]) == 0
    assert main(["compare", sc, "--seeds", "3", "--quiet", "--out", str(out)]) == 0
    for plan in ("baseline", "slow"):
        assert sorted(p.name for p in (out / "cases" / plan).glob("seed_*")) == ["seed_3"]

"""Killing the command line mid-run leaves no SUMO process behind, and Ctrl-C stops cleanly.

Each test starts ``python -m trafficsim.cli`` on a corridor with a long window (so SUMO is busy
when the signal arrives), waits until a ``sumo`` child is simulating, signals the CLI process only
(not its group: a terminal's Ctrl-C reaches the whole group, ``kill PID`` does not), and then
looks for any process still working in the run's output folder.  Processes are found by their
working directory, which SUMO and its tools always have inside ``--out``: that finds them even
after they were re-parented, and never confuses them with other SUMO runs on the machine.

The test process makes itself the "child subreaper" meanwhile, so the CLI's orphans are adopted
by it rather than by init: some containers' init kills strays within a second, which would hide
a leak that lasts minutes on an ordinary machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

ROOT = Path(__file__).resolve().parents[1]
EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def long_corridor(tmp_path: Path, hours: int = 12) -> Path:
    """The small corridor over ``hours`` hours (a few seconds of SUMO per run)."""
    text = (DATA / "small_corridor.toml").read_text(encoding="utf-8")
    text = text.replace('end = "07:15"', f'end = "{7 + hours:02d}:00"')
    text = text.replace("profile = [0.8, 1.0, 0.9]\n", "")  # a profile is tied to the window
    path = tmp_path / "long.toml"
    path.write_text(text, encoding="utf-8")
    return path


def processes_in(folder: Path) -> dict[int, str]:
    """pid → command name of the live processes whose working directory is inside ``folder``."""
    found = {}
    prefix = str(folder.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = str((entry / "cwd").readlink())
            name = (entry / "comm").read_text().strip()
        except OSError:  # gone meanwhile, a zombie, or not ours to inspect
            continue
        if cwd == prefix or cwd.startswith(prefix + os.sep):
            found[int(entry.name)] = name
    return found


@pytest.fixture
def adopt_orphans() -> Iterator[None]:
    """Orphans of the processes started meanwhile are re-parented to this process (Linux)."""
    pr_set_child_subreaper = 36
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    if prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        pytest.skip("cannot become a child subreaper")
    try:
        yield
    finally:
        prctl(pr_set_child_subreaper, 0, 0, 0, 0)
        # reap adopted children that died (they are zombies of this process until then)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass


def start_cli(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "trafficsim.cli", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # the test's own Ctrl-C must not reach it


def cpu_s(pid: int) -> float:
    """CPU time a process has used so far [s] (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_for_sumo(cli: subprocess.Popen[str], out: Path, n: int, timeout_s: float = 30.0) -> None:
    """Wait until ``n`` sumo processes inside ``out`` are simulating.

    "Simulating": past loading (0.3 s of CPU; a run takes ~6 s).  SUMO writes to its pipes at
    start and end only, and an orphan dies of SIGPIPE when it does: killed in between, it would
    run to its end (24 s measured on the previous code), so that is when the test strikes.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cli.poll() is not None:
            pytest.fail(f"the CLI ended before SUMO ran: {cli.communicate()[1]}")
        busy = [p for p, name in processes_in(out).items() if name == "sumo" and cpu_s(p) > 0.3]
        if len(busy) >= n:
            return
        time.sleep(0.05)
    pytest.fail(f"no {n} sumo processes simulating in {out} after {timeout_s} s")


def left_behind(out: Path, within_s: float = 5.0) -> dict[int, str]:
    """Processes still working in ``out`` after ``within_s`` seconds (killed before returning)."""
    deadline = time.monotonic() + within_s
    while (alive := processes_in(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in alive:  # do not leave them running on the machine when the test fails
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # adopted: reap it
            os.waitpid(pid, 0)
    return alive


CASES = [pytest.param(cmd, sig, workers, id=f"{cmd}-{sig.name}-w{workers}")
         for cmd, sig, workers in [
             *[("compare", sig, w) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
               for w in (1, 2)],
             ("run", signal.SIGINT, 2),  # run shares the runner: one case suffices
         ]]


@pytest.mark.parametrize(("command", "sig", "workers"), CASES)
@pytest.mark.usefixtures("adopt_orphans")
def test_a_killed_run_leaves_no_sumo(command: str, sig: signal.Signals, workers: int,
                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    cli = start_cli([command, str(long_corridor(tmp_path)), "--seeds", "1,2", "--workers",
                     str(workers), "--quiet", "--out", str(out)], tmp_path)
    try:
        wait_for_sumo(cli, out, workers)
        t0 = time.monotonic()
        cli.send_signal(sig)
        _, err = cli.communicate(timeout=20)
        stop_s = time.monotonic() - t0
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert left_behind(out) == {}
    assert cli.returncode == EXIT_CODE[sig], err
    assert not (out / "metrics.json").exists()  # no result presented as complete
    if sig != signal.SIGKILL:
        assert "Traceback" not in err, err
        assert err.strip().splitlines()[-1] == ("interrupted" if sig == signal.SIGINT
                                                else "terminated"), err
        assert stop_s < 5.0  # the runs are stopped, not waited for (each lasts ~10 s)

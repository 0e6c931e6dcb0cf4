"""map_tasks on one worker: each run is reported as it finishes, and a failure stops the batch."""

from __future__ import annotations

import contextlib
import io

import pytest

from trafficsim.parallel import SerialExecutor, map_tasks


def test_one_worker_reports_each_task_before_the_next_starts() -> None:
    """With ``--workers 1`` every run's progress line used to appear only after the last run
    (a compare of 6 runs printed nothing for 26 s, then six lines with ETAs up to 129 s)."""
    err = io.StringIO()
    lines_seen: list[int] = []

    def task(t: int) -> int:
        lines_seen.append(err.getvalue().count("\n"))  # progress lines printed before this task
        return t * t

    with contextlib.redirect_stderr(err):
        out = map_tasks(task, [3, 1, 2], SerialExecutor(), ["a", "b", "c"])
    assert out == [9, 1, 4]
    assert lines_seen == [0, 1, 2]
    assert [line.split("]")[1].split()[0] for line in err.getvalue().splitlines()] == ["a", "b", "c"]


def test_one_worker_stops_at_the_first_failure() -> None:
    ran: list[int] = []

    def task(t: int) -> int:
        ran.append(t)
        if t == 1:
            raise ValueError("run 1 failed")
        return t

    with pytest.raises(ValueError, match="run 1 failed"):
        map_tasks(task, [0, 1, 2], SerialExecutor(), ["a", "b", "c"], progress=False)
    assert ran == [0, 1]

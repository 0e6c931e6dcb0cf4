"""Packaging: Dask is an optional extra, and its absence is a clear message, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trafficsim.errors import ScenarioError
from trafficsim.parallel import dask_executor

# Makes `import distributed` fail as it does when the `dask` extra is not installed.
_NO_DASK = "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None; "


def test_scheduler_without_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ScenarioError) as exc, dask_executor("tcp://127.0.0.1:8786"):
        pass
    assert "trafficsim[dask]" in str(exc.value)
    assert exc.value.issues[0].file == "--scheduler"


@pytest.mark.sumo
def test_cli_optimise_scheduler_without_dask_exits_2(small_corridor: Path, tmp_path: Path) -> None:
    """The whole command: exit 2, the extra named, no traceback, no search started."""
    out = tmp_path / "opt"
    code = (_NO_DASK + "from trafficsim.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", code, "optimise", str(small_corridor), "--budget", "4",
         "--scheduler", "tcp://127.0.0.1:8786", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'trafficsim[dask]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "journal.jsonl").exists()

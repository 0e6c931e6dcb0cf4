"""The notebooks run, on small budgets, so they cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.sumo  # every test here starts SUMO or one of its tools

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ROOT = NOTEBOOKS.parent


def execute(name: str, parameters: dict[str, object]) -> object:
    """Run a jupytext notebook in a real Jupyter kernel, with its ``parameters`` cell
    overridden by a cell inserted after it (as papermill does)."""
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # silences jupyter_core's migration note
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = jupytext.read(NOTEBOOKS / name)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    code = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(code, metadata={"tags": ["injected"]}))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


def _images(nb: object) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    out = tmp_path / "quickstart-out"
    nb = execute("quickstart.py", {"SCENARIO": str(ROOT / "scenarios/arterial_am_peak.toml"),
                                   "SEEDS": [1, 2], "END": "07:30", "OUT": str(out),
                                   "WORKERS": 2})
    assert _images(nb) == 5  # bars, time series, heat map, signal timing, time-space
    assert (out / "report.html").stat().st_size > 100_000
    assert (out / "cases/calm_40/seed_1/trajectories.csv.gz").is_file()


@pytest.mark.slow
def test_lane_plans(tmp_path: Path) -> None:
    out = tmp_path / "lane-plans-out"
    nb = execute("lane_plans.py", {"SCENARIOS": str(ROOT / "scenarios"), "SEEDS": [1, 2],
                                   "TIDAL_END": "07:15", "HOV_END": "07:15",
                                   "SCHOOL_END": "08:20", "OUT": str(out), "WORKERS": 2})
    assert _images(nb) == 3  # by direction, person vs vehicle, bay occupancy
    for name in ("tidal_corridor", "hov_arterial", "school_gate"):
        assert (out / name / "report.html").stat().st_size > 50_000
    assert len(list(out.glob("school_gate/cases/bay/seed_*/bay_occupancy_*.csv"))) == 2


@pytest.mark.slow
def test_signal_optimisation(tmp_path: Path) -> None:
    out = tmp_path / "opt-out"
    nb = execute("signal_optimisation.py", {
        "SCENARIO": str(ROOT / "scenarios/arterial_am_peak.toml"), "END": "07:20", "BUDGET": 6,
        "SEEDS": [1], "VALIDATE_SEEDS": [11, 12], "OUT": str(out), "WORKERS": 2,
        "TUNE_ACTUATED": False})
    assert _images(nb) == 1  # convergence and validation
    assert (out / "signal_plan.add.xml").is_file()
    assert "<h2>Signal optimisation</h2>" in (out / "report.html").read_text()

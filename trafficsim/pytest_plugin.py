"""pytest plugin (entry point ``pytest11``): scenario regression checks as tests.

Installed with trafficsim; a test asks for the ``scenario_regression`` fixture::

    def test_arterial_keeps_its_numbers(scenario_regression):
        scenario_regression.check("../scenarios/arterial_am_peak.toml",
                                  baseline="baselines/arterial.json", seeds=[1, 2, 3])

Relative paths are resolved against the test file's folder.  ``pytest --trafficsim-update``
records the baselines instead of checking them.  A check that leaves its tolerance band fails the
test with the diff table of :mod:`trafficsim.regression`; a baseline recorded with other SUMO or
trafficsim versions gives a :class:`BaselineWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest


class BaselineWarning(UserWarning):
    """The baseline was recorded with other versions, or the scenario's files changed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--trafficsim-update``: record scenario regression baselines instead of checking."""
    group = parser.getgroup("trafficsim")
    group.addoption("--trafficsim-update", action="store_true", default=False,
                    help="record scenario regression baselines instead of checking them")


class ScenarioRegression:
    """The fixture's object: ``check(scenario, baseline=..., ...)`` runs one regression check."""

    def __init__(self, base_dir: Path, update: bool) -> None:
        self.base_dir = base_dir
        self.update = update

    def check(self, scenario: str | Path, *, baseline: str | Path,
              seeds: Sequence[int] | None = None, end_s: float | None = None,
              rel_tol: float | None = None, confidence: float | None = None,
              metrics: Sequence[str] | None = None, workers: int | None = None) -> Any:
        """Re-run ``scenario`` and fail the test when a metric leaves its band.

        Parameters are those of :func:`trafficsim.regression.regress`; returns its report.
        """
        from trafficsim import regression

        kw: dict[str, Any] = {"seeds": seeds, "end_s": end_s, "workers": workers}
        if rel_tol is not None:
            kw["rel_tol"] = rel_tol
        if confidence is not None:
            kw["confidence"] = confidence
        if metrics is not None:
            kw["metrics"] = tuple(metrics)
        base = self.base_dir / baseline
        if not self.update and not base.is_file():
            pytest.fail(f"no baseline at {base}; record it with 'pytest --trafficsim-update'",
                        pytrace=False)
        report = regression.regress([self.base_dir / scenario], base, update=self.update, **kw)
        for w in report.warnings:
            warnings.warn(w, BaselineWarning, stacklevel=2)
        if not report.ok:
            pytest.fail(f"scenario metrics left their tolerance band:\n{report.table()}",
                        pytrace=False)
        return report


@pytest.fixture
def scenario_regression(request: pytest.FixtureRequest) -> ScenarioRegression:
    """Check scenario metrics against a baseline file (see :mod:`trafficsim.pytest_plugin`)."""
    return ScenarioRegression(Path(request.path).parent,
                              bool(request.config.getoption("trafficsim_update")))

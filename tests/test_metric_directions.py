"""Which way is better: one declaration per metric, read alike by the CLI, the report and the
regression check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trafficsim.compare import better
from trafficsim.measures import measure_classes
from trafficsim.metrics import CORE_METRICS, is_improvement, metric_info
from trafficsim.regression import Check
from trafficsim.report import ResultsFolder, all_sections

#: metric, change, verdict.  The first two were judged differently by the report (which knew
#: only the core higher-is-better set) and by the CLI before one declaration served both.
CASES = [
    ("parking_homes_mean_occupancy_pct", +5.0, True),
    ("dropoffs_veh", +3.0, True),
    ("throughput_veh", -10.0, False),
    ("mean_delay_s", -2.0, True),
    ("bay_school:bay_overstays_veh", +1.0, False),   # a LABEL:key of two bays in one plan
    ("crash_queue_cleared_min", -4.0, True),         # a key declared as "{id}_queue_cleared_min"
    ("hov_lane_share", +0.2, None),                  # describes, does not judge
    ("nobody_declared_this", +1.0, None),
]


@pytest.mark.parametrize(("metric", "diff", "verdict"), CASES)
def test_cli_and_regression_judge_as_declared(metric: str, diff: float, verdict: bool | None
                                              ) -> None:
    assert is_improvement(metric, diff) is verdict
    assert better(metric, diff) is verdict
    check = Check("s", "p", metric, 10.0, 10.0 + diff, diff, 0.1, 0.0, True, passed=False)
    assert check.verdict == {True: "better", False: "worse", None: ""}[verdict]


def test_the_report_colours_as_declared(tmp_path: Path) -> None:
    def est(mean: float) -> dict:
        return {"mean": mean, "ci95": [mean - 0.1, mean + 0.1], "per_seed": [mean]}

    doc = {"seeds": [1, 2], "plans": {p: {m: est(10.0 + (d if p == "plan" else 0.0))
                                          for m, d, _ in CASES} for p in ("baseline", "plan")},
           "vs_baseline": {"plan": {m: {"diff": d, "ci95": [d - 0.05, d + 0.05], "pct": 1.0}
                                    for m, d, _ in CASES}}}
    comparison = next(fn for _, t, fn in all_sections() if t == "Comparison")
    table = comparison(ResultsFolder(dir=tmp_path, doc=doc))[0]
    for metric, _, verdict in CASES:
        row = re.search(rf"<tr><th>{re.escape(metric)}</th>(.*?)</tr>", table).group(1)
        cls = re.findall(r'<td class="(\w+)">', row)
        assert cls == ({True: ["better"], False: ["worse"], None: []}[verdict]), metric


def test_every_declaration_is_complete() -> None:
    declared = [(cls.__name__, k, v) for cls in measure_classes() for k, v in cls.METRICS.items()]
    declared += [("core", k, v) for k, v in CORE_METRICS.items()]
    assert len(declared) > 40
    for owner, key, info in declared:
        assert re.fullmatch(r"[a-z0-9_{}]+", key), (owner, key)
        assert info.unit and info.description, (owner, key)
        assert info.better in ("lower", "higher", None), (owner, key)
        assert metric_info(key.replace("{id}", "x")) is not None

"""A measure from another package: declared through the ``trafficsim.measures`` entry-point
group, found, parsed, applied in real SUMO runs, and judged in the direction it declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.cli import format_comparison
from trafficsim.measures import MEASURES, discover
from trafficsim.metrics import is_improvement, metric_info
from trafficsim.network import net_index
from trafficsim.outputs import read_csv

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

ROOT = Path(__file__).resolve().parents[1]
EDGE = "J1_J2"

#: The whole plugin: one module, as another package would ship it.
PLUGIN = '''
"""A slow zone: a lower speed on one edge, judged by the mean speed there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trafficsim.measures import CaseDraft, Measure, MetricInfo, register
from trafficsim.outputs import read_csv


@register
@dataclass(frozen=True)
class SlowZone(Measure):
    kind = "plugin_slow_zone"
    METRICS = {"plugin_mean_speed_m_s": MetricInfo("m/s", "higher", "mean speed in the zone")}
    edge: str
    speed_kmh: float

    @classmethod
    def parse(cls, f):
        return cls(edge=str(f.str("edge")), speed_kmh=float(f.float("speed_kmh", lo=1.0)))

    def apply(self, draft: CaseDraft) -> None:
        draft.edge_patches.append(f'<edge id="{self.edge}" speed="{self.speed_kmh / 3.6:.4f}"/>')

    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        rows = read_csv(run_dir / "edgedata.csv")
        speed = dict(zip(rows["id"], rows["speed"], strict=True))
        return {"plugin_mean_speed_m_s": float(speed[self.edge])}
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    """A package ``tsplug`` with its distribution metadata (as ``pip install`` leaves it),
    on ``sys.path`` for the test."""
    site = tmp_path / "site"
    (site / "tsplug").mkdir(parents=True)
    (site / "tsplug" / "__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    dist = site / "tsplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tsplug\nVersion: 0.1\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text("[trafficsim.measures]\nslow_zone = tsplug\n",
                                           encoding="utf-8")
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        MEASURES.pop("plugin_slow_zone", None)
        sys.modules.pop("tsplug", None)


def _scenario(tmp_path: Path) -> Path:
    text = (ROOT / "tests" / "data" / "small_corridor.toml").read_text(encoding="utf-8")
    text = text.replace("seeds = [1, 2, 3]", "seeds = [1, 2]")
    text += textwrap.dedent(f"""
        [plans.zone]
        description = "20 km/h between the junctions"
        [[plans.zone.measures]]
        type = "plugin_slow_zone"
        edge = "{EDGE}"
        speed_kmh = 20
        """)
    path = tmp_path / "zone.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fresh_process_finds_the_plugin_through_its_entry_point(plugin_path: Path,
                                                                  tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugin_path)])}
    ok = subprocess.run([sys.executable, "-m", "trafficsim.cli", "validate", str(scenario)],
                        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    # without the package the type is unknown: it came from the entry point, not from trafficsim
    env["PYTHONPATH"] = str(ROOT)
    bad = subprocess.run([sys.executable, "-m", "trafficsim.cli", "validate", str(scenario)],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert "'plugin_slow_zone' is not a known measure" in bad.stderr + bad.stdout


def test_a_plugin_measure_is_parsed_applied_and_judged(plugin_path: Path, tmp_path: Path) -> None:
    discover(refresh=True)
    sc = ts.load_scenario(_scenario(tmp_path))
    (zone,) = sc.plans["zone"].measures
    assert type(zone).__module__ == "tsplug" and zone.speed_kmh == 20  # type: ignore[attr-defined]

    out = tmp_path / "out"
    result = ts.compare(sc, out=out, progress=False, workers=2)

    # applied: SUMO's own edge output shows the lower speed on that edge only
    for seed in sc.seeds:
        base = read_csv(out / f"cases/baseline/seed_{seed}/edgedata.csv")
        slow = read_csv(out / f"cases/zone/seed_{seed}/edgedata.csv")
        b = dict(zip(base["id"], base["speed"], strict=True))
        z = dict(zip(slow["id"], slow["speed"], strict=True))
        assert z[EDGE] < 20 / 3.6 and z[EDGE] < 0.6 * b[EDGE]  # [m/s]
    # … because the plan's network carries the zone's limit on that edge and no other
    zone_net = net_index(out / "cases/zone/net.net.xml")
    base_net = net_index(out / "cases/baseline/net.net.xml")
    assert zone_net.edge_speed_m_s[EDGE] == pytest.approx(20 / 3.6, abs=0.01)  # 2 decimals
    assert {e for e, v in zone_net.edge_speed_m_s.items()
            if v != base_net.edge_speed_m_s[e]} == {EDGE}

    # its metric, measured in both plans (observed), with the direction it declares
    doc = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    d = doc["vs_baseline"]["zone"]["plugin_mean_speed_m_s"]
    assert d["diff"] < 0 and d["ci95"][1] < 0
    assert metric_info("plugin_mean_speed_m_s").better == "higher"  # type: ignore[union-attr]
    assert is_improvement("plugin_mean_speed_m_s", d["diff"]) is False
    row = next(line for line in format_comparison(result).splitlines()
               if line.startswith("plugin_mean_speed_m_s"))
    assert row.endswith(" worse")

"""Generated networks: what netconvert/netgenerate built matches the description."""

from __future__ import annotations

from pathlib import Path

import pytest

from trafficsim.network import build_network, net_index
from trafficsim.scenario import CorridorSpec, GridSpec


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAFFICSIM_CACHE", str(tmp_path / "cache"))


def test_corridor_layout(tmp_path: Path) -> None:
    spec = CorridorSpec(intersections=3, spacing_m=300, lanes=2, speed_kmh=50)
    idx = net_index(build_network(spec, tmp_path / "n"))
    assert idx.signals == {"J1", "J2", "J3"}
    assert idx.edges["J1_J2"] == 2 and idx.edges["N2_J2"] == 1
    assert idx.out_edges["W"] == ("W_J1",) and idx.in_edges["E"] == ("J3_E",)
    assert set(idx.signal_approaches["J2"]) == {"J1_J2", "J3_J2", "N2_J2", "S2_J2"}
    # lane length is the spacing less the junction areas at both ends
    assert 250 < idx.edge_length_m["J1_J2"] < 300


def test_grid_layout(tmp_path: Path) -> None:
    spec = GridSpec(rows=2, cols=3, spacing_m=200, lanes=1, speed_kmh=50)
    idx = net_index(build_network(spec, tmp_path / "g"))
    assert idx.signals == {"A0", "A1", "B0", "B1", "C0", "C1"}
    assert "left0" in idx.junctions and idx.out_edges["left0"] == ("left0A0",)


def test_cached_network_is_identical(tmp_path: Path) -> None:
    spec = CorridorSpec(intersections=2, spacing_m=200, lanes=1, speed_kmh=40)
    first = build_network(spec, tmp_path / "a").read_bytes()
    assert len(list((tmp_path / "cache" / "networks").iterdir())) == 1
    assert build_network(spec, tmp_path / "b").read_bytes() == first
    other = CorridorSpec(intersections=2, spacing_m=200, lanes=1, speed_kmh=60)
    build_network(other, tmp_path / "c")
    assert len(list((tmp_path / "cache" / "networks").iterdir())) == 2

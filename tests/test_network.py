"""Generated networks: what netconvert/netgenerate built matches the description."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from trafficsim.network import build_network, net_index
from trafficsim.scenario import CorridorSpec, GridSpec


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAFFICSIM_CACHE", str(tmp_path / "cache"))


@pytest.mark.sumo
def test_corridor_layout(tmp_path: Path) -> None:
    spec = CorridorSpec(intersections=3, spacing_m=300, lanes=2, speed_kmh=50)
    idx = net_index(build_network(spec, tmp_path / "n"))
    assert idx.signals == {"J1", "J2", "J3"}
    assert idx.edges["J1_J2"] == 2 and idx.edges["N2_J2"] == 1
    assert idx.out_edges["W"] == ("W_J1",) and idx.in_edges["E"] == ("J3_E",)
    assert set(idx.signal_approaches["J2"]) == {"J1_J2", "J3_J2", "N2_J2", "S2_J2"}
    # lane length is the spacing less the junction areas at both ends
    assert 250 < idx.edge_length_m["J1_J2"] < 300


@pytest.mark.sumo
def test_grid_layout(tmp_path: Path) -> None:
    spec = GridSpec(rows=2, cols=3, spacing_m=200, lanes=1, speed_kmh=50)
    idx = net_index(build_network(spec, tmp_path / "g"))
    assert idx.signals == {"A0", "A1", "B0", "B1", "C0", "C1"}
    assert "left0" in idx.junctions and idx.out_edges["left0"] == ("left0A0",)


@pytest.mark.sumo
def test_cached_network_is_identical(tmp_path: Path) -> None:
    spec = CorridorSpec(intersections=2, spacing_m=200, lanes=1, speed_kmh=40)
    first = build_network(spec, tmp_path / "a").read_bytes()
    assert len(list((tmp_path / "cache" / "networks").iterdir())) == 1
    assert build_network(spec, tmp_path / "b").read_bytes() == first
    other = CorridorSpec(intersections=2, spacing_m=200, lanes=1, speed_kmh=60)
    build_network(other, tmp_path / "c")
    assert len(list((tmp_path / "cache" / "networks").iterdir())) == 2


def test_retype_rules_and_extra_vtypes_reach_the_route_file(tmp_path: Path) -> None:
    from trafficsim.demand import Vehicle, write_routes

    vehicles = [Vehicle("f.0", "car", 1.0, "a", "b", 1), Vehicle("f.1", "car", 2.0, "a", "b", 3),
                Vehicle("f.2", "bus", 3.0, "a", "b", 30)]
    path = tmp_path / "r.rou.xml"
    write_routes(vehicles, path, vtypes={"car_hov": ("car", {"vClass": "hov"})},
                 retype=[lambda kind, occ: "car_hov" if kind == "car" and occ >= 2 else None])
    text = path.read_text()
    assert '<vType id="car_hov" vClass="hov" personCapacity="9"/>' in text
    assert 'id="f.0" type="car"' in text and 'id="f.1" type="car_hov"' in text
    assert 'id="f.2" type="bus"' in text


@pytest.mark.sumo
def test_irregular_corridor_puts_junctions_at_the_listed_gaps(tmp_path: Path, write) -> None:
    import trafficsim as ts
    from tests.conftest import DATA
    from trafficsim.netmodel import read_network

    text = (DATA / "small_corridor.toml").read_text().replace(
        "intersections = 2\nspacing_m = 250", "intersections = 4\nspacing_m = [250, 550, 350]")
    sc = ts.load_scenario(write("irr.toml", text))
    assert sc.network == CorridorSpec(intersections=4, spacing_m=(250.0, 550.0, 350.0), lanes=1,
                                      speed_kmh=50, side_length_m=120, approach_length_m=200)
    junctions = read_network(build_network(sc.network, tmp_path / "net")).junctions
    xs = [junctions[f"J{i}"].x for i in range(1, 5)]
    assert [round(b - a, 2) for a, b in itertools.pairwise(xs)] == [250, 550, 350]
    # the side streets follow their junction; the approaches keep their length
    assert junctions["N3"].x == pytest.approx(xs[2])
    assert junctions["E"].x - xs[-1] == pytest.approx(200)

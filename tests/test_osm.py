"""OSM import: the tiny hand-written fixture through the real netconvert, bad inputs, caching."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import pytest

from trafficsim import osm
from trafficsim.cli import main
from trafficsim.errors import ScenarioError
from trafficsim.netmodel import read_network
from trafficsim.scenario import OsmSpec, load_scenario

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.osm"
LUST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lust" / "lust_west.osm"
#: The fixture's test box: the spur way 103 (E2 - X, lon 6.1100) lies east of it.
BOX = (6.0950, 49.5960, 6.1045, 49.6040)


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points. [m]"""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[osm.ImportSummary, Path]:
    out = tmp_path_factory.mktemp("tiny")
    return osm.import_osm(TINY, out), out / osm.NET_FILE


@pytest.mark.sumo
def test_signal_node_becomes_a_traffic_light(tiny: tuple[osm.ImportSummary, Path]) -> None:
    summary, net_path = tiny
    net = read_network(net_path)
    assert summary.signals == 1 and summary.osm_signal_nodes == 1
    # the node tagged highway=traffic_signals (id 2) is the crossing, and it got the light
    assert [p.id for p in net.programs] == ["2"]
    assert net.junctions["2"].type == "traffic_light"
    assert {p.type for p in net.programs} == {"static"}  # the project's fixed-time baseline
    # every movement through the crossing is signalised
    through = [c for c in net.connections if c.to_edge and not c.from_edge.startswith(":")
               and net.edges[c.from_edge].to_junction == "2"]
    assert through and all(c.tl == "2" for c in through)


@pytest.mark.sumo
def test_isolated_way_and_footway_are_dropped_and_reported(
        tiny: tuple[osm.ImportSummary, Path]) -> None:
    summary, net_path = tiny
    net = read_network(net_path)
    ways = {e.id.lstrip("-").split("#")[0] for e in net.normal_edges()}
    assert ways == {"100", "101", "102", "103"}
    assert summary.dropped == {"not_for_cars": 1, "isolated": 1}
    assert summary.dropped_examples == {"not_for_cars": ["200"], "isolated": ["300"]}
    assert "isolated" in summary.format() and "300" in summary.format()
    doc = json.loads((net_path.parent / osm.JSON_FILE).read_text())
    assert doc["dropped"] == summary.dropped and doc["signals"] == 1
    assert "--osm.turn-lanes" in doc["netconvert_args"]
    assert doc["command"].startswith("netconvert --osm-files ")


@pytest.mark.sumo
def test_road_length_matches_the_map(tiny: tuple[osm.ImportSummary, Path]) -> None:
    """The imported road length is the great-circle length of the OSM ways (junction areas
    are not part of any edge: a few per cent less)."""
    summary, net_path = tiny
    nodes = osm.scan_osm(TINY).nodes
    ways = [("1", "2", "3", "6"), ("4", "2", "5"), ("6", "7")]
    expect_m = sum(_haversine_m(nodes[a], nodes[b]) for w in ways for a, b in itertools.pairwise(w))
    assert 0.9 * expect_m < summary.road_km * 1000 <= expect_m
    names = {e.name for e in read_network(net_path).normal_edges()}
    assert "Avenue Ouest" in names  # --output.street-names


@pytest.mark.sumo
def test_turn_lanes_give_the_movements_osm_says(tiny: tuple[osm.ImportSummary, Path]) -> None:
    """``turn:lanes:forward = left;through|right`` on way 100 (listed left to right): the
    right lane (SUMO index 0) turns right only, the left lane goes left and straight.
    netconvert's own guess would let both lanes go straight."""
    _, net_path = tiny
    net = read_network(net_path)
    dirs: dict[int, set[str]] = {}
    for c in net.connections:
        if c.from_edge == "100":
            dirs.setdefault(c.from_lane, set()).add(c.direction)
    assert dirs == {0: {"r"}, 1: {"s", "l"}}


@pytest.mark.sumo
def test_bbox_cuts_the_ways_outside(tmp_path: Path) -> None:
    summary = osm.import_osm(TINY, tmp_path, bbox=BOX)
    net = read_network(tmp_path / osm.NET_FILE)
    assert not [e for e in net.normal_edges() if e.id.lstrip("-") == "103"]
    assert "7" not in net.junctions
    assert summary.dropped["outside_bbox"] == 1
    assert summary.dropped_examples["outside_bbox"] == ["103"]
    assert summary.bbox == BOX and "--keep-edges.in-geo-boundary" in summary.netconvert_args
    assert summary.signals == 1  # the crossing is inside


@pytest.mark.sumo
def test_cli_import_then_validate_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    out = tmp_path / "city"
    assert main(["import-osm", str(TINY), "--keep", "primary,secondary", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 traffic lights" in text and "dropped" in text and "highway class not in --keep" \
        in text
    summary = json.loads((out / osm.JSON_FILE).read_text())
    assert summary["keep"] == ["primary", "secondary", "primary_link", "secondary_link"]
    assert summary["dropped"]["class_left_out"] == 2  # the tertiary spur and the residential
    scenario = out / osm.SCENARIO_FILE
    assert 'counts = "counts.csv"' in scenario.read_text()  # the commented counts line
    assert main(["validate", str(scenario)]) == 0
    capsys.readouterr()
    assert main(["run", str(scenario), "--end", "08:05", "--seeds", "1", "--json",
                 "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    plan = doc["plans"]["baseline"]
    assert plan["throughput_veh"]["per_seed"][0] > 5
    # the shortest placeholder trip is ~0.6 km at 50 km/h: no trip can be faster than ~40 s
    assert plan["mean_travel_time_s"]["mean"] > 40


@pytest.mark.sumo
def test_scenario_osm_is_imported_once_and_cached(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from trafficsim.network import build_network

    monkeypatch.setenv("TRAFFICSIM_CACHE", str(tmp_path / "cache"))
    calls: list[list[str]] = []
    real = osm.run_tool

    def counting(name: str, args: list[str], **kw: object) -> object:
        calls.append(args)
        return real(name, args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(osm, "run_tool", counting)
    shutil.copy(TINY, tmp_path / "city.osm")
    toml = tmp_path / "city.toml"
    toml.write_text('[simulation]\nend = "00:05"\n[network]\nosm = "city.osm"\n'
                    f"bbox = {list(BOX)}\n"
                    '[demand]\n[[demand.flows]]\nfrom = "100"\nto = "-102#0"\n'
                    "veh_per_hour = 100\n", encoding="utf-8")
    sc = load_scenario(toml)
    assert sc.network == OsmSpec((tmp_path / "city.osm").resolve(), BOX, None)
    first = build_network(sc.network, tmp_path / "a")
    second = build_network(sc.network, tmp_path / "b")
    assert len(calls) == 1
    assert first.read_bytes() == second.read_bytes()
    assert json.loads((tmp_path / "b" / osm.JSON_FILE).read_text())["bbox"] == list(BOX)
    # another box, or an edited file, imports again
    build_network(OsmSpec(sc.network.path, None, None), tmp_path / "c")
    assert len(calls) == 2
    (tmp_path / "city.osm").write_text(TINY.read_text().replace("Avenue Ouest", "Av. O."))
    build_network(sc.network, tmp_path / "d")
    assert len(calls) == 3


# --------------------------------------------------------------------------------------------
# Bad input: exit 2, the file and the field named, never a traceback (no netconvert needed)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "expect"), [
    ("this is not a map\n", "is not valid XML"),
    ('<?xml version="1.0"?>\n<net version="1.20"/>\n', "root element <net>"),
    ("", "is empty"),
    ('<osm version="0.6"><node id="1" lat="1" lon="1"/></osm>', "has no ways with a highway"),
    ('<osm version="0.6"><node id="1" lat="1" lon="1"/><node id="2" lat="1.001" lon="1"/>'
     '<way id="5"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>',
     "none open to cars"),
    ('<osm version="0.6"><node id="1" lat="1" lon="1"/>'
     '<way id="5"><nd ref="1"/><nd ref="9"/><tag k="highway" v="primary"/></way></osm>',
     "the nodes they are drawn through are not in the file"),
    # (netconvert said only "Unable to project coordinates", exit 1)
    ('<osm version="0.6"><node id="1" lat="95" lon="1"/></osm>',
     "node 1: lat=95 lon=1 is out of range; expected WGS84 degrees, latitude -90..90"),
    ('<osm version="0.6"><node id="1" lat="1" lon="1"/><node id="7" lat="1" lon="181.5"/></osm>',
     "node 7: lat=1 lon=181.5 is out of range"),
    ('<osm version="0.6"><node id="3" lat="nan" lon="1"/></osm>', "node 3: lat=nan"),
])
def test_not_an_osm_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                         expect: str) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_text(content, encoding="utf-8")
    assert main(["import-osm", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and expect in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / osm.NET_FILE).exists()


@pytest.mark.parametrize(("args", "expect"), [
    (["--bbox", "6.09,49.59,6.11"], "--bbox: 3 values given; expected W,S,E,N"),
    (["--bbox", "6.09,49.59,x,49.61"], "--bbox: 'x' is not a number"),
    (["--bbox", "6.11,49.59,6.09,49.61"], "west 6.11 must be below east 6.09"),
    (["--bbox", "6.09,95,6.11,96"], "out of range"),
    (["--bbox", "49.59,6.09,49.61,6.11"], "latitude and longitude swapped"),
    (["--bbox", "7.0,50.0,7.1,50.1"], "no roads for cars inside the bounding box"),
    (["--keep", "primery"], "'primery' is not an OSM highway class SUMO imports; expected "
                            "some of: motorway"),
    (["--keep", "primary,footway"], "'footway' is an OSM highway class that is not open to cars"),
    (["--keep", ","], "--keep: is empty"),
    (["--keep", "motorway"], "keep: the file has no roads of the classes motorway, motorway_link"),
])
def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                     expect: str) -> None:
    assert main(["import-osm", str(TINY), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expect in err and "Traceback" not in err
    if "primery" in args:
        assert "Did you mean 'primary'?" in err


@pytest.mark.parametrize(("network", "field", "expect"), [
    ('osm = "notes.txt"', "network.osm", "is not valid XML"),
    ('osm = "city.osm"\nbbox = [6.1, 49.6]', "network.bbox", "2 values given"),
    ('osm = "city.osm"\nbbox = "6.2,49.6,6.1,49.7"', "network.bbox", "west 6.2 must be below"),
    ('osm = "city.osm"\nkeep = ["primary", "highway.motorwya"]', "network.keep",
     "Did you mean 'motorway'?"),
    ('file = "x.net.xml"\nbbox = [1, 2, 3, 4]', "network.bbox", "unknown field"),
])
def test_bad_scenario_osm_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 network: str, field: str, expect: str) -> None:
    shutil.copy(TINY, tmp_path / "city.osm")
    (tmp_path / "notes.txt").write_text("not a map", encoding="utf-8")
    (tmp_path / "x.net.xml").write_text("<net/>", encoding="utf-8")
    toml = tmp_path / "s.toml"
    toml.write_text(f'[simulation]\nend = "00:05"\n[network]\n{network}\n[demand]\n'
                    '[[demand.flows]]\nfrom = "a"\nto = "b"\nveh_per_hour = 100\n',
                    encoding="utf-8")
    assert main(["validate", str(toml)]) == 2
    err = capsys.readouterr().err
    assert f"{toml}: {field}" in err and expect in err and "Traceback" not in err


@pytest.mark.parametrize(("bbox", "keep", "field", "expect"), [
    ((7.0, 50.0, 7.1, 50.1), None, "network.bbox", "no roads for cars inside the bounding box"),
    (None, ("motorway",), "network.keep", "no roads of the classes motorway"),
])
def test_scenario_with_no_roads_left(tmp_path: Path, bbox: osm.BBox | None,
                                     keep: tuple[str, ...] | None, field: str,
                                     expect: str) -> None:
    """Found when the network is built (before netconvert): a ScenarioError naming the field."""
    from trafficsim.network import build_network

    shutil.copy(TINY, tmp_path / "city.osm")
    with pytest.raises(ScenarioError) as exc:
        build_network(OsmSpec(tmp_path / "city.osm", bbox, keep), tmp_path / "net")
    (issue,) = exc.value.issues
    assert issue.field == field and expect in issue.message


# --------------------------------------------------------------------------------------------
# A real city: the LuST western half (Luxembourg; MIT, map data © OpenStreetMap contributors)
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.sumo
def test_lust_district(tmp_path: Path) -> None:
    if not LUST.is_file():
        pytest.skip(f"LuST data not present at {LUST}")
    box = (6.105, 49.595, 6.125, 49.615)  # a district of ~1.4 × 2.2 km
    summary = osm.import_osm(LUST, tmp_path, bbox=box)
    # 34 OSM signal nodes lie in the box; several of them belong to one intersection
    assert summary.osm_signal_nodes == 34
    assert 15 <= summary.signals <= summary.osm_signal_nodes
    assert 150 <= summary.junctions <= 300
    assert 25 < summary.road_km < 50
    assert summary.dropped["outside_bbox"] > 400
    net = read_network(tmp_path / osm.NET_FILE)
    assert len({p.id for p in net.programs}) == summary.signals
    assert all(j.type != "internal" for j in net.junctions.values()
               if j.id in {p.id for p in net.programs})


@pytest.mark.sumo
def test_only_isolated_roads_left_is_an_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The primary road alone is one street between two dead ends: netconvert removes it as
    isolated, and the import says so instead of writing an empty network."""
    assert main(["import-osm", str(TINY), "--keep", "primary", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {TINY.resolve()}: no road is left after the import" in err
    assert "Traceback" not in err
    assert not (tmp_path / osm.NET_FILE).exists()


@pytest.mark.slow
@pytest.mark.sumo
def test_lust_half_city_keeps_its_89_signals(tmp_path: Path) -> None:
    """The LuST data set documents 89 traffic lights in this half of the city: the import's
    signal options (guessed from the OSM signal nodes, joined) find exactly those."""
    if not LUST.is_file():
        pytest.skip(f"LuST data not present at {LUST}")
    summary = osm.import_osm(LUST, tmp_path)
    assert summary.signals == 89
    assert summary.osm_signal_nodes == 109  # one node per approach at some intersections
    assert 900 <= summary.junctions <= 1000 and 200 < summary.road_km < 260
    # nothing of a car's network is lost except small cut-off pieces
    assert set(summary.dropped) <= {"isolated", "disconnected"}
    assert sum(summary.dropped.values()) < 0.05 * summary.edges


@pytest.mark.parametrize("out", ["/proc/x", "/proc/a/b"])
def test_an_out_folder_that_cannot_be_made_exits_2(out: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``/proc`` passes ``os.access`` for root, but nothing can be made there: a probe folder
    finds that out before any work (it was exit 1 from the failed mkdir)."""
    if not Path("/proc").is_dir():
        pytest.skip("no /proc on this system")
    assert main(["import-osm", str(TINY), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: cannot be created") and "Traceback" not in err
    assert err.count("\n") == 1  # one line

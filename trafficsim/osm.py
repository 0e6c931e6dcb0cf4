"""OpenStreetMap import: a ``.osm`` file to a SUMO network, and a starter scenario around it.

The network is SUMO's own: ``netconvert`` reads the file with the options a careful engineer
chooses for a signal study (:func:`netconvert_args`).  Before it runs, the file is read once in
Python (:func:`scan_osm`): to refuse what is not OSM or holds no roads for cars where asked, with
a message naming the file and the field, and to say afterwards which ways did not become roads
and why (:class:`ImportSummary`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import re
import shlex
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trafficsim.netmodel import Network, read_network
from trafficsim.sumo import run_tool, sumo_home, sumo_version

#: Bump when the import's options or outputs change: cached networks are keyed by it.
IMPORT_VERSION = 1

#: The network file, the import record and the starter scenario an import writes.
NET_FILE = "network.net.xml"
JSON_FILE = "import.json"
SCENARIO_FILE = "scenario.toml"

BBox = tuple[float, float, float, float]


class OsmError(ValueError):
    """An OSM input or an import option that cannot work: names the file, the field, the fix.

    Attributes
    ----------
    file
        The file (or command-line option) at fault.
    field
        What in it is wrong (``bbox``, ``keep``, the file's content: ``""``).
    message
        What is wrong and what was expected.
    """

    def __init__(self, file: Path | str, fld: str, message: str) -> None:
        self.file, self.field, self.message = file, fld, message
        super().__init__(f"{file}: {fld}: {message}" if fld else f"{file}: {message}")


# --------------------------------------------------------------------------------------------
# Options: bounding box and highway classes
# --------------------------------------------------------------------------------------------
def parse_bbox(value: str | Sequence[object], where: str = "--bbox") -> BBox:
    """A bounding box ``W,S,E,N`` (WGS84 degrees) from text or a list of four numbers.

    Raises
    ------
    OsmError
        Not four numbers, out of range, or west/south not below east/north.
    """
    fld = "" if where.startswith("--") else "bbox"  # (an option names itself)
    want = "expected W,S,E,N in degrees (west, south, east, north), e.g. 6.10,49.59,6.14,49.62"
    parts = value.split(",") if isinstance(value, str) else list(value)
    nums: list[float] = []
    for p in parts:
        try:
            if isinstance(p, bool):
                raise TypeError
            nums.append(float(p))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise OsmError(where, fld, f"{p!r} is not a number; {want}") from None
    if len(nums) != 4:
        raise OsmError(where, fld, f"{len(nums)} values given; {want}")
    w, s, e, n = nums
    if not all(math.isfinite(v) for v in nums) or not (-180 <= w <= 180 and -180 <= e <= 180
                                                       and -90 <= s <= 90 and -90 <= n <= 90):
        raise OsmError(where, fld, f"{nums} is out of range (longitude -180..180, latitude "
                                      f"-90..90); {want}")
    if not (w < e and s < n):
        hint = " (latitude and longitude swapped?)" if s < w else ""
        raise OsmError(where, fld, f"west {w:g} must be below east {e:g} and south {s:g} "
                                      f"below north {n:g}{hint}; {want}")
    return w, s, e, n


@functools.cache
def _typemap() -> dict[str, tuple[bool, bool]]:
    """OSM ``highway`` class → (known to SUMO's type map, open to cars) for the wheel's map."""
    out: dict[str, tuple[bool, bool]] = {}
    for el in ET.parse(typemap_path()).getroot().iter("type"):
        tid = el.get("id", "")
        if not tid.startswith("highway.") or "|" in tid:
            continue
        allow, disallow = el.get("allow"), (el.get("disallow") or "").split()
        cars = (el.get("discard") != "true" and "passenger" not in disallow
                and (allow is None or "passenger" in allow.split()))
        out[tid.removeprefix("highway.")] = (True, cars)
    return out


def typemap_path() -> Path:
    """SUMO's OSM type map of the installed wheel (``data/typemap/osmNetconvert.typ.xml``)."""
    return Path(sumo_home()) / "data" / "typemap" / "osmNetconvert.typ.xml"


def car_classes() -> tuple[str, ...]:
    """OSM ``highway`` classes that SUMO imports as roads open to cars."""
    return tuple(k for k, (_, cars) in _typemap().items() if cars)


def parse_keep(value: str | Sequence[str], where: str = "--keep") -> tuple[str, ...]:
    """Highway classes to keep (``primary`` or ``highway.primary``), with their ``_link`` roads.

    A kept class brings its slip roads (``primary`` → ``primary_link``): without them the
    ramps between kept roads would be cut.

    Raises
    ------
    OsmError
        An empty list, an unknown class, or one not open to cars (footway, cycleway, ...).
    """
    fld = "" if where.startswith("--") else "keep"
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip().removeprefix("highway.") for v in items if str(v).strip()]
    roads = car_classes()
    if not names:
        raise OsmError(where, fld, "is empty; expected comma-separated OSM highway classes "
                                      "such as primary,secondary,tertiary,residential")
    for n in names:
        if n not in roads:
            why = ("is an OSM highway class that is not open to cars"
                   if n in _typemap() else "is not an OSM highway class SUMO imports")
            close = difflib.get_close_matches(n, roads, n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close and n not in _typemap() else ""
            raise OsmError(where, fld, f"'{n}' {why}; expected some of: "
                                          f"{', '.join(roads)}.{hint}")
    links = [f"{n}_link" for n in names if f"{n}_link" in roads]
    return tuple(dict.fromkeys([*names, *links]))


# --------------------------------------------------------------------------------------------
# Reading the OSM file
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OsmWay:
    """A way with a ``highway`` tag."""

    id: str
    highway: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class OsmScan:
    """What an OSM file holds that matters to the import.

    Attributes
    ----------
    ways
        Every way with a ``highway`` tag.
    other_ways
        Number of ways without one (buildings, railways, areas, ...).
    nodes
        Node id → (longitude, latitude). [°]
    signals
        Nodes tagged ``highway=traffic_signals``.
    """

    ways: tuple[OsmWay, ...]
    other_ways: int
    nodes: dict[str, tuple[float, float]]
    signals: tuple[str, ...]


def scan_osm(path: Path) -> OsmScan:
    """Read the nodes and the ``highway`` ways of an OSM XML file.

    Raises
    ------
    OsmError
        The file is missing, empty, not XML, XML of another kind, or a node's coordinates are
        not WGS84 degrees (latitude outside -90..90, longitude outside -180..180).
    """
    want = "expected an OpenStreetMap XML file (<osm> root, e.g. exported from openstreetmap.org)"
    if not path.is_file():
        raise OsmError(path, "", f"file not found; {want}")
    if path.stat().st_size == 0:
        raise OsmError(path, "", f"is empty; {want}")
    nodes: dict[str, tuple[float, float]] = {}
    signals: list[str] = []
    ways: list[OsmWay] = []
    other = 0
    try:
        # our own handle: iterparse left to open the file keeps it open after a raise
        with path.open("rb") as fh:
            events = ET.iterparse(fh, events=("start", "end"))
            _, root = next(events)
            if root.tag != "osm":
                raise OsmError(path, "", f"is XML with root element <{root.tag}>; {want}")
            for event, el in events:
                if event != "end":
                    continue
                if el.tag == "node":
                    nid = el.get("id", "")
                    try:
                        lon, lat = float(el.get("lon", "")), float(el.get("lat", ""))
                    except ValueError:
                        raise OsmError(path, f"node {nid}", "has no valid lat/lon; " + want) from None
                    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # (also refuses nan)
                        # netconvert could only say it cannot project the junction
                        raise OsmError(path, f"node {nid}", f"lat={el.get('lat')} lon="
                                       f"{el.get('lon')} is out of range; expected WGS84 degrees, "
                                       "latitude -90..90 and longitude -180..180")
                    nodes[nid] = (lon, lat)
                    if any(t.get("k") == "highway" and t.get("v") == "traffic_signals"
                           for t in el.iter("tag")):
                        signals.append(nid)
                    root.clear()  # (a city's file: keep memory flat)
                elif el.tag == "way":
                    tags = {t.get("k"): t.get("v", "") for t in el.iter("tag")}
                    if "highway" in tags:
                        ways.append(OsmWay(el.get("id", ""), tags["highway"],
                                           tuple(nd.get("ref", "") for nd in el.iter("nd"))))
                    else:
                        other += 1
                    root.clear()
                elif el.tag == "relation":
                    root.clear()
    except StopIteration:
        raise OsmError(path, "", f"is empty; {want}") from None
    except ET.ParseError as exc:
        if path.suffix.lower() == ".pbf":
            want += "; convert a .pbf first, e.g. osmium cat city.osm.pbf -o city.osm"
        raise OsmError(path, "", f"is not valid XML ({exc}); {want}") from None
    except OSError as exc:
        raise OsmError(path, "", f"cannot be read ({exc.strerror or exc}); {want}") from None
    return OsmScan(tuple(ways), other, nodes, tuple(signals))


def _inside(point: tuple[float, float] | None, bbox: BBox) -> bool:
    return point is not None and bbox[0] <= point[0] <= bbox[2] and bbox[1] <= point[1] <= bbox[3]


@dataclass(frozen=True)
class WaySort:
    """The ``highway`` ways of a file sorted by what the import does with them (way ids)."""

    roads: tuple[str, ...]
    not_for_cars: tuple[str, ...]
    unknown_class: tuple[str, ...]
    class_left_out: tuple[str, ...]
    outside_bbox: tuple[str, ...]
    missing_nodes: tuple[str, ...] = ()


def sort_ways(scan: OsmScan, bbox: BBox | None, keep: Sequence[str] | None) -> WaySort:
    """Which ways may become roads, and why the others cannot."""
    table = _typemap()
    groups: dict[str, list[str]] = {k: [] for k in WaySort.__dataclass_fields__}
    for w in scan.ways:
        known, cars = table.get(w.highway, (False, False))
        if not known:
            kind = "unknown_class"
        elif not cars:
            kind = "not_for_cars"
        elif sum(n in scan.nodes for n in w.nodes) < 2:
            kind = "missing_nodes"  # (an extract cut without its ways' nodes)
        elif keep is not None and w.highway not in keep:
            kind = "class_left_out"
        elif bbox is not None and not any(_inside(scan.nodes.get(n), bbox) for n in w.nodes):
            kind = "outside_bbox"
        else:
            kind = "roads"
        groups[kind].append(w.id)
    return WaySort(**{k: tuple(v) for k, v in groups.items()})


# --------------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------------
def netconvert_args(osm: Path, out_name: str, bbox: BBox | None = None,
                    keep: Sequence[str] | None = None) -> list[str]:
    """The ``netconvert`` options of an OSM import.

    * SUMO's OSM type map, and only roads open to cars (``--keep-edges.by-vclass passenger``):
      footways, cycleways and railways are not part of a signal study's network;
    * ``--geometry.remove``, ``--edges.join``: nodes that only shape a road and duplicated
      edges go, so edges run junction to junction;
    * ``--junctions.join``: the several OSM nodes of one large intersection become one junction;
    * ``--tls.guess-signals``, ``--tls.join``: the ``traffic_signals`` nodes around an
      intersection become its one traffic light, and lights close together one controller;
      ``--tls.discard-simple`` drops lights at nodes that only shape a road (pedestrian
      crossings mid-block, which the model has no pedestrians for);
      ``--tls.default-type static``: fixed-time programs, the baseline of every study here;
    * ``--ramps.guess``: acceleration lanes at motorway on-ramps;
    * ``--osm.turn-lanes``: lane-to-movement assignment from OSM ``turn:lanes``;
    * ``--remove-edges.isolated``, ``--keep-edges.components 1``: only the largest connected
      part remains (a street cut off by the bounding box would trap vehicles);
    * ``--no-turnarounds.tls``: no U-turns at signals (they would get green with the through
      movement), as for generated networks;
    * ``--output.street-names``, ``--output.original-names``: names for reports, and the OSM
      way ids of every edge, so that the import can say which ways were dropped;
      ``--aggregate-warnings -1``: every warning listed, so that each one is counted.
    """
    args = ["--osm-files", str(osm), "--type-files", str(typemap_path()),
            "--keep-edges.by-vclass", "passenger",
            "--geometry.remove", "true", "--edges.join", "true",
            "--junctions.join", "true", "--ramps.guess", "true",
            "--tls.guess-signals", "true", "--tls.discard-simple", "true", "--tls.join", "true",
            "--tls.default-type", "static",
            "--osm.turn-lanes", "true",
            "--remove-edges.isolated", "true", "--keep-edges.components", "1",
            "--no-turnarounds.tls", "true",
            "--output.street-names", "true", "--output.original-names", "true",
            "--aggregate-warnings", "-1"]
    if keep is not None:
        args += ["--keep-edges.by-type", ",".join(f"highway.{k}" for k in keep)]
    if bbox is not None:
        args += ["--keep-edges.in-geo-boundary", ",".join(f"{v:.7f}" for v in bbox)]
    return [*args, "-o", out_name]


@dataclass(frozen=True)
class ImportSummary:
    """What an OSM import made, and what it left out and why.

    Attributes
    ----------
    osm, osm_sha256
        The input file and its content hash.
    bbox, keep
        The bounding box (W, S, E, N) [°] and the highway classes kept (None: all).
    junctions
        Junctions of the network (internal ones not counted).
    signals
        Traffic lights (controllers) of the network.
    osm_signal_nodes
        Nodes tagged ``highway=traffic_signals`` on the imported roads (inside the bounding
        box); several usually make one controller (one node per approach, joined).
    edges
        Directed edges.
    road_km
        Length of road, a two-way street counted once. [km]
    lane_km
        Length of all lanes. [km]
    dropped
        Reason → number of OSM ways that did not become roads for that reason.
    dropped_examples
        Reason → a few of those way ids.
    warnings
        Number of ``netconvert`` warnings.
    warning_kinds
        The warnings grouped by their text with ids and numbers left out → count.
    netconvert_args
        The exact ``netconvert`` arguments (reproducible with :data:`sumo_version`).
    sumo_version
        SUMO of the import.
    wall_s
        Wall-clock time of ``netconvert``. [s]
    """

    osm: str
    osm_sha256: str
    bbox: BBox | None
    keep: tuple[str, ...] | None
    junctions: int
    signals: int
    osm_signal_nodes: int
    edges: int
    road_km: float
    lane_km: float
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)
    warnings: int = 0
    warning_kinds: dict[str, int] = field(default_factory=dict)
    netconvert_args: tuple[str, ...] = ()
    sumo_version: str = ""
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready data (the content of ``import.json``)."""
        d = asdict(self)
        d["command"] = "netconvert " + shlex.join(self.netconvert_args)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ImportSummary:
        """Read back :meth:`to_dict` (``import.json``)."""
        kw = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("bbox", "keep", "netconvert_args"):
            if kw.get(k) is not None:
                kw[k] = tuple(kw[k])  # type: ignore[arg-type]
        return cls(**kw)  # type: ignore[arg-type]

    def format(self) -> str:
        """Plain text: what the import made and what it dropped."""
        lines = [f"imported {self.osm}: {self.junctions} junctions, {self.signals} traffic "
                 f"lights (from {self.osm_signal_nodes} OSM signal nodes), {self.edges} edges, "
                 f"{self.road_km:.1f} km of road ({self.lane_km:.1f} lane-km) "
                 f"in {self.wall_s:.1f} s"]
        if self.bbox:
            lines.append("  bounding box W,S,E,N: " + ",".join(f"{v:g}" for v in self.bbox))
        if self.keep:
            lines.append("  highway classes kept: " + ", ".join(self.keep))
        for reason, n in self.dropped.items():
            ex = ", ".join(self.dropped_examples.get(reason, [])[:5])
            lines.append(f"  dropped {n} way{'s' if n != 1 else ''}: {REASONS[reason]}"
                         + (f" (e.g. {ex})" if ex else ""))
        lines.append(f"  netconvert: {self.warnings} warning{'s' if self.warnings != 1 else ''}"
                     + "".join(f"\n    {n:>5} × {k}" for k, n in
                               sorted(self.warning_kinds.items(), key=lambda kv: -kv[1])[:5]))
        return "\n".join(lines)


#: Why a way did not become a road (keys of :attr:`ImportSummary.dropped`).
REASONS = {
    "not_for_cars": "not open to cars (footways, cycleways, paths, steps, construction)",
    "unknown_class": "a highway class SUMO's type map does not import (e.g. proposed, platform)",
    "missing_nodes": "fewer than two of its nodes are in the file (an extract cut without "
                     "the nodes of its ways)",
    "class_left_out": "highway class not in --keep",
    "outside_bbox": "outside the bounding box",
    "isolated": "isolated (a road that reaches no junction)",
    "disconnected": "not connected to the largest part of the network, closed to cars by "
                    "its access tags, or absorbed into a joined junction",
}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_osm(osm: Path, out_dir: Path, bbox: BBox | None = None,
               keep: Sequence[str] | None = None, *, timeout_s: float = 1800.0
               ) -> ImportSummary:
    """Import an OSM file: write ``out_dir/network.net.xml`` and ``out_dir/import.json``.

    Parameters
    ----------
    osm
        The ``.osm`` XML file.
    out_dir
        Folder to write into (created).
    bbox
        Keep only roads within (W, S, E, N) [°]; None: all.
    keep
        OSM highway classes to keep (``primary``, …; their ``_link`` roads come along);
        None: every class open to cars.
    timeout_s
        Wall-clock limit of ``netconvert``. [s]

    Raises
    ------
    OsmError
        The file is not OSM, holds no roads for cars (in the bounding box), or an option is
        invalid.
    SumoError
        ``netconvert`` failed.
    """
    osm = Path(osm).resolve()
    keep_t = parse_keep(keep) if keep is not None else None
    if bbox is not None:
        bbox = parse_bbox(list(bbox))
    scan = scan_osm(osm)
    ways = sort_ways(scan, bbox, keep_t)
    if not ways.roads:
        raise OsmError(osm, *_no_roads(scan, ways, bbox, keep_t))
    out_dir.mkdir(parents=True, exist_ok=True)
    args = netconvert_args(osm, NET_FILE, bbox, keep_t)
    run = run_tool("netconvert", args, cwd=out_dir, timeout_s=timeout_s,
                   what=f"importing {osm.name}")
    net = read_network(out_dir / NET_FILE)
    if not any(True for _ in net.normal_edges()):
        (out_dir / NET_FILE).unlink()  # (an empty network must not be mistaken for a result)
        raise OsmError(osm, "bbox" if bbox else "",
                       "no road is left after the import (every road found is isolated); "
                       "expected a connected street network" + (" inside the bounding box"
                                                                if bbox else ""))
    summary = _summarise(osm, scan, ways, net, run.warnings, bbox, keep_t, args, run.wall_s)
    (out_dir / JSON_FILE).write_text(json.dumps(summary.to_dict(), indent=2) + "\n",
                                     encoding="utf-8")
    return summary


def _no_roads(scan: OsmScan, ways: WaySort, bbox: BBox | None,
              keep: Sequence[str] | None) -> tuple[str, str]:
    """Which option (``bbox``, ``keep`` or none: the file) leaves no road, and why."""
    if not scan.ways:
        return "", "has no ways with a highway tag; expected an OSM extract with streets"
    if not len(scan.ways) - len(ways.not_for_cars) - len(ways.unknown_class):
        return "", (f"has {len(scan.ways)} highway ways but none open to cars (footways, "
                    "cycleways, …); expected streets")
    if len(ways.missing_nodes) == len(scan.ways) - len(ways.not_for_cars) - len(ways.unknown_class):
        return "", ("has roads, but the nodes they are drawn through are not in the file; "
                    "expected a complete extract (ways with their nodes)")
    if keep is not None and not ways.outside_bbox:
        return "keep", f"the file has no roads of the classes {', '.join(keep)}; expected some"
    pts = [scan.nodes[n] for w in scan.ways for n in w.nodes if n in scan.nodes]
    lon = (min(p[0] for p in pts), max(p[0] for p in pts)) if pts else (math.nan, math.nan)
    lat = (min(p[1] for p in pts), max(p[1] for p in pts)) if pts else (math.nan, math.nan)
    box = ",".join(f"{v:g}" for v in bbox or ())
    swapped = bbox is not None and any(
        bbox[1] <= p[0] <= bbox[3] and bbox[0] <= p[1] <= bbox[2] for p in pts)
    hint = " (the box holds them with latitude and longitude swapped: W,S,E,N is " \
           "lon,lat,lon,lat)" if swapped else ""
    return "bbox", (f"no roads for cars inside the bounding box {box}; the file's roads span "
                    f"{lon[0]:.5f},{lat[0]:.5f},{lon[1]:.5f},{lat[1]:.5f} (W,S,E,N): expected "
                    f"a box that overlaps them{hint}")


_ORIG = re.compile(r'<param key="origId" value="([^"]*)"')
_WARN_IDS = re.compile(r"'[^']*'|\"[^\"]*\"|[-#:\w.]*\d[-#:\w.]*")


def _way_of_edge(edge_id: str, ways: set[str] | dict[str, OsmWay]) -> str:
    """The OSM way id an imported edge id comes from (``-123#2`` → ``123``).

    Way ids may be negative themselves (files edited offline): ``--5#1`` is way ``-5`` reversed.
    """
    base = edge_id.split("#", 1)[0]
    if base not in ways and base.startswith("-") and base[1:] in ways:
        return base[1:]
    return base


def _summarise(osm: Path, scan: OsmScan, ways: WaySort, net: Network, warnings: Sequence[str],
               bbox: BBox | None, keep: tuple[str, ...] | None, args: list[str],
               wall_s: float) -> ImportSummary:
    edges = list(net.normal_edges())
    ids = {e.id for e in edges}
    lengths = {e.id: (e.lanes[0].length_m if e.lanes else 0.0) for e in edges}
    # a two-way street is two edges, "X" and "-X": count its length once
    road_m = sum(v for k, v in lengths.items() if not (k.startswith("-") and k[1:] in ids))
    lane_m = sum(ln.length_m for e in edges for ln in e.lanes)
    by_id = {w.id: w for w in scan.ways}
    kept_ways = set(_ORIG.findall(net.path.read_text(encoding="utf-8")))
    kept_ways = {w for v in kept_ways for w in v.split()} | {_way_of_edge(i, by_id) for i in ids}
    isolated = {_way_of_edge(e, by_id) for w in warnings
                if (m := re.search(r"without junctions: (\S+?)\.?$", w))
                for e in m.group(1).split(",")}
    lost = [w for w in ways.roads if w not in kept_ways]
    groups = {
        "not_for_cars": list(ways.not_for_cars), "unknown_class": list(ways.unknown_class),
        "missing_nodes": list(ways.missing_nodes),
        "class_left_out": list(ways.class_left_out), "outside_bbox": list(ways.outside_bbox),
        "isolated": [w for w in lost if w in isolated],
        "disconnected": [w for w in lost if w not in isolated],
    }
    used_nodes = {n for w in ways.roads if w in kept_ways and w in by_id for n in by_id[w].nodes
                  if bbox is None or _inside(scan.nodes.get(n), bbox)}
    kinds = Counter(_WARN_IDS.sub("…", w.removeprefix("Warning: ")).strip() for w in warnings)
    return ImportSummary(
        osm=osm.name, osm_sha256=file_sha256(osm), bbox=bbox, keep=keep,
        junctions=sum(1 for j in net.junctions.values() if j.type != "internal"),
        signals=len({p.id for p in net.programs}),
        osm_signal_nodes=sum(1 for s in scan.signals if s in used_nodes),
        edges=len(edges), road_km=round(road_m / 1000, 3), lane_km=round(lane_m / 1000, 3),
        dropped={k: len(v) for k, v in groups.items() if v},
        dropped_examples={k: sorted(v, key=_natural)[:10] for k, v in groups.items() if v},
        warnings=len(warnings), warning_kinds=dict(kinds.most_common()),
        netconvert_args=tuple(args), sumo_version=sumo_version(), wall_s=round(wall_s, 2))


def _natural(s: str) -> tuple[int, str]:
    return (int(s), s) if s.lstrip("-").isdigit() else (0, s)


# --------------------------------------------------------------------------------------------
# Starter scenario
# --------------------------------------------------------------------------------------------
def fringe_edges(net: Network) -> tuple[list[str], list[str]]:
    """Edges that enter the network at its fringe and edges that leave it there.

    A fringe junction is a dead end whose edges lead to one neighbour only; the main roads
    (highest priority) and the junctions farthest from the network's centre come first, so
    that the example flows cross the network on its arterials rather than from a cul-de-sac.
    """
    edges = list(net.normal_edges())
    neighbours: dict[str, set[str]] = {}
    for e in edges:
        neighbours.setdefault(e.from_junction, set()).add(e.to_junction)
        neighbours.setdefault(e.to_junction, set()).add(e.from_junction)
    ends = {j for j, n in neighbours.items() if len(n) == 1}
    xs = [j.x for j in net.junctions.values()] or [0.0]
    ys = [j.y for j in net.junctions.values()] or [0.0]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2

    def rank(e_id: str, j_id: str) -> tuple[int, float, str]:
        j = net.junctions[j_id]
        return (-(net.edges[e_id].priority or 0), -math.hypot(j.x - cx, j.y - cy), e_id)

    entries = sorted((e.id for e in edges if e.from_junction in ends),
                     key=lambda i: rank(i, net.edges[i].from_junction))
    exits = sorted((e.id for e in edges if e.to_junction in ends),
                   key=lambda i: rank(i, net.edges[i].to_junction))
    return entries, exits


def reachable(net: Network, start: str) -> set[str]:
    """Normal edges a vehicle can reach from edge ``start`` through the network's connections."""
    nxt: dict[str, set[str]] = {}
    for c in net.connections:
        if not c.from_edge.startswith(":"):
            nxt.setdefault(c.from_edge, set()).add(c.to_edge)
    seen, todo = {start}, [start]
    while todo:
        for t in nxt.get(todo.pop(), ()):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def example_flows(net: Network, n: int = 4) -> list[tuple[str, str, float]]:
    """Up to ``n`` (from edge, to edge, distance [m]) pairs across the network, each routable.

    Each entry of :func:`fringe_edges` (best first) is paired with the farthest exit it can
    reach that does not lead back where it came from.
    """
    entries, exits = fringe_edges(net)
    out: list[tuple[str, str, float]] = []
    used: set[str] = set()
    for a in entries:
        if len(out) >= n:
            break
        start = net.junctions[net.edges[a].from_junction]
        reach = reachable(net, a)
        cands = [b for b in exits if b in reach and b not in used
                 and net.edges[b].to_junction != net.edges[a].from_junction]
        if not cands:
            continue
        b = max(cands, key=lambda x: math.hypot(net.junctions[net.edges[x].to_junction].x
                                                - start.x,
                                                net.junctions[net.edges[x].to_junction].y
                                                - start.y))
        end = net.junctions[net.edges[b].to_junction]
        out.append((a, b, math.hypot(end.x - start.x, end.y - start.y)))
        used.add(b)
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def starter_scenario(summary: ImportSummary, net: Network, name: str) -> str:
    """A scenario file around an imported network: ``trafficsim validate`` accepts it.

    Its demand is a placeholder: two small flows between fringe edges so that it runs, more
    examples commented out, and the line that will read traffic counts.
    """
    flows = example_flows(net)
    lines = [
        f"# Starter scenario for the network imported from {summary.osm}",
        f"# ({summary.junctions} junctions, {summary.signals} traffic lights, "
        f"{summary.road_km:.1f} km of road; see import.json for the exact netconvert options).",
        "# The demand below is a PLACEHOLDER: replace it with your own flows or counts.",
        f"name = {_toml_str(name)}",
        f"description = {_toml_str('Imported from ' + summary.osm + ' (placeholder demand)')}",
        "",
        "[simulation]",
        'begin = "08:00"',
        'end = "09:00"',
        "seeds = [1, 2, 3]",
        "",
        "[network]",
        f"file = {_toml_str(NET_FILE)}",
        "",
        "[demand]",
        "bin_minutes = 15",
        '# counts = "counts.csv"   # traffic counts: location,begin,end,count (edge ids below)',
        "",
        "[demand.mix]",
        "car = 0.95",
        "truck = 0.05",
    ]
    for i, (a, b, dist) in enumerate(flows):
        on = i < 2
        c = "" if on else "# "
        lines += ["", f"# {'placeholder' if on else 'example'}: fringe edge {a} → {b} "
                      f"({dist / 1000:.1f} km apart)",
                  f"{c}[[demand.flows]]", f"{c}from = {_toml_str(a)}", f"{c}to = {_toml_str(b)}",
                  f"{c}veh_per_hour = {200 if on else 150}"]
    lines += ["", "[plans.baseline]",
              'description = "Imported signal programs (netconvert defaults, fixed time)"', ""]
    return "\n".join(lines)


def write_starter(out_dir: Path, summary: ImportSummary, name: str) -> Path:
    """Write ``out_dir/scenario.toml`` (:func:`starter_scenario`) and return its path."""
    net = read_network(out_dir / NET_FILE)
    path = out_dir / SCENARIO_FILE
    path.write_text(starter_scenario(summary, net, name), encoding="utf-8")
    return path


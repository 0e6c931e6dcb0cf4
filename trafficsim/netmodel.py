"""One model of a SUMO network (``.net.xml``), read in one streaming pass and cached per file version.

Edges with their lanes, connections, junctions with their right-of-way (``<request>``: foes and
response per link), traffic-light programs (all of them, in file order) and geometry.  Every part of
trafficsim that needs something from a network derives it from :func:`read_network`
(``NetIndex``, plot geometry, signal links and programs, lane shapes), so a network file is parsed
once however many readers ask.

Bottom layer: no project imports.  No SUMO process and no ``sumolib`` object graph: a streaming
``iterparse`` is several times faster, and it keeps the attributes as SUMO wrote them.
"""

from __future__ import annotations

import functools
import gzip
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

Point = tuple[float, float]

#: SUMO's default lane speed when a lane has none (``netconvert``'s default). [m/s]
DEFAULT_SPEED_M_S = 13.89


@dataclass(frozen=True)
class Lane:
    """One lane.

    Attributes
    ----------
    id
        SUMO lane id (``EDGE_INDEX``).
    index
        Index on its edge, 0 the rightmost lane.
    length_m
        Length. [m]
    speed_m_s
        Speed limit. [m/s]
    allow, disallow
        Vehicle classes as SUMO lists them (empty: no restriction written).
    shape_xml
        Centre line as SUMO wrote it (``x,y[,z] x,y[,z] …``); :attr:`shape` parses it.
    width_m
        Width (None: SUMO's default). [m]
    """

    id: str
    index: int
    length_m: float
    speed_m_s: float
    allow: tuple[str, ...] = ()
    disallow: tuple[str, ...] = ()
    shape_xml: str = ""
    width_m: float | None = None

    # (parsed on first use: most lanes of a city, the internal ones above all, are never drawn,
    # and parsing every shape would cost a third of the read)
    @functools.cached_property
    def shape(self) -> tuple[Point, ...]:
        """Centre line in network coordinates [m]."""
        return _shape(self.shape_xml)


@dataclass(frozen=True)
class Edge:
    """An edge with its lanes, rightmost lane first.

    Attributes
    ----------
    function
        SUMO's ``function``: ``""`` for a normal edge, ``internal`` (inside a junction),
        ``connector``, ``crossing`` or ``walkingarea``.
    priority
        Road priority (None when not written, as on internal edges).
    """

    id: str
    from_junction: str
    to_junction: str
    function: str
    priority: int | None
    lanes: tuple[Lane, ...]
    type: str = ""
    name: str = ""

    @property
    def is_normal(self) -> bool:
        """A road edge (not internal, connector, crossing or walking area)."""
        return self.function == ""

    @property
    def length_m(self) -> float:
        """Length of the rightmost lane [m]."""
        return self.lanes[0].length_m if self.lanes else 0.0


#: SUMO's connection ``dir`` → movement letter: T (through), L (left), R (right), U (u-turn).
TURN_OF_DIRECTION = {"s": "T", "l": "L", "L": "L", "r": "R", "R": "R", "t": "U"}


class Connection(NamedTuple):
    """A link from a lane of one edge to a lane of another (SUMO ``<connection>``).

    (A named tuple, not a dataclass: a city has tens of thousands, and building frozen
    dataclasses would cost a fifth of the read.)

    Attributes
    ----------
    via
        The internal lane that crosses the junction (empty: none).
    tl, link_index
        Traffic light that controls the link and its index in the program's state ("" / -1:
        not signalised).
    direction
        SUMO's ``dir``: ``s`` straight, ``l``/``r`` left/right, ``t`` turnaround, …
    state
        SUMO's ``state``: ``M`` major, ``m`` minor, ``o`` signal off, ``=`` all-way stop, …
    link_index2
        Index of the signal that controls the link's internal junction stop (SUMO's
        ``linkIndex2``; -1: none, the stop yields by right of way).
    """

    from_edge: str
    from_lane: int
    to_edge: str
    to_lane: int
    via: str = ""
    tl: str = ""
    link_index: int = -1
    direction: str = ""
    state: str = ""
    link_index2: int = -1

    @property
    def key(self) -> tuple[str, int, str, int]:
        """(from edge, from lane, to edge, to lane)."""
        return (self.from_edge, self.from_lane, self.to_edge, self.to_lane)


@dataclass(frozen=True)
class Request:
    """Right of way of one link of a junction (SUMO ``<request>``).

    ``response`` and ``foes`` are SUMO's bit strings: character ``k`` counted from the right
    stands for the junction's link ``k``.
    """

    index: int
    response: str
    foes: str
    cont: bool = False


@dataclass(frozen=True)
class Junction:
    """A junction (node).

    Attributes
    ----------
    x, y
        Position. [m]
    inc_lanes, int_lanes
        Incoming lanes and internal lanes, as SUMO lists them.
    shape_xml
        Outline as SUMO wrote it; :attr:`shape` parses it.
    requests
        Right of way per link, by request index.
    """

    id: str
    type: str
    x: float
    y: float
    inc_lanes: tuple[str, ...] = ()
    int_lanes: tuple[str, ...] = ()
    shape_xml: str = ""
    requests: tuple[Request, ...] = ()

    @functools.cached_property
    def shape(self) -> tuple[Point, ...]:
        """Outline in network coordinates [m]."""
        return _shape(self.shape_xml)

    def foes(self, link: int) -> frozenset[int]:
        """Links of this junction that conflict with ``link`` (SUMO's ``foes`` bits)."""
        return _bits(self._request(link).foes)

    def yields_to(self, link: int) -> frozenset[int]:
        """Links that ``link`` must let go first (SUMO's ``response`` bits)."""
        return _bits(self._request(link).response)

    def _request(self, link: int) -> Request:
        for r in self.requests:
            if r.index == link:
                return r
        msg = f"junction '{self.id}' has no request for link {link}"
        raise KeyError(msg)


def _bits(s: str) -> frozenset[int]:
    return frozenset(k for k, c in enumerate(reversed(s)) if c == "1")


@dataclass(frozen=True)
class TlPhase:
    """One ``<phase>`` of a program: its state, duration [s] and every attribute as written."""

    state: str
    duration_s: float
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TlProgram:
    """One ``<tlLogic>`` program.

    Attributes
    ----------
    id
        Traffic-light id (need not be a junction id: one program may control joined junctions).
    type, program_id
        SUMO's ``type`` (``static``, ``actuated``, …) and ``programID``.
    offset_s
        Offset. [s]
    phases
        The phases in order.
    params
        ``<param key= value=>`` children, in order.
    attrs
        The element's attributes as written.
    xml
        The element as SUMO wrote it (to copy a program faithfully, e.g. with ``<condition>``
        children of NEMA or custom actuated programs).
    """

    id: str
    type: str
    program_id: str
    offset_s: float
    phases: tuple[TlPhase, ...]
    params: tuple[tuple[str, str], ...] = ()
    attrs: Mapping[str, str] = field(default_factory=dict)
    xml: str = ""

    def element(self) -> ET.Element:
        """A fresh ``<tlLogic>`` element of this program (the caller may change it)."""
        return ET.fromstring(self.xml)


@dataclass(frozen=True)
class Network:
    """Everything trafficsim reads from a ``.net.xml``.

    Attributes
    ----------
    path
        The file (resolved).
    edges
        All edges by id, internal ones included, in file order.
    connections
        All connections in file order (those from internal lanes included).
    junctions
        All junctions by id, internal ones included, in file order.
    programs
        Every traffic-light program in file order (SUMO runs the last one loaded per id).
    location
        Attributes of ``<location>`` (``netOffset``, ``convBoundary``, ``projParameter``, …).

    One object per file version is shared by every reader (:func:`read_network` caches it):
    treat it as read-only.
    """

    path: Path
    edges: Mapping[str, Edge]
    connections: tuple[Connection, ...]
    junctions: Mapping[str, Junction]
    programs: tuple[TlProgram, ...]
    location: Mapping[str, str] = field(default_factory=dict)

    def normal_edges(self) -> Iterator[Edge]:
        """Road edges (not internal, connector, crossing, walking area), in file order."""
        return (e for e in self.edges.values() if e.is_normal)

    def tl_links(self, tl: str) -> tuple[Connection, ...]:
        """Connections controlled by traffic light ``tl``, in file order."""
        return tuple(c for c in self.connections if c.tl == tl)

    def lane(self, lane_id: str) -> Lane:
        """A lane by its id.

        Raises
        ------
        KeyError
            When the network has no such lane.
        """
        e = self.edges.get(lane_id.rpartition("_")[0])
        for lane in e.lanes if e else ():
            if lane.id == lane_id:
                return lane
        msg = f"lane '{lane_id}' is not in the network {self.path}"
        raise KeyError(msg)


class NetworkError(ValueError):
    """A network file that cannot be read (the message names the file)."""


#: A file version: (resolved path, modification time [ns], size [bytes]).
Version = tuple[str, int, int]


def read_network(path: str | Path) -> Network:
    """Read a ``.net.xml`` (or ``.net.xml.gz``); cached per file version.

    The cache key is the resolved path with the file's modification time and size, so a network
    rewritten in place (a plan's patched network) is read again.

    Raises
    ------
    NetworkError
        When the file is missing or not well-formed XML.
    """
    return network_at(network_version(path))


def network_version(path: str | Path) -> Version:
    """The cache key of a network file (views derived from the model cache on it too).

    Raises
    ------
    NetworkError
        When the file is missing.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as exc:
        msg = f"network {p}: cannot be read ({exc.strerror or exc})"
        raise NetworkError(msg) from None
    return (str(p), st.st_mtime_ns, st.st_size)


def network_at(version: Version) -> Network:
    """The model of one file version (see :func:`network_version`)."""
    return _read_cached(*version)


# Networks can be large (a city: tens of MB of model), and a compare run reads a handful of
# files (the base network and one per plan with measures): a small cache suffices.
@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int) -> Network:
    try:
        return _parse(Path(path))
    except ET.ParseError as exc:
        msg = f"network {path}: not well-formed XML ({exc})"
        raise NetworkError(msg) from None


def _parse(path: Path) -> Network:
    edges: dict[str, Edge] = {}
    conns: list[Connection] = []
    junctions: dict[str, Junction] = {}
    programs: list[TlProgram] = []
    location: dict[str, str] = {}
    lanes: list[Lane] = []
    requests: list[Request] = []
    source = _open(path)
    try:
        # (end events only: a lane ends inside its edge, a request inside its junction)
        for _, el in ET.iterparse(source):
            tag = el.tag
            if tag == "lane":
                lanes.append(_lane(el))
            elif tag == "edge":
                a = el.attrib
                pr = a.get("priority")
                edges[a.get("id", "")] = Edge(
                    id=a.get("id", ""), from_junction=a.get("from", ""),
                    to_junction=a.get("to", ""), function=a.get("function", ""),
                    priority=None if pr is None else int(pr),
                    lanes=tuple(sorted(lanes, key=lambda ln: ln.index)),
                    type=a.get("type", ""), name=a.get("name", ""))
                lanes = []
                el.clear()
            elif tag == "connection":
                a = el.attrib
                conns.append(Connection(
                    a.get("from", ""), int(a.get("fromLane", 0)), a.get("to", ""),
                    int(a.get("toLane", 0)), a.get("via", ""), a.get("tl", ""),
                    int(a.get("linkIndex", -1)), a.get("dir", ""), a.get("state", ""),
                    int(a.get("linkIndex2", -1))))
                el.clear()
            elif tag == "request":
                a = el.attrib
                requests.append(Request(index=int(a.get("index", 0)),
                                        response=a.get("response", ""), foes=a.get("foes", ""),
                                        cont=a.get("cont", "0") == "1"))
            elif tag == "junction":
                a = el.attrib
                junctions[a.get("id", "")] = Junction(
                    id=a.get("id", ""), type=a.get("type", ""), x=float(a.get("x", 0.0)),
                    y=float(a.get("y", 0.0)), inc_lanes=tuple(a.get("incLanes", "").split()),
                    int_lanes=tuple(a.get("intLanes", "").split()),
                    shape_xml=a.get("shape", ""), requests=tuple(requests))
                requests = []
                el.clear()
            elif tag == "tlLogic":
                programs.append(_program(el))
                el.clear()
            elif tag == "location":
                location = dict(el.attrib)
    finally:
        source.close()
    return Network(path=path, edges=edges, connections=tuple(conns), junctions=junctions,
                   programs=tuple(programs), location=location)


def _open(path: Path) -> BinaryIO | gzip.GzipFile:
    """The file as bytes (``.gz`` networks, as SUMO writes them, decompressed)."""
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def _lane(el: ET.Element) -> Lane:
    a = el.attrib
    lane_id = a.get("id", "")
    index = a.get("index")
    width = a.get("width")
    return Lane(id=lane_id,
                index=int(index) if index is not None else int(lane_id.rsplit("_", 1)[1]),
                length_m=float(a.get("length", 0.0)),
                speed_m_s=float(a.get("speed", DEFAULT_SPEED_M_S)),
                allow=tuple(a.get("allow", "").split()),
                disallow=tuple(a.get("disallow", "").split()),
                shape_xml=a.get("shape", ""),
                width_m=None if width is None else float(width))


def _shape(text: str) -> tuple[Point, ...]:
    pts = []
    for pair in text.split():
        x, y = pair.split(",")[:2]
        pts.append((float(x), float(y)))
    return tuple(pts)


def _program(el: ET.Element) -> TlProgram:
    a = el.attrib
    phases = tuple(TlPhase(state=ph.get("state", ""), duration_s=float(ph.get("duration", 0)),
                           attrs=dict(ph.attrib))
                   for ph in el.findall("phase"))
    params = tuple((p.get("key", ""), p.get("value", "")) for p in el.findall("param"))
    tail, el.tail = el.tail, None
    xml = ET.tostring(el, encoding="unicode")
    el.tail = tail
    return TlProgram(id=a.get("id", ""), type=a.get("type", "static"),
                     program_id=a.get("programID", "0"), offset_s=float(a.get("offset", 0) or 0),
                     phases=phases, params=params, attrs=dict(a), xml=xml)

"""What the pictures need from a ``.net.xml``: lane shapes, connections, signal programs, corridors.

Derived from the network model (:func:`trafficsim.netmodel.read_network`).  The signal
programs are read as SUMO wrote them; SUMO starts phase 0 of a static program at every simulation
time ``t`` with ``(t - offset) mod cycle == 0`` (checked against SUMO's ``SaveTLSSwitchStates``
output in the tests).
"""

from __future__ import annotations

import functools
import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from trafficsim.netmodel import Point as Point  # (re-exported: plots draw with it)
from trafficsim.netmodel import Version, network_at, network_version
from trafficsim.signals import Program, parse_program, program_of


@dataclass(frozen=True)
class Lane:
    """One lane of a normal edge.

    Attributes
    ----------
    id
        SUMO lane id (``EDGE_INDEX``).
    length_m
        Length. [m]
    speed_m_s
        Speed limit. [m/s]
    shape
        Centre line. [m] (network coordinates)
    """

    id: str
    length_m: float
    speed_m_s: float
    shape: tuple[Point, ...]


@dataclass(frozen=True)
class Edge:
    """A normal (non-internal) edge with its lanes, rightmost lane first."""

    id: str
    from_node: str
    to_node: str
    lanes: tuple[Lane, ...]

    @property
    def length_m(self) -> float:
        """Length of the edge, that of its rightmost lane [m]."""
        return self.lanes[0].length_m if self.lanes else 0.0


@dataclass(frozen=True)
class Connection:
    """A link from a lane of one edge to a lane of the next; ``tl`` / ``link_index`` when signalised.

    ``direction`` is SUMO's ``dir``: ``s`` straight, ``l``/``r`` left/right, ``t`` turnaround, …
    """

    from_edge: str
    to_edge: str
    from_lane: int
    to_lane: int
    direction: str
    tl: str
    link_index: int
    via: str = ""


@dataclass(frozen=True)
class NetGeometry:
    """The parts of a network that plots use.

    Attributes
    ----------
    edges
        Normal edges by id.
    connections
        Connections between normal edges.
    programs
        Signal programs by traffic-light id (the first program of each id).
    junction_xy
        Position of each non-internal junction. [m]
    """

    edges: dict[str, Edge]
    connections: tuple[Connection, ...]
    programs: dict[str, Program]
    junction_xy: dict[str, Point]

    def links(self, from_edge: str, to_edge: str) -> tuple[Connection, ...]:
        """The connections from one edge to another."""
        return tuple(c for c in self.connections
                     if c.from_edge == from_edge and c.to_edge == to_edge)


@functools.lru_cache(maxsize=16)
def _geometry(version: Version) -> NetGeometry:
    network = network_at(version)
    edges = {e.id: Edge(id=e.id, from_node=e.from_junction, to_node=e.to_junction,
                        lanes=tuple(Lane(id=ln.id, length_m=ln.length_m, speed_m_s=ln.speed_m_s,
                                         shape=ln.shape) for ln in e.lanes))
             for e in network.normal_edges()}
    conns = tuple(Connection(from_edge=c.from_edge, to_edge=c.to_edge, from_lane=c.from_lane,
                             to_lane=c.to_lane, direction=c.direction, tl=c.tl,
                             link_index=c.link_index, via=c.via)
                  for c in network.connections
                  if not c.from_edge.startswith(":") and not c.to_edge.startswith(":"))
    programs: dict[str, Program] = {}
    for tl in network.programs:
        if tl.id not in programs:
            programs[tl.id] = program_of(tl)
    junctions = {j.id: (j.x, j.y) for j in network.junctions.values() if j.type != "internal"}
    return NetGeometry(edges=edges, connections=conns, programs=programs, junction_xy=junctions)


def with_additional_programs(geo: NetGeometry, additional: Path) -> NetGeometry:
    """Return ``geo`` with the programs SUMO makes active when it also loads ``additional``.

    A new program loaded later becomes a traffic light's active one (e.g. a plan's
    ``measures.add.xml`` with a ``signal_plan``).  Programs switched by a ``<WAUT>`` are not
    followed: the network's stay.  An unreadable file leaves ``geo`` as it is.
    """
    try:
        root = ET.parse(additional).getroot()
    except (ET.ParseError, OSError):
        return geo
    if root.find("WAUT") is not None:
        return geo
    programs = dict(geo.programs)
    for el in root.iter("tlLogic"):
        if el.get("id", "") in programs:
            programs[el.get("id", "")] = parse_program(el)
    return replace(geo, programs=programs)


def read_net(path: str | Path) -> NetGeometry:
    """The geometry of a ``.net.xml`` (from the cached network model)."""
    return _geometry(network_version(path))


@dataclass(frozen=True)
class Corridor:
    """A chain of edges driven straight through, with each edge's start along the chain.

    Attributes
    ----------
    edges
        Edge ids in driving order.
    start_m
        Distance of each edge's start from the corridor's start (junction gaps included). [m]
    length_m
        Distance from the corridor's start to the end of its last edge. [m]
    internal_start_m
        Internal edge (inside a junction, e.g. ``:J1_10``) of the straight movement from one
        corridor edge to the next → its start along the corridor (the stop line). [m]
    signals
        ``(distance of the stop line [m], traffic-light id, link indices of the through
        movement)`` for every signalised junction the chain passes.
    """

    edges: tuple[str, ...]
    start_m: tuple[float, ...]
    length_m: float
    signals: tuple[tuple[float, str, tuple[int, ...]], ...]
    internal_start_m: dict[str, float] = field(default_factory=dict)

    def positions(self, lanes: Sequence[str] | np.ndarray,
                  pos_m: Sequence[float] | np.ndarray) -> np.ndarray:
        """Distance along the corridor of lane positions, NaN off the corridor [m]."""
        start = dict(zip(self.edges, self.start_m, strict=True)) | self.internal_start_m
        # a few hundred distinct lanes among up to millions of samples: look each up once
        names, inverse = np.unique(np.asarray(lanes, dtype=str), return_inverse=True)
        off = np.array([start.get(str(n).rsplit("_", 1)[0], np.nan) for n in names],
                       dtype=float)
        out: np.ndarray = off[inverse.ravel()] + np.asarray(pos_m, dtype=float)
        return out


def corridor(net: NetGeometry, edges: tuple[str, ...] | list[str]) -> Corridor:
    """Lay out a chain of edges along one distance axis.

    Raises
    ------
    ValueError
        When an edge is not in the network or two consecutive edges are not connected.
    """
    starts: list[float] = []
    internal: dict[str, float] = {}
    signals = []
    pos = 0.0
    for i, e in enumerate(edges):
        if e not in net.edges:
            msg = f"corridor edge '{e}' is not in the network"
            raise ValueError(msg)
        edge = net.edges[e]
        if i:
            prev = net.edges[edges[i - 1]]
            links = net.links(prev.id, e)
            if not links:
                msg = f"corridor edges '{prev.id}' and '{e}' are not connected"
                raise ValueError(msg)
            end = prev.lanes[0].shape[-1]
            begin = edge.lanes[0].shape[0]
            pos += prev.length_m
            for c in links:
                if c.via:  # the lane inside the junction: from the stop line on
                    internal[c.via.rsplit("_", 1)[0]] = pos
            tl_links = [c for c in links if c.tl]
            if tl_links:
                signals.append((pos, tl_links[0].tl,
                                tuple(sorted({c.link_index for c in tl_links}))))
            pos += math.dist(end, begin)  # the junction crossed between the two edges
        starts.append(pos)
    length = starts[-1] + net.edges[edges[-1]].length_m if edges else 0.0
    return Corridor(edges=tuple(edges), start_m=tuple(starts), length_m=length,
                    signals=tuple(signals), internal_start_m=internal)


def find_corridors(net: NetGeometry) -> tuple[tuple[str, ...], ...]:
    """The main corridor of a network and its opposite direction (when there is one).

    The main corridor is the chain of straight-through movements (SUMO ``dir="s"``) that passes
    the most signalised junctions, then the longest one.  The opposite direction is the chain of
    the reverse edges (same end junctions, swapped), kept when it is connected throughout.

    Returns
    -------
    tuple of edge chains
        Zero, one or two chains.
    """
    straight: dict[str, list[Connection]] = {}
    for c in net.connections:
        if c.direction == "s":
            straight.setdefault(c.from_edge, []).append(c)
    has_pred = {c.to_edge for cs in straight.values() for c in cs}
    best: tuple[tuple[int, float, float, float], tuple[str, ...]] | None = None
    for start in sorted(net.edges):
        if start in has_pred and start in straight:
            continue  # only chains that start where no straight movement leads in
        chain, n_sig, length = [start], 0, net.edges[start].length_m
        seen = {start}
        while straight.get(chain[-1]):
            options = straight[chain[-1]]
            # prefer the widest continuation (the main road keeps its lanes)
            nxt = max(options, key=lambda c: (len(net.edges[c.to_edge].lanes), c.to_edge))
            if nxt.to_edge in seen or nxt.to_edge not in net.edges:
                break
            n_sig += bool(nxt.tl)
            chain.append(nxt.to_edge)
            seen.add(nxt.to_edge)
            length += net.edges[nxt.to_edge].length_m
        # ties (the two directions of a street): start in the west, then in the south
        x0, y0 = net.junction_xy.get(net.edges[start].from_node, (0.0, 0.0))
        score = (n_sig, round(length, 3), -x0, -y0)
        if len(chain) > 1 and (best is None or score > best[0]):
            best = (score, tuple(chain))
    if best is None:
        return ()
    main = best[1]
    by_ends = {(e.from_node, e.to_node): e.id for e in net.edges.values()}
    found = [by_ends.get((net.edges[e].to_node, net.edges[e].from_node)) for e in reversed(main)]
    rev = tuple(r for r in found if r)
    if len(rev) == len(found) and all(net.links(a, b) for a, b in itertools.pairwise(rev)):
        return (main, rev)
    return (main,)

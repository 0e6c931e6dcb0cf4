"""Movements through a junction, as the intersection measures see them (not a measure itself).

A *movement* is an approach edge's link to one outgoing edge (``W_J1 → J1_N1``).  Its letter is
read from SUMO's own turn direction (``dir`` of the network's connections): ``T`` through,
``L`` left (also SUMO's partial left ``L``), ``R`` right (and partial right), ``U`` u-turn.

Per-vehicle passages of a movement come from SUMO's vehicle-route output with exit times and
internal edges (:data:`VEHROUTE_OPTIONS`): when a vehicle entered the approach, crossed the
stop line (left the approach edge), passed each internal stop and entered the outgoing edge.
Every plan of a scenario records it (the measures' ``observe``), so plans pair on the same
yardstick.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trafficsim.netmodel import TURN_OF_DIRECTION, Network, read_network

#: Movement letter → its name in messages.
LETTER_NAMES = {"L": "left", "T": "through", "R": "right", "U": "u-turn"}

VEHROUTE_FILE = "vehroutes.xml"
#: Options of the per-vehicle route output the movement yardsticks read (one file per run).
VEHROUTE_OPTIONS = ["--vehroute-output", VEHROUTE_FILE,
                    "--vehroute-output.exit-times", "true",
                    "--vehroute-output.internal", "true"]


def car_lanes(network: Network, edge: str) -> list[int]:
    """Indices of the lanes of ``edge`` open to cars (SUMO class ``passenger``), ascending.

    Sidewalks, bicycle and bus lanes are not among them.
    """
    e = network.edges.get(edge)
    out = []
    for lane in e.lanes if e is not None else ():
        if lane.allow:
            ok = "passenger" in lane.allow or "all" in lane.allow
        else:
            ok = "passenger" not in lane.disallow and "all" not in lane.disallow
        if ok:
            out.append(lane.index)
    return out


def movements(network: Network, edge: str) -> dict[str, str]:
    """Outgoing edge → movement letter of every movement leaving ``edge``'s car lanes today."""
    lanes = set(car_lanes(network, edge))
    out: dict[str, str] = {}
    for c in network.connections:
        if c.from_edge == edge and c.from_lane in lanes and not c.to_edge.startswith(":"):
            out.setdefault(c.to_edge, TURN_OF_DIRECTION.get(c.direction, "T"))
    return out


@dataclass(frozen=True)
class Passage:
    """One vehicle's way through a movement.

    Attributes
    ----------
    vehicle, to_edge
        Who, and where it went.
    enter_s
        When it entered the approach (its first edge, or its departure on it). [s]
    stop_line_s
        When it crossed the stop line (left the approach's last edge). [s]
    out_s
        When it entered the outgoing edge. [s]
    free_flow_s
        Its time from ``enter_s`` to ``out_s`` at the lanes' speed limits. [s]
    """

    vehicle: str
    to_edge: str
    enter_s: float
    stop_line_s: float
    out_s: float
    free_flow_s: float

    @property
    def delay_s(self) -> float:
        """Time [s] lost on the approach and in the junction."""
        return max(0.0, self.out_s - self.enter_s - self.free_flow_s)


def read_passages(run_dir: Path, approach: Sequence[str]) -> list[Passage]:
    """Every vehicle's passage from the approach ``approach`` (edges in driving order).

    Read from the run's vehicle-route output; the free-flow times use the run's own network
    (``../net.net.xml``).  Vehicles that had not entered the outgoing edge by the end are left
    out.  Empty when the run has no such output.
    """
    path = run_dir / VEHROUTE_FILE
    if not path.is_file():
        return []
    network = read_network(run_dir.parent / "net.net.xml")
    chain = set(approach)
    last = approach[-1]
    out = []
    for _, el in ET.iterparse(path):
        if el.tag != "vehicle":
            continue
        route = el.find("route")
        if route is None:
            route = el.find("routeDistribution/route")
        if route is not None:
            edges = route.get("edges", "").split()
            times = [float(t) for t in route.get("exitTimes", "").split()]
            p = _passage(el.get("id", ""), float(el.get("depart", "nan")), edges, times, chain,
                         last, network)
            if p is not None:
                out.append(p)
        el.clear()
    return out


def _passage(vid: str, depart: float, edges: list[str], times: list[float], chain: set[str],
             last: str, network: Network) -> Passage | None:
    if last not in edges:
        return None
    j = edges.index(last)
    k = j + 1
    while k < len(edges) and edges[k].startswith(":"):
        k += 1
    if k >= len(edges) or k - 1 >= len(times):
        return None
    i = j
    while i > 0 and (edges[i - 1] in chain or edges[i - 1].startswith(":")):
        i -= 1
    while edges[i].startswith(":"):
        i += 1
    enter = times[i - 1] if i > 0 else depart
    free = sum(_free_s(network, e) for e in edges[i:k])
    return Passage(vid, edges[k], enter, times[j], times[k - 1], free)


def _free_s(network: Network, edge: str) -> float:
    e = network.edges.get(edge)
    if e is None or not e.lanes:
        return 0.0
    lane = e.lanes[0]
    return lane.length_m / lane.speed_m_s if lane.speed_m_s > 0 else 0.0


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN when empty."""
    return sum(values) / len(values) if values else math.nan

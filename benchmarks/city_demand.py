"""A city's demand as OD flows between zones, for the LuST half city (``city_scale.py``).

The LuST map has no demand.  We give it OD flows of four kinds between *zones*: the major roads
that enter and leave the map at its edge (motorway links, primary, secondary and tertiary roads
cut by the map's boundary) and inner zones, one residential or tertiary edge per square
kilometre:

- through traffic, edge to edge, across the map (20 % of the trips);
- inbound, edge to an inner zone (30 %) and outbound, an inner zone to the edge (30 %);
- internal, between inner zones at least 1 km apart (20 %).

Each pair's share is drawn from a fixed-seed gamma distribution (a few strong relations, many
weak ones), so the file is reproducible.  Every pair is checked to have a route (sumolib's
Dijkstra on passenger-car edges) before it is written: SUMO stops at a trip it cannot route.
The flows become ``[[demand.flows]]`` of a trafficsim scenario, so every seed draws its own
vehicles (Poisson arrivals per 15-minute bin) and every plan sees the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: OSM road classes that make an edge of the map a zone (where the outside world connects).
GATEWAY_TYPES = ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
                 "secondary", "tertiary")
#: Road classes of an inner zone (where trips start and end inside the city).
INNER_TYPES = ("residential", "tertiary", "unclassified", "living_street")
#: Share of the trips per kind of relation.
SHARES = {"through": 0.2, "inbound": 0.3, "outbound": 0.3, "internal": 0.2}
#: OD pairs drawn per kind of relation.
PAIRS = {"through": 60, "inbound": 110, "outbound": 110, "internal": 80}
#: Shortest straight-line distance of a pair. [m]
MIN_PAIR_M = 1000.0
#: Side of the square cells that each hold one inner zone. [m]
CELL_M = 1000.0


@dataclass(frozen=True)
class Flow:
    """One OD relation: first and last edge, peak hourly flow [veh/h] and its kind."""

    origin: str
    destination: str
    veh_per_hour: float
    kind: str


def _road_class(edge: object) -> str:
    return str(edge.getType()).rsplit(".", 1)[-1]  # type: ignore[attr-defined]


def _is_entry(edge: object) -> bool:
    """The edge starts at a junction that nothing but its own reverse edge enters."""
    e: object = edge
    node = e.getFromNode()  # type: ignore[attr-defined]
    return all(i.getFromNode() == e.getToNode() for i in node.getIncoming())  # type: ignore[attr-defined]


def _is_exit(edge: object) -> bool:
    node = edge.getToNode()  # type: ignore[attr-defined]
    return all(o.getToNode() == edge.getFromNode() for o in node.getOutgoing())  # type: ignore[attr-defined]


def city_flows(net_file: Path, total_veh_h: float, *, seed: int = 7,
               shares: dict[str, float] | None = None, pairs: dict[str, int] | None = None,
               gateways: Sequence[str] | None = GATEWAY_TYPES,
               min_pair_m: float = MIN_PAIR_M) -> list[Flow]:
    """OD flows that add up to ``total_veh_h`` at the peak, between routable zones.

    Parameters
    ----------
    net_file
        The SUMO network.
    total_veh_h
        Sum of the flows' peak rates. [veh/h]
    seed
        Seed of the zone and pair draws (not of the vehicles: those are drawn per run seed).
    shares, pairs
        Share of the trips and number of OD pairs per kind of relation (default
        :data:`SHARES`, :data:`PAIRS`); a kind left out has no trips.
    gateways
        Road classes of the entries and exits at the map's edge (None: every road cut by it,
        as for a district cut out of a city).
    min_pair_m
        Shortest straight-line distance between origin and destination. [m]
    """
    shares = SHARES if shares is None else shares
    pairs_wanted = PAIRS if pairs is None else pairs
    import sumolib  # the wheel's library; only this generator needs it

    net = sumolib.net.readNet(str(net_file))
    cars = [e for e in net.getEdges() if e.allows("passenger") and e.getFunction() != "internal"]
    entries = [e for e in cars if _is_entry(e) and (gateways is None or _road_class(e) in gateways)]
    exits = [e for e in cars if _is_exit(e) and (gateways is None or _road_class(e) in gateways)]
    rng = np.random.default_rng(seed)
    inner = _inner_zones(cars, rng)
    candidates = {
        "through": [(o, d) for o in entries for d in exits],
        "inbound": [(o, d) for o in entries for d in inner],
        "outbound": [(o, d) for o in inner for d in exits],
        "internal": [(o, d) for o in inner for d in inner if o is not d],
    }
    flows: list[Flow] = []
    for kind, pairs in candidates.items():
        if kind not in shares:
            continue
        pairs = [(o, d) for o, d in pairs if _far_apart(o, d, min_pair_m)]
        order = rng.permutation(len(pairs))
        chosen = []
        for i in order:
            o, d = pairs[i]
            if net.getShortestPath(o, d, vClass="passenger")[0] is not None:
                chosen.append((o, d))
            if len(chosen) == pairs_wanted[kind]:
                break
        weights = rng.gamma(0.8, 1.0, len(chosen))
        weights *= shares[kind] * total_veh_h / weights.sum()
        flows += [Flow(o.getID(), d.getID(), round(float(w), 1), kind)
                  for (o, d), w in zip(chosen, weights, strict=True) if w >= 0.5]
    return flows


def _inner_zones(cars: Sequence[object], rng: np.random.Generator) -> list[object]:
    """One edge per occupied square cell, of an inner road class and at least 60 m long."""
    cells: dict[tuple[int, int], list[object]] = {}
    for e in cars:
        if _road_class(e) not in INNER_TYPES or e.getLength() < 60:  # type: ignore[attr-defined]
            continue
        x, y = _mid(e)
        cells.setdefault((int(x // CELL_M), int(y // CELL_M)), []).append(e)
    return [cands[rng.integers(len(cands))] for _, cands in sorted(cells.items())
            if len(cands) >= 5]  # a cell with a handful of streets is built up


def _mid(edge: object) -> tuple[float, float]:
    (x0, y0), (x1, y1) = (edge.getFromNode().getCoord(),  # type: ignore[attr-defined]
                          edge.getToNode().getCoord())  # type: ignore[attr-defined]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _far_apart(a: object, b: object, min_m: float) -> bool:
    (xa, ya), (xb, yb) = _mid(a), _mid(b)
    return math.hypot(xa - xb, ya - yb) >= min_m


def flows_toml(flows: Sequence[Flow], profile: str) -> str:
    """The flows as ``[[demand.flows]]`` tables, grouped by kind, with a comment per group."""
    lines = []
    for kind in dict.fromkeys(f.kind for f in flows):
        group = [f for f in flows if f.kind == kind]
        lines += ["", f"# {kind}: {len(group)} relations, "
                      f"{sum(f.veh_per_hour for f in group):,.0f} veh/h at the peak"]
        for f in group:
            lines += ["[[demand.flows]]", f'from = "{f.origin}"', f'to = "{f.destination}"',
                      f"veh_per_hour = {f.veh_per_hour:g}", f'profile = "{profile}"']
    return "\n".join(lines) + "\n"

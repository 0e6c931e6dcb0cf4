"""Shared pieces of lane measures: roads as edge paths, added lanes, timed lane closings.

Not a measure itself.  A *road* is a list of edges in driving order, each leading into the
next.  Lanes are opened and closed in time by ``<rerouter>`` intervals with
``<closingLaneReroute>`` (SUMO's native, inspectable mechanism): inside an interval the lane
allows only the listed vehicle classes, outside it has its network permissions again.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence

from trafficsim.measures.base import NetIndex

Window = tuple[float, float]


def road_issues(net: NetIndex, edges: Sequence[str], key: str) -> list[tuple[str, str]]:
    """(field, message) for edges missing from the network or not following each other."""
    out = [(f"{key}[{i}]", msg) for i, e in enumerate(edges)
           if (msg := net.missing_edge(e)) is not None]
    if out:
        return out
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        if net.ends(a)[1] != net.ends(b)[0]:
            out.append((f"{key}[{i + 1}]", f"edge '{b}' does not start where '{a}' ends "
                                           f"(junction '{net.ends(a)[1]}'); list the road's edges "
                                           "in driving order"))
    if len(set(edges)) != len(edges):
        out.append((key, "lists an edge twice"))
    return out


def added_lane(net: NetIndex, edges: Sequence[str]) -> tuple[list[str], list[str]]:
    """Edge and connection patches that add one innermost lane to each edge of a road.

    ``netconvert`` keeps every existing connection, so all turns stay where they were; the new
    lane only links straight on to the next edge's new lane.  It starts and ends like a lane
    gain and a lane drop: vehicles change into it and out of it, and a vehicle never depends
    on it to reach a turn, so closing it can never cut a route.
    """
    edge_patches = [f'<edge id="{e}" numLanes="{net.edges[e] + 1}"/>' for e in edges]
    connections = [f'<connection from="{a}" to="{b}" fromLane="{net.edges[a]}" '
                   f'toLane="{net.edges[b]}"/>' for a, b in itertools.pairwise(edges)]
    return edge_patches, connections


def complement(windows: Iterable[Window], begin_s: float, end_s: float) -> list[Window]:
    """The parts of [begin_s, end_s) not covered by the (sorted, disjoint) windows."""
    out = []
    t = begin_s
    for b, e in sorted(windows):
        if b > t:
            out.append((t, min(b, end_s)))
        t = max(t, e)
    if t < end_s:
        out.append((t, end_s))
    return [(b, e) for b, e in out if e > b]


def clip(windows: Iterable[Window], begin_s: float, end_s: float) -> list[Window]:
    """Windows cut to [begin_s, end_s); empty ones dropped."""
    return [(max(b, begin_s), min(e, end_s)) for b, e in windows
            if min(e, end_s) > max(b, begin_s)]


def closing_rerouter(rid: str, trigger_edges: Sequence[str], lanes: Sequence[str],
                     intervals: Iterable[Window], allow: str = "authority") -> str:
    """A ``<rerouter>`` that restricts ``lanes`` to the classes in ``allow`` in each interval."""
    body = "".join(
        f'<interval begin="{b:g}" end="{e:g}">'
        + "".join(f'<closingLaneReroute id="{lane}" allow="{allow}"/>' for lane in lanes)
        + "</interval>" for b, e in intervals)
    if not body:
        return ""
    return f'<rerouter id="{rid}" edges="{" ".join(trigger_edges)}">{body}</rerouter>'


def tag(*parts: object) -> str:
    """A short stable id fragment for element ids of one measure instance."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:8]


def bypass_links(net: NetIndex, lanes: dict[str, int]) -> list[str]:
    """Connection patches so that no movement depends on the restricted lanes.

    ``lanes`` maps edge → index of its restricted lane.  Every turn that only the restricted
    lane served gets a link from the neighbouring lane too, and every upstream edge that could
    only enter the restricted lane gets a link into the neighbouring lane: when the lane closes
    to some vehicles, they still reach every edge they could reach before (SUMO would otherwise
    find no route, or leave them standing at the end of the lane).
    """
    def neighbour(e: str) -> int:
        return lanes[e] + 1 if lanes[e] + 1 < net.edges[e] else lanes[e] - 1

    out = []
    for e, restricted in lanes.items():
        outgoing = [(fl, to, tl) for f, fl, to, tl in net.connections if f == e]
        for fl, to, tl in outgoing:
            if fl == restricted and not any(to == t2 and f2 != restricted
                                             for f2, t2, _ in outgoing):
                out.append(f'<connection from="{e}" to="{to}" fromLane="{neighbour(e)}" '
                           f'toLane="{tl}"/>')
            if fl == restricted and to in lanes and tl == lanes[to]:
                # A vehicle caught on the lane when it closes can drive on into a general
                # lane instead of standing at the stop line until it finds a gap.
                out.append(f'<connection from="{e}" to="{to}" fromLane="{fl}" '
                           f'toLane="{neighbour(to)}"/>')
        incoming = [(f, fl, tl) for f, fl, to, tl in net.connections if to == e]
        for f, fl, tl in incoming:
            if tl == restricted and not any(f2 == f and t2 != restricted
                                            for f2, _, t2 in incoming):
                out.append(f'<connection from="{f}" to="{e}" fromLane="{fl}" '
                           f'toLane="{neighbour(e)}"/>')
    return list(dict.fromkeys(out))

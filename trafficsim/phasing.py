"""Phase design: signal programs built from a junction's movements.

:func:`layout` reads what a traffic light controls from the network (its movements with their
turns, the approaches grouped into opposing pairs, pedestrian crossings, the junction's foe and
response matrices mapped to the light's link indices, and the ITE intergreen needs of every link);
:func:`build_program` turns it into a fixed-time SUMO program for one of the phasings of
:data:`PHASINGS`; :func:`design_plan` does it for several lights.

Phasings (a 4-leg junction with opposing pairs A = (A1, A2) and B; an approach without an
opposite, as the stem of a T or a one-way street, is a pair of its own):

``two_stage``
    A: every movement of A1 and A2 (lefts permissive ``g`` where SUMO's right of way makes them
    yield to the opposing through), then B likewise.
``leading_left``
    A's lefts that have a lane of their own protected, then A's throughs and rights with
    permissive lefts; then B likewise.
``lead_lag``
    A1 alone (left, through, right: its left is protected), then the throughs and rights of A1
    and A2, then A2 alone (its left lags); then B likewise.  No permissive left in the middle
    stage (that would be the lead–lag "yellow trap"), except a left that shares its lane with
    the through.
``split``
    every approach alone, all its movements green.
``left_overlap``
    A's lefts that have a lane of their own protected together, then the heavier one (A1)
    overlapping its own through (A1 alone), then the throughs and rights of A1 and A2 (the NEMA
    dual-ring sequence 1+5, 1+6, 2+6); then B likewise.

:func:`applicable` says which make sense at a light; movements that share a lane always run
together (permissive where they yield), since the first vehicle of a shared lane blocks it.

Every stage is built so that it is safe by construction: two links that conflict (the
junction's ``foes``) are green together only when SUMO's ``response`` makes one of them yield,
and that one shows ``g``; two links that must each yield to the other never are (SUMO's "mutual
conflict", a deadlock).  Pedestrian crossings get green in the stages where every conflicting
vehicle movement is a turn that yields to them (right turns become ``g``), never beside through
traffic or a protected left; a link that a phasing leaves unserved (a left that may not run
permissive, a crossing no stage can take) joins the first stage that can take it safely, else a
stage of its own.

Transitions after each stage (the stage's transition phases in :class:`trafficsim.signals.Stage`):

1. pedestrian clearance: crossings that end show ``u`` (SUMO treats red-yellow as red, so no one
   starts to cross) while the stage's vehicles keep their green, as long as the crossing's
   clearance (length / 1.2 m/s) needs beyond the yellow and all-red;
2. yellow for the vehicle links that end: ITE ``t_r + v / (2 a)``, ``t_r`` = 1.0 s,
   ``a`` = 3.05 m/s², ``v`` the approach lane's speed, at least 3 s;
3. all-red: ITE ``(W + L) / v`` with ``W`` the link's path through the junction (its internal
   lanes) and ``L`` = 6 m, when a conflicting link gets green (or priority: ``g`` to ``G``)
   before the ending link is green again; the links about to start show ``u`` (red-yellow:
   still red in SUMO; it also keeps the phase a transition for :class:`trafficsim.signals.Program`,
   whose green phases show neither ``y`` nor ``u``).

Yellow, all-red and pedestrian clearance are rounded **up to whole seconds** (SUMO's default step is
1 s, and a phase ends on a step anyway).  A stage's minimum green is the vehicle minimum green, or
the pedestrian walk time (7 s) when a crossing's green starts in it (the crossing's clearance runs
in the transition).

Pure module: it reads the network model and never starts SUMO.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from trafficsim.netmodel import TURN_OF_DIRECTION, Connection, Junction, Network
from trafficsim.signals import Phase, Program, SignalPlan, fit_greens

#: The phasings :func:`build_program` knows, in the order a design search tries them.
PHASINGS: tuple[str, ...] = ("two_stage", "leading_left", "lead_lag", "split", "left_overlap")

#: ITE change interval: perception-reaction time [s], deceleration [m/s²], minimum yellow [s].
PERCEPTION_REACTION_S = 1.0
DECELERATION_M_S2 = 3.05
MIN_YELLOW_S = 3.0
#: ITE red clearance: vehicle length [m].
VEHICLE_LENGTH_M = 6.0
#: Pedestrians: minimum walk [s] and walking speed for the clearance [m/s] (MUTCD 4E.06).
WALK_S = 7.0
PEDESTRIAN_SPEED_M_S = 1.2
#: Vehicle minimum green [s] and the cycle of the default equal split [s].
MIN_GREEN_S = 5.0
DEFAULT_CYCLE_S = 90.0

_GREEN = "Gg"


# --------------------------------------------------------------------------------------------
# ITE intergreens
# --------------------------------------------------------------------------------------------
def ite_yellow_s(speed_m_s: float) -> float:
    """ITE yellow change interval ``t_r + v / (2 a)`` on a level approach, at least 3 s [s].

    ``speed_m_s`` is the approach speed [m/s]; ``t_r`` = 1.0 s, ``a`` = 3.05 m/s².
    50 km/h (13.89 m/s): 1.0 + 13.89 / 6.1 = 3.28 s.
    """
    return max(MIN_YELLOW_S, PERCEPTION_REACTION_S + speed_m_s / (2.0 * DECELERATION_M_S2))


def ite_all_red_s(clearing_m: float, speed_m_s: float) -> float:
    """ITE red clearance interval ``(W + L) / v`` [s].

    ``clearing_m`` is the distance W from the stop line through the conflict area [m]
    (the link's path through the junction), ``L`` = 6 m, ``speed_m_s`` the approach speed [m/s].
    """
    return (clearing_m + VEHICLE_LENGTH_M) / max(speed_m_s, 0.1)


def pedestrian_clearance_s(length_m: float) -> float:
    """Time a pedestrian who starts at the end of the walk needs to cross: length / 1.2 m/s [s]."""
    return length_m / PEDESTRIAN_SPEED_M_S


def _ceil_s(x: float) -> float:
    # (a hair of tolerance: 3.0000000001 s is 3 s, not 4)
    return float(math.ceil(x - 1e-6)) if x > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Layout of a junction
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Movement:
    """Links from one approach edge to one exit edge.

    Attributes
    ----------
    from_edge, to_edge
        Approach and exit edge.
    turn
        ``L`` left (also SUMO's partly left), ``T`` through, ``R`` right (also partly right),
        ``U`` turnaround (from SUMO's connection ``dir``).
    link_indices
        The traffic light's link indices of the movement, one per lane-to-lane connection.
    lanes
        The approach lanes it uses.
    speed_m_s
        Speed limit of its approach lanes (the slowest). [m/s]
    """

    from_edge: str
    to_edge: str
    turn: str
    link_indices: tuple[int, ...]
    lanes: tuple[str, ...]
    speed_m_s: float


@dataclass(frozen=True)
class Approach:
    """An incoming edge with the heading of its traffic at the stop line.

    ``bearing_deg`` is the direction vehicles drive at the stop line, 0 = north (+y), clockwise
    [deg]; ``lanes`` the lane count.
    """

    edge: str
    bearing_deg: float
    lanes: int


@dataclass(frozen=True)
class Crossing:
    """A pedestrian crossing controlled by the light.

    Attributes
    ----------
    edge
        SUMO's crossing edge (``:J_c0``).
    link_indices
        Link indices that let pedestrians onto it.
    length_m
        Walking length. [m]
    walk_s, clearance_s
        Minimum walk [s] and the time to cross at 1.2 m/s [s].
    """

    edge: str
    link_indices: tuple[int, ...]
    length_m: float
    walk_s: float
    clearance_s: float


@dataclass(frozen=True)
class JunctionLayout:
    """What a traffic light controls, as phase design needs it.

    Attributes
    ----------
    tls_id
        The tlLogic id.
    approaches
        Incoming edges with vehicle movements.
    pairs
        Approach edges grouped into opposing pairs (an approach without an opposite alone), the
        pair with the most lanes first; within a pair the approach with more left-turn lanes first.
    movements
        Vehicle movements.
    crossings
        Pedestrian crossings.
    foes
        Link index → link indices it conflicts with (the junction's ``foes``, symmetric).
    yields
        Link index → link indices it must let go first (the junction's ``response``).
    n_links
        Length of the light's state strings.
    yellow_s, all_red_s
        Vehicle link index → ITE yellow and all-red, unrounded [s].
    clearance_s
        Crossing link index → pedestrian clearance [s].
    names
        Link index → ``from→to`` (or the crossing) for messages.
    link_lanes
        Vehicle link index → the approach lanes it leaves from.
    """

    tls_id: str
    approaches: tuple[Approach, ...]
    pairs: tuple[tuple[str, ...], ...]
    movements: tuple[Movement, ...]
    crossings: tuple[Crossing, ...]
    foes: Mapping[int, frozenset[int]]
    yields: Mapping[int, frozenset[int]]
    n_links: int
    yellow_s: Mapping[int, float]
    all_red_s: Mapping[int, float]
    clearance_s: Mapping[int, float]
    names: Mapping[int, str]
    link_lanes: Mapping[int, frozenset[str]]

    def movement_of(self, link: int) -> Movement | None:
        """The vehicle movement a link belongs to (None: a crossing or an unused index)."""
        for m in self.movements:
            if link in m.link_indices:
                return m
        return None

    def conflict(self, i: int, j: int) -> bool:
        """Links ``i`` and ``j`` conflict (cross, merge or meet in the junction)."""
        return j in self.foes.get(i, frozenset())

    def yields_to(self, i: int, j: int) -> bool:
        """SUMO's right of way makes link ``i`` let link ``j`` go first."""
        return j in self.yields.get(i, frozenset())

    @property
    def crossing_links(self) -> frozenset[int]:
        """Link indices of pedestrian crossings."""
        return frozenset(i for c in self.crossings for i in c.link_indices)

    @property
    def controlled(self) -> tuple[int, ...]:
        """Every link index with a movement or a crossing, ascending."""
        return tuple(sorted({i for m in self.movements for i in m.link_indices}
                            | self.crossing_links))


@dataclass(frozen=True)
class _Links:
    """Connections of a network indexed once for every light's layout."""

    by_tl: Mapping[str, tuple[Connection, ...]]
    by_lane: Mapping[str, tuple[Connection, ...]]
    internal_next: Mapping[str, str]


# (a network model is read once per file version and shared; its index and the layouts of its
# lights are kept for the last few networks: a design search asks for them again and again)
_CACHE: dict[int, tuple[Network, _Links, dict[str, JunctionLayout]]] = {}
_CACHE_SIZE = 4


def _cached(net: Network) -> tuple[_Links, dict[str, JunctionLayout]]:
    hit = _CACHE.get(id(net))
    if hit is not None and hit[0] is net:
        return hit[1], hit[2]
    by_tl: dict[str, list[Connection]] = {}
    by_lane: dict[str, list[Connection]] = {}
    internal_next: dict[str, str] = {}
    for c in net.connections:
        if c.tl:
            by_tl.setdefault(c.tl, []).append(c)
        by_lane.setdefault(f"{c.from_edge}_{c.from_lane}", []).append(c)
        if c.from_edge.startswith(":") and c.via:
            internal_next[f"{c.from_edge}_{c.from_lane}"] = c.via
    links = _Links({k: tuple(v) for k, v in by_tl.items()},
                   {k: tuple(v) for k, v in by_lane.items()}, internal_next)
    while len(_CACHE) >= _CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]
    layouts: dict[str, JunctionLayout] = {}
    _CACHE[id(net)] = (net, links, layouts)
    return links, layouts


def layout(net: Network, tls_id: str) -> JunctionLayout:
    """The layout of traffic light ``tls_id`` of ``net`` (cached per network model).

    Raises
    ------
    KeyError
        When the network has no link controlled by ``tls_id``.
    """
    links, layouts = _cached(net)
    if tls_id not in layouts:
        layouts[tls_id] = _layout(net, tls_id, links)
    return layouts[tls_id]


def _layout(net: Network, tls_id: str, links: _Links) -> JunctionLayout:
    conns = links.by_tl.get(tls_id, ())
    if not conns:
        msg = f"traffic light '{tls_id}' controls no link in {net.path}"
        raise KeyError(msg)
    n_links = max(c.link_index for c in conns) + 1
    for p in net.programs:
        if p.id == tls_id and p.phases:
            n_links = max(n_links, max(len(ph.state) for ph in p.phases))
    internal_next = links.internal_next
    req = _request_map(net, conns, internal_next, links.by_lane)
    foes, yields = _tl_matrices(net, conns, req)
    names: dict[int, str] = {}
    # vehicle movements
    groups: dict[tuple[str, str], list[Connection]] = {}
    crossing_groups: dict[str, list[int]] = {}
    for c in conns:
        crossing = _crossing_edge(net, c)
        if crossing is not None:
            crossing_groups.setdefault(crossing, []).append(c.link_index)
            names[c.link_index] = f"crossing {crossing}"
        elif net.edges.get(c.from_edge) is not None and net.edges[c.from_edge].is_normal:
            groups.setdefault((c.from_edge, c.to_edge), []).append(c)
            names.setdefault(c.link_index, f"{c.from_edge}→{c.to_edge}")
    movements = []
    lanes_of: dict[int, set[str]] = {}
    yellow: dict[int, float] = {}
    all_red: dict[int, float] = {}
    for (fe, te), cs in groups.items():
        speeds = [net.lane(f"{c.from_edge}_{c.from_lane}").speed_m_s for c in cs]
        turn = TURN_OF_DIRECTION.get(cs[0].direction, "T")
        movements.append(Movement(fe, te, turn, tuple(sorted({c.link_index for c in cs})),
                                  tuple(sorted({f"{c.from_edge}_{c.from_lane}" for c in cs})),
                                  min(speeds)))
        for c, v in zip(cs, speeds, strict=True):
            i = c.link_index
            lanes_of.setdefault(i, set()).add(f"{c.from_edge}_{c.from_lane}")
            yellow[i] = max(yellow.get(i, 0.0), ite_yellow_s(v))
            all_red[i] = max(all_red.get(i, 0.0),
                             ite_all_red_s(_clearing_m(net, c, internal_next), v))
    crossings = []
    clearance: dict[int, float] = {}
    for edge, idx in crossing_groups.items():
        lane = net.edges[edge].lanes[0]
        cl = pedestrian_clearance_s(lane.length_m)
        crossings.append(Crossing(edge, tuple(sorted(set(idx))), lane.length_m, WALK_S, cl))
        for i in idx:
            clearance[i] = max(clearance.get(i, 0.0), cl)
    approaches = _approaches(net, movements)
    pairs = _pairs(approaches, movements)
    return JunctionLayout(tls_id=tls_id, approaches=approaches, pairs=pairs,
                          movements=tuple(movements), crossings=tuple(crossings), foes=foes,
                          yields=yields, n_links=n_links, yellow_s=yellow, all_red_s=all_red,
                          clearance_s=clearance, names=names,
                          link_lanes={i: frozenset(v) for i, v in lanes_of.items()})


def _junction_of(net: Network, c: Connection) -> str:
    e = net.edges.get(c.from_edge)
    if e is not None and e.is_normal:
        return e.to_junction
    # internal edges (walking areas, crossings): ':<junction>_<suffix>'
    return c.from_edge[1:].rsplit("_", 1)[0]


def _crossing_edge(net: Network, c: Connection) -> str | None:
    for eid in (c.to_edge, c.from_edge):
        e = net.edges.get(eid)
        if e is not None and e.function == "crossing":
            return eid
    return None


def _request_map(net: Network, conns: Sequence[Connection], internal_next: Mapping[str, str],
                 by_lane: Mapping[str, Sequence[Connection]]
                 ) -> dict[int, list[tuple[str, int]]]:
    """Link index → (junction, request index) of each of its connections.

    A junction's request ``k`` belongs to its internal lane ``intLanes[k]``: the connection's
    ``via`` lane or, for a link with an internal stop (a left turn waiting inside the junction),
    the lane after it; a crossing's request is the crossing lane.  Without internal lanes the
    requests follow the incoming lanes in order, each with its connections in file order.
    """
    lane_index: dict[str, dict[str, int]] = {}
    out: dict[int, list[tuple[str, int]]] = {}
    for c in conns:
        jid = _junction_of(net, c)
        j = net.junctions.get(jid)
        if j is None:
            continue
        if jid not in lane_index:
            lane_index[jid] = _junction_lanes(j, by_lane)
        idx = lane_index[jid]
        cands = []
        if c.via:
            lane = c.via
            for _ in range(4):  # a via chain is at most a few internal lanes long
                cands.append(lane)
                if lane not in internal_next:
                    break
                lane = internal_next[lane]
        cands.append(f"{c.to_edge}_{c.to_lane}")
        cands.append(_conn_key(c))
        for lane in cands:
            if lane in idx:
                out.setdefault(c.link_index, []).append((jid, idx[lane]))
                break
    return out


def _conn_key(c: Connection) -> str:
    return f"{c.from_edge}_{c.from_lane}>{c.to_edge}_{c.to_lane}"


def _junction_lanes(j: Junction, by_lane: Mapping[str, Sequence[Connection]]) -> dict[str, int]:
    if j.int_lanes:
        return {lane: k for k, lane in enumerate(j.int_lanes)}
    out: dict[str, int] = {}
    k = 0
    for lane in j.inc_lanes:
        for c in by_lane.get(lane, ()):
            out[_conn_key(c)] = k
            k += 1
    return out


def _tl_matrices(net: Network, conns: Sequence[Connection],
                 req: Mapping[int, Sequence[tuple[str, int]]]
                 ) -> tuple[dict[int, frozenset[int]], dict[int, frozenset[int]]]:
    back: dict[tuple[str, int], set[int]] = {}
    for i, rs in req.items():
        for r in rs:
            back.setdefault(r, set()).add(i)
    foes: dict[int, set[int]] = {c.link_index: set() for c in conns}
    yields: dict[int, set[int]] = {c.link_index: set() for c in conns}
    for i, rs in req.items():
        for jid, k in rs:
            junction = net.junctions[jid]
            try:
                f, y = junction.foes(k), junction.yields_to(k)
            except KeyError:
                continue
            for kk in f:
                for jj in back.get((jid, kk), ()):
                    if jj != i:
                        foes[i].add(jj)
                        foes.setdefault(jj, set()).add(i)  # SUMO's foes are symmetric; be sure
            for kk in y:
                yields[i].update(jj for jj in back.get((jid, kk), ()) if jj != i)
    return ({i: frozenset(s) for i, s in foes.items()},
            {i: frozenset(s) for i, s in yields.items()})


def _clearing_m(net: Network, c: Connection, nxt: Mapping[str, str]) -> float:
    """Length of a link's path through the junction: its internal lanes [m]."""
    total = 0.0
    lane_id = c.via
    for _ in range(4):
        if not lane_id:
            break
        try:
            total += net.lane(lane_id).length_m
        except KeyError:
            break
        lane_id = nxt.get(lane_id, "")
    return total



def _bearing_deg(net: Network, edge: str) -> float:
    lanes = net.edges[edge].lanes
    shape = lanes[0].shape if lanes else ()
    if len(shape) < 2:
        return 0.0
    (x0, y0), (x1, y1) = shape[-2], shape[-1]
    return math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0


def _approaches(net: Network, movements: Sequence[Movement]) -> tuple[Approach, ...]:
    edges = sorted({m.from_edge for m in movements})
    return tuple(Approach(e, round(_bearing_deg(net, e), 1), len(net.edges[e].lanes))
                 for e in edges)


def _angle(a: float, b: float) -> float:
    """Angle between two headings, 0…180 [deg]."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _pairs(approaches: Sequence[Approach], movements: Sequence[Movement]
           ) -> tuple[tuple[str, ...], ...]:
    cands = sorted(((_angle(a.bearing_deg, b.bearing_deg), a.edge, b.edge)
                    for n, a in enumerate(approaches) for b in approaches[n + 1:]
                    if _angle(a.bearing_deg, b.bearing_deg) >= 135.0), reverse=True)
    used: set[str] = set()
    groups: list[tuple[str, ...]] = []
    for _, a, b in cands:
        if a not in used and b not in used:
            used |= {a, b}
            groups.append((a, b))
    groups += [(a.edge,) for a in approaches if a.edge not in used]
    lanes = {a.edge: a.lanes for a in approaches}
    n_left = {a.edge: sum(len(m.lanes) for m in movements
                          if m.from_edge == a.edge and m.turn in "LU") for a in approaches}
    ordered = [tuple(sorted(g, key=lambda e: (-n_left[e], e))) for g in groups]
    ordered.sort(key=lambda g: (-sum(lanes[e] for e in g), g))
    return tuple(ordered)


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------
def applicable(lay: JunctionLayout) -> tuple[str, ...]:
    """The phasings that make sense at this light, in :data:`PHASINGS` order.

    ``two_stage`` always; ``split`` when some pair has two approaches; ``lead_lag`` when such a
    pair has a left turn (or turnaround); ``leading_left`` and ``left_overlap`` when it has a
    left turn with a lane of its own (a protected left on a lane shared with the through would
    stop the through traffic behind the first left-turner, and the other way round).
    """
    two = [g for g in lay.pairs if len(g) == 2]
    lefts = any(_links(lay, g, "LU") for g in two)
    own = any(_exclusive_lefts(lay, e) for g in two for e in g)
    out = ["two_stage"]
    if two:
        out.append("split")
    if lefts:
        out.append("lead_lag")
    if own:
        out += ["leading_left", "left_overlap"]
    return tuple(k for k in PHASINGS if k in out)


def why_not(lay: JunctionLayout, kind: str) -> str | None:
    """Why phasing ``kind`` does not apply at this light (None: it does)."""
    if kind not in PHASINGS:
        return f"{kind!r} is not a phasing; phasings: {', '.join(PHASINGS)}"
    if kind in applicable(lay):
        return None
    if not any(len(g) == 2 for g in lay.pairs):
        return "no two approaches face each other here"
    if kind == "lead_lag":
        return "no approach of an opposing pair has a left turn"
    return "no left turn of an opposing pair has a lane of its own"


def _exclusive_lefts(lay: JunctionLayout, edge: str) -> list[int]:
    """Left-turn (and turnaround) links of an approach on lanes that carry no other movement."""
    others: set[str] = set()
    for i in _links(lay, [edge], "TR"):
        others |= lay.link_lanes.get(i, frozenset())
    return [i for i in _links(lay, [edge], "LU") if not lay.link_lanes.get(i, frozenset()) & others]


# A requested stage: (link, permissive) in admission order.  Protected links come first; a
# permissive link joins only where SUMO's right of way lets it (or another permissive link)
# yield to each conflicting link already green (see _compatible).
_Wish = list[tuple[int, bool]]


def _links(lay: JunctionLayout, edges: Iterable[str], turns: str) -> list[int]:
    es = set(edges)
    return [i for m in lay.movements if m.from_edge in es and m.turn in turns
            for i in m.link_indices]


def _wishes(lay: JunctionLayout, kind: str) -> list[_Wish]:
    def prot(links: Iterable[int]) -> _Wish:
        return [(i, False) for i in links]

    def perm(links: Iterable[int]) -> _Wish:
        return [(i, True) for i in links]

    out: list[_Wish] = []
    for g in lay.pairs:
        has_left = len(g) == 2 and bool(_links(lay, g, "LU"))
        if kind == "split":
            out += [prot(_links(lay, [e], "TRLU")) for e in g]
        elif kind == "two_stage" or not has_left:
            out.append(prot(_links(lay, g, "TR")) + perm(_links(lay, g, "LU")))
        elif kind == "leading_left":
            # (lefts on shared lanes run permissive with their through)
            lead = [i for e in g for i in _exclusive_lefts(lay, e)]
            if lead:
                out.append(prot(lead))
            out.append(prot(_links(lay, g, "TR")) + perm(_links(lay, g, "LU")))
        elif kind == "lead_lag":
            a1, a2 = g
            out.append(prot(_links(lay, [a1], "TRLU")))
            out.append(prot(_links(lay, g, "TR")))
            out.append(prot(_links(lay, [a2], "TRLU")))
        elif kind == "left_overlap":
            # the overlapping left is the heavier one with a lane of its own
            a1 = max(g, key=lambda e: (len(_exclusive_lefts(lay, e)), e == g[0]))
            lead = [i for e in g for i in _exclusive_lefts(lay, e)]
            if lead:
                out.append(prot(lead))
            out.append(prot(_links(lay, [a1], "TRLU")))
            out.append(prot(_links(lay, g, "TR")))
        else:
            msg = f"unknown phasing {kind!r}; phasings: {', '.join(PHASINGS)}"
            raise ValueError(msg)
    return out


def _compatible(lay: JunctionLayout, i: int, green: Mapping[int, bool], permissive: bool) -> bool:
    """Link ``i`` may join the links ``green`` (link → permissive) of a stage."""
    crossings = lay.crossing_links
    for j, j_perm in green.items():
        if lay.yields_to(i, j) and lay.yields_to(j, i):
            return False  # each would wait for the other: SUMO's "mutual conflict", a deadlock
        if not lay.conflict(i, j):
            continue
        if i in crossings:
            # a crossing only beside turns that yield to it (not through traffic, and not a
            # protected left)
            m = lay.movement_of(j)
            if m is None or not lay.yields_to(j, i) or m.turn == "T" or (
                    m.turn in "LU" and not j_perm):
                return False
        elif j in crossings:
            m = lay.movement_of(i)
            if m is None or not lay.yields_to(i, j) or m.turn == "T" or (
                    m.turn in "LU" and not permissive):
                return False
        elif permissive:
            # a permissive link yields; beside another permissive link either may yield (two
            # opposing permissive lefts: SUMO makes one of them wait)
            if not (lay.yields_to(i, j) or (j_perm and lay.yields_to(j, i))):
                return False
        elif not (lay.yields_to(i, j) or lay.yields_to(j, i)):
            return False
    return True


def _admit(lay: JunctionLayout, wish: _Wish) -> dict[int, bool]:
    green: dict[int, bool] = {}
    for i, perm in wish:
        if i not in green and _compatible(lay, i, green, perm):
            green[i] = perm
    # a lane shared by movements (a through-left lane) is blocked by its first vehicle when only
    # one of them is green: the others join, permissive, where they can yield
    if green:
        lanes = set().union(*(lay.link_lanes.get(i, frozenset()) for i in green))
        for i in sorted(lay.link_lanes):
            if i not in green and lay.link_lanes[i] & lanes and _compatible(lay, i, green, True):
                green[i] = True
    return green


def stage_greens(lay: JunctionLayout, kind: str) -> list[dict[int, bool]]:
    """The links green in each stage of a phasing: link → permissive (``g`` wanted).

    Crossings join every stage they fit; links the phasing leaves unserved join the first stage
    that takes them safely, else stages of their own (appended).

    Raises
    ------
    ValueError
        When ``kind`` is not one of :data:`PHASINGS`.
    """
    stages = [s for s in (_admit(lay, w) for w in _wishes(lay, kind)) if s]
    for st in stages:
        for c in sorted(lay.crossing_links):
            if _compatible(lay, c, st, False):
                st[c] = False
    served = {i for st in stages for i in st}
    rest = [i for i in lay.controlled if i not in served]
    extra: list[dict[int, bool]] = []
    for i in rest:
        for st in stages + extra:
            if _compatible(lay, i, st, False):
                st[i] = False
                break
        else:
            extra.append({i: False})
    stages += extra
    # identical consecutive stages (e.g. a pair without lefts in leading_left) merge
    out: list[dict[int, bool]] = []
    for st in stages:
        if not out or set(out[-1]) != set(st):
            out.append(st)
    if len(out) > 1 and set(out[0]) == set(out[-1]):
        out.pop()
    return out


def _state(lay: JunctionLayout, green: Mapping[int, bool]) -> str:
    chars = ["r"] * lay.n_links
    for i in green:
        yields = any(lay.conflict(i, j) and lay.yields_to(i, j) for j in green)
        chars[i] = "g" if yields else "G"
    return "".join(chars)


# --------------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Boundary:
    ped_s: float
    yellow_s: float
    all_red_s: float


def _boundaries(lay: JunctionLayout, states: Sequence[str], min_greens: Sequence[float]
                ) -> list[_Boundary]:
    """Pedestrian clearance, yellow and all-red after each stage [s] (whole seconds)."""
    n = len(states)
    crossings = lay.crossing_links

    def green(k: int, i: int) -> bool:
        return states[k % n][i] in _GREEN

    ped = [0.0] * n
    yel = [0.0] * n
    ar = [0.0] * n
    for k in range(n):
        ending = [i for i in range(lay.n_links) if green(k, i) and not green(k + 1, i)]
        veh = [i for i in ending if i not in crossings]
        yel[k] = _ceil_s(max((lay.yellow_s.get(i, MIN_YELLOW_S) for i in veh), default=0.0))
    # the red time each ending link needs before a conflicting link starts (or gains priority,
    # 'g' to 'G'), checked against every later start until the link is green again; a shortfall
    # goes to the all-red after the link's own stage (a crossing: its pedestrian clearance)
    for _ in range(2 * n + 2):
        changed = False
        for k in range(n):
            for i in range(lay.n_links):
                if not (green(k, i) and not green(k + 1, i)):
                    continue
                is_ped = i in crossings
                need = lay.clearance_s.get(i, 0.0) if is_ped else lay.all_red_s.get(i, 0.0)
                # time from i's red (crossing: its green end) to the start of stage k + 1
                t = (ped[k] + yel[k] + ar[k]) if is_ped else ar[k]
                for m in range(k + 1, k + 1 + n):
                    if green(m, i):
                        break
                    starts = [j for j in range(lay.n_links)
                              if _gains(states[(m - 1) % n][j], states[m % n][j])
                              and lay.conflict(i, j)]
                    if starts and t < need - 1e-9:
                        short = _ceil_s(need - t)
                        if is_ped:
                            ped[k] += short
                        else:
                            ar[k] += short
                        t += short
                        changed = True
                    t += min_greens[m % n] + ped[m % n] + yel[m % n] + ar[m % n]
        if not changed:
            break
    return [_Boundary(p, y, a) for p, y, a in zip(ped, yel, ar, strict=True)]


def _gains(before: str, now: str) -> bool:
    """A link's state change gives it green, or priority ('g' to 'G')."""
    return (now in _GREEN and before not in _GREEN) or (before == "g" and now == "G")


def _transition_phases(lay: JunctionLayout, cur: str, nxt: str, b: _Boundary,
                       label: str) -> list[Phase]:
    crossings = lay.crossing_links
    ending = {i for i in range(len(cur)) if cur[i] in _GREEN and nxt[i] not in _GREEN}
    starting = {i for i in range(len(cur)) if cur[i] not in _GREEN and nxt[i] in _GREEN}
    out = []
    if b.ped_s > 0:
        st = "".join("u" if i in ending and i in crossings else c for i, c in enumerate(cur))
        out.append(Phase(st, b.ped_s, name=f"{label} pedestrian clearance"))
    if b.yellow_s > 0:
        st = "".join(("r" if i in crossings else "y") if i in ending else c
                     for i, c in enumerate(cur))
        out.append(Phase(st, b.yellow_s, name=f"{label} yellow"))
    if b.all_red_s > 0:
        # the links about to start show red-yellow: still red in SUMO, and it keeps the phase a
        # transition (Program.stages: no 'u' or 'y' in a green phase); when none starts (a link
        # only gains priority), the ending links show it
        end = "r" if starting else "u"
        st = "".join(end if i in ending else "u" if i in starting else c
                     for i, c in enumerate(cur))
        out.append(Phase(st, b.all_red_s, name=f"{label} all-red"))
    return out


def build_program(lay: JunctionLayout, kind: str, *, green_s: Sequence[float] | None = None,
                  program_id: str = "ts_design", min_green_s: float = MIN_GREEN_S,
                  cycle_s: float = DEFAULT_CYCLE_S) -> Program:
    """A fixed-time program of phasing ``kind`` at the light of ``lay``.

    Parameters
    ----------
    lay
        The light's layout (:func:`layout`).
    kind
        One of :data:`PHASINGS` (it need not be :func:`applicable`: it then degrades to fewer
        stages).
    green_s
        Green of each stage [s] (default: the time of a ``cycle_s`` cycle left after the
        transitions, split equally, at least each stage's minimum green).  Greens below a stage's
        minimum green are raised to it.
    program_id
        SUMO programID.
    min_green_s
        Vehicle minimum green [s]; a stage where a crossing's green starts gets at least the
        7 s walk.
    cycle_s
        Cycle of the default greens [s] (longer when the minimum greens need it).

    Raises
    ------
    ValueError
        When ``kind`` is unknown or ``green_s`` has the wrong length.
    """
    greens = stage_greens(lay, kind)
    if not greens:
        msg = f"traffic light '{lay.tls_id}' controls no vehicle movement or crossing"
        raise ValueError(msg)
    states = [_state(lay, g) for g in greens]
    n = len(states)
    crossings = lay.crossing_links
    mins = []
    for k in range(n):
        prev = states[(k - 1) % n]
        walk = any(states[k][c] in _GREEN and prev[c] not in _GREEN for c in crossings) or (
            n == 1 and any(states[k][c] in _GREEN for c in crossings))
        mins.append(max(min_green_s, WALK_S) if walk else min_green_s)
    bounds = _boundaries(lay, states, mins)
    inter = sum(b.ped_s + b.yellow_s + b.all_red_s for b in bounds)
    if green_s is None:
        total = max(cycle_s - inter, math.ceil(sum(mins)))
        g_s = fit_greens([total / n] * n, mins, total)
    else:
        if len(green_s) != n:
            msg = (f"{lay.tls_id}: {kind} has {n} stages here, {len(green_s)} greens were "
                   "given")
            raise ValueError(msg)
        g_s = [max(float(g), m) for g, m in zip(green_s, mins, strict=True)]
    phases: list[Phase] = []
    for k in range(n):
        label = f"{kind} {k + 1}"
        phases.append(Phase(states[k], g_s[k], name=label))
        if n > 1:
            phases += _transition_phases(lay, states[k], states[(k + 1) % n], bounds[k], label)
    return Program(tls_id=lay.tls_id, phases=tuple(phases), program_id=program_id,
                   kind="static", min_greens_s=tuple(mins))


def design_plan(net: Network, choice: Mapping[str, str], *,
                program_id: str = "ts_design") -> SignalPlan:
    """Programs of the phasings ``choice`` (tlLogic id → phasing) for those lights.

    Raises
    ------
    KeyError
        When a light of ``choice`` controls no link of ``net``.
    ValueError
        When a phasing is unknown.
    """
    return SignalPlan(tuple(build_program(layout(net, t), kind, program_id=program_id)
                            for t, kind in choice.items()))


def with_ite_intergreens(lay: JunctionLayout, program: Program, *,
                         min_green_s: float = MIN_GREEN_S) -> Program:
    """The program with ITE transitions: its green phases and their order kept.

    The transition phases after each stage are rebuilt as in :func:`build_program` (pedestrian
    clearance, yellow, all-red, whole seconds), and a stage where a crossing's green starts lasts
    at least the 7 s walk (its duration and, for actuated phases, its ``minDur``).  It makes a
    network's own programs, whose transitions netconvert writes with a 3 s yellow and no
    all-red, meet :func:`trafficsim.safety.program_issues`.
    """
    stages = program.stages
    if not stages or any(len(p.state) < lay.n_links for p in program.phases):
        return program
    if len(stages) == 1:
        # one green phase (e.g. a light for pedestrians the network does not model): nothing
        # conflicts, only its yellow must be long enough
        return replace(program, phases=tuple(
            replace(p, duration_s=max(p.duration_s, _ceil_s(max(
                lay.yellow_s.get(i, MIN_YELLOW_S) for i, c in enumerate(p.state[:lay.n_links])
                if c in "yY"))))
            if "y" in p.state.lower() else p for p in program.phases))
    greens = [program.phases[s.green] for s in stages]
    states = [g.state for g in greens]
    n = len(states)
    crossings = lay.crossing_links
    mins = list(program.min_greens_s)
    for k in range(n):
        if any(states[k][c] in _GREEN and states[k - 1][c] not in _GREEN for c in crossings):
            mins[k] = max(mins[k], WALK_S)
            g = greens[k]
            greens[k] = replace(g, duration_s=max(g.duration_s, WALK_S),
                                min_dur_s=None if g.min_dur_s is None else max(g.min_dur_s,
                                                                               WALK_S),
                                max_dur_s=None if g.max_dur_s is None else max(g.max_dur_s,
                                                                               WALK_S))
    shortest = [g.min_dur_s if g.min_dur_s is not None else g.duration_s for g in greens]
    bounds = _boundaries(lay, states, [max(m, s) for m, s in zip(mins, shortest, strict=True)])
    phases: list[Phase] = []
    for k in range(n):
        phases.append(greens[k])
        phases += _transition_phases(lay, states[k], states[(k + 1) % n], bounds[k],
                                     greens[k].name or f"stage {k + 1}")
    return replace(program, phases=tuple(phases), min_greens_s=tuple(mins))


def with_min_greens(designed: Program, derived: Program) -> Program:
    """``derived`` with each green phase lasting at least its designed stage's minimum green.

    ``derived`` is a control built on ``designed`` (:meth:`~trafficsim.signals.Program.actuated`,
    :meth:`~trafficsim.signals.Program.coordinated_actuated`), which give every green one
    minimum; a stage where a crossing's green starts needs the 7 s walk.  Stages are matched by
    their state (the coordinated program rotates the phases).  Durations, ``minDur`` and
    ``maxDur`` rise to the minimum where they are below it.
    """
    need = {designed.phases[st.green].state: m
            for st, m in zip(designed.stages, designed.min_greens_s, strict=True)}
    phases = []
    for ph in derived.phases:
        m = need.get(ph.state)
        if m is None or not ph.is_green:
            phases.append(ph)
            continue
        lo = m if ph.min_dur_s is None else max(ph.min_dur_s, m)
        phases.append(replace(ph, duration_s=max(ph.duration_s, m),
                              min_dur_s=None if ph.min_dur_s is None else lo,
                              max_dur_s=None if ph.max_dur_s is None else max(ph.max_dur_s, lo)))
    out = replace(derived, phases=tuple(phases), min_greens_s=())
    mins = tuple(need.get(out.phases[st.green].state, m0)
                 for st, m0 in zip(out.stages, out.min_greens_s, strict=True))
    return replace(out, min_greens_s=mins)


def _shortest_s(ph: Phase) -> float:
    """How long a phase lasts at least: its ``minDur`` if actuated [s]."""
    return ph.duration_s if ph.min_dur_s is None else ph.min_dur_s


def with_skipping(lay: JunctionLayout, program: Program) -> Program:
    """An actuated ``program`` whose stages without demand are skipped.

    SUMO's actuated control runs a fixed sequence of stages, and serves each for at least its
    ``minDur`` even when nobody waits there.  Here every green phase lists, in ``next``, the
    transitions to each other stage: first SUMO's choice when no detector shows demand, the next
    stage that serves a link no other stage serves (so a leading left that also runs
    permissive beside its through is only entered on demand, and no movement waits for a
    detector to be served), then the others in cycle order.  When its
    green ends, SUMO takes the transition to the stage whose detectors show the most demand
    (``MSActuatedTrafficLightLogic::decideNextPhase``): a protected left or a minor approach
    nobody waits at is passed over.

    The direct transitions are built as :func:`build_program` builds them, for the two stages
    they join (pedestrian clearance, ITE yellow and all-red, whole seconds); they follow the
    program's phases, each ending with ``next`` = its target green.  Programs of fewer than
    three stages are returned unchanged (there is no stage to pass over).
    :func:`trafficsim.safety.program_issues` checks every sequence of stages such a program can
    run.
    """
    stages = program.stages
    n = len(stages)
    if n < 3 or any(len(p.state) < lay.n_links for p in program.phases):
        return program
    src = [replace(p, next=()) for p in program.phases]
    greens = [s.green for s in stages]
    states = [src[g].state for g in greens]
    mins = [_shortest_s(src[g]) for g in greens]

    # a stage whose every green link is green in another stage too (a leading left that also
    # runs permissive beside its through) only adds protection: without demand anywhere, SUMO
    # takes the first candidate, so such a stage comes first only when no other can
    def green(k: int) -> set[int]:
        return {i for i, c in enumerate(states[k]) if c in _GREEN}

    extra = [bool(green(k) - set().union(*(green(j) for j in range(n) if j != k)))
             for k in range(n)]
    # phase order: each green, then its transitions, those to stages that serve a link of their
    # own first.  (SUMO credits the demand of a stage to the candidate that reaches it in the
    # least transition time, the lower phase index on a tie; a stage that only adds protection
    # passes on to its superset without a transition, so the path through it must not win the
    # superset's demand from the direct transition)
    phases: list[Phase] = []
    green_at: list[int] = []
    starts: list[dict[int, int | None]] = []  # per stage: target stage → first phase (None:
    ends: list[tuple[int, int]] = []  # (last phase of a transition, target stage)
    for a, st in enumerate(stages):
        green_at.append(len(phases))
        phases.append(src[greens[a]])
        start: dict[int, int | None] = {}
        order = sorted(((a + step) % n for step in range(1, n)), key=lambda b: not extra[b])
        for b in order:
            if b == (a + 1) % n:
                chain = [src[t] for t in st.transitions]
            else:
                bound = _boundaries(lay, [states[a], states[b]], [mins[a], mins[b]])[0]
                chain = _transition_phases(lay, states[a], states[b], bound,
                                           f"{src[greens[a]].name or f'stage {a + 1}'} to "
                                           f"{src[greens[b]].name or f'stage {b + 1}'}")
            start[b] = len(phases) if chain else None
            if chain:
                phases += chain
                ends.append((len(phases) - 1, b))
        starts.append(start)
    # (None: the target green follows at once)
    for i, b in ends:
        phases[i] = replace(phases[i], next=(green_at[b],))
    for a in range(n):
        order = [(a + step) % n for step in range(1, n)]
        default = next((b for b in order if extra[b]), order[0])
        cands = [default] + [b for b in order if b != default]
        nxt = tuple(s if (s := starts[a][b]) is not None else green_at[b] for b in cands)
        phases[green_at[a]] = replace(phases[green_at[a]], next=nxt)
    return replace(program, phases=tuple(phases))

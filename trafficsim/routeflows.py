"""Route flows fitted to traffic counts: candidate routes, the fit, and route-flow files.

The unknowns are vehicles per candidate route and time bin, so a vehicle that passes five count
locations is one vehicle that appears in five counts, never five vehicles (the double counting
of fitting each count on its own).  The fit is a linear program (SciPy's HiGHS): minimise the
count deviations, each weighted by 1/sqrt(count) so that it reads like a GEH, plus a tiny cost
per vehicle that picks, among equally good fits, the one with the fewest vehicles (long routes
through several count points rather than one short route per count).

A route-flow file (``route_flows.csv``) has the columns ``id,begin,end,veh_per_hour,vclass,edges``
(``edges`` space-separated, in driving order; ``vclass`` empty for the demand's mix).
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from trafficsim.counts import Count, CountLocation, CountsError, by_vclass, csv_rows, geh
from trafficsim.errors import Issue
from trafficsim.measures import NetIndex
from trafficsim.spec import MAX_FLOW_VEH_H, clock, parse_time
from trafficsim.vtypes import VEHICLE_KINDS

if TYPE_CHECKING:
    from trafficsim.scenario import Scenario

#: Candidate routes per origin–destination pair (the shortest and its alternatives).
ROUTES_PER_OD = 3
#: Cost factor on the edges of the routes already found, to find alternatives.
ALT_PENALTY = 1.6
#: A count the fit misses by more than this share (and at least ``FLAG_MIN_VEH``), with a GEH of
#: the interval's hourly rates above ``FLAG_GEH``, is flagged: no route flows reproduce it.
FLAG_SHARE = 0.05
FLAG_MIN_VEH = 1.0
FLAG_GEH = 2.0
#: Bump when the fit changes: cached fits of older versions are not reused.
FIT_VERSION = "2"
ROUTE_FLOW_COLUMNS = ("id", "begin", "end", "veh_per_hour", "vclass", "edges")


@dataclass(frozen=True)
class RouteFlow:
    """Vehicles on one route in one interval.

    Attributes
    ----------
    id
        Name, used as prefix of the vehicle ids.
    edges
        The route, in driving order.
    begin_s, end_s
        Departure interval. [s]
    veh_per_hour
        Mean flow. [veh/h]
    vclass
        Vehicle kind, or None for the demand's mix.
    """

    id: str
    edges: tuple[str, ...]
    begin_s: float
    end_s: float
    veh_per_hour: float
    vclass: str | None = None


@dataclass(frozen=True)
class Flag:
    """A count location the fitted route flows cannot reproduce, and why."""

    location: str
    vclass: str | None
    reason: str


@dataclass(frozen=True)
class Fit:
    """Fitted route flows and what they do to each count.

    Attributes
    ----------
    flows
        Route flows with vehicles.
    fitted
        Vehicles the flows put through each count (same order as the counts). [veh]
    flags
        Locations the fit misses, with the reason.
    routes
        Number of candidate routes considered.
    """

    flows: tuple[RouteFlow, ...]
    fitted: tuple[float, ...]
    flags: tuple[Flag, ...] = ()
    routes: int = 0
    method: str = "lp"
    extra: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Candidate routes
# --------------------------------------------------------------------------------------------
def _successors(net: NetIndex) -> dict[str, list[str]]:
    """Edge → edges reachable over a connection (no U-turns: nobody counts on those)."""
    out: dict[str, set[str]] = {}
    for c in net.connections:
        if net.directions.get(c) in ("t", "T"):
            continue
        out.setdefault(c[0], set()).add(c[2])
    return {e: sorted(s) for e, s in out.items()}


def fringe_edges(net: NetIndex) -> tuple[list[str], list[str]]:
    """(entry edges, exit edges): edges from / to a dead-end junction of the network.

    A junction is a dead end when no edge other than the reverse of the edge in question
    reaches it (entries) or leaves it (exits).
    """
    entries, exits = [], []
    for e in sorted(net.edges):
        a, b = net.ends(e)
        back = net.reverse(e)
        if not [x for x in net.in_edges.get(a, ()) if x != back]:
            entries.append(e)
        if not [x for x in net.out_edges.get(b, ()) if x != back]:
            exits.append(e)
    return entries, exits


def _travel_time_s(net: NetIndex, e: str) -> float:
    return net.edge_length_m.get(e, 0.0) / max(net.edge_speed_m_s.get(e, 13.89), 0.1)


def _tree(origin: str, succ: dict[str, list[str]], cost: dict[str, float]
          ) -> dict[str, str | None]:
    """Shortest-path tree over edges from ``origin``: edge → predecessor."""
    best = {origin: 0.0}
    pred: dict[str, str | None] = {origin: None}
    heap = [(0.0, origin)]
    while heap:
        t, e = heapq.heappop(heap)
        if t > best[e]:
            continue
        for nxt in succ.get(e, ()):
            tn = t + cost[e]
            if tn < best.get(nxt, math.inf) - 1e-9:
                best[nxt] = tn
                pred[nxt] = e
                heapq.heappush(heap, (tn, nxt))
    return pred


def _path(pred: dict[str, str | None], dest: str) -> tuple[str, ...]:
    out = [dest]
    while (p := pred[out[-1]]) is not None:
        out.append(p)
    return tuple(reversed(out))


def candidate_routes(net: NetIndex, *, per_od: int = ROUTES_PER_OD,
                     entries: Sequence[str] | None = None, exits: Sequence[str] | None = None
                     ) -> list[tuple[str, ...]]:
    """Routes from every entry to every exit edge: the fastest and its alternatives.

    Up to ``per_od - 1`` alternatives per pair, found with the edges of earlier routes made
    dearer.

    Sorted, so that the same network always gives the same candidates in the same order.
    """
    succ = _successors(net)
    if entries is None or exits is None:
        entries, exits = fringe_edges(net)
    exit_set = set(exits)
    base = {e: _travel_time_s(net, e) for e in net.edges}
    found: set[tuple[str, ...]] = set()
    for o in entries:
        cost = dict(base)
        for _ in range(per_od):
            pred = _tree(o, succ, cost)
            for d in exit_set:
                if d != o and d in pred and d != net.reverse(o):
                    found.add(_path(pred, d))
            for e in {e for p in found if p[0] == o for e in p}:
                cost[e] = base[e] * ALT_PENALTY ** 2 if cost[e] > base[e] else base[e] * \
                    ALT_PENALTY
    return sorted(found)


def passes(route: Sequence[str], loc: CountLocation) -> int | None:
    """Index of the route's edge where it passes ``loc`` (the turn's second edge), or None."""
    if loc.is_turn:
        a, b = loc.edges
        for i in range(len(route) - 1):
            if route[i] == a and route[i + 1] == b:
                return i + 1
        return None
    try:
        return route.index(loc.edges[0])
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------
def bins(counts: Sequence[Count]) -> list[float]:
    """Boundaries of the elementary time bins formed by every count interval [s]."""
    return sorted({t for c in counts for t in (c.begin_s, c.end_s)})


def fit_route_flows(counts: Sequence[Count], net: NetIndex,
                    routes: Sequence[tuple[str, ...]] | None = None) -> Fit:
    """Non-negative vehicles per candidate route and time bin that reproduce the counts.

    Counts of each vehicle kind (and those of every vehicle, ``vclass`` empty) are fitted
    separately, each with its own route flows.

    Parameters
    ----------
    counts
        The observed counts.
    net
        The network (candidate routes, free-flow times).
    routes
        Candidate routes (default: :func:`candidate_routes`).
    """
    cands = list(routes) if routes is not None else candidate_routes(net)
    fitted = [0.0] * len(counts)
    flows: list[RouteFlow] = []
    flags: list[Flag] = []
    for vclass, idx in by_vclass(counts):
        sub = [counts[i] for i in idx]
        f, fl, fg = _fit_group(sub, cands, net, vclass)
        flows += f
        flags += fg
        for i, v in zip(idx, fl, strict=True):
            fitted[i] = v
    return Fit(tuple(flows), tuple(fitted), tuple(flags), len(cands))


def _incidence(counts: Sequence[Count], cands: Sequence[tuple[str, ...]]
               ) -> tuple[list[int], dict[str, list[tuple[int, int]]]]:
    """Routes that pass a count location, and location → [(route, edge index)].

    One pass over the routes' edges with a lookup per edge (a city has many candidates).
    """
    locs = {c.location.name: c.location for c in counts}
    by_edge: dict[str, list[CountLocation]] = {}
    for loc in locs.values():
        by_edge.setdefault(loc.edges[-1], []).append(loc)
    hits: dict[str, list[tuple[int, int]]] = {n: [] for n in locs}
    used: set[int] = set()
    for r, route in enumerate(cands):
        for k, e in enumerate(route):
            for loc in by_edge.get(e, ()):
                if loc.is_turn and (k == 0 or route[k - 1] != loc.edges[0]):
                    continue
                hits[loc.name].append((r, k))
                used.add(r)
    return sorted(used), hits


def _fit_group(counts: Sequence[Count], cands: Sequence[tuple[str, ...]], net: NetIndex,
               vclass: str | None) -> tuple[list[RouteFlow], list[float], list[Flag]]:
    used, hits = _incidence(counts, cands)
    bounds = bins(counts)
    nb = len(bounds) - 1
    nr = len(used)
    nx = nr * nb
    m = len(counts)
    a_x = _design(counts, used, hits, bounds)
    obs = np.array([c.count for c in counts])
    w = 1.0 / np.sqrt(np.maximum(obs, 1.0))
    # x, then under- and over-shoot per count: A x + u - v = c, minimise w·(u + v) + eps·Σx
    eye = sparse.identity(m, format="csr")
    a_eq = sparse.hstack([a_x, eye, -eye], format="csr")
    # Among equally good fits: fewer vehicles, then faster routes (drivers take the fast ones;
    # a vertex of the program that sends a count's vehicles on a detour jams where the true
    # demand did not)
    tt = np.array([sum(_travel_time_s(net, e) for e in cands[r]) for r in used])
    per_vehicle = 1.0 + tt / float(np.median(tt)) if nr else np.zeros(0)
    eps = 1e-3 * float(w.min()) if m else 0.0
    cost = np.concatenate([eps * np.repeat(per_vehicle, nb), w, w])
    res = linprog(cost, A_eq=a_eq, b_eq=obs, bounds=(0, None), method="highs")
    x = res.x[:nx] if res.status == 0 else np.zeros(nx)
    return settle(counts, cands, {r: x[j * nb:(j + 1) * nb] for j, r in enumerate(used)},
                  net, vclass)


def _design(counts: Sequence[Count], used: Sequence[int],
            hits: dict[str, list[tuple[int, int]]], bounds: Sequence[float]) -> sparse.csr_matrix:
    """Count × (route, bin) incidence: 1 where the route's vehicles of a bin pass the count."""
    nb = len(bounds) - 1
    col = {r: j for j, r in enumerate(used)}
    rows, cols = [], []
    for k, c in enumerate(counts):
        b0 = bounds.index(c.begin_s)
        b1 = bounds.index(c.end_s)
        for r, _ in hits[c.location.name]:
            if r not in col:
                continue
            for b in range(b0, b1):
                rows.append(k)
                cols.append(col[r] * nb + b)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                             shape=(len(counts), len(used) * nb))


def settle(counts: Sequence[Count], cands: Sequence[tuple[str, ...]],
           vehicles: dict[int, np.ndarray], net: NetIndex, vclass: str | None
           ) -> tuple[list[RouteFlow], list[float], list[Flag]]:
    """Route flows, fitted counts and flags of vehicles per candidate route and time bin.

    ``vehicles`` maps a candidate's index to its vehicles per elementary bin (see
    :func:`fit_route_flows`), whichever method found them.
    """
    _, hits = _incidence(counts, cands)
    bounds = bins(counts)
    used = sorted(vehicles)
    nb = len(bounds) - 1
    x = np.concatenate([vehicles[r] for r in used]) if used else np.zeros(0)
    fitted = _design(counts, used, hits, bounds) @ x if used else np.zeros(len(counts))
    flows = _to_flows(x.reshape(len(used), nb), used, cands, bounds, hits, net, vclass)
    flags = _flags(counts, fitted, hits, vclass)
    return flows, [float(v) for v in fitted], flags


def _to_flows(x: np.ndarray, used: Sequence[int], cands: Sequence[tuple[str, ...]],
              bounds: Sequence[float], hits: dict[str, list[tuple[int, int]]], net: NetIndex,
              vclass: str | None) -> list[RouteFlow]:
    """Route flows of the fitted vehicles.

    Departures move earlier by the free-flow time from the route's start to its count
    locations, so that vehicles pass them in the counted bin.
    """
    lead: dict[int, list[float]] = {}
    for hs in hits.values():
        for r, k in hs:
            lead.setdefault(r, []).append(sum(_travel_time_s(net, e) for e in cands[r][:k]))
    first, last = bounds[0], bounds[-1]
    out = []
    for j, r in enumerate(used):
        shift = float(np.mean(lead.get(r, [0.0])))
        for b in range(len(bounds) - 1):
            veh = float(x[j, b])
            if veh < 1e-6:
                continue
            b0 = max(first, bounds[b] - shift)
            b1 = max(b0 + 1.0, min(last, bounds[b + 1] - shift))
            tag = f"{vclass}_" if vclass else ""
            out.append(RouteFlow(f"rf{tag}{r}_{b}", cands[r], round(b0, 2), round(b1, 2),
                                 round(veh * 3600.0 / (b1 - b0), 4), vclass))
    return out


def _flags(counts: Sequence[Count], fitted: np.ndarray, hits: dict[str, list[tuple[int, int]]],
           vclass: str | None) -> list[Flag]:
    """Locations whose counts the fit misses, with the counts they conflict with."""
    bad: dict[str, list[str]] = {}
    for k, c in enumerate(counts):
        name = c.location.name
        if not hits[name]:
            bad.setdefault(name, []).append(
                "no candidate route between the network's entries and exits passes it")
            continue
        miss = float(fitted[k]) - c.count
        per_h = 3600.0 / (c.end_s - c.begin_s)
        if abs(miss) > max(FLAG_MIN_VEH, FLAG_SHARE * c.count) \
                and geh(c.count * per_h, float(fitted[k]) * per_h) > FLAG_GEH:
            route_set = {r for r, _ in hits[name]}
            linked = sorted(n for n, hs in hits.items() if n != name
                            and route_set & {r for r, _ in hs})
            more = "more" if miss < 0 else "fewer"
            others = (f" with the counts at {', '.join(linked[:6])}"
                      + (" …" if len(linked) > 6 else "")) if linked else ""
            bad.setdefault(name, []).append(
                f"{c.begin_s:g}–{c.end_s:g} s: observed {c.count:g}, the best non-negative "
                f"route flows give {float(fitted[k]):.1f}; the count asks for {more} vehicles "
                f"than are consistent{others} (upstream/downstream counts disagree)")
    return [Flag(n, vclass, "; ".join(reasons)) for n, reasons in sorted(bad.items())]


# --------------------------------------------------------------------------------------------
# Route-flow files and the cache
# --------------------------------------------------------------------------------------------
def write_route_flows(flows: Iterable[RouteFlow], path: Path) -> None:
    """Write route flows as ``id,begin,end,veh_per_hour,vclass,edges`` (times in seconds)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(ROUTE_FLOW_COLUMNS)
        w.writerows((f.id, _num_text(f.begin_s), _num_text(f.end_s), f"{f.veh_per_hour:.4f}",
                     f.vclass or "", " ".join(f.edges)) for f in flows)


def _num_text(x: float) -> str:
    """Seconds with the two decimals the fit keeps.

    Read back, they are the same float: a cached fit draws exactly the vehicles a fresh one does.
    """
    return f"{x:.2f}".rstrip("0").rstrip(".")


def read_route_flows(path: Path, net: NetIndex | None = None,
                     window: tuple[float, float] | None = None, *,
                     past_end: bool = False) -> tuple[RouteFlow, ...]:
    """Read a route-flow file; with ``net``, check that every route is a connected edge chain.

    Parameters
    ----------
    path
        The CSV file (``id,begin,end,veh_per_hour,vclass,edges``).
    net
        The network the routes must run on; None: not checked.
    window
        The scenario's (begin, end) [s] every row's interval must lie in (a row outside it
        would lose its vehicles silently); None: not checked.
    past_end
        Accept intervals that run past the window's end (an ``--end`` override shortened the
        run: their vehicles are drawn up to it, as a profile is cut).

    Raises
    ------
    CountsError
        Listing every problem with its line and column.
    """
    issues: list[Issue] = []

    def error(n: int, col: str, msg: str) -> None:
        issues.append(Issue(path, f"line {n}, column '{col}'", msg))

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CountsError([Issue(path, "", f"cannot be read as UTF-8 text: {exc}")]) from None
    try:
        reader = iter(csv_rows("\n".join(lines)))
    except CountsError as exc:
        raise CountsError([Issue(path, i.field, i.message) for i in exc.issues]) from None
    header = [h.strip() for h in next(reader, [])]
    if tuple(header) != ROUTE_FLOW_COLUMNS:
        raise CountsError([Issue(path, "line 1", f"header is {','.join(header)!r}; expected "
                                                 f"{','.join(ROUTE_FLOW_COLUMNS)}")])
    succ = _successors(net) if net is not None else {}
    out = []
    ids: dict[str, int] = {}
    for n, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            issues.append(Issue(path, f"line {n}", f"has {len(row)} fields; expected "
                                                   f"{len(header)}"))
            continue
        d = dict(zip(header, (c.strip() for c in row), strict=True))
        b, e = parse_time(_num(d["begin"])), parse_time(_num(d["end"]))
        if b is None or e is None or e <= b:
            error(n, "end" if b is not None else "begin",
                  f"= {d['begin']}–{d['end']} is not an interval; expected begin < end "
                  "(seconds or HH:MM)")
        elif window is not None and (col := _outside(b, e, window, past_end)) is not None:
            error(n, col, f"interval {clock(b)}–{clock(e)} lies outside the scenario window "
                          f"{clock(window[0])}–{clock(window[1])}; expected begin and end "
                          "within it")
        vph = _num(d["veh_per_hour"])
        if not isinstance(vph, float) or not 0 <= vph <= MAX_FLOW_VEH_H:
            error(n, "veh_per_hour", f"= {d['veh_per_hour']!r}; expected a flow from 0 to "
                                     f"{MAX_FLOW_VEH_H:,.0f} [veh/h]")
        if d["id"] and d["id"] in ids:
            error(n, "id", f"= {d['id']!r} is used on line {ids[d['id']]} too; expected a "
                           "unique id (it names the route's vehicles)")
        ids.setdefault(d["id"], n)
        vclass = d["vclass"] or None
        if vclass is not None and vclass not in VEHICLE_KINDS:
            error(n, "vclass", f"= {vclass!r}; expected one of {', '.join(VEHICLE_KINDS)} or "
                               "empty")
        edges = tuple(d["edges"].split())
        if not edges:
            error(n, "edges", "is empty; expected the route's edges, space-separated")
        elif net is not None:
            if missing := [x for x in edges if x not in net.edges]:
                error(n, "edges", f"'{missing[0]}' is not an edge of the network")
            elif (gap := next((i for i in range(len(edges) - 1)
                               if edges[i + 1] not in succ.get(edges[i], ())), None)) is not None:
                error(n, "edges", f"no connection leads from '{edges[gap]}' to "
                                  f"'{edges[gap + 1]}'; expected a connected route")
        if b is not None and e is not None and e > b and isinstance(vph, float) and edges:
            out.append(RouteFlow(d["id"] or f"rf{n}", edges, b, e, vph, vclass))
    if issues:
        raise CountsError(issues)
    return tuple(out)


def _outside(b: float, e: float, window: tuple[float, float], past_end: bool) -> str | None:
    """The column (``begin``/``end``) by which [b, e) leaves ``window`` [s], or None."""
    if b < window[0] - 1e-6 or b >= window[1]:
        return "begin"
    if e > window[1] + 1e-6 and not past_end:
        return "end"
    return None


def _num(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def fit_key(counts_file: Path, net_file: Path, begin_s: float, end_s: float) -> str:
    """Cache key of a fit: the counts, the network, the window and the fit's version."""
    h = hashlib.sha256()
    for p in (counts_file, net_file):
        h.update(p.read_bytes())
    h.update(f"{begin_s}:{end_s}:{FIT_VERSION}:{ROUTES_PER_OD}".encode())
    return h.hexdigest()[:24]


def cache_dir() -> Path | None:
    """Where fits are kept between runs (beside the network cache; ``TRAFFICSIM_CACHE=off``)."""
    from trafficsim.network import _cache_dir

    base = _cache_dir()
    return base / "calibration" if base is not None else None


def cached_fit(key: str) -> tuple[RouteFlow, ...] | None:
    """The route flows of an earlier fit with this key, if cached."""
    d = cache_dir()
    if d is None or not (d / f"{key}.csv").is_file():
        return None
    try:
        return read_route_flows(d / f"{key}.csv")
    except CountsError:
        return None


def store_fit(key: str, flows: Sequence[RouteFlow]) -> None:
    """Keep the route flows of a fit (atomically; a read-only cache only costs the cache)."""
    d = cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f"{key}.{os.getpid()}.tmp"
        write_route_flows(flows, tmp)
        tmp.replace(d / f"{key}.csv")
    except OSError:
        pass


_FITS: dict[str, tuple[RouteFlow, ...]] = {}


def demand_route_flows(scenario: Scenario, base_net: Path) -> tuple[RouteFlow, ...]:
    """The route flows of a scenario's demand (empty when it has none).

    Read from its route-flow file, or fitted to its counts on the base network (once per
    counts and network: kept in memory and on disk).
    """
    from trafficsim.counts import detector_edges, read_counts
    from trafficsim.network import net_index

    demand = scenario.demand
    if demand is None:
        return ()
    if demand.route_flows is not None:
        return read_route_flows(demand.route_flows)
    if demand.counts is None:
        return ()
    key = fit_key(demand.counts, base_net, scenario.begin_s, scenario.end_s)
    if key in _FITS:
        return _FITS[key]
    flows = cached_fit(key)
    if flows is None:
        net = net_index(base_net)
        counts = read_counts(demand.counts, net, scenario.begin_s, scenario.end_s,
                             detectors=detector_edges(scenario.additional_files))
        flows = fit_route_flows(counts, net).flows
        store_fit(key, flows)
    _FITS[key] = flows
    return flows

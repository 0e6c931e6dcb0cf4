"""Demand: time-varying OD flows drawn into individual vehicles, with vehicle mix and occupancy.

The draws depend only on the scenario and the seed, never on the plan, so every plan of a
comparison sees exactly the same vehicles (common random numbers).  Each flow has its own random
stream (seeded by ``[seed, flow index]``), so adding a flow leaves the others' draws unchanged.
"""

from __future__ import annotations

import csv
import heapq
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from trafficsim.measures import NetIndex, StopVisit
from trafficsim.routeflows import RouteFlow
from trafficsim.scenario import DemandSpec, StopDemandSpec, net_endpoint
from trafficsim.vtypes import VTYPES


@dataclass(frozen=True)
class Vehicle:
    """One drawn vehicle.

    Attributes
    ----------
    id
        ``FLOW.k``.
    kind
        ``car``, ``bus``, ``truck``, ``delivery`` or ``delivery_ev`` (electric van).
    depart_s
        Desired departure time. [s]
    origin, destination
        First and last edge.
    occupancy
        Persons on board. [persons]
    stop
        Its wish to stop at a kerb on the way (drop-off, visit), if any.
    route
        Its edges, when its route is given (route flows fitted to counts); None: SUMO routes
        it from origin to destination on insertion.
    """

    id: str
    kind: str
    depart_s: float
    origin: str
    destination: str
    occupancy: int
    stop: StopVisit | None = None
    route: tuple[str, ...] | None = None


def draw_vehicles(demand: DemandSpec, net: NetIndex, begin_s: float, end_s: float,
                  seed: int, route_flows: Sequence[RouteFlow] = ()) -> list[Vehicle]:
    """Draw the vehicles of one seed: Poisson arrivals per profile bin, kinds and occupancy.

    ``route_flows`` (fitted to counts, or read from a route-flow file) add vehicles on given
    routes, drawn the same way: Poisson numbers around each flow's mean, each flow with its own
    random stream.

    Returns
    -------
    list of Vehicle
        Sorted by departure time (as SUMO requires of a route file).
    """
    vehicles: list[Vehicle] = []
    occ_values = np.array([k for k, _ in demand.occupancy])
    occ_p = np.array([p for _, p in demand.occupancy])
    for fi, flow in enumerate(demand.flows):
        rng = np.random.default_rng([seed, fi])
        origin, _ = net_endpoint(net, flow.origin, outgoing=True)
        dest, _ = net_endpoint(net, flow.destination, outgoing=False)
        if origin is None or dest is None:  # check_references reports these
            continue
        mix = flow.mix or demand.mix
        kinds = [k for k, _ in mix]
        kind_p = np.array([p for _, p in mix])
        k = 0
        for n, departs in _arrivals(rng, flow.veh_per_hour, flow.profile, demand.bin_s,
                                    begin_s, end_s):
            drawn_kinds = rng.choice(len(kinds), size=n, p=kind_p)
            occ = rng.choice(occ_values, size=n, p=occ_p)
            for t, ki, o in zip(departs, drawn_kinds, occ, strict=True):
                kind = kinds[ki]
                persons = int(o) if kind == "car" else (demand.bus_occupancy if kind == "bus" else 1)
                vehicles.append(Vehicle(f"{flow.id}.{k}", kind, round(float(t), 2), origin, dest,
                                        persons))
                k += 1
    for si, st in enumerate(demand.stops):
        vehicles += _draw_stoppers(st, si, demand, net, begin_s, end_s, seed)
    for ri, rf in enumerate(route_flows):
        vehicles += _draw_route_flow(rf, ri, demand, begin_s, end_s, seed)
    vehicles.sort(key=lambda v: (v.depart_s, v.id))
    return vehicles


def _arrivals(rng: np.random.Generator, veh_per_hour: float, profile: Sequence[float],
              bin_s: float, begin_s: float, end_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """Poisson arrivals per profile bin: yields (count, sorted departure times [s]) per bin.

    A generator, so the caller's own draws for a bin (kinds, occupancy, stays) happen before the
    next bin's: the random stream is consumed in the same order as when this loop was inline.
    """
    for b, mult in enumerate(profile):
        t0 = begin_s + b * bin_s
        t1 = min(t0 + bin_s, end_s)
        if t1 <= t0:
            return
        n = int(rng.poisson(veh_per_hour * mult * (t1 - t0) / 3600.0))
        yield n, np.sort(rng.uniform(t0, t1, n))


def _draw_route_flow(rf: RouteFlow, index: int, demand: DemandSpec, begin_s: float,
                     end_s: float, seed: int) -> list[Vehicle]:
    """Poisson vehicles of one route flow in its interval, kinds from the mix (or its class)."""
    # Own stream per route flow, apart from the OD flows' and the stoppers' streams.
    rng = np.random.default_rng([seed, 104729, index])
    t0, t1 = max(rf.begin_s, begin_s), min(rf.end_s, end_s)
    if t1 <= t0:
        return []
    n = int(rng.poisson(rf.veh_per_hour * (t1 - t0) / 3600.0))
    departs = np.sort(rng.uniform(t0, t1, n))
    mix = ((rf.vclass, 1.0),) if rf.vclass else demand.mix
    kinds = rng.choice(len(mix), size=n, p=np.array([p for _, p in mix]))
    occ = rng.choice(np.array([k for k, _ in demand.occupancy]), size=n,
                     p=np.array([p for _, p in demand.occupancy]))
    out = []
    for k, (t, ki, o) in enumerate(zip(departs, kinds, occ, strict=True)):
        kind = mix[ki][0]
        persons = int(o) if kind == "car" else (demand.bus_occupancy if kind == "bus" else 1)
        out.append(Vehicle(f"{rf.id}.{k}", kind, round(float(t), 2), rf.edges[0], rf.edges[-1],
                           persons, route=rf.edges))
    return out


def _draw_stoppers(st: StopDemandSpec, index: int, demand: DemandSpec, net: NetIndex,
                   begin_s: float, end_s: float, seed: int) -> list[Vehicle]:
    """Cars that stop at a kerb: Poisson arrivals per bin, log-normal wished stays."""
    # Own stream per stop demand, apart from the flows' streams: adding one leaves the rest.
    rng = np.random.default_rng([seed, 7919, index])
    origin, _ = net_endpoint(net, st.origin, outgoing=True)
    dest, _ = net_endpoint(net, st.destination, outgoing=False)
    if origin is None or dest is None or st.edge not in net.edges:
        return []  # check_references reports these
    approach_s = free_flow_time_s(net, origin, st.edge, st.pos_m)
    occ_values = np.array([k for k, _ in demand.occupancy])
    occ_p = np.array([p for _, p in demand.occupancy])
    # Log-normal with the given mean and standard deviation (constant when sd = 0).
    sigma2 = math.log1p((st.dwell_sd_s / st.dwell_mean_s) ** 2)
    mu = math.log(st.dwell_mean_s) - sigma2 / 2
    out = []
    k = 0
    for n, departs in _arrivals(rng, st.veh_per_hour, st.profile, demand.bin_s, begin_s, end_s):
        occ = rng.choice(occ_values, size=n, p=occ_p)
        dwell = np.clip(rng.lognormal(mu, math.sqrt(sigma2), n), st.dwell_min_s, st.dwell_max_s)
        for t, o, d in zip(departs, occ, dwell, strict=True):
            depart = round(float(t), 2)
            visit = StopVisit(edge=st.edge, lane=st.lane, pos_m=st.pos_m,
                              frontage_m=st.frontage_m, dwell_s=round(float(d)),
                              arrive_s=round(depart + approach_s, 2))
            out.append(Vehicle(f"{st.id}.{k}", "car", depart, origin, dest, int(o), visit))
            k += 1
    return out


def free_flow_time_s(net: NetIndex, origin: str, edge: str, pos_m: float) -> float:
    """Free-flow driving time from the start of ``origin`` to ``pos_m`` on ``edge`` [s].

    Shortest path over edges at their speed limits, without U-turns or junction delays; used
    only to tell when a vehicle would reach its kerb stop.  0 when ``edge`` is unreachable.
    """
    def cost(e: str) -> float:
        return net.edge_length_m.get(e, 0.0) / max(net.edge_speed_m_s.get(e, 13.89), 0.1)

    best = {origin: 0.0}
    heap = [(0.0, origin)]
    while heap:
        t, e = heapq.heappop(heap)
        if e == edge:
            return t + pos_m / max(net.edge_speed_m_s.get(edge, 13.89), 0.1)
        if t > best.get(e, math.inf):
            continue
        back = net.reverse(e)
        for nxt in net.out_edges.get(net.ends(e)[1], ()):
            if nxt == back:
                continue
            tn = t + cost(e)
            if tn < best.get(nxt, math.inf):
                best[nxt] = tn
                heapq.heappush(heap, (tn, nxt))
    return 0.0


def write_routes(vehicles: Sequence[Vehicle], path: Path,
                 vtype_attrs: Mapping[str, Mapping[str, str]] | None = None,
                 vtypes: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
                 retype: Sequence[Callable[[str, int], str | None]] = (),
                 stop_rules: Sequence[Callable[[StopVisit], str | None]] = ()) -> None:
    """Write vehicle types and trips as a SUMO route file (SUMO routes each trip on insertion).

    Parameters
    ----------
    vtype_attrs
        vType id → attributes overriding its defaults.
    vtypes
        Extra vType id → (base kind, attributes), e.g. ``car_hov`` based on ``car``.
    retype
        Rules ``(kind, occupancy) → vType id or None``; the first that answers wins.
    stop_rules
        Rules ``visit → <stop> element or None`` for vehicles that stop at a kerb; the first that
        answers wins, and without an answer the vehicle stops in the travel lane
        (:func:`lane_stop`).
    """
    types = {kind: dict(attrs) for kind, attrs in VTYPES.items()}
    for tid, (base, attrs) in (vtypes or {}).items():
        types[tid] = {**VTYPES[base], **attrs}
    lines = ["<routes>"]
    for tid, attrs in types.items():
        merged = {**attrs, **(vtype_attrs or {}).get(tid, {})}
        a = " ".join(f"{k}={quoteattr(v)}" for k, v in merged.items())
        lines.append(f'  <vType id="{tid}" {a}/>')

    def vtype(v: Vehicle) -> str:
        for rule in retype:
            if (t := rule(v.kind, v.occupancy)) is not None:
                return t
        return v.kind

    def stop(visit: StopVisit) -> str:
        for rule in stop_rules:
            if (xml := rule(visit)) is not None:
                return xml
        return lane_stop(visit)

    for v in vehicles:
        if v.route is not None:  # a given route (fitted to counts): the vehicle keeps it
            lines.append(f'  <vehicle id="{v.id}" type="{vtype(v)}" depart="{v.depart_s:.2f}" '
                         f'departLane="best" departSpeed="max" personNumber="{v.occupancy}">'
                         f'<route edges="{" ".join(v.route)}"/></vehicle>')
            continue
        trip = (f'  <trip id="{v.id}" type="{vtype(v)}" depart="{v.depart_s:.2f}" '
                f'from="{v.origin}" to="{v.destination}" departLane="best" departSpeed="max" '
                f'personNumber="{v.occupancy}"')
        lines.append(f"{trip}/>" if v.stop is None else f"{trip}>{stop(v.stop)}</trip>")
    lines.append("</routes>\n")
    path.write_text("\n".join(lines), encoding="utf-8")


def lane_stop(visit: StopVisit) -> str:
    """The do-nothing kerb stop: in the travel lane along the frontage (double parking)."""
    return (f'<stop lane="{visit.edge}_{visit.lane}" startPos="{visit.pos_m - visit.frontage_m:.2f}" '
            f'endPos="{visit.pos_m:.2f}" duration="{visit.dwell_s:g}" parking="false" '
            f'friendlyPos="true"/>')


def write_vehicle_table(vehicles: Sequence[Vehicle], path: Path) -> None:
    """Write id, kind, departure, occupancy and kerb stop of each vehicle (read back for metrics).

    ``stop_edge`` is the edge of the vehicle's kerb stop, empty when it does not stop.
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["id", "kind", "depart_s", "occupancy", "stop_edge"])
        w.writerows((v.id, v.kind, f"{v.depart_s:.2f}", v.occupancy,
                     v.stop.edge if v.stop else "") for v in vehicles)

"""Staggered shared parking: car parks open to each other's users in their idle hours.

Car parks with complementary demand (homes by night, offices by day) share their spaces.

The car parks and who wants to park when are part of the scenario (``[parking]``), present in
every plan; a plan opens a car park to other user groups in time windows::

    [parking]
    overflow_edge = "D0right0"     # cars that find no space park far away here: unserved

    [[parking.car_parks]]
    id = "homes"                   # a residential car park
    edge = "B1C1"
    pos_m = 60
    capacity = 80

    [[parking.groups]]
    id = "residents"
    car_park = "homes"             # their own car park
    from = "left1A1"               # edge where arriving cars come from
    to = "A1left1"                 # edge where leaving cars go (default: from)
    parked_at_begin = 70           # cars parked at the start …
    leave_between = ["07:00", "09:00"]   # … leave uniformly in this window
    arrivals_per_hour = 30         # peak rate of arriving cars …
    profile = [0, 0, 0.2, 1, 1]    # … per bin of bin_minutes (default: constant)
    dwell_min = [600, 900]         # each stays uniformly between these [min]

    [[plans.shared.measures]]
    type = "shared_parking"
    car_park = "homes"
    open_to = ["staff"]
    windows = [["08:00", "17:00"]]

Native SUMO model: one ``<parkingArea>`` per car park (capacity enforced by SUMO) and a large
overflow ``<parkingArea>``; each group's cars have a parking stop at their own car park, and a
``<rerouter>`` per group with ``parkingAreaReroute`` alternatives that SUMO uses when the target
is full: the car parks the group may use in that interval, and the overflow as the last resort
(``parking.probability.weight``).  Outputs: SUMO's stop output (who parked where, when: the
occupancy over the day) and vehicle routes (when a car's parking search began).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import quoteattr

import numpy as np

from trafficsim.errors import Issue, suggest
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex, Situation
from trafficsim.measures.registry import register
from trafficsim.outputs import Table, read_csv, read_stops
from trafficsim.spec import (
    MISSING,
    Fields,
    MissingValue,
    clock,
    flow_issue,
    guarded,
    parse_time,
    read_windows,
    window_issues,
)
from trafficsim.sumocfg import read_sumocfg

OVERFLOW = "overflow"
#: SUMO stop output (XML), shared with kerb-stop demand (a run has one stop output)
STOPS_FILE = "stops.xml"
ROUTES_FILE = "parking_routes.xml"
#: Overflow capacity: never the binding constraint.
OVERFLOW_CAPACITY = 10_000
#: Weight of the alternatives' probability in SUMO's parking choice: the overflow (probability
#: ~0) is chosen only when no car park of the group has a free space.
CHOICE_WEIGHT = 100.0


@dataclass(frozen=True)
class CarPark:
    """A car park: its entrance and capacity.

    Parameters
    ----------
    id
        Name.
    edge
        Edge of the entrance (the parking area lies along its rightmost lane).
    pos_m
        Entrance position along the edge. [m]
    capacity
        Spaces. [veh]
    """

    id: str
    edge: str
    pos_m: float
    capacity: int


@dataclass(frozen=True)
class ParkingGroup:
    """Users of one car park with their demand over the day.

    Parameters
    ----------
    id
        Name.
    car_park
        Their own car park.
    origin, destination
        Edges arriving cars come from / leaving cars go to.
    parked_at_begin
        Cars parked in their car park when the simulation starts. [veh]
    leave_between
        (begin, end) within which those leave, uniformly. [s]
    arrivals_per_hour
        Peak rate of arriving cars. [veh/h]
    profile
        Multiplier of the rate per bin. [-]
    dwell_min
        (low, high): each arriving car stays uniformly this long. [min]
    """

    id: str
    car_park: str
    origin: str
    destination: str
    parked_at_begin: int = 0
    leave_between: tuple[float, float] | None = None
    arrivals_per_hour: float = 0.0
    profile: tuple[float, ...] = ()
    dwell_min: tuple[float, float] = (60.0, 60.0)


@dataclass(frozen=True)
class Share:
    """Car park ``car_park`` open to ``groups`` in ``windows`` [s]."""

    car_park: str
    groups: tuple[str, ...]
    windows: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Parker:
    """One drawn car that wants to park.

    Attributes
    ----------
    id
        ``park_GROUP.k``.
    group
        Its user group.
    depart_s
        Departure (from ``origin``, or from the car park for cars parked at the start). [s]
    until_s
        For cars parked at the start: when they leave. [s]
    dwell_s
        For arriving cars: how long they stay. [s]
    """

    id: str
    group: str
    depart_s: float
    until_s: float | None = None
    dwell_s: float | None = None


@dataclass(frozen=True)
class Parking(Measure):
    """The scenario's car parks and parking demand, with a plan's sharing rules.

    Not a measure a plan names: it is in every plan (see :func:`resolve_parking`).
    """

    kind = "parking"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "parking_demand_veh": MetricInfo("veh", None, "cars that wanted to park (the same "
                                                      "in every plan)"),
        "parking_unserved_veh": MetricInfo("veh", "lower", "cars that found no space in a "
                                                           "car park they may use"),
        "parking_search_time_s": MetricInfo("s", "lower", "mean time searching for a space"),
        "parking_guest_overstays_veh": MetricInfo("veh", "lower", "guests still parked when "
                                                                  "their sharing window closed"),
        "parking_{id}_peak_occupancy_pct": MetricInfo("%", None, "highest occupancy of a car "
                                                                 "park"),
        "parking_{id}_mean_occupancy_pct": MetricInfo("%", "higher", "mean occupancy of a car "
                                                                     "park over the day (use)"),
    }
    car_parks: tuple[CarPark, ...]
    groups: tuple[ParkingGroup, ...]
    overflow_edge: str
    bin_s: float = 3600.0
    sharing: tuple[Share, ...] = field(default=())

    @classmethod
    def parse(cls, f: Fields) -> Parking:
        """Not read from a plan: the car parks come from ``[parking]`` (:func:`parse_parking`).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError("read with parse_parking()")

    # -- references --------------------------------------------------------------------------
    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the car parks' and groups' edges and leave windows, as (field, message)."""
        out = []
        if (msg := net.missing_edge(self.overflow_edge)) is not None:
            out.append(("overflow_edge", msg))
        for i, c in enumerate(self.car_parks):
            if (msg := net.missing_edge(c.edge)) is not None:
                out.append((f"car_parks[{i}].edge", msg))
                continue
            length = net.edge_length_m.get(c.edge, math.inf)
            if c.pos_m > length - 5.0:
                out.append((f"car_parks[{i}].pos_m", f"= {c.pos_m:g} m lies beyond edge "
                                                     f"'{c.edge}' ({length:.1f} m long); expected "
                                                     f"at most {length - 5.0:.1f} m"))
        for i, g in enumerate(self.groups):
            for key, e in (("from", g.origin), ("to", g.destination)):
                if (msg := net.missing_edge(e)) is not None:
                    out.append((f"groups[{i}].{key}", msg))
            if g.leave_between is not None:
                out += [(f"groups[{i}].leave_between", m) for _, m in
                        window_issues((g.leave_between,), begin_s, end_s)]
        return out

    # -- SUMO elements -----------------------------------------------------------------------
    def apply(self, draft: CaseDraft) -> None:
        """Add the car parks, the overflow and one parking rerouter per group.

        A group's rerouter offers, in each interval, the car parks it may use then, and the
        overflow with a tiny probability (the last resort); SUMO writes the stop and route outputs
        the metrics read.
        """
        for c in self.car_parks:
            draft.additional.append(
                f'<parkingArea id="{area(c.id)}" lane="{c.edge}_0" startPos="{max(c.pos_m - 5, 0):g}" '
                f'endPos="{c.pos_m + 5:g}" roadsideCapacity="{c.capacity}" length="5" '
                f'name={quoteattr(c.id)}/>')
        draft.additional.append(
            f'<parkingArea id="{area(OVERFLOW)}" lane="{self.overflow_edge}_0" startPos="0" '
            f'endPos="10" roadsideCapacity="{OVERFLOW_CAPACITY}" length="5" name="elsewhere"/>')
        edges = " ".join(sorted(draft.net.edges)) if draft.net is not None else " ".join(
            sorted({c.edge for c in self.car_parks} | {self.overflow_edge}))
        for g in self.groups:
            intervals = []
            for b, e, lots in self.allowed(g.id):
                alts = "".join(f'<parkingAreaReroute id="{area(lot)}" visible="true"/>'
                               for lot in lots)
                alts += (f'<parkingAreaReroute id="{area(OVERFLOW)}" visible="true" '
                         f'probability="0.001"/>')
                intervals.append(f'<interval begin="{b:g}" end="{e:g}">{alts}</interval>')
            draft.additional.append(f'<rerouter id="parking_{g.id}" edges="{edges}" '
                                    f'vTypes="{vtype(g.id)}">{"".join(intervals)}</rerouter>')
        draft.sumo_options += ["--stop-output", STOPS_FILE, "--stop-output.write-unfinished", "true",
                               "--vehroute-output", ROUTES_FILE]

    def allowed(self, group: str, horizon_s: float = 10 * 86400.0
                ) -> list[tuple[float, float, tuple[str, ...]]]:
        """(begin [s], end [s], car parks) the group may use, over the whole horizon.

        Its own car park always, others inside their sharing windows (the own one first).
        """
        own = next(g.car_park for g in self.groups if g.id == group)
        cuts = {0.0, horizon_s}
        for s in self.sharing:
            if group in s.groups:
                for b, e in s.windows:
                    cuts |= {b, e}
        times = sorted(cuts)
        out = []
        for b, e in itertools.pairwise(times):
            mid = (b + e) / 2.0
            lots = [own] + [s.car_park for s in self.sharing if group in s.groups
                            and s.car_park != own
                            and any(wb <= mid < we for wb, we in s.windows)]
            out.append((b, e, tuple(dict.fromkeys(lots))))
        return out

    # -- demand ------------------------------------------------------------------------------
    def draw(self, begin_s: float, end_s: float, seed: int) -> list[Parker]:
        """The parkers of one seed (independent of the plan: the same cars in every plan)."""
        out: list[Parker] = []
        for gi, g in enumerate(self.groups):
            rng = np.random.default_rng([seed, 7919, gi])  # own stream, apart from flows'
            k = 0
            if g.parked_at_begin:
                lb, le = g.leave_between or (begin_s, end_s)
                for t in np.sort(rng.uniform(lb, le, g.parked_at_begin)):
                    out.append(Parker(f"park_{g.id}.{k}", g.id, begin_s, until_s=round(float(t), 2)))
                    k += 1
            n_bins = math.ceil((end_s - begin_s) / self.bin_s - 1e-9)
            for b in range(n_bins):
                t0 = begin_s + b * self.bin_s
                t1 = min(t0 + self.bin_s, end_s)
                mult = g.profile[b] if b < len(g.profile) else (g.profile[-1] if g.profile else 1.0)
                n = int(rng.poisson(g.arrivals_per_hour * mult * (t1 - t0) / 3600.0))
                departs = np.sort(rng.uniform(t0, t1, n))
                dwell = rng.uniform(g.dwell_min[0], g.dwell_min[1], n) * 60.0
                for t, d in zip(departs, dwell, strict=True):
                    out.append(Parker(f"park_{g.id}.{k}", g.id, round(float(t), 2),
                                      dwell_s=round(float(d), 1)))
                    k += 1
        out.sort(key=lambda p: (p.depart_s, p.id))
        return out

    def write_demand(self, run_dir: Path, begin_s: float, end_s: float, seed: int) -> str:
        """Draw this seed's parkers (the same in every plan) and write their trips.

        Writes ``parking.rou.xml`` (its name is returned) and ``parkers.csv`` (read back by the
        metrics).
        """
        parkers = self.draw(begin_s, end_s, seed)
        self.write_routes(parkers, run_dir / "parking.rou.xml")
        write_parkers(parkers, run_dir / "parkers.csv")
        return "parking.rou.xml"

    def write_routes(self, parkers: Sequence[Parker], path: Path) -> None:
        """A route file with one vType per group and a trip with a parking stop per parker."""
        lots = {c.id: c for c in self.car_parks}
        groups = {g.id: g for g in self.groups}
        lines = ["<routes>"]
        for g in self.groups:
            lines.append(f'  <vType id="{vtype(g.id)}" vClass="passenger">'
                         f'<param key="parking.probability.weight" value="{CHOICE_WEIGHT:g}"/>'
                         "</vType>")
        for p in parkers:
            g = groups[p.group]
            lot = lots[g.car_park]
            if p.until_s is not None:
                lines.append(f'  <trip id="{p.id}" type="{vtype(g.id)}" depart="{p.depart_s:.2f}" '
                             f'departPos="stop" from="{lot.edge}" to="{g.destination}">'
                             f'<stop parkingArea="{area(lot.id)}" until="{p.until_s:.2f}"/></trip>')
            else:
                lines.append(f'  <trip id="{p.id}" type="{vtype(g.id)}" depart="{p.depart_s:.2f}" '
                             f'departLane="best" departSpeed="max" from="{g.origin}" '
                             f'to="{g.destination}"><stop parkingArea="{area(lot.id)}" '
                             f'duration="{p.dwell_s:.1f}"/></trip>')
        lines.append("</routes>\n")
        path.write_text("\n".join(lines), encoding="utf-8")

    # -- metrics -----------------------------------------------------------------------------
    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Unserved demand, search time and occupancy of every car park (:func:`parking_metrics`)."""
        stops = read_stops(run_dir / STOPS_FILE)
        searches = search_starts(run_dir / ROUTES_FILE)
        parkers = _read_parkers(run_dir / "parkers.csv")
        end_s = _run_end(run_dir)
        m = parking_metrics(stops, searches, parkers, end_s, self)
        return m


# --------------------------------------------------------------------------------------------
# The plan measure
# --------------------------------------------------------------------------------------------
@register
@dataclass(frozen=True)
class SharedParking(Measure):
    """Open a car park to other user groups in time windows (its idle hours).

    Parameters
    ----------
    car_park
        The car park's id (``[[parking.car_parks]]``).
    open_to
        Ids of the groups that may use it (``[[parking.groups]]``).
    windows
        When, ((begin, end), …) [s].
    """

    kind = "shared_parking"
    car_park: str
    open_to: tuple[str, ...]
    windows: tuple[tuple[float, float], ...]

    @classmethod
    def parse(cls, f: Fields) -> SharedParking:
        """A sharing rule from its plan table; problems go to ``f.issues``."""
        lot = f.str("car_park")
        groups = f.str_list("open_to")
        if isinstance(groups, tuple) and not groups:
            f.error("open_to", "is empty; expected the ids of the groups that may use it")
        windows = read_windows(f, "windows")
        return cls(car_park=str(lot or ""), open_to=tuple(groups or ()), windows=windows)

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the sharing windows, as (field, message)."""
        return window_issues(self.windows, begin_s, end_s)

    def apply(self, draft: CaseDraft) -> None:
        """Nothing of its own: :func:`resolve_parking` turns it into the parking rerouters."""


# --------------------------------------------------------------------------------------------
# Scenario level
# --------------------------------------------------------------------------------------------
def parse_parking(top: Fields) -> Parking | None:
    """Read the scenario's ``[parking]`` table (problems go to ``top.issues``)."""
    p = top.table_("parking")
    if p is None:
        return None
    overflow = p.str("overflow_edge")
    bin_min = p.float("bin_minutes", 60.0, lo=1.0, hi=240.0, unit=" min")
    lots: list[CarPark] = []
    for _, item, fld in p.items("car_parks"):
        if not isinstance(item, dict):
            p.issues.append(Issue(p.file, fld, "expected a table (use [[parking.car_parks]])"))
            continue
        f = Fields(item, p.file, fld, p.issues)
        # Read every field before building, so that each missing one is reported.
        cid, edge = f.str("id"), f.str("edge")
        pos, cap = f.float("pos_m", lo=0.0, unit=" m"), f.int("capacity", lo=1, hi=100_000)
        try:
            lot = CarPark(id=str(cid), edge=str(edge), pos_m=float(pos), capacity=int(cap))
        except MissingValue:  # reported; the other car parks are still checked
            f.done()
            continue
        if lot.id in (c.id for c in lots) or lot.id == OVERFLOW:
            f.error("id", f"= {lot.id!r} is already used; give each car park its own id "
                          f"('{OVERFLOW}' is reserved)")
        f.done()
        lots.append(lot)
    if not lots:
        p.error("car_parks", "is missing or empty; expected [[parking.car_parks]] tables")
    groups: list[ParkingGroup] = []
    lot_ids = [c.id for c in lots]
    for _, item, fld in p.items("groups"):
        if not isinstance(item, dict):
            p.issues.append(Issue(p.file, fld, "expected a table (use [[parking.groups]])"))
            continue
        f = Fields(item, p.file, fld, p.issues)
        g = guarded(f, lambda f: _group(f, lot_ids))
        if g is None:  # stopped at a missing field (reported); the other groups are still checked
            f.done()
            continue
        if g.id in (x.id for x in groups):
            f.error("id", f"= {g.id!r} is already used; give each group its own id")
        f.done()
        groups.append(g)
    if not groups:
        p.error("groups", "is missing or empty; expected [[parking.groups]] tables")
    p.done()
    return Parking(car_parks=tuple(lots), groups=tuple(groups),
                   overflow_edge=str(overflow) if overflow is not MISSING else "",
                   bin_s=float(bin_min) * 60.0)


def _group(f: Fields, lot_ids: list[str]) -> ParkingGroup:
    """One ``[[parking.groups]]`` table (problems go to ``f.issues``).

    Every field is read before the group is built, so that each missing one is reported.
    """
    gid, lot, origin = f.str("id"), f.str("car_park"), f.str("from")
    if isinstance(lot, str) and lot not in lot_ids:
        f.error("car_park", f"= {lot!r} is not a car park; car parks: "
                            f"{', '.join(lot_ids) or 'none'}." + suggest(lot, lot_ids))
    leave = None
    if f.has("leave_between"):
        w = f.table["leave_between"]
        b, e = (parse_time(w[0]), parse_time(w[1])) if isinstance(w, list) and len(w) == 2 \
            else (None, None)
        if b is None or e is None or e < b:
            f.error("leave_between", f"= {w!r} is not a time window; expected [begin, end] "
                                     'such as ["07:00", "09:00"]')
        else:
            leave = (b, e)
    dwell = _range(f, "dwell_min")
    dest = f.str("to", origin)
    parked = f.int("parked_at_begin", 0, lo=0, hi=100_000)
    rate = f.float("arrivals_per_hour", 0.0, lo=0.0, hi=10_000.0, unit=" veh/h")
    profile = _profile(f)
    flow_issue(f, "profile", rate, profile)
    if parked and leave is None:
        f.error("leave_between", "is missing; parked_at_begin > 0 needs the window in which "
                                 "those cars leave")
    return ParkingGroup(id=str(gid), car_park=str(lot), origin=str(origin), destination=str(dest),
                        parked_at_begin=int(parked), leave_between=leave,
                        arrivals_per_hour=float(rate), profile=profile, dwell_min=dwell)


def sharing_issues(parking: Parking | None, plans: Mapping[str, Sequence[Measure]]
                   ) -> list[tuple[str, str]]:
    """(field, message) for ``shared_parking`` measures that name unknown car parks or groups."""
    out = []
    for pname, measures in plans.items():
        for j, m in enumerate(measures):
            if not isinstance(m, SharedParking):
                continue
            at = f"plans.{pname}.measures[{j}]"
            if parking is None:
                out.append((at, "shared_parking needs a [parking] table with car parks and groups"))
                continue
            lots = [c.id for c in parking.car_parks]
            groups = [g.id for g in parking.groups]
            if m.car_park not in lots:
                out.append((f"{at}.car_park", f"= {m.car_park!r} is not a car park; car parks: "
                                              f"{', '.join(lots)}." + suggest(m.car_park, lots)))
            for i, g in enumerate(m.open_to):
                if g not in groups:
                    out.append((f"{at}.open_to[{i}]", f"= {g!r} is not a parking group; groups: "
                                                      f"{', '.join(groups)}." + suggest(g, groups)))
    return out


def resolve_parking(parking: Parking | None, measures: Iterable[Measure]) -> tuple[Measure, ...]:
    """The scenario's parking with this plan's sharing rules, then the plan's other measures."""
    measures = tuple(measures)
    if parking is None:
        return measures
    shares = tuple(Share(m.car_park, m.open_to, m.windows) for m in measures
                   if isinstance(m, SharedParking))
    return (replace(parking, sharing=shares),
            *[m for m in measures if not isinstance(m, SharedParking)])


@register
@dataclass(frozen=True)
class ParkingDemand(Situation):
    """The scenario's ``[parking]``: car parks and who wants to park when, in every plan.

    A plan's ``shared_parking`` measures set the sharing rules.
    """

    table = "parking"
    METRICS = Parking.METRICS
    parking: Parking

    @classmethod
    def read(cls, top: Fields, demand: object) -> ParkingDemand | None:
        """The scenario's ``[parking]`` table, or None when it has none."""
        parking = parse_parking(top)
        return None if parking is None else cls(parking)

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the car parks' references, with fields under ``parking.``."""
        return [(f"parking.{fld}", msg) for fld, msg in self.parking.check(net, begin_s, end_s)]

    @classmethod
    def plan_issues(cls, found: Situation | None, plans: Mapping[str, Sequence[Measure]]
                    ) -> list[tuple[str, str]]:
        """``shared_parking`` measures that name unknown car parks or groups, as (field, message)."""
        return sharing_issues(found.parking if isinstance(found, cls) else None, plans)

    def resolve(self, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
        """The scenario's parking with this plan's sharing rules, then the plan's other measures."""
        return resolve_parking(self.parking, measures)

    def write_demand(self, run_dir: Path, begin_s: float, end_s: float, seed: int
                     ) -> list[str]:
        """Write this seed's parkers' trips (the same in every plan); returns the route file's name."""
        return [self.parking.write_demand(run_dir, begin_s, end_s, seed)]


# --------------------------------------------------------------------------------------------
# Pure functions on the outputs
# --------------------------------------------------------------------------------------------
def area(lot: str) -> str:
    """The SUMO parkingArea id of a car park."""
    return f"pa_{lot}"


def vtype(group: str) -> str:
    """The SUMO vType id of a user group's parkers."""
    return f"parker_{group}"


def write_parkers(parkers: Sequence[Parker], path: Path) -> None:
    """The drawn parkers (read back by the metrics: who wanted to park, from when)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["id", "group", "depart_s", "until_s", "dwell_s"])
        w.writerows((p.id, p.group, p.depart_s, "" if p.until_s is None else p.until_s,
                     "" if p.dwell_s is None else p.dwell_s) for p in parkers)


def _read_parkers(path: Path) -> Table:
    return read_csv(path, keep_prefix=("depart_", "until_", "dwell_")) if path.is_file() else {}


def _run_end(run_dir: Path) -> float:
    return float(read_sumocfg(run_dir / "case.sumocfg").get("end", math.nan))


def search_starts(vehroutes: Path) -> dict[str, float]:
    """Vehicle → time of its first parking reroute (SUMO found its car park full) [s]."""
    import xml.etree.ElementTree as ET

    out: dict[str, float] = {}
    if not vehroutes.is_file():
        return out
    for _, el in ET.iterparse(vehroutes, events=("end",)):
        if el.tag == "vehicle":
            for r in el.iter("route"):
                if "parkingAreaReroute" in r.get("reason", "") and r.get("replacedAtTime"):
                    out[el.get("id", "")] = float(r.get("replacedAtTime", "nan"))
                    break
            el.clear()
    return out


def occupancy_profile(stops: Table, lot_area: str, times_s: np.ndarray,
                      end_s: float = math.inf) -> np.ndarray:
    """Parked cars in a parking area at each of the given times, from SUMO's stop output.

    A stop counts from ``started`` (inclusive) to ``ended`` (exclusive); a stop still going on at
    the end has ``ended`` = -1 and counts until ``end_s``.
    """
    if not len(stops.get("parkingArea", ())):
        return np.zeros(len(times_s))
    m = stops["parkingArea"] == lot_area
    start = stops["started"][m].astype(float)
    stop = stops["ended"][m].astype(float)
    stop = np.where(stop < 0, end_s, stop)
    t = np.asarray(times_s, dtype=float)[:, None]
    parked = (start[None, :] <= t) & (t < stop[None, :])  # [time, stop]
    return np.asarray(parked.sum(axis=1), dtype=np.float64)


def parking_metrics(stops: Table, searches: Mapping[str, float], parkers: Table, end_s: float,
                    parking: Parking) -> dict[str, float]:
    """Unserved demand, search time and occupancy of every car park.

    Returns
    -------
    dict
        ``parking_demand_veh`` (cars that wanted to park), ``parking_unserved_veh`` (parked in
        the overflow, or still searching at the end), ``parking_search_time_s`` (mean over cars
        that searched: first reroute → parked, or → end), ``parking_guest_overstays_veh``
        (guests still parked after their sharing window), and per car park
        ``parking_ID_peak_occupancy_pct`` / ``parking_ID_mean_occupancy_pct`` (occupancy over
        the simulation, % of capacity).
    """
    ids = list(map(str, parkers.get("id", ())))
    group_of = dict(zip(ids, map(str, parkers.get("group", ())), strict=True))
    stop_ids = list(map(str, stops.get("id", ())))
    lot_of: dict[str, str] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for i, vid in enumerate(stop_ids):
        if vid in group_of and vid not in lot_of:  # the first stop is the parking stop
            lot_of[vid] = str(stops["parkingArea"][i])
            started[vid] = float(stops["started"][i])
            ended[vid] = float(stops["ended"][i])
    unserved = sum(1 for v in ids if lot_of.get(v) == area(OVERFLOW)
                   or (v not in lot_of and v in searches))
    waits = [started.get(v, end_s) - t for v, t in searches.items()
             if v in group_of]
    own = {g.id: g.car_park for g in parking.groups}
    overstays = 0
    for v, lot in lot_of.items():
        guest_lot = lot.removeprefix("pa_")
        if guest_lot in (own.get(group_of[v]), OVERFLOW):
            continue
        for s in parking.sharing:
            if s.car_park == guest_lot and group_of[v] in s.groups:
                inside = [we for wb, we in s.windows if wb <= started[v] < we]
                end = ended[v] if ended[v] >= 0 else end_s
                if inside and end > inside[0]:
                    overstays += 1
    begin_s = float(parkers["depart_s"].min()) if len(ids) else 0.0
    times = np.arange(begin_s, end_s, 60.0)
    out = {
        "parking_demand_veh": float(len(ids)),
        "parking_unserved_veh": float(unserved),
        "parking_search_time_s": float(np.mean(waits)) if waits else 0.0,
        "parking_guest_overstays_veh": float(overstays),
    }
    for c in parking.car_parks:
        occ = occupancy_profile(stops, area(c.id), times, end_s)
        out[f"parking_{c.id}_peak_occupancy_pct"] = 100.0 * float(occ.max(initial=0.0)) / c.capacity
        out[f"parking_{c.id}_mean_occupancy_pct"] = (100.0 * float(occ.mean()) / c.capacity
                                                     if len(occ) else 0.0)
    return out


def _range(f: Fields, key: str) -> tuple[float, float]:
    raw = f.list(key, [60, 60])
    ok = (isinstance(raw, list) and len(raw) == 2
          and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf
                  for v in raw)
          and raw[0] <= raw[1])
    if not ok:
        f.error(key, f"= {raw!r} is not a range; expected [low, high] minutes with "
                     "0 < low ≤ high, e.g. [30, 120]")
        return (60.0, 60.0)
    return (float(raw[0]), float(raw[1]))


def _profile(f: Fields) -> tuple[float, ...]:
    raw = f.list("profile", [])
    out = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
            f.error(f"profile[{i}]", f"= {v!r} is not a rate multiplier; expected a number ≥ 0")
        else:
            out.append(float(v))
    return tuple(out)


def describe(parking: Parking) -> str:
    """One line per sharing rule, e.g. ``homes open to staff 08:00–17:00``."""
    return "; ".join(f"{s.car_park} open to {', '.join(s.groups)} "
                     + ", ".join(f"{clock(b)}–{clock(e)}" for b, e in s.windows)
                     for s in parking.sharing) or "no sharing"

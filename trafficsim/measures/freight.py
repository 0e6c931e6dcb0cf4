"""Freight access rules: time-of-day truck bans, truck corridors, exempt electric vans.

The rules are time-of-day truck bans, designated truck corridors, and the exemption of
new-energy delivery vans.

Vehicle kinds of the demand: ``truck`` (heavy goods vehicle, diesel), ``delivery`` (light van,
diesel) and ``delivery_ev`` (light van, vClass ``delivery`` with the HBEFA4 battery-electric class
``LCV_BEV_N1-II``: no exhaust CO2 or NOx).  A rule names the classes it bans, ``truck`` and/or
``delivery``; ``delivery`` covers every van, electric or not, unless ``exempt_electric = true``
lets the electric ones through::

    [[plans.relaxed.measures]]
    type = "truck_ban"
    edges = ["B1C1", "C1B1"]
    windows = [["07:00", "09:00"]]      # default: the whole simulation
    vehicles = ["truck", "delivery"]    # default: ["truck"]
    exempt_electric = true

    [[plans.corridor.measures]]
    type = "truck_corridor"             # trucks may cross the zone only along the corridor
    zone = ["B1C1", "C1B1", "B2C2", "C2B2"]
    corridor = ["B2C2", "C2B2"]

Native SUMO model: a ``<rerouter>`` whose intervals close the banned edges (``closingReroute``)
for the banned vehicle *types* only, acting on every other edge of the network.  Banned vehicles
route around the closed edges on departure and, when a window opens, wherever they are; a
vehicle without any alternative (its origin or destination inside the zone) drives in anyway and
counts in ``{kind}_violations_veh``.  SUMO permissions cannot tell an electric van from a diesel
one (both are vClass ``delivery``), hence type-specific closings rather than lane permissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from trafficsim.errors import suggest
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex
from trafficsim.measures.registry import register
from trafficsim.outputs import Table, read_csv
from trafficsim.spec import Fields, read_windows, window_issues

#: Vehicle classes a freight rule can ban.
FREIGHT_CLASSES = ("truck", "delivery")
#: vType ids of the demand's freight kinds (see :data:`trafficsim.vtypes.VTYPES`).
TRUCK, VAN, EV_VAN = "truck", "delivery", "delivery_ev"
#: A ban without windows holds for the whole simulation. [s]
ALWAYS = ((0.0, 10.0 * 86400.0),)


def banned_types(vehicles: Sequence[str], exempt_electric: bool) -> tuple[str, ...]:
    """The vType ids a rule bans: ``delivery`` means every van unless electric ones are exempt."""
    out = []
    if "truck" in vehicles:
        out.append(TRUCK)
    if "delivery" in vehicles:
        out.append(VAN)
        if not exempt_electric:
            out.append(EV_VAN)
    return tuple(out)


def _read_rule(f: Fields) -> tuple[tuple[tuple[float, float], ...], tuple[str, ...], bool]:
    windows = read_windows(f, "windows", required=False)
    vehicles = f.str_list("vehicles", ("truck",))
    for i, v in enumerate(vehicles or ()):
        if v not in FREIGHT_CLASSES:
            hint = (" (electric vans are part of 'delivery'; use exempt_electric = true to let "
                    "them through)" if v == EV_VAN else suggest(v, FREIGHT_CLASSES))
            f.error(f"vehicles[{i}]", f"= {v!r} is not a freight class; expected one of: "
                                      f"{', '.join(FREIGHT_CLASSES)}.{hint}")
    if isinstance(vehicles, tuple) and not vehicles:
        f.error("vehicles", "is empty; expected at least one of: " + ", ".join(FREIGHT_CLASSES))
    exempt = f.bool("exempt_electric", False)
    if exempt and "delivery" not in (vehicles or ()):
        f.error("exempt_electric", "= true has no effect: 'delivery' is not among the banned "
                                   "vehicles, so electric vans are not banned anyway")
    return windows, tuple(vehicles or ()), bool(exempt)


def _edge_list(f: Fields, key: str) -> tuple[str, ...]:
    edges = f.str_list(key)
    if isinstance(edges, tuple) and not edges:
        f.error(key, "is empty; expected at least one edge id")
    if isinstance(edges, tuple) and len(set(edges)) != len(edges):
        f.error(key, "repeats an edge")
    return tuple(edges or ())


def _check_edges(net: NetIndex, key: str, edges: Sequence[str]) -> list[tuple[str, str]]:
    return [(f"{key}[{i}]", msg) for i, e in enumerate(edges)
            if (msg := net.missing_edge(e)) is not None]


#: Metric prefixes of the freight vehicle types and what they are.
METRIC_CLASSES = (("truck", "trucks"), ("van", "diesel vans"), ("ev_van", "electric vans"))


class _FreightRule(Measure):
    """What bans and corridors share: closing edges for vehicle types, and the metrics."""

    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "truck_ban_violations_veh": MetricInfo("veh", "lower", "banned vehicles that entered "
                                                               "the banned edges in the windows"),
        "truck_corridor_violations_veh": MetricInfo("veh", "lower", "freight vehicles that "
                                                                    "left the corridor"),
        **{f"{c}_travel_time_s": MetricInfo("s", "lower", f"mean travel time of arrived {what}")
           for c, what in METRIC_CLASSES},
        **{f"{c}_distance_km": MetricInfo("km", "lower", f"mean route length of arrived {what} "
                                                         "(detours)")
           for c, what in METRIC_CLASSES},
        "general_delay_s": MetricInfo("s", "lower", "mean delay of every other vehicle"),
    }

    windows: tuple[tuple[float, float], ...]
    vehicles: tuple[str, ...]
    exempt_electric: bool

    @property
    def label(self) -> str:
        # bans and corridors report the same plan-wide freight yardsticks (identical values)
        return "freight"

    @property
    def closed_edges(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def active_windows(self) -> tuple[tuple[float, float], ...]:
        return self.windows or ALWAYS

    def apply(self, draft: CaseDraft) -> None:
        if draft.net is None:  # build always provides it
            msg = f"{self.kind} needs the network to place its rerouter"
            raise ValueError(msg)
        n = sum(a.startswith(f'<rerouter id="{self.kind}_') for a in draft.additional)
        rid = f"{self.kind}_{n}"
        closed = set(self.closed_edges)
        # Acting on every edge: vehicles reroute on departure and, when a window opens, wherever
        # they are (SUMO reroutes vehicles already on a rerouter edge at the interval's start).
        triggers = " ".join(e for e in sorted(draft.net.edges) if e not in closed)
        types = " ".join(banned_types(self.vehicles, self.exempt_electric))
        intervals = "".join(
            f'<interval begin="{b:g}" end="{e:g}">'
            + "".join(f'<closingReroute id="{c}"/>' for c in self.closed_edges)
            + "</interval>" for b, e in self.active_windows)
        draft.additional.append(f'<rerouter id="{rid}" edges="{triggers}" vTypes="{types}">'
                                f"{intervals}</rerouter>")
        # Entries of banned types into closed edges inside the windows (the violations).
        for w, (b, e) in enumerate(self.active_windows):
            draft.outputs.append(
                f'<edgeData id="{rid}_w{w}" file="{rid}.csv" begin="{b:g}" end="{e:g}" '
                f'vTypes="{types}" edges="{" ".join(self.closed_edges)}" excludeEmpty="false"/>')

    def metrics(self, run_dir: Path) -> dict[str, float]:
        n = 0
        out: dict[str, float] = {}
        for path in sorted(run_dir.glob(f"{self.kind}_*.csv")):
            n += entries(read_csv(path))
        out[f"{self.kind}_violations_veh"] = float(n)
        trips = read_csv(run_dir / "tripinfo.csv") if (run_dir / "tripinfo.csv").is_file() else {}
        out.update(freight_metrics(trips))
        return out


def entries(edgedata: Table) -> int:
    """Vehicles that entered (or departed on) the listed edges within the intervals."""
    if not len(edgedata.get("entered", ())):
        return 0
    entered = np.nan_to_num(edgedata["entered"].astype(float))
    departed = np.nan_to_num(edgedata.get("departed", np.zeros_like(entered)).astype(float))
    return int(entered.sum() + departed.sum())


def freight_metrics(trips: Table) -> dict[str, float]:
    """Travel time and distance per freight kind, and the delay of everyone else.

    The freight kinds are trucks, diesel vans and electric vans (arrived trips); the delay of
    everyone else is time loss + insertion delay of every inserted vehicle.

    Returns
    -------
    dict
        ``truck_travel_time_s``, ``truck_distance_km``, ``van_…``, ``ev_van_…`` [s], [km], and
        ``general_delay_s`` [s]; NaN for a class without trips.
    """
    out: dict[str, float] = {}
    n = len(trips.get("id", ()))
    vtype = np.asarray(trips.get("vType", np.full(n, "", dtype=object)), dtype=object)
    arrived = trips["arrival"] >= 0 if n else np.zeros(0, dtype=bool)
    for name, tid in (("truck", TRUCK), ("van", VAN), ("ev_van", EV_VAN)):
        m = (vtype == tid) & arrived
        out[f"{name}_travel_time_s"] = float(trips["duration"][m].mean()) if m.any() else np.nan
        out[f"{name}_distance_km"] = (float(trips["routeLength"][m].mean()) / 1000.0
                                      if m.any() else np.nan)
    general = ~np.isin(vtype, (TRUCK, VAN, EV_VAN))
    out["general_delay_s"] = (float((trips["timeLoss"] + trips["departDelay"])[general].mean())
                              if general.any() else np.nan)
    return out


@register
@dataclass(frozen=True)
class TruckBan(_FreightRule):
    """Close edges to freight vehicles in time windows.

    Parameters
    ----------
    edges
        The banned edges.
    windows
        When the ban holds, ((begin, end), …) [s]; empty: the whole simulation.
    vehicles
        Banned classes: ``truck``, ``delivery`` (every van, electric included).
    exempt_electric
        Let electric delivery vans (``delivery_ev``) through.
    """

    kind = "truck_ban"
    edges: tuple[str, ...]
    windows: tuple[tuple[float, float], ...] = ()
    vehicles: tuple[str, ...] = ("truck",)
    exempt_electric: bool = False

    @classmethod
    def parse(cls, f: Fields) -> TruckBan:
        """A truck ban from its plan table; problems go to ``f.issues``."""
        edges = _edge_list(f, "edges")
        windows, vehicles, exempt = _read_rule(f)
        return cls(edges=edges, windows=windows, vehicles=vehicles, exempt_electric=exempt)

    @property
    def closed_edges(self) -> tuple[str, ...]:
        """The banned edges: all of ``edges``."""
        return self.edges

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the banned edges and the time windows, as (field, message)."""
        return (_check_edges(net, "edges", self.edges)
                + window_issues(self.windows, begin_s, end_s))


@register
@dataclass(frozen=True)
class TruckCorridor(_FreightRule):
    """A designated truck corridor: inside ``zone``, freight may use only ``corridor`` edges.

    Parameters
    ----------
    zone
        The district's edges.
    corridor
        The edges of the zone that stay open (the designated route).
    windows, vehicles, exempt_electric
        As for :class:`TruckBan`.
    """

    kind = "truck_corridor"
    zone: tuple[str, ...]
    corridor: tuple[str, ...]
    windows: tuple[tuple[float, float], ...] = ()
    vehicles: tuple[str, ...] = ("truck",)
    exempt_electric: bool = False

    @classmethod
    def parse(cls, f: Fields) -> TruckCorridor:
        """A truck corridor from its plan table; problems go to ``f.issues``.

        A corridor edge outside the zone, or a corridor covering the whole zone, is a problem.
        """
        zone = _edge_list(f, "zone")
        corridor = _edge_list(f, "corridor")
        for i, e in enumerate(corridor):
            if zone and e not in zone:
                f.error(f"corridor[{i}]", f"= {e!r} is not in the zone; a corridor is the part "
                                          "of the zone that stays open (edges outside the zone "
                                          "are open anyway)")
        if zone and corridor and set(zone) <= set(corridor):
            f.error("corridor", "covers the whole zone; nothing would be closed")
        windows, vehicles, exempt = _read_rule(f)
        return cls(zone=zone, corridor=corridor, windows=windows, vehicles=vehicles,
                   exempt_electric=exempt)

    @property
    def closed_edges(self) -> tuple[str, ...]:
        """The zone's edges that are not on the corridor: closed to the banned kinds."""
        return tuple(e for e in self.zone if e not in self.corridor)

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the zone and corridor edges and the time windows, as (field, message)."""
        return (_check_edges(net, "zone", self.zone) + _check_edges(net, "corridor", self.corridor)
                + window_issues(self.windows, begin_s, end_s))

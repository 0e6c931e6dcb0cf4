"""HOV (multi-occupant) lane: a lane reserved in its hours for carpools, buses and the like.

SUMO does not check occupancy, so qualification happens in the route file: every car of the
scenario carrying at least ``min_occupancy`` persons gets the vType ``car_hov`` of vehicle class
``hov`` (a retype rule); buses carry their own occupancy and qualify by class.  In each window
the lane allows only ``hov`` and the eligible classes (``<closingLaneReroute allow=...>`` in a
rerouter interval that starts ``clearance_s`` early, so that the lane is empty when the window
opens); outside the windows it is a general lane.  The lane is either an existing one
(``lane = 0`` is the kerb lane) or a new innermost lane (``add_lane = true``).  A converted lane
gets bypass links (:func:`~trafficsim.measures.lanes.bypass_links`): turns that only it served
are also served from its neighbour, so closing it to single-occupant cars cuts no route.

Scenario table::

    [[plans.hov.measures]]
    type = "hov_lane"
    edges = ["W_J1", "J1_J2", "J2_J3"]     # the road, in driving order
    lane = 0                              # or add_lane = true
    min_occupancy = 2                     # 2+ or 3+
    eligible = ["bus", "taxi", "emergency"]
    windows = [["07:00", "09:00"]]        # default: the whole simulation
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trafficsim.errors import suggest
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex
from trafficsim.measures.lanes import (
    Window,
    added_lane,
    bypass_links,
    clip,
    closing_rerouter,
    road_issues,
    tag,
)
from trafficsim.measures.registry import register
from trafficsim.outputs import read_csv, read_meandata
from trafficsim.spec import Fields, read_windows, window_issues
from trafficsim.sumocfg import read_sumocfg
from trafficsim.vtypes import KIND_CLASS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trafficsim.report import ResultsFolder

HOV_TYPE = "car_hov"
#: SUMO's vehicle classes that may be named as eligible.
VCLASSES = ("bus", "coach", "taxi", "emergency", "authority", "army", "vip", "delivery", "truck",
            "trailer", "motorcycle", "moped", "bicycle", "evehicle", "passenger", "private",
            "custom1", "custom2")


@register
@dataclass(frozen=True)
class HovLane(Measure):
    """A lane for vehicles with at least ``min_occupancy`` persons and eligible classes.

    Parameters
    ----------
    edges
        The road, in driving order.
    lane
        Index of the existing lane to reserve (0: the kerb lane); None with ``add_lane``.
    add_lane
        Build a new innermost lane instead of converting one.
    min_occupancy
        Persons a car needs to qualify (2 or 3).
    eligible
        Vehicle classes that may use the lane whatever their occupancy.
    windows
        Hours of the reservation [s]; empty: the whole simulation.
    clearance_s
        The lane closes to others this long before each window so it is empty at the start. [s]
    """

    kind = "hov_lane"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "hov_lane_share": MetricInfo("-", None, "share of the distance driven on the lane's edges "
                                                "that was driven on the HOV lane"),
        "hov_lane_veh_h": MetricInfo("veh/h", None, "vehicles entering the HOV lane per edge and "
                                                    "hour of its windows"),
        "hov_violations_veh_s": MetricInfo("veh·s", "lower", "time non-eligible vehicles spent "
                                                             "on the lane in its windows",
                                           rule=True),
        "hov_delay_s": MetricInfo("s", "lower", "mean delay of qualifying (HOV) vehicles"),
        "non_hov_delay_s": MetricInfo("s", "lower", "mean delay of the other vehicles"),
        "hov_travel_time_s": MetricInfo("s", "lower", "mean travel time of HOV vehicles"),
        "non_hov_travel_time_s": MetricInfo("s", "lower", "mean travel time of the others"),
    }
    REPORT_TITLE = "HOV lane: people and vehicles"
    REPORT_ORDER = 34.0
    REPORT_NOTE = ("Delay per person weights each vehicle by its occupants (a bus counts its "
                   "passengers); HOV = vehicles allowed on the lane (carpools at the minimum "
                   "occupancy, eligible types). Every plan classifies the same vehicles.")
    edges: tuple[str, ...]
    lane: int | None = 0
    add_lane: bool = False
    min_occupancy: int = 2
    eligible: tuple[str, ...] = ("bus", "taxi", "emergency")
    windows: tuple[Window, ...] = ()
    clearance_s: float = 120.0

    @classmethod
    def parse(cls, f: Fields) -> HovLane:
        """An HOV lane from its plan table; problems go to ``f.issues``.

        Without ``add_lane`` the reserved lane defaults to lane 0 (the rightmost).
        """
        edges = f.str_list("edges")
        if isinstance(edges, tuple) and not edges:
            f.error("edges", "is empty; expected the road's edges in driving order")
        add = f.bool("add_lane", False)
        lane = f.int("lane", None, lo=0, hi=15)
        if add and lane is not None:
            f.error("lane", "cannot be given with add_lane = true (the new lane is the innermost)")
        if not add and lane is None:
            lane = 0
        occ = f.int("min_occupancy", 2, lo=2, hi=3)
        eligible = f.str_list("eligible", ("bus", "taxi", "emergency"))
        for i, c in enumerate(eligible or ()):
            if c not in VCLASSES:
                f.error(f"eligible[{i}]", f"= {c!r} is not a SUMO vehicle class; expected some of: "
                                          f"{', '.join(VCLASSES)}." + suggest(c, VCLASSES))
        windows = read_windows(f, "windows", required=False)
        clearance = f.float("clearance_s", 120.0, lo=0.0, hi=1800.0, unit=" s")
        return cls(edges=tuple(edges or ()), lane=None if add else lane, add_lane=bool(add),
                   min_occupancy=int(occ), eligible=tuple(eligible or ()),
                   windows=windows, clearance_s=float(clearance))

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the road, the reserved lane and the windows, as (field, message).

        Reserving the only lane of an edge is a problem: no general lane would be left.
        """
        out = road_issues(net, self.edges, "edges")
        if out:
            return out
        if self.lane is not None:
            lane_issues = []
            for i, e in enumerate(self.edges):
                if (msg := net.missing_lane(e, self.lane)) is not None:
                    lane_issues.append(f"= {self.lane}: {msg} (edges[{i}])")
                elif net.edges[e] < 2:
                    lane_issues.append(f"= {self.lane}: edge '{e}' (edges[{i}]) has a single "
                                       "lane; reserving it would leave no general lane. Use "
                                       "add_lane = true")
            if lane_issues:  # one message for the field, not one per edge
                more = len(lane_issues) - 1
                out.append(("lane", lane_issues[0] + (f"; and {more} more edge(s)" if more else "")))
        return out + window_issues(self.windows, begin_s, end_s)

    # -- SUMO elements ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """``hov_`` and a tag of the road's edges: one label per HOV road."""
        return f"hov_{self._tag}"

    @property
    def _tag(self) -> str:
        return tag(self.edges)

    def _lane_ids(self, net: NetIndex) -> list[str]:
        idx = {e: (net.edges[e] if self.add_lane else int(self.lane or 0)) for e in self.edges}
        return [f"{e}_{idx[e]}" for e in self.edges]

    def _active(self, begin_s: float, end_s: float) -> list[Window]:
        return clip(self.windows or ((begin_s, end_s),), begin_s, end_s)

    def allowed(self) -> str:
        """The classes that may use the lane in its hours."""
        return " ".join(dict.fromkeys(("hov", *self.eligible, "authority", "emergency")))

    def qualifies(self, kind: str, occupancy: int) -> bool:
        """Whether a vehicle of the scenario's demand may use the lane in its hours."""
        if kind == "car":
            return occupancy >= self.min_occupancy
        return KIND_CLASS.get(kind, kind) in self.eligible

    def apply(self, draft: CaseDraft) -> None:
        """Reserve (or add) the lane, retype carpools and write its rerouter and lane data.

        The lane closes to other traffic ``clearance_s`` before each window, and lane data
        count its use and the vehicles that may not use it during the windows.
        """
        net = draft.net
        if net is None:  # pragma: no cover - build_plan always sets it
            msg = "hov_lane needs the network"
            raise ValueError(msg)
        if self.add_lane:
            patches, connections = added_lane(net, self.edges)
            draft.edge_patches += patches
            draft.connection_patches += connections
        else:
            draft.connection_patches += bypass_links(net, dict.fromkeys(self.edges,
                                                                        int(self.lane or 0)))
        draft.vtypes[HOV_TYPE] = ("car", {"vClass": "hov"})
        draft.retype.append(_Retype(self.min_occupancy))
        active = self._active(draft.begin_s, draft.end_s)
        lanes = self._lane_ids(net)
        early = [(max(draft.begin_s, b - self.clearance_s), e) for b, e in active]
        draft.additional.append(closing_rerouter(f"hov_{self._tag}", self.edges[:1], lanes, early,
                                                 allow=self.allowed()))
        edges = " ".join(self.edges)
        others = " ".join(k for k in KIND_CLASS if not self.qualifies(k, 1))
        for k, (b, e) in enumerate(active):
            draft.outputs.append(
                f'<laneData id="hov_{self._tag}_{k}" file="hov_{self._tag}_lanes.xml" '
                f'begin="{b:g}" end="{e:g}" edges="{edges}"/>')
            if others:
                # The same lanes, counting only vehicles that may not use the HOV lane.
                draft.outputs.append(
                    f'<laneData id="hovv_{self._tag}_{k}" file="hov_{self._tag}_violations.xml" '
                    f'begin="{b:g}" end="{e:g}" edges="{edges}" vTypes="{others}"/>')

    # -- metrics -----------------------------------------------------------------------------
    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """Delay per person and per vehicle of HOV and other vehicles, if the folder has them."""
        from trafficsim import plots  # matplotlib only when a report is drawn

        if not folder.plans or not plots.has_metrics(folder.doc, ["hov_delay_s"]):
            return []
        return [plots.person_vehicle(folder.doc)]

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """HOV-lane use in its hours, from SUMO's lane data.

        ``hov_lane_share``: the lane's share of the road's vehicle-kilometres [-];
        ``hov_lane_veh_h``: vehicles entering the lane per hour, mean over its edges [veh/h];
        ``hov_violations_veh_s``: vehicle-seconds that non-qualifying vehicles spent on it
        (must be 0) [veh·s].
        """
        rows = read_meandata(run_dir / f"hov_{self._tag}_lanes.xml")
        is_hov = self._lane_test(rows)
        dist_lane = dist_all = entries = 0.0
        hours = {r.interval: (r.end_s - r.begin_s) / 3600.0 for r in rows}
        for row in rows:
            dist_all += row.values.get("distance", 0.0)
            if is_hov(row.lane):
                v = row.values
                dist_lane += v.get("distance", 0.0)
                entries += v.get("entered", 0.0) + v.get("departed", 0.0) \
                    + v.get("laneChangedTo", 0.0)
        violations = sum(r.values.get("sampledSeconds", 0.0)
                         for r in read_meandata(run_dir / f"hov_{self._tag}_violations.xml")
                         if is_hov(r.lane))
        total_h = sum(hours.values())
        return {
            "hov_lane_share": dist_lane / dist_all if dist_all else math.nan,
            "hov_lane_veh_h": entries / len(self.edges) / total_h if total_h else math.nan,
            "hov_violations_veh_s": violations,
        }

    def _lane_test(self, rows: list[Any]) -> Callable[[str], bool]:
        """Tell the HOV lane's id: the fixed index, or each edge's innermost (added) lane."""
        if not self.add_lane:
            return lambda lane: lane.rsplit("_", 1)[1] == str(self.lane)
        innermost: dict[str, int] = defaultdict(int)
        for r in rows:
            innermost[r.edge] = max(innermost[r.edge], int(r.lane.rsplit("_", 1)[1]))
        return lambda lane: lane == f"{lane.rsplit('_', 1)[0]}_{innermost[lane.rsplit('_', 1)[0]]}"

    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Delay and travel time of qualifying (HOV) and other vehicles, in every plan.

        Delay is time loss plus insertion delay; vehicles that never got in count with their
        whole wait, as in the run metrics. [s]
        """
        trips = read_csv(run_dir / "tripinfo.csv")
        vehicles = read_csv(run_dir / "vehicles.csv", keep_prefix=("depart_", "stop_"))
        end_s = _end_s(run_dir / "case.sumocfg")
        kind = dict(zip(vehicles.get("id", ()), vehicles.get("kind", ()), strict=True))
        occ = dict(zip(vehicles.get("id", ()), vehicles.get("occupancy", ()), strict=True))
        depart = dict(zip(vehicles.get("id", ()), vehicles.get("depart_s", ()), strict=True))
        delay: dict[bool, list[float]] = defaultdict(list)
        travel: dict[bool, list[float]] = defaultdict(list)
        seen = set()
        for i, vid in enumerate(trips.get("id", ())):
            seen.add(vid)
            hov = self.qualifies(str(kind.get(vid, "car")), int(occ.get(vid, 1)))
            delay[hov].append(float(trips["timeLoss"][i] + trips["departDelay"][i]))
            if trips["arrival"][i] >= 0:
                travel[hov].append(float(trips["duration"][i]))
        for vid, t in depart.items():
            if vid not in seen and t < end_s:
                delay[self.qualifies(str(kind[vid]), int(occ[vid]))].append(end_s - float(t))

        def mean(x: list[float]) -> float:
            return float(np.mean(x)) if x else math.nan

        return {"hov_delay_s": mean(delay[True]), "non_hov_delay_s": mean(delay[False]),
                "hov_travel_time_s": mean(travel[True]),
                "non_hov_travel_time_s": mean(travel[False])}


@dataclass(frozen=True)
class _Retype:
    """Cars with at least ``min_occupancy`` persons become ``car_hov`` (picklable rule)."""

    min_occupancy: int

    def __call__(self, kind: str, occupancy: int) -> str | None:
        return HOV_TYPE if kind == "car" and occupancy >= self.min_occupancy else None


def _end_s(config: Path) -> float:
    return float(read_sumocfg(config).get("end", math.inf))

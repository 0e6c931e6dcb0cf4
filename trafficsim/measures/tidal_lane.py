"""Tidal (reversible) lane: a centre lane that serves the peak direction in its windows.

SUMO has no two-way lanes, so the reversible strip is built as one extra innermost lane on the
edges of each direction: two copies of the same strip, of which at most one is open at a time.
Each copy is closed (``<closingLaneReroute allow="authority">``, a rerouter interval) whenever
its direction is not scheduled, and before the strip changes direction both copies stay closed
for a clearance interval so that vehicles on it can leave.  The added lanes only continue
straight on to the next edge's added lane (see :func:`~trafficsim.measures.lanes.added_lane`),
so every turn keeps its lanes and no route can be cut by a switch.

Scenario table::

    [[plans.tidal.measures]]
    type = "tidal_lane"
    inbound = ["W_J1", "J1_J2", "J2_J3"]       # the road, in driving order, one direction
    # outbound = [...]                          # default: the reverse edges, in driving order
    inbound_windows = [["07:00", "10:00"]]
    outbound_windows = [["16:30", "19:30"]]
    otherwise = "closed"                        # direction outside the windows
    clearance_s = 180                           # both copies closed before each reversal
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex
from trafficsim.measures.lanes import (
    Window,
    added_lane,
    clip,
    closing_rerouter,
    complement,
    road_issues,
    tag,
)
from trafficsim.measures.registry import register
from trafficsim.outputs import read_meandata
from trafficsim.spec import Fields, clock, read_windows, window_issues

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trafficsim.report import ResultsFolder

DIRECTIONS = ("inbound", "outbound")
CLEARANCE = "clearance"
CLOSED = "closed"
#: Far enough to cover any simulation window: the schedule repeats nothing, it is one timeline.
HORIZON_S = 10 * 86400.0


@register
@dataclass(frozen=True)
class TidalLane(Measure):
    """A reversible centre lane on a two-way road.

    Parameters
    ----------
    inbound
        The road's edges in one direction, in driving order.
    outbound
        The road's edges in the other direction, in driving order; empty: the reverse of each
        inbound edge.
    inbound_windows, outbound_windows
        When the lane serves each direction. [s]
    otherwise
        Its state outside the windows: ``closed``, ``inbound`` or ``outbound``.
    clearance_s
        Time both copies stay closed before the lane opens to the other direction. [s]
    """

    kind = "tidal_lane"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "tidal_peak_delay_s": MetricInfo("s", "lower", "delay along the road in the direction "
                                                       "the lane serves, in its windows"),
        "tidal_peak_travel_time_s": MetricInfo("s", "lower", "travel time along the road, peak "
                                                             "direction, in the windows"),
        "tidal_counter_delay_s": MetricInfo("s", "lower", "delay along the road in the other "
                                                          "direction at the same times"),
        "tidal_counter_travel_time_s": MetricInfo("s", "lower", "travel time along the road, "
                                                                "counter-peak direction"),
        "tidal_lane_share": MetricInfo("-", None, "share of the peak traffic on the reversible "
                                                  "lane"),
        "tidal_conflict_veh_s": MetricInfo("veh·s", "lower", "time vehicles spent on the lane "
                                                             "against its direction (must be 0)",
                                           rule=True),
    }
    REPORT_TITLE = "Tidal lane: by direction"
    REPORT_ORDER = 32.0
    REPORT_NOTE = ("Along the tidal road, in the scheduled windows: the peak direction is the one "
                   "the reversible lane serves, the counter-peak the other direction at the same "
                   "times (it loses a lane where the lane is taken from it). Every plan is "
                   "measured on the same edges and windows.")
    inbound: tuple[str, ...]
    inbound_windows: tuple[Window, ...]
    outbound_windows: tuple[Window, ...]
    outbound: tuple[str, ...] = ()
    otherwise: str = CLOSED
    clearance_s: float = 180.0

    @classmethod
    def parse(cls, f: Fields) -> TidalLane:
        """A tidal lane from its plan table; problems go to ``f.issues``.

        At least one of ``inbound_windows`` and ``outbound_windows`` must be given.
        """
        inbound = f.str_list("inbound")
        if isinstance(inbound, tuple) and not inbound:
            f.error("inbound", "is empty; expected the road's edges in driving order")
        outbound = f.str_list("outbound", ())
        # (one direction's windows may be empty: the lane serves only the other one)
        win_in = read_windows(f, "inbound_windows", required=False, allow_empty=True)
        win_out = read_windows(f, "outbound_windows", required=False, allow_empty=True)
        if not win_in and not win_out and not f.has("inbound_windows") \
                and not f.has("outbound_windows"):
            f.error("inbound_windows", "is missing; give inbound_windows and/or outbound_windows "
                                       '(e.g. [["07:00", "10:00"]])')
        for b0, e0 in win_in:
            for b1, e1 in win_out:
                if b1 < e0 and b0 < e1:
                    f.error("outbound_windows", f"window {clock(b1)}–{clock(e1)} overlaps the "
                                                f"inbound window {clock(b0)}–{clock(e0)}; the "
                                                "lane serves one direction at a time")
        otherwise = f.str("otherwise", CLOSED, choices=(CLOSED, *DIRECTIONS))
        clearance = f.float("clearance_s", 180.0, lo=0.0, hi=3600.0, unit=" s")
        return cls(inbound=tuple(inbound or ()), outbound=tuple(outbound or ()),
                   inbound_windows=win_in, outbound_windows=win_out,
                   otherwise=otherwise if otherwise in (CLOSED, *DIRECTIONS) else CLOSED,
                   clearance_s=float(clearance))

    # -- the road ----------------------------------------------------------------------------
    def roads(self, net: NetIndex) -> dict[str, tuple[str, ...]]:
        """Direction → its edges in driving order (the outbound default derived from ``net``)."""
        outbound = self.outbound or tuple(net.reverse(e) or "" for e in reversed(self.inbound))
        return {"inbound": self.inbound, "outbound": outbound}

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the road, its reverse, the windows and the schedule, as (field, message).

        Without ``outbound`` every inbound edge needs a single reverse edge; a clearance that
        would swallow a whole opening is a problem of ``clearance_s``.
        """
        out = road_issues(net, self.inbound, "inbound")
        if out:
            return out
        if self.outbound:
            out += road_issues(net, self.outbound, "outbound")
        else:
            missing = [e for e in self.inbound if net.reverse(e) is None]
            if missing:
                out.append(("outbound", f"edge '{missing[0]}' has no single reverse edge; list "
                                        "the outbound edges explicitly"))
        if not out and set(self.inbound) & set(self.roads(net)["outbound"]):
            out.append(("outbound", "shares edges with inbound; the two directions must differ"))
        out += window_issues(self.inbound_windows, begin_s, end_s, "inbound_windows")
        out += window_issues(self.outbound_windows, begin_s, end_s, "outbound_windows")
        try:
            self.timeline(begin_s, end_s)
        except ValueError as exc:
            out.append(("clearance_s", str(exc)))
        return out

    # -- the schedule ------------------------------------------------------------------------
    def timeline(self, begin_s: float, end_s: float) -> list[tuple[float, float, str]]:
        """Consecutive (begin [s], end [s], state) intervals over [begin_s, end_s).

        States are ``inbound``, ``outbound``, ``clearance`` (both copies closed before a
        reversal) and ``closed``.

        Raises
        ------
        ValueError
            When a clearance interval would swallow a whole opening.
        """
        marks = [(b, e, "inbound") for b, e in self.inbound_windows]
        marks += [(b, e, "outbound") for b, e in self.outbound_windows]
        segs = [(b, e, s) for b, e, s in sorted(marks)]
        gaps = complement([(b, e) for b, e, _ in segs], 0.0, HORIZON_S)
        segs = sorted(segs + [(b, e, self.otherwise) for b, e in gaps])
        merged: list[list[Any]] = []
        for b, e, s in segs:
            if merged and merged[-1][2] == s and merged[-1][1] == b:
                merged[-1][1] = e
            else:
                merged.append([b, e, s])
        # Before the lane opens to a direction, the other direction must have been shut for
        # the clearance time: cut it from the end of the previous opening.
        last_open: int | None = None
        for i, (b, _e, s) in enumerate(merged):
            if s not in DIRECTIONS:
                continue
            if last_open is not None and merged[last_open][2] != s:
                prev = merged[last_open]
                if b - prev[1] < self.clearance_s:
                    cut = b - self.clearance_s
                    if cut <= prev[0]:
                        msg = (f"= {self.clearance_s:g} s does not fit: the {prev[2]} opening "
                               f"{clock(prev[0])}–{clock(prev[1])} is too short to end "
                               f"{self.clearance_s:g} s before the {s} opening at {clock(b)}")
                        raise ValueError(msg)
                    prev[1] = cut
            last_open = i
        out: list[tuple[float, float, str]] = []
        for b, e, s in merged:
            if out and out[-1][1] < b:
                out.append((out[-1][1], b, CLEARANCE))
            out.append((b, e, s))
        return [(b, e, s) for b, e, s in
                ((max(b, begin_s), min(e, end_s), s) for b, e, s in out) if e > b]

    def open_windows(self, direction: str, begin_s: float, end_s: float) -> list[Window]:
        """When the copy of ``direction`` is open: (begin, end) intervals [s]."""
        return [(b, e) for b, e, s in self.timeline(begin_s, end_s) if s == direction]

    # -- SUMO elements ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """``tidal_`` and a tag of the inbound edges: one label per tidal road."""
        return f"tidal_{self._tag}"

    @property
    def _tag(self) -> str:
        return tag(self.inbound)

    def _lanes(self, net: NetIndex) -> dict[str, list[str]]:
        """Direction → ids of its copy of the reversible lane (after the lane is added)."""
        return {d: [f"{e}_{net.edges[e]}" for e in edges] for d, edges in self.roads(net).items()}

    def apply(self, draft: CaseDraft) -> None:
        """Add the reversible lane to both directions and close each copy outside its windows.

        Also lane data per schedule segment and direction: who used which copy, and when.
        """
        net = draft.net
        if net is None:  # pragma: no cover - build_plan always sets it
            msg = "tidal_lane needs the network"
            raise ValueError(msg)
        roads = self.roads(net)
        lanes = self._lanes(net)
        for edges in roads.values():
            patches, connections = added_lane(net, edges)
            draft.edge_patches += patches
            draft.connection_patches += connections
        timeline = self.timeline(draft.begin_s, draft.end_s)
        for d in DIRECTIONS:
            opened = [(b, e) for b, e, s in timeline if s == d]
            closed = complement(opened, draft.begin_s, draft.end_s)
            draft.additional.append(closing_rerouter(
                f"tidal_{self._tag}_{d}", roads[d][:1], lanes[d], closed))
        # Lane data per schedule segment and direction (the id names both): who used which
        # copy, and when.
        draft.outputs += [
            f'<laneData id="tidal_{self._tag}_{i}_{s}_{d}" file="tidal_{self._tag}_lanes.xml" '
            f'begin="{b:g}" end="{e:g}" edges="{" ".join(roads[d])}"/>'
            for i, (b, e, s) in enumerate(timeline) for d in DIRECTIONS]

    def observe(self, draft: CaseDraft) -> None:
        """Edge data along both directions in each scheduled window, in every plan.

        The baseline measures them too, so :meth:`observed_metrics` pair across plans.
        """
        net = draft.net
        if net is None:  # pragma: no cover
            return
        roads = self.roads(net)
        for sched in DIRECTIONS:
            windows = self.inbound_windows if sched == "inbound" else self.outbound_windows
            for k, (b, e) in enumerate(clip(windows, draft.begin_s, draft.end_s)):
                draft.outputs += [
                    f'<edgeData id="tidalobs_{self._tag}_{k}_{sched}_{d}" '
                    f'file="tidal_{self._tag}_road.xml" begin="{b:g}" end="{e:g}" '
                    f'edges="{" ".join(roads[d])}" excludeEmpty="false"/>' for d in DIRECTIONS]

    # -- metrics -----------------------------------------------------------------------------
    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Delay and travel time along the road per direction, during the scheduled windows.

        ``tidal_peak_*`` is the scheduled (peak) direction in its windows, ``tidal_counter_*``
        the other direction at the same times.  Both are sums along the road of each edge's
        mean per-vehicle value, i.e. what a vehicle driving the whole road experiences. [s]
        """
        # (role, scheduled direction, edge) → [time loss, vehicle-seconds, vehicles]
        sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for row in read_meandata(run_dir / f"tidal_{self._tag}_road.xml"):
            _, _, _, scheduled, d = row.interval.split("_")
            acc = sums[("peak" if d == scheduled else "counter", scheduled, row.edge)]
            acc[0] += row.values.get("timeLoss", 0.0)
            acc[1] += row.values.get("sampledSeconds", 0.0)
            acc[2] += row.values.get("entered", 0.0) + row.values.get("departed", 0.0)
        out = {}
        for role in ("peak", "counter"):
            # Along the road of each scheduled direction, then weighted by its vehicles.
            delay = travel = weight = 0.0
            for sched in DIRECTIONS:
                rows = [v for (r, s, _), v in sums.items() if r == role and s == sched and v[2]]
                if not rows:
                    continue
                w = sum(n for _, _, n in rows) / len(rows)
                delay += w * sum(tl / n for tl, _, n in rows)
                travel += w * sum(ss / n for _, ss, n in rows)
                weight += w
            out[f"tidal_{role}_delay_s"] = delay / weight if weight else math.nan
            out[f"tidal_{role}_travel_time_s"] = travel / weight if weight else math.nan
        return out

    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """Delay and travel time per direction, peak and counter-peak, if the folder has them."""
        from trafficsim import plots  # matplotlib only when a report is drawn

        if not folder.plans or not plots.has_metrics(folder.doc, ["tidal_peak_delay_s"]):
            return []
        return [plots.direction_delays(folder.doc)]

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Use of the reversible lane, from SUMO's lane data per schedule segment.

        ``tidal_lane_share``: share of the open direction's vehicle-kilometres that the
        reversible lane carried while open [-]; ``tidal_conflict_veh_s``: vehicle-seconds spent
        on one copy while the other was open, i.e. against the open direction on the same
        strip (must be 0) [veh·s].  The reversible copy is each edge's innermost lane.
        """
        rows = read_meandata(run_dir / f"tidal_{self._tag}_lanes.xml")
        innermost: dict[str, int] = defaultdict(int)
        for row in rows:
            innermost[row.edge] = max(innermost[row.edge], int(row.lane.rsplit("_", 1)[1]))
        on_lane = total = conflict = 0.0
        for row in rows:
            _, _, _, state, d = row.interval.split("_")
            if state not in DIRECTIONS:
                continue
            reversible = int(row.lane.rsplit("_", 1)[1]) == innermost[row.edge]
            if d == state:
                dist = row.values.get("distance", 0.0)
                total += dist
                on_lane += dist if reversible else 0.0
            elif reversible:
                conflict += row.values.get("sampledSeconds", 0.0)
        return {"tidal_lane_share": on_lane / total if total else math.nan,
                "tidal_conflict_veh_s": conflict}

"""Lane use: re-mark which movements each lane of an approach serves, optionally with a pocket.

``lanes`` lists the approach's lanes **from the median outwards**, as a driver reads the
arrows on the road: the first entry is the lane next to the centre line (SUMO's highest lane
index), the last the kerb lane (SUMO's lane 0).  Only lanes open to cars are listed:
sidewalks, bicycle and bus lanes keep their links.  Each entry holds the letters of the movements
the lane serves: ``L`` left, ``T`` through, ``R`` right, ``U`` u-turn, combinable (``"TR"``).
A letter stands for every movement of that kind leaving the approach today (SUMO's turn
direction of the network's connections).

``pocket_m`` adds a turn pocket: the last ``pocket_m`` metres of the approach gain one lane on
the median side (``netconvert`` splits the edge; the part next to the junction keeps the
edge's id, the part before it becomes ``EDGE.up``), and ``lanes`` then describes the widened
part, one entry more.

Validation: one entry per lane; only known letters, and only for movements that exist; no
movement of the approach left without a lane.  The last rule keeps every route drivable: the
demand's trips are routed from origin to destination edge by SUMO, and every from → to edge
pair that carries them today still has a lane.

The approach's connections are written as a plain-XML connection patch (``<delete>`` of the
links that go, ``<connection>`` for the new ones); the network builder gives each new link the
signal of the base link of the same movement, so the signal programs stay the baseline's.

Scenario table::

    [[plans.remark.measures]]
    type = "lane_use"
    edge = "W_J1"
    lanes = ["L", "T", "TR"]     # from the median outwards; one entry per lane
    # pocket_m = 60              # a pocket: the last 60 m gain a lane (then 4 entries)

Yardsticks (every plan): per movement, delay and queue; the balance of the approach's lanes;
with a pocket, the time its entry is blocked by the through queue.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from trafficsim.measures._movements import (
    LETTER_NAMES,
    VEHROUTE_OPTIONS,
    car_lanes,
    mean,
    movements,
    read_passages,
)
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex
from trafficsim.measures.lanes import tag
from trafficsim.measures.registry import register
from trafficsim.netmodel import Network, read_network
from trafficsim.outputs import read_meandata
from trafficsim.spec import Fields
from trafficsim.sumocfg import read_sumocfg

LETTERS = "LTRU"
#: Length of the zone at the pocket entry whose halted vehicle blocks it. [m]
BLOCK_ZONE_M = 1.0
#: Shortest pocket, and the shortest stretch of the approach that must remain before it. [m]
MIN_POCKET_M = 10.0
MIN_BEFORE_POCKET_M = 10.0


@register
@dataclass(frozen=True)
class LaneUse(Measure):
    """The movements each lane of an approach serves, optionally with a turn pocket.

    Parameters
    ----------
    edge
        The approach edge (it must end at a junction with at least one movement).
    lanes
        Movement letters per lane, **from the median outwards** (first: the lane next to the
        centre line, SUMO's highest index; last: the kerb lane, SUMO's lane 0).  Lanes open to
        cars only: sidewalks, bicycle and bus lanes are not listed and keep their links.
    pocket_m
        Length of a turn pocket: the approach's last ``pocket_m`` metres gain a lane on the
        median side [m]; None: no pocket.  Measured along the edge from the junction's centre
        (``netconvert``'s split position): the pocket's lanes, which end at the junction's
        outline and start after the split's own small junction, are some metres shorter.
    """

    kind = "lane_use"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "lane_use_{tag}_{move}_delay_s": MetricInfo(
            "s", "lower", "mean delay of the movement's vehicles from entering the approach to "
                          "entering their outgoing edge"),
        "lane_use_{tag}_{move}_queue_veh": MetricInfo(
            "veh", "lower", "mean number of the movement's vehicles held back on the approach "
                            "(its total delay over the window, Little's law)"),
        "lane_use_{tag}_balance_cv": MetricInfo(
            "-", "lower", "coefficient of variation of the vehicles crossing the stop line per "
                          "lane of the approach (0: evenly used)"),
        "lane_use_{tag}_pocket_blocked_s": MetricInfo(
            "s", "lower", "time a halted vehicle stood on the through lane at the pocket's "
                          "entry (left-turners behind it cannot reach the pocket)"),
    }
    edge: str
    lanes: tuple[str, ...]
    pocket_m: float | None = None

    @classmethod
    def parse(cls, f: Fields) -> LaneUse:
        """A lane-use marking from its plan table; problems go to ``f.issues``."""
        edge = f.str("edge")
        lanes = f.str_list("lanes")
        if isinstance(lanes, tuple) and not lanes:
            f.error("lanes", "is empty; expected the movements of each lane, from the median "
                             'outwards, e.g. ["L", "T", "TR"]')
        for i, entry in enumerate(lanes or ()):
            bad = [c for c in entry if c not in LETTERS]
            if not entry:
                f.error(f"lanes[{i}]", "is empty; every lane serves at least one movement "
                                       "(L, T, R or U)")
            elif bad:
                f.error(f"lanes[{i}]", f"= {entry!r}: {bad[0]!r} is not a movement; expected "
                                       "letters L (left), T (through), R (right), U (u-turn)")
            elif len(set(entry)) != len(entry):
                f.error(f"lanes[{i}]", f"= {entry!r} repeats a letter")
        pocket = f.float("pocket_m", None, lo=MIN_POCKET_M, hi=2000.0, unit=" m")
        return cls(edge=str(edge or ""), lanes=tuple(lanes or ()),
                   pocket_m=None if pocket is None else float(pocket))

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the edge, the number of entries and the movements, as (field, message).

        Every letter must name a movement that leaves the edge today, and every movement must
        keep a lane; the pocket must leave some of the edge before it.
        """
        if (msg := net.missing_edge(self.edge)) is not None:
            return [("edge", msg)]
        out = []
        if net.path is not None:
            n = len(self.marked(read_network(net.path)))
            total = net.edges[self.edge] + (1 if self.pocket_m is not None else 0)
            pocket = f" (with the pocket: {n - 1} + 1)" if self.pocket_m is not None else ""
            cars = "" if n == total else (f" open to cars (of {total}: sidewalks, bicycle and "
                                          "bus lanes keep their links)")
            if len(self.lanes) != n:
                entries = f"entr{'y' if len(self.lanes) == 1 else 'ies'}"
                out.append(("lanes", f"has {len(self.lanes)} {entries}; edge '{self.edge}' has "
                                     f"{n} lanes{cars}{pocket}: give one entry per lane, from "
                                     "the median outwards"))
        length = net.edge_length_m.get(self.edge, math.inf)
        if self.pocket_m is not None and self.pocket_m > length - MIN_BEFORE_POCKET_M:
            out.append(("pocket_m", f"= {self.pocket_m:g} m leaves less than "
                                    f"{MIN_BEFORE_POCKET_M:g} m of edge '{self.edge}' "
                                    f"({length:.0f} m long) before the pocket"))
        if net.path is None:
            return out
        moves = movements(read_network(net.path), self.edge)
        if not moves:
            return [*out, ("edge", f"edge '{self.edge}' has no movement at its end (no "
                                   "connection to another edge): nothing to mark")]
        have = set(moves.values())
        listing = ", ".join(f"{m} → {to}" for to, m in sorted(moves.items()))
        for i, entry in enumerate(self.lanes):
            for c in entry:
                if c in LETTERS and c not in have:
                    out.append((f"lanes[{i}]", f"= {entry!r}: no {LETTER_NAMES[c]} movement "
                                               f"leaves '{self.edge}' (its movements: "
                                               f"{listing})"))
                    break
        marked = {c for entry in self.lanes for c in entry}
        for to, m in sorted(moves.items()):
            if m not in marked:
                out.append(("lanes", f"leave the {LETTER_NAMES[m]} movement {self.edge} → {to} "
                                     f"without a lane; every movement of today must keep one "
                                     f"(add {m!r} to a lane), or routes through it break"))
        return out

    def marked(self, network: Network) -> list[int]:
        """SUMO indices of the lanes ``lanes`` describes, in its order (median outwards).

        The lanes open to cars, and the pocket's new lane (the highest index).
        """
        lanes = car_lanes(network, self.edge)
        if self.pocket_m is not None:
            lanes.append(len(network.edges[self.edge].lanes))
        return sorted(lanes, reverse=True)

    # -- SUMO elements ------------------------------------------------------------------------
    @property
    def remarks(self) -> tuple[str, ...]:
        """The approach whose lane marking it rewrites."""
        return (self.edge,)

    @property
    def label(self) -> str:
        """``lane_use_`` and a tag of the edge and the marking."""
        return f"lane_use_{self._tag}"

    @property
    def _tag(self) -> str:
        return tag(self.edge)

    @property
    def up_edge(self) -> str:
        """Id of the approach's part before the pocket."""
        return f"{self.edge}.up"

    def links(self, net: NetIndex) -> list[tuple[int, str, int]]:
        """The re-marked approach's links: (SUMO lane index, to edge, to lane).

        A movement served by several lanes uses as many car lanes of the outgoing edge,
        aligned as ``netconvert`` aligns them: left turns and u-turns to its leftmost lanes,
        the others from its rightmost lane on; surplus approach lanes share its last lane.
        """
        if net.path is None:  # pragma: no cover - build_plan always indexes a file
            msg = "lane_use needs the network file"
            raise ValueError(msg)
        network = read_network(net.path)
        moves = movements(network, self.edge)
        index = self.marked(network)
        out = []
        for to, letter in sorted(moves.items()):
            served = sorted(index[k] for k, entry in enumerate(self.lanes) if letter in entry)
            targets = car_lanes(network, to) or list(range(net.edges[to]))
            m = len(targets)
            for j, lane in enumerate(served):
                k = max(m - len(served) + j, 0) if letter in "LU" else min(j, m - 1)
                out.append((lane, to, targets[k]))
        return out

    def apply(self, draft: CaseDraft) -> None:
        """Write the approach's connections (and the pocket's edge split) as patches."""
        net = draft.net
        if net is None:  # pragma: no cover - build_plan always sets it
            msg = "lane_use needs the network"
            raise ValueError(msg)
        new = self.links(net)
        cars = set(car_lanes(read_network(net.path), self.edge)) if net.path else set()
        if self.pocket_m is not None:
            # The split edge loses its loaded connections: all of them are given anew (those
            # of bus and bicycle lanes as they were; netconvert builds the pedestrians' own).
            lanes = " ".join(str(i) for i in range(net.edges[self.edge] + 1))
            draft.edge_patches.append(
                f'<edge id="{self.edge}"><split pos="{-self.pocket_m:g}" lanes="{lanes}" '
                f'idBefore="{self.up_edge}" idAfter="{self.edge}"/></edge>')
            new += [(fl, t, tl) for f, fl, t, tl in net.connections
                    if f == self.edge and fl not in cars and not t.startswith(":")]
        else:
            old = {(fl, t, tl) for f, fl, t, tl in net.connections
                   if f == self.edge and fl in cars}
            draft.connection_patches += [
                f'<delete from="{self.edge}" to="{t}" fromLane="{fl}" toLane="{tl}"/>'
                for fl, t, tl in sorted(old - set(new))]
        draft.connection_patches += [
            f'<connection from="{self.edge}" to="{t}" fromLane="{fl}" toLane="{tl}"/>'
            for fl, t, tl in new]

    def observe(self, draft: CaseDraft) -> None:
        """Vehicle routes, lane data at the stop line and, with a pocket, its entry zone."""
        draft.sumo_options += VEHROUTE_OPTIONS
        draft.outputs.append(f'<laneData id="lane_use_{self._tag}" file="{self._lanes_file}" '
                             f'begin="{draft.begin_s:g}" end="{draft.end_s:g}" '
                             f'edges="{self.edge}"/>')
        if self.pocket_m is not None and draft.net is not None:
            net = draft.net
            # (the innermost car lane: next to where the pocket begins)
            inner = (max(car_lanes(read_network(net.path), self.edge), default=0)
                     if net.path else net.edges[self.edge] - 1)
            split = _split_m(draft.edge_patches, self.edge)
            # The zone ends where the pocket begins (or would), measured back from the junction:
            # on the edge itself, or on the part before a pocket (this plan's or another's).
            if split is None or self.pocket_m < split:
                lane, end = f"{self.edge}_{inner}", -self.pocket_m
            else:
                lane, end = f"{self.up_edge}_{inner}", min(split - self.pocket_m, -0.1)
            draft.outputs.append(
                f'<laneAreaDetector id="lane_use_{self._tag}_block" lane="{lane}" '
                f'pos="{end - BLOCK_ZONE_M:g}" endPos="{end:g}" friendlyPos="true" '
                f'period="{draft.end_s - draft.begin_s:g}" file="{self._block_file}"/>')

    @property
    def _lanes_file(self) -> str:
        return f"lane_use_{self._tag}_lanes.xml"

    @property
    def _block_file(self) -> str:
        return f"lane_use_{self._tag}_block.xml"

    # -- metrics -----------------------------------------------------------------------------
    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Per-movement delay and queue, lane balance and pocket blocking, in every plan.

        Movements are named by their outgoing edge (``lane_use_TAG_J1_N1_delay_s``).
        """
        key = f"lane_use_{self._tag}"
        cfg = read_sumocfg(run_dir / "case.sumocfg")
        begin, end = float(cfg.get("begin", 0.0)), float(cfg.get("end", 0.0))
        step = float(cfg.get("step-length", 1.0))
        approach = [self.up_edge, self.edge] if self.pocket_m is not None else [self.edge]
        by_move: dict[str, list[float]] = {}
        for p in read_passages(run_dir, approach):
            by_move.setdefault(p.to_edge, []).append(p.delay_s)
        out: dict[str, float] = {}
        for to, delays in sorted(by_move.items()):
            out[f"{key}_{to}_delay_s"] = mean(delays)
            out[f"{key}_{to}_queue_veh"] = sum(delays) / (end - begin) if end > begin else math.nan
        cars = {f"{self.edge}_{i}"
                for i in car_lanes(read_network(run_dir.parent / "net.net.xml"), self.edge)}
        left = [r.values.get("left", 0.0) for r in read_meandata(run_dir / self._lanes_file)
                if r.lane in cars]
        if len(left) > 1 and sum(left) > 0:
            out[f"{key}_balance_cv"] = statistics.pstdev(left) / statistics.fmean(left)
        if self.pocket_m is not None:
            out[f"{key}_pocket_blocked_s"] = _jam_seconds(run_dir / self._block_file, step)
        return out


def _split_m(edge_patches: list[str], edge: str) -> float | None:
    """Length [m] of the pocket a plan's patches split off ``edge`` (None: not split)."""
    for p in edge_patches:
        if p.startswith(f'<edge id="{edge}"><split '):
            m = re.search(r'pos="-([0-9.]+)"', p)
            if m:
                return float(m.group(1))
    return None


def _jam_seconds(path: Path, step_s: float) -> float:
    """Seconds a lane-area detector shorter than a vehicle held a halted vehicle.

    SUMO sums the jam length in vehicles over the steps; a zone of :data:`BLOCK_ZONE_M` holds
    at most one vehicle, so the sum counts the steps with one halted there.
    """
    import xml.etree.ElementTree as ET

    if not path.is_file():
        return math.nan
    total = 0.0
    for _, el in ET.iterparse(path):
        if el.tag == "interval":
            total += float(el.get("jamLengthInVehiclesSum", 0.0))
        el.clear()
    return total * step_s

"""Waiting area: turning vehicles advance into the junction before their own green.

A left-turn (or through) waiting area is a second stop line inside the junction.  While the
stage before the movement's own green runs (typically the same approach's through stage),
its vehicles may cross the first stop line and queue up to the second one; on their own green
they start from there, closer to the conflict zone, so more of them pass per green.

SUMO models the second stop line natively: a link's *internal junction* (where it meets the
first conflicting stream inside the junction, or ``contPos`` metres along its internal lane)
can have its own signal, the connection's ``linkIndex2``.  This measure

* optionally sets ``contPos`` (``depth_m``) of each of the movement's links (a connection
  patch applied by ``netconvert``);
* asks the network builder (``CaseDraft.waiting_links``) for the one signal change a waiting
  area needs (:func:`trafficsim.network.waiting_area_states`): the entry shows ``g`` in the
  preceding stage, and a new signal index, appended to every state, holds the internal stop
  until the movement's own green (``G`` in its own green, ``g`` in the clearance after it).  The
  plan's integrity check (:func:`trafficsim.build.check_signals`) accepts exactly that change.

Vehicles in the area wait at the internal stop while the conflicting oncoming stream has
green: its signal is red then (SUMO stops them there).  Those that crossed the stop line late
in their green clear the junction in its clearance time, as without the area: SUMO's internal
stop lies where the turn meets the oncoming stream, across the cross street's near lanes, and
a car held there would block the next stage.

Scenario table::

    [[plans.waiting.measures]]
    type = "waiting_area"
    tls = "C"               # the traffic light
    from_edge = "W_C"       # the movement: approach edge ...
    to_edge = "C_N"         # ... and outgoing edge
    # depth_m = 10          # the internal stop this far past the stop line (default: SUMO's,
    #                       # at the first conflicting stream; it may not lie beyond it)

Yardsticks (every plan): vehicles of the movement served per own green, the movement's delay,
and conflicts inside the junction from SUMO's surrogate safety device.
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from trafficsim.measures._movements import VEHROUTE_OPTIONS, mean, read_passages
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex
from trafficsim.measures.incident import SSM_FILE, SSM_RECORD_TTC_S
from trafficsim.measures.lanes import tag
from trafficsim.measures.registry import register
from trafficsim.netmodel import Connection, Network, read_network
from trafficsim.outputs import read_tls_states
from trafficsim.spec import Fields

#: An encounter inside the junction whose post-encroachment time is below this is a conflict:
#: the second vehicle reached the point the first had left less than this long before. [s]
CONFLICT_PET_S = 1.5
#: The internal stop stays this far short of the centre line of the first stream that may
#: cross while vehicles wait (half a lane and a little more). [m]
ROOM_MARGIN_M = 2.5


@register
@dataclass(frozen=True)
class WaitingArea(Measure):
    """A waiting area inside the junction for one signalised movement.

    Parameters
    ----------
    tls
        The traffic light that controls the movement.
    from_edge, to_edge
        The movement: its approach edge and its outgoing edge.
    depth_m
        Position of the internal stop along the movement's path through the junction, from
        the stop line [m]; None: where ``netconvert`` puts it (at the first conflicting
        stream).
    """

    kind = "waiting_area"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "waiting_{tag}_served_per_green": MetricInfo(
            "veh", "higher", "vehicles of the movement entering its outgoing edge per own "
                             "green (per cycle, from one green start to the next)"),
        "waiting_{tag}_delay_s": MetricInfo(
            "s", "lower", "mean delay of the movement's vehicles from entering the approach "
                          "to entering the outgoing edge"),
        "waiting_{tag}_conflicts": MetricInfo(
            "-", "lower", f"encounters inside the junction with post-encroachment time below "
                          f"{CONFLICT_PET_S:g} s (SUMO's SSM device)"),
    }
    tls: str
    from_edge: str
    to_edge: str
    depth_m: float | None = None

    @classmethod
    def parse(cls, f: Fields) -> WaitingArea:
        """A waiting area from its plan table; problems go to ``f.issues``."""
        tls = f.str("tls")
        frm = f.str("from_edge")
        to = f.str("to_edge")
        depth = f.float("depth_m", None, lo=1.0, hi=200.0, unit=" m")
        return cls(tls=str(tls or ""), from_edge=str(frm or ""), to_edge=str(to or ""),
                   depth_m=None if depth is None else float(depth))

    # -- checks ------------------------------------------------------------------------------
    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the light, the movement, its program and the depth, as (field, message).

        The light must control the movement, every program of the light must give it a
        protected green (``G``) after some other stage, and ``depth_m`` may not put the
        internal stop beyond the first conflicting stream (where SUMO puts it by default).
        """
        out = []
        if self.tls not in net.signals:
            out.append(("tls", f"= {self.tls!r}: traffic light not in the network; traffic "
                               f"lights: {', '.join(sorted(net.signals)) or 'none'}"))
        for key in ("from_edge", "to_edge"):
            if (msg := net.missing_edge(getattr(self, key))) is not None:
                out.append((key, msg))
        if out or net.path is None:
            return out
        network = read_network(net.path)
        links = [c for c in network.connections
                 if c.from_edge == self.from_edge and c.to_edge == self.to_edge]
        if not any(c.tl == self.tls for c in links):
            goes = sorted({c.to_edge for c in network.connections
                           if c.from_edge == self.from_edge and c.tl == self.tls})
            return [("to_edge", f"= {self.to_edge!r}: traffic light '{self.tls}' controls no "
                                f"movement {self.from_edge} → {self.to_edge}; its movements "
                                f"from '{self.from_edge}' go to: {', '.join(goes) or 'none'}")]
        tl_links = [c for c in links if c.tl == self.tls]
        out += self._program_issues(network, [c.link_index for c in tl_links])
        if self.depth_m is not None and not out:
            room = _room_m(network, self.tls, tl_links)
            if room is None:
                out.append(("depth_m", f"the movement {self.from_edge} → {self.to_edge} crosses "
                                       "no stream that has green in the preceding stage: its "
                                       "vehicles need no second stop; leave depth_m out"))
            elif self.depth_m > room + 0.01:
                out.append(("depth_m", f"= {self.depth_m:g} m reaches the first stream that "
                                       "has green in the preceding stage "
                                       f"({room + ROOM_MARGIN_M:.1f} m past the stop line): "
                                       "vehicles would wait in its path. Give at most "
                                       f"{math.floor(room * 10) / 10:g} m, or leave depth_m out"))
        return out

    def _program_issues(self, network: Network, entry: list[int]) -> list[tuple[str, str]]:
        from trafficsim.network import waiting_area_states  # (network imports the measures)

        out = []
        for p in network.programs:
            if p.id != self.tls:
                continue
            states = [ph.state for ph in p.phases]
            try:
                waiting_area_states(states, entry, max(map(len, states), default=0))
            except ValueError as exc:
                out.append(("to_edge", f"traffic light '{self.tls}' program '{p.program_id}': "
                                       f"{exc}"))
        return out

    # -- SUMO elements ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """``waiting_`` and a tag of the movement: one label per waiting area."""
        return f"waiting_{self._tag}"

    @property
    def _tag(self) -> str:
        return tag(self.tls, self.from_edge, self.to_edge)

    def apply(self, draft: CaseDraft) -> None:
        """Ask for the waiting area's signal change and set the internal stop's position."""
        draft.waiting_links.append((self.tls, self.from_edge, self.to_edge))
        if self.depth_m is not None and draft.net is not None:
            draft.connection_patches += [
                f'<connection from="{f}" to="{t}" fromLane="{fl}" toLane="{tl}" '
                f'contPos="{self.depth_m:g}"/>'
                for f, fl, t, tl in draft.net.connections
                if f == self.from_edge and t == self.to_edge]

    def observe(self, draft: CaseDraft) -> None:
        """Vehicle routes with exit times, signal switches and SSM encounters, in every plan."""
        draft.sumo_options += VEHROUTE_OPTIONS
        draft.outputs.append(f'<timedEvent type="SaveTLSSwitchStates" source="{self.tls}" '
                             f'dest="{self._tls_file}"/>')
        # (the incident measure's SSM options with PET added: the same file serves both)
        draft.sumo_options += [
            "--device.ssm.probability", "1",
            "--device.ssm.measures", "TTC PET",
            "--device.ssm.thresholds", f"{SSM_RECORD_TTC_S:g} {2 * CONFLICT_PET_S:g}",
            "--device.ssm.file", SSM_FILE,
        ]

    @property
    def _tls_file(self) -> str:
        return f"waiting_{self._tag}_tls.xml"

    # -- metrics -----------------------------------------------------------------------------
    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Served per green, delay and conflicts in the junction, from the run's outputs.

        ``served_per_green``: the movement's vehicles entering the outgoing edge between the
        first and the last start of its own green, divided by the greens in between [veh];
        its own green is the signal of its internal stop where it has one (``linkIndex2``),
        else of its links.  ``delay_s``: mean of each vehicle's time from entering the
        approach to entering the outgoing edge beyond the free-flow time [s].
        ``conflicts``: SSM encounters whose minimum PET, at a point inside the junction's
        outline, is below :data:`CONFLICT_PET_S` [-].
        """
        key = f"waiting_{self._tag}"
        passages = read_passages(run_dir, [self.from_edge])
        passages = [p for p in passages if p.to_edge == self.to_edge]
        network = read_network(run_dir.parent / "net.net.xml")
        return {f"{key}_served_per_green": self._served_per_green(run_dir, network,
                                                                  [p.out_s for p in passages]),
                f"{key}_delay_s": mean([p.delay_s for p in passages]),
                f"{key}_conflicts": float(self._conflicts(run_dir, network))}

    def _served_per_green(self, run_dir: Path, network: Network, out_s: Sequence[float]
                          ) -> float:
        path = run_dir / self._tls_file
        if not path.is_file():
            return math.nan
        links = [c for c in network.connections if c.tl == self.tls
                 and c.from_edge == self.from_edge and c.to_edge == self.to_edge]
        if not links:
            return math.nan
        own = links[0].link_index2 if links[0].link_index2 >= 0 else links[0].link_index
        starts = []
        was_green = False
        for t, tls, state in read_tls_states(path):
            if tls != self.tls or own >= len(state):
                continue
            green = state[own] == "G"
            if green and not was_green:
                starts.append(t)
            was_green = green
        if len(starts) < 2:
            return math.nan
        served = sum(starts[0] <= t < starts[-1] for t in out_s)
        return served / (len(starts) - 1)

    def _conflicts(self, run_dir: Path, network: Network) -> int:
        path = run_dir / SSM_FILE
        junction = network.junctions.get(network.edges[self.from_edge].to_junction
                                         if self.from_edge in network.edges else "")
        if not path.is_file() or junction is None:
            return 0
        outline = junction.shape
        seen: set[tuple[frozenset[str], str]] = set()
        for _, el in ET.iterparse(path):
            if el.tag != "conflict":
                continue
            pet = el.find("minPET")
            if pet is None:
                pet = el.find("PET")
            value = pet.get("value") if pet is not None else None
            if pet is not None and value not in (None, "NA") and float(value) < CONFLICT_PET_S:
                pair = (frozenset((el.get("ego", ""), el.get("foe", ""))), pet.get("time", ""))
                if pair not in seen and _inside(pet.get("position", ""), outline):
                    seen.add(pair)
            el.clear()
        return len(seen)


def _room_m(network: Network, tls: str, links: Sequence[Connection]) -> float | None:
    """How deep [m] the waiting area may reach along the movement's path.

    Up to the first crossing with a stream that has green in the preceding stage (its centre
    line, less :data:`ROOM_MARGIN_M`).  None when no such stream crosses the path.
    """
    from trafficsim.network import preceding_phases  # (network imports the measures)

    entry = [c.link_index for c in links]
    green: set[int] = set()
    for p in network.programs:
        if p.id == tls:
            states = [ph.state for ph in p.phases]
            for q in preceding_phases(states, entry):
                green |= {i for i, ch in enumerate(states[q]) if ch in "Gg"}
    own = {(c.from_edge, c.to_edge) for c in links}
    streams = [c.via for c in network.connections
               if c.tl == tls and c.link_index in green and c.via
               and c.from_edge not in {f for f, _ in own} and c.to_edge not in {t for _, t in own}]
    best: float | None = None
    for c in links:
        path = _path(network, c.via)
        for lane in streams:
            d = _along_to_crossing(path, _path(network, lane))
            if d is not None and (best is None or d < best):
                best = d
    return None if best is None else max(0.0, best - ROOM_MARGIN_M)


def _path(network: Network, via: str) -> list[tuple[float, float]]:
    """The whole way of a link through the junction: its internal lane and their continuation."""
    points = list(network.lane(via).shape)
    seen = {via}
    while True:
        nxt = [c.via for c in network.connections
               if c.via and f"{c.from_edge}_{c.from_lane}" == via and c.via not in seen]
        if not nxt:
            return points
        via = nxt[0]
        seen.add(via)
        points += list(network.lane(via).shape)[1:]


def _along_to_crossing(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]
                       ) -> float | None:
    """Distance along polyline ``a`` to its first intersection with polyline ``b``."""
    walked = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(a):
        seg = math.hypot(x2 - x1, y2 - y1)
        hits = []
        for (x3, y3), (x4, y4) in itertools.pairwise(b):
            den = (x2 - x1) * (y4 - y3) - (y2 - y1) * (x4 - x3)
            if abs(den) < 1e-12:
                continue
            t = ((x3 - x1) * (y4 - y3) - (y3 - y1) * (x4 - x3)) / den
            u = ((x3 - x1) * (y2 - y1) - (y3 - y1) * (x2 - x1)) / den
            if 0.0 <= t <= 1.0 and 0.0 <= u <= 1.0:
                hits.append(t)
        if hits:
            return walked + min(hits) * seg
        walked += seg
    return None


def _inside(position: str, outline: Sequence[tuple[float, float]]) -> bool:
    """Whether an SSM position (``x,y``) lies inside a polygon (ray casting)."""
    try:
        x, y = map(float, position.split(",")[:2])
    except ValueError:
        return False
    inside = False
    n = len(outline)
    for k in range(n):
        (x1, y1), (x2, y2) = outline[k], outline[(k + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside

"""Minor incidents (a crash blocking lanes) and how fast they are cleared.

An incident is part of the situation, not a choice: the same crash happens in every plan, and the
plans differ in how long it blocks the road (e.g. 30 minutes waiting for an officer on scene vs 8
minutes with video-based remote handling).  A scenario therefore declares it once::

    [[incidents]]
    id = "crash"
    edge = "up_site"        # where it happens
    lanes = [0]             # blocked lanes (0 = rightmost)
    pos_m = 700             # front of the blocked stretch along the edge [m]
    start = "07:15"
    clearance_min = 30      # today's clearance time: what the baseline gets

and a plan changes the clearance with ``type = "incident_clearance"`` (``clearance_min = 0``: the
crash does not happen, the reference for "delay caused").  A ``type = "incident"`` measure inside
a plan is also accepted (an incident in that plan only).

Native SUMO model: one stopped vehicle per blocked lane (``length_m`` long: wrecks and the safety
zone), inserted at ``start`` with the usual insertion checks (so that no follower must brake
beyond its limits) and stopping for ``clearance_min``.  Upstream vehicles change lanes around it
with SUMO's own lane-change model.  Outputs, per run: instant induction loops across the blocked
stretch (when the blockage really began and ended, and that nothing passed it), lane-area
detectors upstream (the queue per minute), and SUMO's surrogate safety device (``--device.ssm``)
whose conflicts with a time to collision below ``ttc_threshold_s`` near the incident are the
secondary-crash proxy.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import quoteattr

import numpy as np

from trafficsim.errors import Issue, suggest
from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex, Situation
from trafficsim.measures.registry import register
from trafficsim.netmodel import read_network
from trafficsim.outputs import Table, read_csv
from trafficsim.spec import Fields, clock, guarded

#: SUMO records an encounter as a conflict below this time to collision; the metric counts those
#: below the incident's own (smaller) ``ttc_threshold_s``. [s]
SSM_RECORD_TTC_S = 3.0
#: Queue detectors aggregate over this period. [s]
QUEUE_PERIOD_S = 60.0
#: A vehicle is in the queue below this speed (30 km/h: congested, including the stop-and-go of a
#: queue that creeps past a lane drop, which SUMO's default 5 km/h would miss) … [m/s]
QUEUE_SPEED_M_S = 30.0 / 3.6
#: … and less than this far behind the next queued vehicle. [m]
QUEUE_GAP_M = 20.0
#: A queue counts as cleared when its longest jam is back to its pre-incident level, and at
#: least down to this (about three cars). [m]
QUEUE_CLEAR_M = 20.0
#: Pre-incident period whose queues define "back to normal". [s]
PRE_INCIDENT_S = 600.0
#: A conflict belongs to the incident when it lies within this distance of a zone lane's centre
#: line (half a lane plus a margin). [m]
ZONE_DISTANCE_M = 4.0
SSM_FILE = "ssm.xml"


@register
@dataclass(frozen=True)
class Incident(Measure):
    """A crash that blocks lanes of one edge from ``start_s`` for ``clearance_min``.

    Parameters
    ----------
    id
        Name; prefixes the metric keys (``{id}_max_queue_m``, …).
    edge
        Edge id.
    lanes
        Blocked lane indices (0 is the rightmost lane).
    pos_m
        Downstream end of the blocked stretch along the edge. [m]
    length_m
        Length of the blocked stretch (wrecks and safety zone). [m]
    start_s
        When the crash happens. [s]
    clearance_min
        How long the lanes stay blocked; 0 means the crash does not happen. [min]
    queue_edges
        Edges upstream of ``edge`` on which the queue is measured as well.
    ttc_threshold_s
        Conflicts with a smaller minimum time to collision count as near-crashes. [s]
    """

    kind = "incident"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "{id}_blocked_min": MetricInfo("min", "lower", "how long the lanes were really blocked"),
        "{id}_blocked_lane_veh": MetricInfo(
            "veh", None, "vehicles that passed the blocked stretch in a blocked lane (a check: 0)",
            rule=True),
        "{id}_max_queue_m": MetricInfo("m", "lower", "longest queue behind the incident"),
        "{id}_queue_cleared_min": MetricInfo(
            "min", "lower", "from the crash until the queue was back to its pre-incident level"),
        "{id}_conflicts": MetricInfo(
            "-", "lower", "conflicts below the incident's time to collision near it "
                          "(secondary-crash proxy)"),
    }
    id: str
    edge: str
    lanes: tuple[int, ...]
    pos_m: float
    start_s: float
    clearance_min: float
    length_m: float = 20.0
    queue_edges: tuple[str, ...] = ()
    ttc_threshold_s: float = 1.5

    @classmethod
    def parse(cls, f: Fields) -> Incident:
        """Read an incident from its table, recording problems in ``f.issues``.

        ``id`` defaults to ``"incident"`` and must be a name usable in metric keys; ``edge``,
        ``lanes``, ``pos_m`` [m], ``start`` and ``clearance_min`` [min] are required;
        ``queue_edges`` must not list the incident's own edge.
        """
        iid = f.str("id", "incident")
        if isinstance(iid, str) and not _is_name(iid):
            f.error("id", f"= {iid!r} is not a usable name; expected letters, digits and '_' "
                          "(it becomes part of metric keys)")
        edge = f.str("edge")
        lanes = _lane_list(f)
        pos = f.float("pos_m", lo=0.0, lo_open=True, unit=" m")
        length = f.float("length_m", 20.0, lo=1.0, hi=500.0, unit=" m")
        start = f.time("start")
        clearance = f.float("clearance_min", lo=0.0, hi=24 * 60.0, unit=" min")
        queue_edges = f.str_list("queue_edges", ())
        ttc = f.float("ttc_threshold_s", 1.5, lo=0.0, lo_open=True, hi=SSM_RECORD_TTC_S, unit=" s")
        if isinstance(edge, str) and edge in (queue_edges or ()):
            f.error("queue_edges", f"lists the incident's own edge '{edge}'; it is always "
                                   "measured, list only the edges upstream of it")
        return cls(id=str(iid), edge=str(edge or ""), lanes=lanes, pos_m=float(pos or 0.0),
                   start_s=float(start or 0.0), clearance_min=float(clearance or 0.0),
                   length_m=float(length), queue_edges=tuple(queue_edges or ()),
                   ttc_threshold_s=float(ttc))

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the incident's references to the network and the simulation window.

        An unknown edge is the only problem reported (nothing else can be checked without it);
        otherwise unknown lanes and queue edges, a ``pos_m`` [m] beyond the edge's end or too
        close to its start to hold the blocked stretch, and a ``start`` outside
        [``begin_s``, ``end_s``) [s].

        Returns
        -------
        list of (field, message)
            ``field`` is relative to the incident's table.
        """
        if (msg := net.missing_edge(self.edge)) is not None:
            return [("edge", msg)]
        out: list[tuple[str, str]] = []
        for i, lane in enumerate(self.lanes):
            if (msg := net.missing_lane(self.edge, lane)) is not None:
                out.append((f"lanes[{i}]", msg))
        length = net.edge_length_m.get(self.edge, math.inf)
        if self.pos_m > length - 1.0:
            out.append(("pos_m", f"= {self.pos_m:g} m lies beyond edge '{self.edge}' "
                                 f"({length:.1f} m long); expected at most {length - 1.0:.1f} m"))
        elif self.pos_m < self.length_m + 1.0:
            out.append(("pos_m", f"= {self.pos_m:g} m leaves no room for the blocked stretch "
                                 f"(length_m = {self.length_m:g} m) and a queue on edge "
                                 f"'{self.edge}'; expected at least {self.length_m + 1.0:g} m"))
        if not begin_s <= self.start_s < end_s:
            out.append(("start", f"= {clock(self.start_s)} lies outside the simulation window "
                                  f"{clock(begin_s)}–{clock(end_s)}"))
        for i, e in enumerate(self.queue_edges):
            if (msg := net.missing_edge(e)) is not None:
                out.append((f"queue_edges[{i}]", msg))
        return out

    # -- SUMO elements ---------------------------------------------------------------------------
    @property
    def blocker_type(self) -> str:
        """SUMO vType id of the blocking vehicles; their vehicle ids are ``<type>.<lane>``."""
        return f"incident_{self.id}"

    def apply(self, draft: CaseDraft) -> None:
        """Add the incident's SUMO elements and outputs to ``draft``.

        One stopped vehicle per blocked lane for ``clearance_min`` (none when it is 0), instant
        induction loops across the middle of the blocked stretch on every lane, lane-area queue
        detectors up to the stretch and on ``queue_edges``, and the SSM device options.
        """
        lanes_of = (draft.net.edges if draft.net is not None else {})
        # The blocking vehicles take part in nothing that is measured: no trip, no emissions,
        # no surrogate-safety device of their own (followers still record conflicts with them).
        params = "".join(f'<param key="has.{d}.device" value="false"/>'
                         for d in ("tripinfo", "ssm", "emissions"))
        if self.clearance_min > 0:
            draft.additional.append(
                f'<vType id="{self.blocker_type}" vClass="ignoring" length="{self.length_m:g}" '
                f'minGap="0" color="red">{params}</vType>')
            for lane in self.lanes:
                draft.additional.append(
                    f'<vehicle id="{self.blocker_type}.{lane}" type="{self.blocker_type}" '
                    f'depart="{self.start_s:g}" departLane="{lane}" departPos="{self.pos_m:g}" '
                    f'departSpeed="0" arrivalPos="{self.pos_m + 0.5:g}">'
                    f'<route edges={quoteattr(self.edge)}/>'
                    f'<stop lane={quoteattr(f"{self.edge}_{lane}")} endPos="{self.pos_m:g}" '
                    f'duration="{self.clearance_min * 60.0:g}"/></vehicle>')
        # Instant loops across the middle of the blocked stretch, on every lane.
        mid = self.pos_m - self.length_m / 2.0
        n_lanes = lanes_of.get(self.edge, max(self.lanes, default=0) + 1)
        for lane in range(n_lanes):
            draft.outputs.append(
                f'<instantInductionLoop id="{self.passes_id(lane)}" lane="{self.edge}_{lane}" '
                f'pos="{mid:g}" file="{self.file("passes")}"/>')
        # Queue detectors: the incident edge up to the blocked stretch, and the upstream edges.
        rear = self.pos_m - self.length_m - 0.5
        for e, end in [(self.edge, rear), *[(q, -1.0) for q in self.queue_edges]]:
            for lane in range(lanes_of.get(e, 1)):
                draft.outputs.append(
                    f'<laneAreaDetector id="{self.queue_id(e, lane)}" lane="{e}_{lane}" pos="0" '
                    f'endPos="{end:g}" friendlyPos="true" period="{QUEUE_PERIOD_S:g}" '
                    f'speedThreshold="{QUEUE_SPEED_M_S:g}" jamThreshold="{QUEUE_GAP_M:g}" '
                    f'file="{self.file("queue")}"/>')
        draft.sumo_options += [
            "--device.ssm.probability", "1",
            "--device.ssm.measures", "TTC",
            "--device.ssm.thresholds", f"{SSM_RECORD_TTC_S:g}",
            "--device.ssm.file", SSM_FILE,
        ]

    def file(self, what: str) -> str:
        """Name of the incident's ``what`` output file (``"passes"``, ``"queue"``) in a run."""
        return f"incident_{self.id}_{what}.csv"

    def passes_id(self, lane: int) -> str:
        """Id of the instant induction loop across the blocked stretch on ``lane``."""
        return f"incident_{self.id}_pass_{lane}"

    def queue_id(self, edge: str, lane: int) -> str:
        """Id of the queue (lane-area) detector on lane ``lane`` of ``edge``."""
        return f"incident_{self.id}_q_{edge}_{lane}"

    def queue_edge(self, detector: str) -> str:
        """The edge of a queue detector (inverse of :meth:`queue_id`)."""
        return detector.removeprefix(f"incident_{self.id}_q_").rsplit("_", 1)[0]

    # -- metrics ---------------------------------------------------------------------------------
    def metrics(self, run_dir: Path) -> dict[str, float]:
        """The incident's metrics from a finished run's outputs in ``run_dir``.

        Returns
        -------
        dict
            ``{id}_blocked_min`` [min] how long the lanes were really blocked,
            ``{id}_blocked_lane_veh`` [veh] vehicles through the blocked lanes meanwhile (a
            check: 0), ``{id}_max_queue_m`` [m] the longest queue, ``{id}_queue_cleared_min``
            [min] from the crash until the queue was back to normal, ``{id}_conflicts`` [-]
            conflicts near the incident below ``ttc_threshold_s``.
        """
        passes = _read(run_dir / self.file("passes"))
        queue = _read(run_dir / self.file("queue"))
        start_s, end_s = blockage_times(passes, self.blocker_type, self.start_s)
        blocked_ids = {self.passes_id(lane) for lane in self.lanes}
        through = vehicles_passing(passes, blocked_ids, start_s, end_s, exclude=self.blocker_type)
        t, q = queue_profile(queue, self.queue_edge)
        max_q, cleared = queue_clearance(t, q, start_s, end_s)
        zone = lane_shapes(run_dir.parent / "net.net.xml", (self.edge, *self.queue_edges))
        conflicts = count_conflicts(run_dir / SSM_FILE, self.ttc_threshold_s, zone)
        p = self.id
        return {
            f"{p}_blocked_min": (end_s - start_s) / 60.0,
            f"{p}_blocked_lane_veh": float(through),
            f"{p}_max_queue_m": max_q,
            f"{p}_queue_cleared_min": (cleared - start_s) / 60.0,
            f"{p}_conflicts": float(conflicts),
        }


@register
@dataclass(frozen=True)
class IncidentClearance(Measure):
    """A plan's clearance time for a scenario-level incident (``[[incidents]]``).

    Parameters
    ----------
    incident
        The incident's ``id``.
    clearance_min
        Clearance time in this plan; 0 means the crash does not happen. [min]
    """

    kind = "incident_clearance"
    incident: str
    clearance_min: float

    @classmethod
    def parse(cls, f: Fields) -> IncidentClearance:
        """Read the measure from its table, recording problems in ``f.issues``.

        ``incident`` defaults to ``"incident"``; ``clearance_min`` [min] is required.
        """
        iid = f.str("incident", "incident")
        clearance = f.float("clearance_min", lo=0.0, hi=24 * 60.0, unit=" min")
        return cls(incident=str(iid), clearance_min=float(clearance or 0.0))

    def apply(self, draft: CaseDraft) -> None:
        """Nothing of its own: :func:`resolve_incidents` applies it to its incident."""


# --------------------------------------------------------------------------------------------
# Scenario level: [[incidents]] and the plans' clearance times
# --------------------------------------------------------------------------------------------
def parse_incidents(top: Fields) -> tuple[Incident, ...]:
    """Read the scenario's ``[[incidents]]`` list (recording problems in ``top.issues``)."""
    out: list[Incident] = []
    for i, item, fld in top.items("incidents"):
        if not isinstance(item, dict):
            top.issues.append(Issue(top.file, fld, "expected a table (use [[incidents]])"))
            continue
        f = Fields(item, top.file, fld, top.issues)
        inc = guarded(f, Incident.parse)
        f.done()
        if inc is None:  # stopped at a missing field (reported); the others are still checked
            continue
        if any(o.id == inc.id for o in out):
            f.error("id", f"= {inc.id!r} is used by another incident; give each incident its own "
                          f"id (e.g. id = \"{inc.id}{i + 1}\")")
        out.append(inc)
    return tuple(out)


def clearance_issues(incidents: Sequence[Incident],
                     plans: Mapping[str, Sequence[Measure]]) -> list[tuple[str, str]]:
    """(field, message) for each ``incident_clearance`` that names no scenario incident."""
    ids = [i.id for i in incidents]
    out = []
    for pname, measures in plans.items():
        for j, m in enumerate(measures):
            if isinstance(m, IncidentClearance) and m.incident not in ids:
                known = ", ".join(ids) or "none (add an [[incidents]] table)"
                out.append((f"plans.{pname}.measures[{j}].incident",
                            f"= {m.incident!r} is not a scenario incident; incidents: {known}."
                            + suggest(m.incident, ids)))
    return out


def resolve_incidents(incidents: Sequence[Incident],
                      measures: Iterable[Measure]) -> tuple[Measure, ...]:
    """Return the measures a plan applies, given the plan's own.

    These are the scenario's incidents with this plan's clearance times, then the plan's own
    measures (``incident_clearance`` entries are consumed here).
    """
    measures = tuple(measures)
    clearance = {m.incident: m.clearance_min for m in measures if isinstance(m, IncidentClearance)}
    resolved = [replace(i, clearance_min=clearance.get(i.id, i.clearance_min)) for i in incidents]
    return (*resolved, *[m for m in measures if not isinstance(m, IncidentClearance)])


@register
@dataclass(frozen=True)
class Incidents(Situation):
    """The scenario's ``[[incidents]]``: crashes that happen in every plan.

    Each plan has its own clearance times (``incident_clearance``).
    """

    table = "incidents"
    METRICS = Incident.METRICS
    incidents: tuple[Incident, ...]

    @classmethod
    def read(cls, top: Fields, demand: object) -> Incidents | None:
        """Read ``[[incidents]]`` (see :func:`parse_incidents`); None when there are none."""
        incidents = parse_incidents(top)
        return cls(incidents) if incidents else None

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Every incident's :meth:`Incident.check` problems, under full field paths."""
        return [(f"incidents[{i}].{fld}", msg) for i, inc in enumerate(self.incidents)
                for fld, msg in inc.check(net, begin_s, end_s)]

    @classmethod
    def plan_issues(cls, found: Situation | None, plans: Mapping[str, Sequence[Measure]]
                    ) -> list[tuple[str, str]]:
        """Plan clearance times for incidents the scenario lacks (:func:`clearance_issues`)."""
        return clearance_issues(found.incidents if isinstance(found, cls) else (), plans)

    def resolve(self, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
        """The incidents with the plan's clearance times, then its other measures.

        See :func:`resolve_incidents`.
        """
        return resolve_incidents(self.incidents, measures)

    @staticmethod
    def with_clearance(measures: Sequence[Measure], incident: str, minutes: float
                       ) -> tuple[Measure, ...]:
        """Return a plan's measures with ``incident`` cleared after ``minutes`` [min].

        The new clearance time (0: no crash) replaces the plan's own one for that incident;
        used for a clearance sweep.
        """
        keep = tuple(m for m in measures
                     if not (isinstance(m, IncidentClearance) and m.incident == incident))
        return (*keep, IncidentClearance(incident, minutes))


# --------------------------------------------------------------------------------------------
# Pure functions on the outputs
# --------------------------------------------------------------------------------------------
def _read(path: Path) -> Table:
    return read_csv(path) if path.is_file() else {}


def blockage_times(passes: Table, blocker_type: str, requested_s: float) -> tuple[float, float]:
    """When the blockage really began and ended [s], from the loops across the blocked stretch.

    The blocking vehicles are inserted over the loops ("enter") and drive off when cleared
    ("leave").  Without any blocking vehicle (clearance 0, or never inserted) the blockage is
    empty: (requested, requested).  A blockage still in place at the end ends at the last record.
    """
    if not len(passes.get("vehID", ())):
        return requested_s, requested_s
    mine = np.array([str(v).startswith(f"{blocker_type}.") for v in passes["vehID"]])
    if not mine.any():
        return requested_s, requested_s
    t = passes["time"][mine]
    state = passes["state"][mine]
    start = float(t.min())
    leaves = t[state == "leave"]
    end = float(leaves.max()) if len(leaves) else float(passes["time"].max())
    return start, end


def vehicles_passing(passes: Table, detectors: set[str], start_s: float, end_s: float, *,
                     exclude: str) -> int:
    """Distinct vehicles (other than the blockers) that entered the given loops in [start, end)."""
    if not len(passes.get("vehID", ())) or end_s <= start_s:
        return 0
    seen = set()
    for det, t, state, veh in zip(passes["id"], passes["time"], passes["state"], passes["vehID"],
                                  strict=True):
        if (det in detectors and state == "enter" and start_s <= t < end_s
                and not str(veh).startswith(f"{exclude}.")):
            seen.add(veh)
    return len(seen)


def queue_profile(queue: Table, edge_of: Callable[[str], str]) -> tuple[np.ndarray, np.ndarray]:
    """Queue length per detector interval [m].

    Per edge the longest jam over its lanes, summed over the edges (a queue that spills back
    covers its edges one after the other).

    Parameters
    ----------
    queue
        Lane-area detector output.
    edge_of
        Detector id → its edge.

    Returns
    -------
    begin_s, queue_m
        Interval starts [s] and queue lengths [m], in time order.
    """
    if not len(queue.get("id", ())):
        return np.zeros(0), np.zeros(0)
    per: dict[tuple[float, str], float] = {}
    for det, b, jam in zip(queue["id"], queue["begin"], queue["maxJamLengthInMeters"], strict=True):
        key = (float(b), edge_of(str(det)))
        per[key] = max(per.get(key, 0.0), float(jam))
    times = sorted({b for b, _ in per})
    total = dict.fromkeys(times, 0.0)
    for (b, _), v in per.items():
        total[b] += v
    return np.array(times), np.array([total[b] for b in times])


def queue_clearance(begin_s: np.ndarray, queue_m: np.ndarray, start_s: float, end_s: float
                    ) -> tuple[float, float]:
    """Longest queue [m] and when it cleared [s].

    Cleared: the start of the first interval, from the end of the blockage on, whose longest jam
    is back to the pre-incident level (the longest jam of the ``PRE_INCIDENT_S`` before the start,
    and at least ``QUEUE_CLEAR_M``).  A queue that has not cleared by the end of the simulation
    clears "at the end": a lower bound.
    """
    if not len(begin_s):
        return math.nan, end_s
    before = (begin_s + QUEUE_PERIOD_S <= start_s) & (begin_s >= start_s - PRE_INCIDENT_S)
    normal = max(QUEUE_CLEAR_M, float(queue_m[before].max()) if before.any() else 0.0)
    after = np.nonzero((begin_s >= end_s - 1e-9) & (queue_m <= normal))[0]
    if end_s <= start_s:
        cleared = start_s
    elif len(after):
        cleared = float(begin_s[after[0]])
    else:
        cleared = float(begin_s[-1] + QUEUE_PERIOD_S)
    return float(queue_m.max()), cleared


def lane_shapes(net: Path, edges: Iterable[str]) -> list[np.ndarray]:
    """Centre lines (n×2 arrays of x, y [m]) of every lane of the given edges."""
    wanted = set(edges)
    if not net.is_file():
        return []
    return [np.array(lane.shape) for e in read_network(net).edges.values() if e.id in wanted
            for lane in e.lanes if len(lane.shape) >= 2]


def _distance(p: np.ndarray, shape: np.ndarray) -> float:
    a, b = shape[:-1], shape[1:]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab),
                                                               1e-12), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return float(np.min(np.hypot(*(p - closest).T)))


def count_conflicts(ssm: Path, ttc_threshold_s: float, zone: Sequence[np.ndarray] | None = None
                    ) -> int:
    """Conflicts in SUMO's SSM output whose minimum time to collision is below the threshold.

    Each encounter of two equipped vehicles is logged from both sides; it counts once (same pair,
    same time of minimum TTC).  With ``zone`` (lane centre lines), only conflicts whose position
    lies within ``ZONE_DISTANCE_M`` of one of them count.
    """
    if not ssm.is_file():
        return 0
    seen: set[tuple[frozenset[str], str]] = set()
    for _, el in ET.iterparse(ssm, events=("end",)):
        if el.tag != "conflict":
            continue
        ttc = el.find("minTTC")
        if ttc is not None and ttc.get("value") not in (None, "NA"):
            value = float(ttc.get("value", "inf"))
            if value < ttc_threshold_s:
                key = (frozenset((el.get("ego", ""), el.get("foe", ""))), ttc.get("time", ""))
                if key not in seen and (zone is None or _in_zone(ttc.get("position", ""), zone)):
                    seen.add(key)
        el.clear()
    return len(seen)


def _in_zone(position: str, zone: Sequence[np.ndarray]) -> bool:
    try:
        x, y = map(float, position.split(",")[:2])
    except ValueError:
        return False
    p = np.array([x, y])
    return any(_distance(p, s) <= ZONE_DISTANCE_M for s in zone)


def _lane_list(f: Fields) -> tuple[int, ...]:
    raw = f.list("lanes", [0])
    out = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            f.error(f"lanes[{i}]", f"= {v!r} is not a lane index; expected an integer ≥ 0 "
                                   "(0 is the rightmost lane)")
        else:
            out.append(v)
    if not raw:
        f.error("lanes", "is empty; expected at least one blocked lane index")
    if len(set(out)) != len(out):
        f.error("lanes", f"= {raw} repeats a lane")
    return tuple(sorted(set(out)))


def _is_name(s: str) -> bool:
    return bool(s) and all(c.isalnum() or c == "_" for c in s)

"""Variable lane: an approach lane whose movement changes by time of day.

For example the second lane from the median of an approach turns left 07:00–09:30 and goes
straight on otherwise.  The lane gets a link to the target edge of every movement it serves at
some time (a plain-XML ``<connection>`` patch; its signal is that of the same movement from the
nearest lane, so no signal program changes).  Which movement it serves is switched in time by
SUMO itself: each link's internal (via) lane is closed (``<closingLaneReroute allow="authority">``
in a ``<rerouter>`` interval) whenever its movement is not scheduled.  SUMO's strategic lane
choice respects the permissions of internal lanes (its *bestLanes*), so vehicles bound for a
closed movement keep off the lane, and when a switch withdraws a movement, vehicles already on
the lane that still want it change out.  Routes never depend on the lane: every movement of the
approach must have another lane whenever the variable lane does not serve it
(:meth:`VariableLane.check`).

Before a switch that withdraws a movement the lane itself closes to new vehicles for
``clearance_s`` (they may still leave by the movement it served), so that it is empty when the
other movement starts.  A switch that only adds a movement needs no clearance.

Scenario table::

    [[plans.peak_left.measures]]
    type = "variable_lane"
    edge = "W_J1"                    # the approach
    lane_from_median = 1             # 0: the median (innermost) lane, as lane_use lists lanes
    schedule = [{from = "07:00", to = "09:30", movement = "L"}]
    default = "T"                    # outside the schedule (default: the lane's marking today)
    clearance_s = 120                # closed to new vehicles before a movement is withdrawn

Movements are written as in ``lane_use``: ``L`` (left), ``T`` (through), ``R`` (right), or
several letters for a shared lane (``"LT"``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex, via_edges, via_lane
from trafficsim.measures.lanes import Window, closing_rerouter, tag
from trafficsim.measures.registry import register
from trafficsim.netmodel import TURN_OF_DIRECTION, read_network
from trafficsim.outputs import read_meandata
from trafficsim.spec import Fields, clock, window_issues
from trafficsim.sumocfg import read_sumocfg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trafficsim.report import ResultsFolder

#: Movement letters from the median outwards (right-hand traffic): left, through, right.
LETTERS = "LTR"
WORDS = {"L": "left", "T": "through", "R": "right"}
#: SUMO's link directions as movement letters (turnarounds have none).
# a variable lane serves left, through and right movements (no u-turns)
_DIRECTION = {d: t for d, t in TURN_OF_DIRECTION.items() if t != "U"}
CLEARANCE = "C"
DEFAULT_PERIOD = "default"

Schedule = tuple[tuple[float, float, str], ...]
Links = dict[int, dict[str, list[tuple[str, int]]]]


class Segment(NamedTuple):
    """A stretch of the lane's timeline.

    Attributes
    ----------
    begin_s, end_s
        When. [s]
    state
        The movement letters the lane serves, or ``"C"`` (clearance: closed to new vehicles).
    open
        Movements whose links are open (in a clearance: those of the period it ends).
    source
        Index of the schedule entry it belongs to; -1 for the default.
    """

    begin_s: float
    end_s: float
    state: str
    open: str
    source: int


def movement_letters(text: str) -> str | None:
    """``"tl"`` → ``"LT"``: the letters in median-outwards order; None if any is not L/T/R."""
    letters = text.strip().upper()
    if not letters or any(c not in LETTERS for c in letters):
        return None
    return "".join(c for c in LETTERS if c in letters)


def approach_links(net: NetIndex, edge: str) -> Links:
    """SUMO lane index → movement letter → [(to edge, to lane)] of the links leaving ``edge``."""
    out: Links = {}
    for key in net.connections:
        frm, lane, to, to_lane = key
        letter = _DIRECTION.get(net.directions.get(key, ""))
        if frm == edge and letter is not None:
            out.setdefault(lane, {}).setdefault(letter, []).append((to, to_lane))
    return out


@register
@dataclass(frozen=True)
class VariableLane(Measure):
    """A lane of an approach whose movement is switched by time of day.

    Parameters
    ----------
    edge
        The approach edge.
    lane_from_median
        Which lane, counted from the median: 0 is the innermost lane (SUMO's highest index).
    schedule
        (begin [s], end [s], movement letters) in time order, not overlapping.
    default
        Movement letters outside the schedule; empty: the lane's marking in the network.
    clearance_s
        How long the lane is closed to new vehicles before a switch that withdraws a
        movement. [s]
    """

    kind = "variable_lane"
    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "varlane_{edge}_{movement}_delay_{period}_s": MetricInfo(
            "s", "lower", "mean time loss on the approach and through the junction of the "
                          "vehicles making that movement, in that schedule period"),
        "varlane_{edge}_wrong_movement_veh": MetricInfo(
            "veh", "lower", "vehicles that left the variable lane towards a movement it did not "
                            "serve at the time (must be 0)", rule=True),
        "varlane_{edge}_lane_share": MetricInfo(
            "-", None, "share of the vehicles making the lane's scheduled movement that used "
                       "the variable lane"),
    }
    REPORT_TITLE = "Variable lane: delay per movement and period"
    REPORT_ORDER = 33.0
    REPORT_NOTE = ("Per approach with a variable lane: the mean time lost on the approach and "
                   "through the junction by the vehicles of each movement, in each period of "
                   "the lane's schedule (<i>default</i>: outside the schedule). Every plan is "
                   "measured on the same approach and periods.")
    edge: str
    lane_from_median: int
    schedule: Schedule
    default: str = ""
    clearance_s: float = 120.0

    @classmethod
    def parse(cls, f: Fields) -> VariableLane:
        """A variable lane from its plan table; problems go to ``f.issues``."""
        edge = f.str("edge")
        lane = f.int("lane_from_median", lo=0, hi=15)
        schedule = _read_schedule(f)
        default = f.str("default", "")
        letters = movement_letters(default) if default else ""
        if letters is None:
            f.error("default", _bad_movement(default))
        clearance = f.float("clearance_s", 120.0, lo=0.0, hi=3600.0, unit=" s")
        return cls(edge=str(edge or ""), lane_from_median=int(lane or 0), schedule=schedule,
                   default=letters or "", clearance_s=float(clearance))

    # -- the lane and its links ----------------------------------------------------------------
    def sumo_lane(self, net: NetIndex) -> int:
        """SUMO's index of the lane (0 is the kerb lane)."""
        return net.edges[self.edge] - 1 - self.lane_from_median

    def default_movement(self, net: NetIndex) -> str:
        """The movement outside the schedule: ``default`` or the lane's marking today."""
        if self.default:
            return self.default
        marked = approach_links(net, self.edge).get(self.sumo_lane(net), {})
        return "".join(c for c in LETTERS if c in marked)

    def _movements(self, net: NetIndex) -> list[tuple[str, str]]:
        """(field, movement letters) of every schedule entry and of the default."""
        out = [(f"schedule[{i}].movement", m) for i, (_, _, m) in enumerate(self.schedule)]
        return [*out, ("default", self.default_movement(net))]

    def added_links(self, net: NetIndex) -> list[tuple[str, str, int]]:
        """(movement letter, to edge, to lane) of the links the lane needs and lacks.

        Raises
        ------
        ValueError
            When a target edge has no lane left for one (:meth:`check` reports it first).
        """
        links, problems = self._new_links(net)
        if problems:
            raise ValueError(problems[0][1])
        return links

    def _new_links(self, net: NetIndex) -> tuple[list[tuple[str, str, int]], list[tuple[str, str]]]:
        """The links the lane lacks, and (movement letter, message) for those that do not fit.

        A new link enters the target edge beside the approach's nearest link to it, shifted by
        the lanes between them, so that the two streams neither merge nor cross.
        """
        links = approach_links(net, self.edge)
        k = self.sumo_lane(net)
        mine = links.get(k, {})
        wanted = {c for _, m in self._movements(net) for c in m}
        out, problems = [], []
        for letter in (c for c in LETTERS if c in wanted and c not in mine):
            targets = sorted({to for lanes in links.values() for to, _ in lanes.get(letter, ())})
            for to in targets:
                used = [(j, tl) for j, lanes in links.items()
                        for t, tl in (x for xs in lanes.values() for x in xs) if t == to]
                j = min((j for j, _ in used), key=lambda j: (abs(j - k), j))
                near = [tl for jj, tl in used if jj == j]
                to_lane = max(near) + (k - j) if k > j else min(near) - (j - k)
                if not 0 <= to_lane < net.edges[to] or to_lane in {tl for _, tl in used}:
                    problems.append((letter, (
                        f"edge '{to}' has no lane left for a {WORDS[letter]} stream from "
                        f"lane_from_median {self.lane_from_median}: its {net.edges[to]} lane(s) "
                        "already take this approach's traffic beside it, and two streams onto "
                        "one lane would merge inside the junction")))
                    continue
                out.append((letter, to, to_lane))
        return out, problems

    # -- checks --------------------------------------------------------------------------------
    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the edge, the lane, the movements and the schedule, as (field, message).

        Every movement named must leave the edge; the lane's movements must not cross those of
        the lanes beside it; a link the lane lacks needs a free lane on its target edge; the
        clearance must fit in each period it ends; and every movement of the approach must have
        a lane at every moment.
        """
        if (msg := net.missing_edge(self.edge)) is not None:
            return [("edge", msg)]
        n = net.edges[self.edge]
        if not 0 <= self.lane_from_median < n:
            return [("lane_from_median",
                     f"= {self.lane_from_median}: edge '{self.edge}' has {n} lane(s), counted "
                     f"from the median 0..{n - 1} (0 is the innermost lane)")]
        out = [(f"schedule[{i}]", msg) for i, (b, e, _) in enumerate(self.schedule)
               for _, msg in window_issues(((b, e),), begin_s, end_s)]
        links = approach_links(net, self.edge)
        moves = "".join(c for c in LETTERS if any(c in lanes for lanes in links.values()))
        if not self.default_movement(net):
            out.append(("default", f"is needed: lane_from_median {self.lane_from_median} of "
                                   f"edge '{self.edge}' serves no movement today"))
        for fld, m in self._movements(net):
            missing = [c for c in m if c not in moves]
            if missing:
                out.append((fld, f"= {m!r}: no {WORDS[missing[0]]} movement leaves edge "
                                 f"'{self.edge}' (its movements: {', '.join(moves) or 'none'})"))
        if out:
            return out
        out += self._crossing_issues(net, links)
        for letter, msg in self._new_links(net)[1]:
            fld, m = next((f, m) for f, m in self._movements(net) if letter in m)
            out.append((fld, f"= {m!r}: {msg}"))
        try:
            timeline = self.timeline(begin_s, end_s, self.default_movement(net))
        except ValueError as exc:
            return [*out, ("clearance_s", str(exc))]
        return out + self._cut_issues(links, moves, self.sumo_lane(net), timeline)

    def _crossing_issues(self, net: NetIndex, links: Links) -> list[tuple[str, str]]:
        """A movement of the lane must not cross one of another lane of the same approach."""
        k = self.sumo_lane(net)
        n = net.edges[self.edge]
        out = []
        for fld, m in self._movements(net):
            for j, lanes in sorted(links.items(), reverse=True):
                inner = j > k  # nearer the median: its movements must not turn further right
                bad = [(c, x) for c in m for x in lanes if j != k
                       and (LETTERS.index(x) > LETTERS.index(c) if inner
                            else LETTERS.index(x) < LETTERS.index(c))]
                if bad:
                    c, x = bad[0]
                    out.append((fld, f"= {m!r}: the {WORDS[c]} movement of lane_from_median "
                                     f"{self.lane_from_median} would cross the {WORDS[x]} "
                                     f"movement of lane_from_median {n - 1 - j}; re-mark that "
                                     "lane (lane_use) or choose another lane"))
                    break
        return out

    def _cut_issues(self, links: Links, moves: str, k: int, timeline: list[Segment]
                    ) -> list[tuple[str, str]]:
        """Every movement of the approach needs a lane whenever the variable lane lacks it."""
        others = {c for j, lanes in links.items() if j != k for c in lanes}
        out: dict[str, str] = {}
        for seg in timeline:
            served = "" if seg.state == CLEARANCE else seg.state
            for c in moves:
                if c in served or c in others:
                    continue
                if seg.state == CLEARANCE:
                    fld, why = "clearance_s", "the lane is closed for the clearance then"
                    fix = "set clearance_s = 0 (vehicles left on the lane change out of it)"
                else:
                    fld = "default" if seg.source < 0 else f"schedule[{seg.source}].movement"
                    why = f"the lane serves {seg.state!r} then"
                    fix = "schedule it on this lane"
                out.setdefault(fld, (
                    f"{WORDS[c]} traffic from edge '{self.edge}' would have no lane "
                    f"{clock(seg.begin_s)}–{clock(seg.end_s)}: only lane_from_median "
                    f"{self.lane_from_median} serves it, and {why}; keep another lane for it "
                    f"(lane_use) or {fix}"))
        return list(out.items())

    # -- the schedule ----------------------------------------------------------------------------
    def timeline(self, begin_s: float, end_s: float, default: str) -> list[Segment]:
        """Consecutive segments over [begin_s, end_s), clearances carved out before switches.

        A clearance ends each period after which the lane stops serving one of its movements.

        Raises
        ------
        ValueError
            When a clearance would take a whole period (unless the simulation starts inside it).
        """
        raw: list[Segment] = []
        t = begin_s
        for i, (b, e, m) in enumerate(self.schedule):
            b, e = max(b, begin_s), min(e, end_s)
            if e <= b:
                continue
            if b > t:
                raw.append(Segment(t, b, default, default, -1))
            raw.append(Segment(b, e, m, m, i))
            t = e
        if t < end_s:
            raw.append(Segment(t, end_s, default, default, -1))
        out: list[Segment] = []
        for seg, nxt in zip(raw, [*raw[1:], None], strict=True):
            if nxt is None or self.clearance_s <= 0 or set(seg.state) <= set(nxt.state):
                out.append(seg)
                continue
            cut = seg.end_s - self.clearance_s
            # (a period the simulation's start cuts short may be all clearance)
            cut_short = seg.begin_s == begin_s and (
                seg.source < 0 or self.schedule[seg.source][0] < begin_s)
            if cut <= seg.begin_s and not cut_short:
                msg = (f"= {self.clearance_s:g} s does not fit: the {seg.state!r} period "
                       f"{clock(seg.begin_s)}–{clock(seg.end_s)} is not longer than the "
                       f"clearance before the lane switches to {nxt.state!r}")
                raise ValueError(msg)
            cut = max(cut, seg.begin_s)
            if cut > seg.begin_s:
                out.append(seg._replace(end_s=cut))
            out.append(Segment(cut, seg.end_s, CLEARANCE, seg.state, seg.source))
        return out

    # -- SUMO elements ---------------------------------------------------------------------------
    @property
    def remarks(self) -> tuple[str, ...]:
        """The approach whose lane marking it rewrites."""
        return (self.edge,)

    @property
    def label(self) -> str:
        """``varlane_`` and a tag of the edge and lane: one label per variable lane."""
        return f"varlane_{self._tag}"

    @property
    def _tag(self) -> str:
        return tag(self.edge, self.lane_from_median)

    def apply(self, draft: CaseDraft) -> None:
        """Link the lane to every movement it serves and switch the links in time.

        Each link's via lane is closed whenever its movement is not scheduled; the lane itself
        is closed in each clearance.
        """
        net = draft.net
        if net is None:  # pragma: no cover - build_plan always sets it
            msg = "variable_lane needs the network"
            raise ValueError(msg)
        k = self.sumo_lane(net)
        lane_links = {c: list(v) for c, v in approach_links(net, self.edge).get(k, {}).items()}
        for letter, to, to_lane in self.added_links(net):
            draft.connection_patches.append(f'<connection from="{self.edge}" to="{to}" '
                                            f'fromLane="{k}" toLane="{to_lane}"/>')
            lane_links.setdefault(letter, []).append((to, to_lane))
        timeline = self.timeline(draft.begin_s, draft.end_s, self.default_movement(net))
        for letter, targets in sorted(lane_links.items()):
            closed = _merge((s.begin_s, s.end_s) for s in timeline if letter not in s.open)
            vias = [via_lane(self.edge, k, to, tl) for to, tl in targets]
            if closed:
                draft.additional.append(closing_rerouter(
                    f"varlane_{self._tag}_{letter}", [self.edge], vias, closed))
        clearances = _merge((s.begin_s, s.end_s) for s in timeline if s.state == CLEARANCE)
        if clearances:
            draft.additional.append(closing_rerouter(
                f"varlane_{self._tag}_{CLEARANCE}", [self.edge], [f"{self.edge}_{k}"],
                clearances))

    def observe(self, draft: CaseDraft) -> None:
        """Lane data of the approach and its links per segment of the timeline, in every plan.

        The ids carry the segment's state, open movements and schedule entry, so that the
        metrics read everything from the output.
        """
        net = draft.net
        if net is None:  # pragma: no cover
            return
        timeline = self.timeline(draft.begin_s, draft.end_s, self.default_movement(net))
        draft.outputs += [
            f'<laneData id="varlane_{self._tag}_{i}_{s.state}_{s.open or "-"}_{s.source}" '
            f'file="varlane_{self._tag}.xml" begin="{s.begin_s:g}" end="{s.end_s:g}" '
            f'edges="{self.edge} {via_edges(self.edge)}"/>'
            for i, s in enumerate(timeline)]

    # -- metrics ---------------------------------------------------------------------------------
    def _rows(self, run_dir: Path
              ) -> tuple[list[tuple[Segment, Any]], dict[str, tuple[int, str]], int]:
        """Lane-data rows with their segment, and the links of the run's own network.

        Returns the rows, each link's via lane → (from lane, movement letter), and SUMO's
        index of the variable lane.
        """
        cfg = read_sumocfg(run_dir / "case.sumocfg")
        network = read_network(run_dir / cfg.get("net-file", "../net.net.xml"))
        vias = {c.via: (c.from_lane, _DIRECTION[c.direction]) for c in network.connections
                if c.from_edge == self.edge and c.via and c.direction in _DIRECTION}
        k = len(network.edges[self.edge].lanes) - 1 - self.lane_from_median
        rows = []
        for row in read_meandata(run_dir / f"varlane_{self._tag}.xml"):
            _, _, _, state, open_, source = row.interval.split("_")
            seg = Segment(row.begin_s, row.end_s, state, open_.strip("-"), int(source))
            rows.append((seg, row))
        return rows, vias, k

    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Mean delay [s] per movement of the approach and period of the schedule.

        The time lost on each approach lane is shared among the movements by the vehicles
        that left the lane for each in the period (a shared lane's queue delays them all); the
        time lost on each link's internal lane goes to its movement.  Periods are the schedule
        entries (``HHMM_HHMM``) and the rest of the simulation (``default``).
        """
        rows, vias, _ = self._rows(run_dir)
        # period → {lane: time loss}, {(lane, letter): vehicles}, {letter: time loss on links}
        lane_loss: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        left: dict[str, dict[tuple[int, str], float]] = defaultdict(lambda: defaultdict(float))
        link_loss: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for seg, row in rows:
            period = self._period(seg.source)
            if row.edge == self.edge:
                lane_loss[period][int(row.lane.rsplit("_", 1)[1])] += row.values.get(
                    "timeLoss", 0.0)
            elif row.lane in vias:
                lane, letter = vias[row.lane]
                left[period][(lane, letter)] += row.values.get("entered", 0.0)
                link_loss[period][letter] += row.values.get("timeLoss", 0.0)
        out = {}
        moves = sorted({c for _, c in vias.values()}, key=LETTERS.index)
        for period in [self._period(i) for i in range(len(self.schedule))] + [DEFAULT_PERIOD]:
            per_lane: dict[int, float] = defaultdict(float)
            for (lane, _), n in left[period].items():
                per_lane[lane] += n
            for c in moves:
                veh = sum(n for (_, x), n in left[period].items() if x == c)
                loss = link_loss[period][c] + sum(
                    lane_loss[period][lane] * n / per_lane[lane]
                    for (lane, x), n in left[period].items() if x == c and n)
                out[f"varlane_{self.edge}_{WORDS[c]}_delay_{period}_s"] = (
                    loss / veh if veh else math.nan)
        return out

    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """Per approach, delay per movement in each period, per plan with 95% CIs."""
        from trafficsim import plots  # matplotlib only when a report is drawn

        found: dict[str, dict[str, list[str]]] = {}  # edge → period → movement words
        keys = {k for p in folder.plans for k in folder.doc["plans"][p]}
        for key in sorted(keys):
            m = _DELAY_KEY.fullmatch(key)
            if m and plots.has_metrics(folder.doc, [key]):
                found.setdefault(m["edge"], {}).setdefault(m["period"], []).append(m["move"])
        figs = []
        for edge, periods in found.items():
            order = sorted(periods, key=lambda p: (p == DEFAULT_PERIOD, p))
            panels = [(_period_title(period), [
                (f"varlane_{edge}_{w}_delay_{period}_s", w) for w in WORDS.values()
                if w in periods[period]]) for period in order]
            figs.append(plots.paired_bars(folder.doc, panels,
                                          title=f"delay per movement on {edge}, "))
        return figs

    def _period(self, source: int) -> str:
        if source < 0:
            return DEFAULT_PERIOD
        b, e, _ = self.schedule[source]
        return f"{clock(b).replace(':', '')}_{clock(e).replace(':', '')}"

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Whether the lane carried only its scheduled movement, and its share of it.

        ``varlane_EDGE_wrong_movement_veh``: vehicles that entered a link of the variable lane
        whose movement was closed at the time (must be 0) [veh]; ``varlane_EDGE_lane_share``:
        outside the clearances, the vehicles that left the variable lane over those that left
        the approach for the lane's scheduled movements [-].
        """
        rows, vias, k = self._rows(run_dir)
        wrong = on_lane = scheduled = 0.0
        for seg, row in rows:
            if row.lane not in vias:
                continue
            lane, letter = vias[row.lane]
            n = row.values.get("entered", 0.0)
            if lane == k and letter not in seg.open:
                wrong += n
            if seg.state != CLEARANCE and letter in seg.state:
                scheduled += n
                on_lane += n if lane == k else 0.0
        return {f"varlane_{self.edge}_wrong_movement_veh": wrong,
                f"varlane_{self.edge}_lane_share": on_lane / scheduled if scheduled else math.nan}


_DELAY_KEY = re.compile(r"varlane_(?P<edge>.+)_(?P<move>left|through|right)_delay_"
                        r"(?P<period>\d{4,6}_\d{4,6}|default)_s")


def _period_title(period: str) -> str:
    """``0700_0930`` → ``07:00–09:30 [s]``."""
    if period == DEFAULT_PERIOD:
        return "outside the schedule [s]"
    a, b = (":".join(t[i:i + 2] for i in range(0, len(t), 2)) for t in period.split("_"))
    return f"{a}–{b} [s]"


# -- parsing helpers -------------------------------------------------------------------------------
def _bad_movement(value: object) -> str:
    return (f"= {value!r} is not a movement; expected letters L (left), T (through) and R "
            "(right), e.g. \"L\" or \"LT\"")


def _read_schedule(f: Fields) -> Schedule:
    """The ``schedule`` entries, sorted; bad entries are recorded and left out."""
    raw = f.list("schedule")
    if not raw:
        if isinstance(raw, list):
            f.error("schedule", 'is empty; expected entries such as {from = "07:00", '
                                'to = "09:30", movement = "L"}')
        return ()
    entries: list[tuple[float, float, str, int]] = []
    for i, item in enumerate(raw):
        key = f"schedule[{i}]"
        if not isinstance(item, dict):
            f.error(key, f"= {item!r} is not a table; expected "
                         '{from = "07:00", to = "09:30", movement = "L"}')
            continue
        sub = Fields(item, f.file, f.field(key), f.issues)
        b, e, m = sub.time("from"), sub.time("to"), sub.str("movement")
        sub.done()
        letters = movement_letters(m) if isinstance(m, str) else None
        if isinstance(m, str) and letters is None:
            sub.error("movement", _bad_movement(m))
        if isinstance(b, float) and isinstance(e, float) and e <= b:
            sub.error("to", f"= {clock(e)} is not after from = {clock(b)}")
            continue
        if isinstance(b, float) and isinstance(e, float) and letters:
            entries.append((b, e, letters, i))
    entries.sort()
    for (b0, e0, _, i0), (b1, e1, _, i1) in itertools.pairwise(entries):
        if b1 < e0:
            f.error(f"schedule[{i1}]", f"{clock(b1)}–{clock(e1)} overlaps schedule[{i0}] "
                                       f"({clock(b0)}–{clock(e0)}); the lane serves one "
                                       "movement at a time")
    return tuple((b, e, m) for b, e, m, _ in entries)


def _merge(windows: Iterable[Window]) -> list[Window]:
    """Sorted windows with touching or overlapping ones joined."""
    out: list[Window] = []
    for b, e in sorted(windows):
        if out and b <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((b, e))
    return out

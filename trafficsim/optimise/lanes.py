"""Lane use and waiting areas in the design search (``optimise --design --design-lanes``).

After the phasing choice of :mod:`~trafficsim.optimise.design`, an outer loop tries to re-mark
the approaches whose turning volumes call for it:

1. **Survey**: per signalised approach, the flow of each movement (left, through, right),
   measured in the starting plan's runs on the junction's internal lanes (one per link), and
   the lanes that serve it.
2. **Candidates** (:func:`propose`): an approach with a heavy left turn, i.e. at least
   :data:`MIN_LEFT_VEH_H` (the usual warrant of an exclusive left-turn lane at signals) and
   either no lane of its own or a share of the approach's flow more than
   :data:`SHARE_RATIO` times the share of the lanes it may use, is offered ``lane_use``
   re-markings: the median lane for the left turn only (``left_lane``), a left-turn pocket
   (``left_pocket``) and, from :data:`DUAL_LEFT_VEH_H`, a pocket and the median lane
   (``dual_left``).  A left turn of at least :data:`MIN_LEFT_VEH_H` is offered a
   ``waiting_area`` where the measure's own validation accepts it (the network's programs
   give it a protected green after another stage).  Each candidate must pass
   its measure's validation (:meth:`~trafficsim.measures.base.Measure.check`).
3. **Search** (:func:`search_lanes`): approaches heaviest left turn first; for each candidate
   the patched network is built as a plan with those measures would be built
   (:func:`trafficsim.build.build_plan`) and the incumbent's programs run on it (lane counts
   measured), all candidates of the approach in one batch; on the best of them every phasing
   of the affected light is re-designed on the patched network (Webster timings from its lane
   counts).  The approach's best plan replaces the incumbent only when it beats it by
   :data:`~trafficsim.optimise.design.MIN_GAIN` on the same seeds (common random numbers);
   one re-marking per approach.

**Budget.** The lane search may run ``round(budget × lanes_share)`` plans, no more than leaves
one plan of ``--budget`` for the timing search, and never fewer than one batch: the first
approach's candidates with the incumbent's programs (:func:`lane_limit`).  That batch is the
least a lane search is, so with a small share or budget it runs even past ``--budget`` (by at
most the number of candidates of one approach); nothing more runs beyond the share.

Signal programs stay indexed by the *baseline's* links throughout (the journal, the timing
search, the plan files of ``design.toml``): the network builder fits such programs to a plan's
patched network (:func:`trafficsim.network.fit_programs`).  Programs designed on the patched
network are translated back (:class:`LaneSpace`), and a program that cannot be (two links of
one baseline link given different signals) is refused as unsafe.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trafficsim.build import build_plan
from trafficsim.errors import IntegrityError, ScenarioError, SumoError
from trafficsim.measures._movements import car_lanes
from trafficsim.measures.base import Measure
from trafficsim.measures.lane_use import MIN_BEFORE_POCKET_M, MIN_POCKET_M, LaneUse
from trafficsim.measures.waiting_area import WaitingArea
from trafficsim.netmodel import TURN_OF_DIRECTION, Network, read_network
from trafficsim.network import LinkKey, net_index, read_signals, state_map, waiting_area_states
from trafficsim.optimise.design import NETWORK, DesignOutcome, DesignSpace, _bar
from trafficsim.optimise.search import BudgetReached, Item, Search
from trafficsim.scenario import (
    BASELINE,
    PlanSpec,
    Scenario,
    pocket_route_issue,
    routes_entering,
)
from trafficsim.signals import Program, SignalPlan, read_links, read_plan

#: Left-turn flow from which an approach's left turn is worth a lane of its own (the usual
#: warrant at signalised junctions, e.g. HCM / ITE guidance: about 100 veh/h). [veh/h]
MIN_LEFT_VEH_H = 100.0
#: Left-turn flow from which two left-turn lanes are tried (the usual dual-left warrant). [veh/h]
DUAL_LEFT_VEH_H = 300.0
#: A left turn whose share of the approach's flow exceeds this many times the share of the
#: lanes it may use is heavy even if it has a lane of its own.
SHARE_RATIO = 1.5
#: Length of a proposed pocket (shorter on a short approach). [m]
POCKET_M = 60.0


@dataclass(frozen=True)
class Approach:
    """A signalised approach as the lane search sees it.

    Attributes
    ----------
    edge, tls
        The approach edge and the light at its end.
    marking
        Movement letters of each car lane, from the median outwards (as ``lane_use`` writes).
    flows_veh_h
        Movement letter → flow measured under the starting plan. [veh/h]
    to_edges
        Movement letter → outgoing edges.
    length_m
        Length of the approach edge. [m]
    """

    edge: str
    tls: str
    marking: tuple[str, ...]
    flows_veh_h: dict[str, float]
    to_edges: dict[str, tuple[str, ...]]
    length_m: float

    @property
    def left_veh_h(self) -> float:
        """The left turn's flow [veh/h]."""
        return self.flows_veh_h.get("L", 0.0)

    @property
    def left_share(self) -> float:
        """The left turn's share of the approach's flow [-]."""
        total = sum(self.flows_veh_h.values())
        return self.left_veh_h / total if total > 0 else 0.0

    @property
    def left_lane_share(self) -> float:
        """Share of the lanes the left turn may use, a shared lane counting by its movements."""
        n = len(self.marking)
        return sum(1.0 / len(m) for m in self.marking if "L" in m) / n if n else 0.0

    @property
    def own_left_lanes(self) -> int:
        """Lanes for the left turn only."""
        return sum(1 for m in self.marking if m == "L")

    def to_dict(self) -> dict[str, Any]:
        """The survey row of ``optimise.json``."""
        return {"edge": self.edge, "tls": self.tls, "lanes": list(self.marking),
                "flows_veh_h": {k: round(v, 1) for k, v in self.flows_veh_h.items()},
                "left_share": round(self.left_share, 3),
                "left_lane_share": round(self.left_lane_share, 3)}


@dataclass(frozen=True)
class Candidate:
    """A re-marking (or waiting area) of one approach: its name and its measures."""

    approach: str
    tls: str
    name: str
    measures: tuple[Measure, ...]


def survey(net: Network, flows: Mapping[str, float]) -> list[Approach]:
    """Every signalised approach with its lanes' movements and its movements' flows.

    ``flows`` are arrivals per lane [veh/h] including the junctions' internal lanes (each
    link's own lane, ``via``), as the starting plan's lane counts hold them.
    """
    out = []
    for edge_id, edge in net.edges.items():
        if edge_id.startswith(":"):
            continue
        links = [c for c in net.connections if c.from_edge == edge_id and c.tl
                 and not c.to_edge.startswith(":")]
        cars = car_lanes(net, edge_id)
        links = [c for c in links if c.from_lane in cars]
        if not links:
            continue
        letters: dict[int, set[str]] = {i: set() for i in cars}
        moving: dict[str, float] = {}
        to_edges: dict[str, set[str]] = {}
        for c in links:
            m = TURN_OF_DIRECTION.get(c.direction, "T")
            letters[c.from_lane].add(m)
            moving[m] = moving.get(m, 0.0) + flows.get(c.via, 0.0)
            to_edges.setdefault(m, set()).add(c.to_edge)
        order = "LTRU"
        marking = tuple("".join(sorted(letters[i], key=order.index))
                        for i in sorted(cars, reverse=True) if letters[i])
        out.append(Approach(edge_id, links[0].tl, marking, moving,
                            {k: tuple(sorted(v)) for k, v in to_edges.items()},
                            float(edge.lanes[0].length_m if edge.lanes else 0.0)))
    return out


def heavy_left(a: Approach) -> str | None:
    """Why ``a``'s left turn calls for a re-marking, or None."""
    if a.left_veh_h < MIN_LEFT_VEH_H or len(a.marking) < 2:
        return None
    if not a.own_left_lanes:
        return (f"left turn {a.left_veh_h:.0f} veh/h (≥ {MIN_LEFT_VEH_H:g}) without a lane of "
                "its own")
    if a.left_share > SHARE_RATIO * a.left_lane_share:
        return (f"left turn {a.left_share:.0%} of the flow on {a.left_lane_share:.0%} of the "
                "lanes")
    return None


def propose(net: Network, approaches: Sequence[Approach], sc: Scenario, base_net: Path,
            ) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates of the approaches with a heavy left turn, validated by their measures.

    Returns the candidates (heaviest left turn first) and, per approach not offered any, why.
    """
    index = net_index(base_net)
    out: list[Candidate] = []
    skipped: dict[str, str] = {}
    entered: dict[str, str] | None = None
    for a in sorted(approaches, key=lambda a: (-a.left_veh_h, a.edge)):
        if a.left_veh_h < MIN_LEFT_VEH_H:
            skipped[a.edge] = (f"left turn {a.left_veh_h:.0f} veh/h (< {MIN_LEFT_VEH_H:g}): "
                               "no call for a re-marking or a waiting area")
            continue
        found = []
        if heavy_left(a) is None:
            skipped[a.edge] = (f"left turn {a.left_veh_h:.0f} veh/h, {a.left_share:.0%} of "
                               f"the flow on {a.left_lane_share:.0%} of the lanes, "
                               f"{a.own_left_lanes} of its own: no call for a re-marking")
        for name, m in _markings(a) if heavy_left(a) is not None else ():
            issues = m.check(index, sc.begin_s, sc.end_s)
            if m.pocket_m is not None:  # (a pocket splits the edge: explicit routes break)
                entered = routes_entering(sc) if entered is None else entered
                why = pocket_route_issue(m.edge, entered)
                issues += [("pocket_m", why)] if why else []
            if issues:
                skipped[f"{a.edge}:{name}"] = "; ".join(f"{f}: {msg}" for f, msg in issues)
            else:
                found.append(Candidate(a.edge, a.tls, name, (m,)))
        for to in a.to_edges.get("L", ()):
            wa = WaitingArea(tls=a.tls, from_edge=a.edge, to_edge=to)
            issues = wa.check(index, sc.begin_s, sc.end_s)
            if issues:
                skipped[f"{a.edge}:waiting_area:{to}"] = "; ".join(
                    f"{f}: {msg}" for f, msg in issues)
            else:
                found.append(Candidate(a.edge, a.tls, f"waiting_area:{to}", (wa,)))
        out += found
    return out, skipped


def _markings(a: Approach) -> list[tuple[str, LaneUse]]:
    """The lane-use re-markings tried on ``a`` (see the module docstring)."""
    rest = [m.replace("L", "") for m in a.marking]
    out: list[tuple[str, LaneUse]] = []
    # a u-turn only the median lane serves stays there, beside the left (netgenerate's and
    # OSM networks have u-turns: dropping it left the movement without a lane, so the
    # candidate failed lane_use's validation and was never tried)
    u = "U" if "U" in a.marking[0] and not any("U" in r for r in rest[1:]) else ""
    if not a.own_left_lanes and "L" in a.marking[0] and all(rest[1:]):
        out.append(("left_lane", LaneUse(a.edge, (f"L{u}", *rest[1:]))))
    pocket = min(POCKET_M, a.length_m - MIN_BEFORE_POCKET_M - 5.0)
    pocket = float(int(pocket / 5.0) * 5)
    if pocket >= MIN_POCKET_M and all(rest):
        lanes: tuple[str, ...] | None = ("L", *rest)
        if rest[0] == "U":  # (the median lane served left turns and u-turns only)
            # a whole lane for u-turns alone would waste it: the u-turn goes with the left
            # turn into the pocket and the old median lane carries through traffic
            lanes = ((f"L{u}", "T", *rest[1:]) if any("T" in r for r in rest[1:])
                     else None)
        if lanes is not None:
            out.append(("left_pocket", LaneUse(a.edge, lanes, pocket_m=pocket)))
        if a.left_veh_h >= DUAL_LEFT_VEH_H and all(rest[1:]):
            out.append(("dual_left", LaneUse(a.edge, (f"L{u}", "L", *rest[1:]),
                                             pocket_m=pocket)))
    # (a "re-marking" the approach already has would spend an evaluation on the start plan)
    return [(name, m) for name, m in out if m.lanes != a.marking or m.pocket_m is not None]


def layout_tag(measures: Sequence[Measure]) -> str:
    """A short stable name of a set of lane measures (part of the journal keys)."""
    return hashlib.sha256("\n".join(sorted(map(repr, measures))).encode()).hexdigest()[:12]


# -- programs on a patched network ------------------------------------------------------------
@dataclass(frozen=True)
class LinkMaps:
    """How a patched network's signal links relate to the baseline's, per light.

    ``forward[tls][j]``: the baseline link index whose signal patched link ``j`` shows (as
    :func:`trafficsim.network.fit_programs` fits a baseline program); ``base_links``: the
    baseline's links, (from edge, from lane, to edge, to lane) → link index, per light.
    """

    forward: dict[str, list[int]]
    base_links: dict[str, dict[LinkKey, int]]

    @classmethod
    def of(cls, base_net: Path, plan_net: Path) -> LinkMaps:
        """The maps of ``plan_net`` (patched) against ``base_net``."""
        _, old = read_signals(base_net)
        _, new = read_signals(plan_net)
        return cls({t: state_map(t, old.get(t, {}), new[t]) for t in new}, old)

    def to_plan(self, p: Program) -> Program:
        """A baseline-indexed program indexed by the patched network's links."""
        m = self.forward.get(p.tls_id)
        if m is None:
            return p
        return _restate(p, lambda s: "".join(s[i] if 0 <= i < len(s) else "r" for i in m))

    def to_base(self, p: Program) -> tuple[Program, list[str]]:
        """A patched-network program indexed by the baseline's links, and what it loses.

        A baseline link no patched link follows shows the signal of a link of the same
        movement (else red).  Lost: patched links of one baseline link with different signals.
        """
        m = self.forward.get(p.tls_id)
        if m is None:
            return p, []
        old = self.base_links.get(p.tls_id, {})
        n = max(old.values(), default=-1) + 1
        lost: list[str] = []
        by_key = {i: k for k, i in old.items()}

        def back(s: str) -> str:
            out: list[str | None] = [None] * n
            for j, i in enumerate(m):
                if 0 <= i < n and j < len(s):
                    if out[i] is not None and out[i] != s[j]:
                        lost.append(f"baseline link {i} would show both {out[i]} and {s[j]}")
                    out[i] = out[i] or s[j]
            for i in range(n):
                if out[i] is None:
                    frm, _, to, _ = by_key.get(i, ("", 0, "", 0))
                    same = [out[old[k]] for k in old if k[0] == frm and k[2] == to
                            and out[old[k]] is not None]
                    out[i] = same[0] if same else "r"
            return "".join(c or "r" for c in out)

        return _restate(p, back), lost


def _restate(p: Program, f: Any) -> Program:
    phases = tuple(replace(ph, state=f(ph.state)) for ph in p.phases)
    return replace(p, phases=phases)


@dataclass
class LaneSpace(DesignSpace):
    """A :class:`DesignSpace` on a patched network whose programs are baseline-indexed.

    Programs are designed and timed on the patched network (its layout, its lane counts) and
    handed out translated to the baseline's links (:meth:`LinkMaps.to_base`); the safety check
    translates them back, and refuses one that does not survive the round trip or that a
    waiting area of the layout cannot take.
    """

    maps: LinkMaps | None = None
    waiting: tuple[WaitingArea, ...] = ()
    base_entry: Mapping[tuple[str, str, str], list[int]] = field(default_factory=dict)

    def program(self, tls_id: str, kind: str) -> Program:
        """As :meth:`DesignSpace.program`, indexed by the baseline's links."""
        p = super().program(tls_id, kind)
        return p if self.maps is None else self.maps.to_base(p)[0]

    def generated_issues(self, plan: SignalPlan) -> list[str]:
        """Safety issues on the patched network, lost signals, waiting areas it cannot take."""
        out = waiting_issues(plan, self.waiting, self.base_entry)
        if self.maps is None:
            return out + super().generated_issues(plan)
        fwd = SignalPlan(tuple(self.maps.to_plan(p) for p in plan.programs))
        out += super().generated_issues(fwd)
        for p in fwd.programs:
            _, lost = self.maps.to_base(p)
            out += [f"{p.tls_id}: {msg}" for msg in dict.fromkeys(lost)]
        return out


def waiting_issues(plan: SignalPlan, waiting: Sequence[WaitingArea],
                   entry: Mapping[tuple[str, str, str], list[int]]) -> list[str]:
    """Why ``plan``'s programs (baseline-indexed) cannot take the waiting areas ``waiting``.

    ``entry``: the baseline link indices of each waiting area's movement.  A waiting area
    needs a protected green of its movement after another stage
    (:func:`trafficsim.network.waiting_area_states`).
    """
    out = []
    for wa in waiting:
        links = entry.get((wa.tls, wa.from_edge, wa.to_edge), [])
        try:
            states = [ph.state for ph in plan[wa.tls].phases]
            waiting_area_states(states, links, max(map(len, states)))
        except (KeyError, ValueError) as exc:
            out.append(f"{wa.tls}: waiting area {wa.from_edge} → {wa.to_edge}: {exc}")
    return out


# -- the search --------------------------------------------------------------------------------
@dataclass
class Layout:
    """A lane layout the search ran plans on: its measures and its design space."""

    tag: str
    measures: tuple[Measure, ...]
    space: DesignSpace
    edges: dict[str, Any] = field(default_factory=dict)


@dataclass
class LaneOutcome:
    """What the lane search tried and kept (``optimise.json``'s ``design.lanes``)."""

    layout: Layout
    outcome: DesignOutcome
    value: float
    layouts: dict[str, Layout]
    approaches: list[Approach]
    tried: list[dict[str, Any]]
    not_proposed: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The ``design.lanes`` section."""
        return {"approaches": [a.to_dict() for a in self.approaches],
                "candidates": self.tried, "not_proposed": self.not_proposed,
                "rules": {"min_left_veh_h": MIN_LEFT_VEH_H, "dual_left_veh_h": DUAL_LEFT_VEH_H,
                          "share_ratio": SHARE_RATIO},
                "layout": [measure_dict(m) for m in self.layout.measures],
                "layout_objective": self.value}


def measure_dict(m: Measure) -> dict[str, Any]:
    """A lane measure as its scenario table."""
    if isinstance(m, LaneUse):
        d: dict[str, Any] = {"type": "lane_use", "edge": m.edge, "lanes": list(m.lanes)}
        if m.pocket_m is not None:
            d["pocket_m"] = m.pocket_m
        return d
    if isinstance(m, WaitingArea):
        d = {"type": "waiting_area", "tls": m.tls, "from_edge": m.from_edge,
             "to_edge": m.to_edge}
        if m.depth_m is not None:
            d["depth_m"] = m.depth_m
        return d
    msg = f"not a lane measure: {m!r}"
    raise TypeError(msg)


@dataclass
class LaneSearch:
    """Context of the lane search: the scenario, the baseline and where layouts are built."""

    search: Search
    base: PlanSpec
    base_net: Path
    start: SignalPlan
    flows: Mapping[str, float]
    layouts: dict[str, Layout] = field(default_factory=dict)

    def build(self, measures: tuple[Measure, ...]) -> Path:
        """The patched network of the lane_use measures among ``measures``.

        (Waiting areas change the programs, not the layout the phasings are designed on.)
        """
        lanes = tuple(m for m in measures if isinstance(m, LaneUse))
        if not lanes:
            return self.base_net
        tag = layout_tag(lanes)
        root = self.search.work / "layouts"
        name = f"layout_{tag}"
        net = root / "cases" / name / "net.net.xml"
        if not net.is_file():
            build_plan(self.search.sc, PlanSpec(name, (*self.base.measures, *lanes)),
                       self.base_net, root)
        return net

    def waiting_entry(self, waiting: Sequence[WaitingArea]
                      ) -> dict[tuple[str, str, str], list[int]]:
        """The baseline link indices of each waiting area's movement."""
        _, old = read_signals(self.base_net)
        return {(wa.tls, wa.from_edge, wa.to_edge): sorted(
                    i for k, i in old.get(wa.tls, {}).items()
                    if k[0] == wa.from_edge and k[2] == wa.to_edge) for wa in waiting}

    def enter(self, lay: Layout) -> None:
        """Make ``lay`` the layout of the plans the search proposes."""
        s = self.search
        s.layout = lay.tag
        s.base = PlanSpec(BASELINE, (*self.base.measures, *lay.measures))
        s.check = lay.space.generated_issues
        self.layouts[lay.tag] = lay

    def layout(self, measures: tuple[Measure, ...], space0: DesignSpace,
               flows: Mapping[str, float]) -> Layout:
        """A layout of ``measures`` with its design space (lane counts ``flows`` on it)."""
        net_path = self.build(measures)
        waiting = tuple(m for m in measures if isinstance(m, WaitingArea))
        entry = self.waiting_entry(waiting)
        maps = LinkMaps.of(self.base_net, net_path) if net_path != self.base_net else None
        start = read_plan(net_path).with_program_id("start")
        extra = {t: {k: maps.to_plan(p) if maps else p for k, p in progs.items()}
                 for t, progs in space0.extra.items()}
        space = LaneSpace(read_network(net_path), start, read_links(net_path), dict(flows),
                          space0.webster, program_id=space0.program_id, extra=extra, maps=maps,
                          waiting=waiting, base_entry=entry)
        return Layout(layout_tag(measures) if measures else "", measures, space)


def lane_limit(n_done: int, budget: int, share: float, first_batch: int) -> int:
    """Evaluations allowed in total at the end of the lane search (module docstring).

    Parameters
    ----------
    n_done
        Evaluations before it (the start and Webster plans, the phasing choice).
    budget
        ``--budget``: fixed-time plans of the whole search.
    share
        ``--lanes-share``.
    first_batch
        Candidates of the first approach (one batch: the least a lane search is).
    """
    return max(min(n_done + round(budget * share), budget - 1), n_done + first_batch)


def search_lanes(ctx: LaneSearch, space0: DesignSpace, outcome0: DesignOutcome,
                 value0: float) -> LaneOutcome:
    """The lane search (module docstring), from the phasing choice ``outcome0``.

    Per approach, heaviest left turn first: every candidate runs the incumbent's programs
    (one batch); the light's phasings are then designed again on the best of them.  The best
    plan of the approach replaces the incumbent if it beats it by the margin.  On return the
    search is left on the winning layout (``ctx.enter``), so the timing and control phases run
    on it.  ``search.role`` should be :data:`~trafficsim.optimise.design.LANES_ROLE`; the
    search's limit is set here (:func:`lane_limit`).
    """
    s = ctx.search
    net0 = read_network(ctx.base_net)
    approaches = survey(net0, ctx.flows)
    candidates, skipped = propose(net0, approaches, s.sc, ctx.base_net)
    first = sum(c.approach == candidates[0].approach for c in candidates) if candidates else 0
    s.limit = lane_limit(len(s.numbers), s.settings.budget, s.settings.lanes_share, first)
    inc = Layout("", (), space0)
    ctx.layouts[""] = inc
    plan, value, choice = outcome0.plan, value0, dict(outcome0.choice)
    tried: list[dict[str, Any]] = []
    try:
        for edge in dict.fromkeys(c.approach for c in candidates):
            cands = [c for c in candidates if c.approach == edge]
            rows = [{"approach": edge, "tls": c.tls, "name": c.name,
                     "measures": [measure_dict(m) for m in c.measures], "bar": _bar(value)}
                    for c in cands]
            tried += rows
            got = _approach(ctx, inc, plan, choice, value, cands, rows)
            for r in rows:
                r.setdefault("decision", "no gain")
            if got is not None and got[0] < _bar(value):
                k = got[4]
                value, inc, plan, choice = got[:4]
                rows[k]["decision"] = "kept"
                for r in rows:
                    if r is not rows[k] and r["decision"] == "no gain":
                        r["decision"] = "beaten"
            ctx.enter(inc)
            if got is not None and got[5]:
                break  # the budget ran out
    except BudgetReached:
        pass
    for r in tried:
        r.setdefault("decision", "budget")
    for c in candidates:
        if not any(r["approach"] == c.approach and r["name"] == c.name for r in tried):
            tried.append({"approach": c.approach, "tls": c.tls, "name": c.name,
                          "measures": [measure_dict(m) for m in c.measures],
                          "decision": "not tried (budget)"})
    ctx.enter(inc)
    out = DesignOutcome(choice, outcome0.tried, plan, s.key(plan), outcome0.everywhere)
    return LaneOutcome(inc, out, value, ctx.layouts, approaches, tried, skipped)


Found = tuple[float, "Layout", SignalPlan, dict[str, str], int, bool]


def _approach(ctx: LaneSearch, inc: Layout, plan: SignalPlan, choice: dict[str, str],
              value: float, cands: list[Candidate], rows: list[dict[str, Any]]
              ) -> Found | None:
    """One approach's candidates tried against the incumbent.

    Returns the best plan found: its objective, layout, programs, phasing choice, the index of
    its candidate, and whether the budget ran out; None when no candidate could be built or
    every candidate's SUMO run failed (each row says why).

    Raises
    ------
    BudgetReached
        When the budget ran out before one candidate could be run.
    """
    s = ctx.search
    # 1. every candidate with the incumbent's programs, as the network builder carries them
    # (they ran safely before, and the builder checks the carrying); this counts its lanes too
    items: list[Item] = []
    which: list[int] = []
    for k, (c, row) in enumerate(zip(cands, rows, strict=True)):
        measures = (*inc.measures, *c.measures)
        try:
            ctx.build(measures)
        except (ScenarioError, IntegrityError, SumoError, ValueError, KeyError) as exc:
            row |= {"decision": "error", "error": str(exc)}
            continue
        # (a waiting area needs the incumbent's program to protect its movement already: the
        # builder could not give the carried program one)
        waiting = tuple(m for m in measures if isinstance(m, WaitingArea))
        if waiting and (why := waiting_issues(plan, waiting, ctx.waiting_entry(waiting))):
            row |= {"decision": "error", "error": "; ".join(why)}
            continue
        tag = layout_tag(measures)
        key = s.key(plan, tag)
        s.layout_of.setdefault(key, tag)
        s.bases[key] = PlanSpec(BASELINE, (*ctx.base.measures, *measures))
        row["layout"] = tag
        items.append((key, plan, s.role, None))
        which.append(k)
    if not items:
        return None
    check, s.check = s.check, None
    try:
        values = s.run_batch(items, lane_output=True)
        out_of_budget = False
    except BudgetReached:
        values = [_exact(s, it[0]) for it in items]
        out_of_budget = True
    finally:
        s.check = check
    for k, it, v in zip(which, items, values, strict=True):
        done = _entry(s, it[0])
        rows[k]["objective_carried"] = done["objective"]
        rows[k]["objective"] = v if v < math.inf else None
        rows[k]["phasing"] = "carried"
        if "error" in done:  # (its SUMO run failed: journalled, the others go on)
            rows[k] |= {"decision": "error", "error": done["error"]}
    ran = [(v, k, it[0]) for v, k, it in zip(values, which, items, strict=True)
           if v < math.inf]
    if not ran:
        if out_of_budget:
            raise BudgetReached
        return None  # every candidate failed: the next approach
    v_best, k_best, key = min(ran)
    c = cands[k_best]
    measures = (*inc.measures, *c.measures)
    e = s.journal.entries[key]
    lay = ctx.layout(measures, inc.space, dict(e.lane_flows_veh_h))
    found: Found = (v_best, lay, plan, choice, k_best, out_of_budget)
    if out_of_budget:
        return found
    # 2. the light's phasings designed again on the best candidate's network, Webster-timed on
    # its counts; the rest keep their choice
    ctx.enter(lay)
    kinds = lay.space.options.get(c.tls, ())
    chs = [choice | {c.tls: k} for k in kinds]
    items = []
    for ch in chs:
        # (a light's choice this layout does not offer, e.g. SUMO's phases now alike the
        # network's, falls back to the network's phases)
        ch.update({t: NETWORK for t, k in ch.items() if k not in lay.space.options.get(t, ())})
        p = lay.space.plan(ch)
        items.append((s.key(p), p, s.role, None))
    row = rows[k_best]
    try:
        values = s.run_batch(items, threshold=_bar(value))
    except BudgetReached:
        # (the plans that fit in the budget still count: an exact value is a value)
        values = [_exact(s, it[0]) for it in items]
        out_of_budget = True
        row["budget"] = "reached while trying the phasings"
    finally:
        row["phasings"] = {k: _entry(s, it[0]) for k, it in zip(kinds, items, strict=True)}
    for v, it, ch in zip(values, items, chs, strict=True):
        if v < found[0]:
            found = (v, lay, it[1], ch, k_best, out_of_budget)
            row["objective"], row["phasing"] = v, ch[c.tls]
    v, lay_, p_, ch_, k_, _ = found
    return v, lay_, p_, ch_, k_, out_of_budget


def _exact(s: Search, key: str) -> float:
    """A plan's exact objective if the journal has it, else infinity."""
    e = s.journal.entries.get(key)
    return e.objective if e is not None and not e.cut else math.inf


def _entry(s: Search, key: str) -> dict[str, Any]:
    if key in s.rejected:
        return {"objective": None, "unsafe": s.rejected[key][:3], "key": key}
    e = s.journal.entries.get(key)
    out: dict[str, Any] = {"objective": e.objective if e else None, "cut": bool(e and e.cut),
                           "key": key}
    if e is not None and e.error is not None:
        out["error"] = e.error
    return out


# -- outputs -----------------------------------------------------------------------------------
def write_lane_outputs(sc: Scenario, base: PlanSpec, base_net: Path, out: Path,
                       measures: tuple[Measure, ...], plan: SignalPlan, plan_file: str
                       ) -> dict[str, Any]:
    """``network.net.xml``, ``signal_plan.add.xml`` and ``design.toml`` of the winning plan.

    The network is built as ``compare`` builds the plan ``design.toml`` describes (the
    baseline's measures, ``measures`` and the signal_plan of ``out/plan_file``, whose
    programs index the baseline's links); ``signal_plan.add.xml`` holds the same programs
    fitted to that network's links, loadable with ``sumo -n network.net.xml -a
    signal_plan.add.xml``.
    """
    from trafficsim.measures.signal_plan import SignalPlanMeasure
    from trafficsim.network import fit_programs
    from trafficsim.signals import read_plan_file

    progs, elements = read_plan_file(out / plan_file)
    sp = SignalPlanMeasure(control="file", file=out / plan_file, elements=tuple(elements),
                           file_tls=tuple(p.tls_id for p in progs))
    root = out / "work" / "designed"
    build_plan(sc, PlanSpec("designed", (*base.measures, *measures, sp)), base_net, root)
    net = root / "cases" / "designed" / "net.net.xml"
    shutil.copyfile(net, out / "network.net.xml")
    fitted = fit_programs(base_net, net, plan.elements())
    body = "\n  ".join(fitted)
    (out / "signal_plan.add.xml").write_text(f"<additional>\n  {body}\n</additional>\n",
                                             encoding="utf-8")
    (out / "design.toml").write_text(design_toml(sc, measures, out / plan_file),
                                     encoding="utf-8")
    return {"files": {"network": "network.net.xml", "signal_plan": "signal_plan.add.xml",
                      "design_toml": "design.toml", "plan_file": plan_file}}


def design_toml(sc: Scenario, measures: Sequence[Measure], plan_file: Path) -> str:
    """The winning plan as a scenario's plan table, to paste into the scenario."""
    src = Path(sc.source) if sc.source else Path.cwd() / "scenario.toml"
    try:
        rel = os.path.relpath(plan_file, src.resolve().parent)
    except ValueError:  # (another drive)
        rel = str(plan_file)
    if rel.startswith("../.."):  # (far away: the absolute path reads better)
        rel = str(plan_file)
    lines = ["# The plan trafficsim optimise --design --design-lanes found, as measures: paste it",
             f"# into {src.name} (the signal_plan file is named relative to it).",
             "[plans.designed]",
             f"description = {_toml(_describe(measures))}", ""]
    for m in measures:
        lines.append("[[plans.designed.measures]]")
        lines += [f"{k} = {_toml(v)}" for k, v in measure_dict(m).items()]
        lines.append("")
    lines += ["[[plans.designed.measures]]", 'type = "signal_plan"',
              f"file = {_toml(Path(rel).as_posix())}", ""]
    return "\n".join(lines)


def _describe(measures: Sequence[Measure]) -> str:
    parts = []
    for m in measures:
        d = measure_dict(m)
        if d["type"] == "lane_use":
            pocket = f", {d['pocket_m']:g} m pocket" if "pocket_m" in d else ""
            parts.append(f"{d['edge']} re-marked {'/'.join(d['lanes'])}{pocket}")
        else:
            parts.append(f"waiting area {d['from_edge']} → {d['to_edge']}")
    what = "; ".join(parts) if parts else "lanes as they are"
    return f"Designed by optimise --design-lanes: {what}; designed signal programs"


def _toml(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float | int):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    msg = f"no TOML for {v!r}"
    raise TypeError(msg)

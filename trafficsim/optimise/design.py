"""Phase design: which movements run together at each junction, then their timings.

``trafficsim optimise --design`` searches the *structure* of the signal programs as well as
their timings.  A flat vector over (phasing of every light, cycle, splits, offsets) mixes a
categorical choice per light with continuous timings whose meaning depends on that choice (a
split of a two-stage program is no split of a four-stage one), so the search is structured:

1. **Phasing** (journal role ``design``): network-wide moves (one phasing at every light that
   offers it; the best replaces the incumbent if better), then coordinate descent over the
   lights, heaviest first.
   For one light, each phasing that :func:`trafficsim.phasing.applicable` offers is tried with
   Webster timings from the lane flows measured under the starting plan, the other lights
   keeping their current choice; the best is kept if it beats the incumbent.  Passes repeat
   until one changes nothing, or the phase's budget is used.  A light may keep its network
   phases (:data:`NETWORK`), with ITE transitions as every designed program has them (the
   network's own, as netconvert writes them, have a 3 s yellow and no all-red): the Webster
   plan of the starting phases is the first incumbent.
   A choice is kept only if it beats the incumbent, so an alternative known to be worse is cut
   short at the incumbent's value: every decision is that of an uncut search.
2. **Timings** (``candidate``, ``refine``): the fixed-time search (differential evolution on a
   common cycle, splits and offsets, then the pattern search) on the chosen phases.
3. **Control** (``actuated``, ``coordinated``): actuated and coordinated actuated control on
   the chosen phases, tuned by pattern searches.

The winner is the best plan of all phases, fixed-time, actuated or coordinated.  Every plan
goes through :class:`~trafficsim.optimise.search.Search` (so ``--resume`` replays it) and every
program the design generates is checked by :func:`trafficsim.safety.program_issues` before it
is simulated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trafficsim import phasing, safety
from trafficsim.netmodel import Network
from trafficsim.optimise.encoding import ActuatedEncoding, CoordinatedEncoding, Encoding, plan_key
from trafficsim.optimise.pattern import refine, same_phases, tune_vector
from trafficsim.optimise.search import BudgetReached, Item, Search, global_search, run_phase
from trafficsim.signals import (
    Link,
    Phase,
    Program,
    SignalPlan,
    WebsterSettings,
    stage_lanes,
    webster_program,
)

#: The choice "keep the network's own program" at a light.
NETWORK = "network"
#: Journal role of the phasing choice.
DESIGN_ROLE = "design"
#: Roles of fixed-time plans on the designed phases.
#: Journal role of the lane search (``--design-lanes``, :mod:`~trafficsim.optimise.lanes`).
LANES_ROLE = "lanes"
DESIGN_FIXED_ROLES = (DESIGN_ROLE, LANES_ROLE, "webster", "candidate", "refine")
#: Passes of the coordinate descent at most (a pass that changes nothing ends it earlier).
MAX_PASSES = 3
#: Share by which a phasing must beat the incumbent to replace it.  A new phasing within the
#: seeds' noise of the incumbent is no finding (seen on the 3×3 grid: one light took SUMO's
#: stages for 0.5% on the search seeds, and actuated control on them ran 7% worse unseen).
MIN_GAIN = 0.01


#: A phase after the phasing choice: its outcome → the outcome and space the timings build on.
AfterPhasing = Callable[["DesignOutcome"], tuple["DesignOutcome", "DesignSpace"]]


@dataclass
class DesignSpace:
    """The phasings each light may take, and the Webster-timed program of each choice.

    Parameters
    ----------
    net
        The network the plans run on (the baseline's).
    start
        The starting plan (the network's programs).
    links
        Signal links per tlLogic id.
    flows
        Arrivals per lane under the starting plan. [veh/h]
    webster
        Webster's settings.
    program_id
        programID of the designed programs.
    extra
        More phasings by light: name → program (e.g. ``sumo``, the phases SUMO's
        ``netconvert --tls.rebuild`` builds); timed and checked as the others.
    """

    net: Network
    start: SignalPlan
    links: Mapping[str, list[Link]]
    flows: Mapping[str, float]
    webster: WebsterSettings
    program_id: str = "ts_design"
    extra: Mapping[str, Mapping[str, Program]] = field(default_factory=dict)
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    kept_unsafe: dict[str, str] = field(default_factory=dict)
    _programs: dict[tuple[str, str], Program] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def timed(prog: Program) -> Program:
            return self._timed(replace(prog, program_id=self.program_id))

        for p in self.start.programs:
            kinds: tuple[str, ...] = ()
            try:
                lay = phasing.layout(self.net, p.tls_id)
                kinds = tuple(phasing.applicable(lay))
                for k in kinds:
                    self._programs[p.tls_id, k] = self._timed(
                        phasing.build_program(lay, k, program_id=self.program_id))
            except (KeyError, ValueError) as exc:
                # a light the phasing module cannot describe (a joined cluster, rail…) keeps
                # its own program; say why in optimise.json
                self.failures[p.tls_id] = str(exc)
                kinds = ()
            if p.tls_id in self.failures:
                kept = timed(p)
            else:
                kept, unsafe = ite_or_network(self.net, p, timed)
                if unsafe:  # (optimise.json says so)
                    self.kept_unsafe[p.tls_id] = unsafe
            self._programs[p.tls_id, NETWORK] = kept
            for name, prog in self.extra.get(p.tls_id, {}).items():
                if name not in kinds and not network_phases(prog, p):
                    kinds = (*kinds, name)
                    self._programs[p.tls_id, name] = self._timed(
                        replace(prog, program_id=self.program_id))
            self.options[p.tls_id] = (NETWORK, *kinds)

    def _timed(self, prog: Program) -> Program:
        res = webster_program(prog, self.links.get(prog.tls_id, ()), self.flows, self.webster)
        return replace(res.program, offset_s=0.0)

    def program(self, tls_id: str, kind: str) -> Program:
        """Light ``tls_id`` with phasing ``kind``, Webster-timed on its own cycle, offset 0."""
        return self._programs[tls_id, kind]

    def plan(self, choice: Mapping[str, str]) -> SignalPlan:
        """The plan of a choice (light → phasing); lights not named keep :data:`NETWORK`."""
        return SignalPlan(tuple(self.program(p.tls_id, choice.get(p.tls_id, NETWORK))
                                for p in self.start.programs))

    def order(self) -> list[str]:
        """Lights with a choice to make, heaviest total approach flow first (ties: net order)."""
        def load(tls: str) -> float:
            lanes = {lk.lane_id for lk in self.links.get(tls, ())}
            return sum(self.flows.get(lane, 0.0) for lane in lanes)

        ids = [p.tls_id for p in self.start.programs if len(self.options[p.tls_id]) > 1]
        return sorted(ids, key=lambda t: -load(t))

    def generated_issues(self, plan: SignalPlan) -> list[str]:
        """Safety issues of the programs in ``plan``.

        Every program is judged, also where a light keeps the network's phases (they have ITE
        transitions, :func:`ite_or_network`); only a light the phasing module cannot lay out
        (``failures``), or whose phases ITE transitions do not make safe (``kept_unsafe``),
        keeps the network's program as it is, unjudged.
        """
        out = []
        for p in plan.programs:
            if p.tls_id in self.failures or (p.tls_id in self.kept_unsafe
                                             and network_phases(p, self.start[p.tls_id])):
                continue
            out += [f"{p.tls_id}: {msg}" for msg in safety.program_issues(self.net, p)]
        return out



def ite_or_network(net: Network, program: Program,
                   timed: Callable[[Program], Program]) -> tuple[Program, str]:
    """The network's phases of ``program`` with ITE transitions if that is safe, timed.

    ``timed`` times a program (Webster).  The phases keep the network's own transitions where
    the phasing module cannot lay the light out, or where ITE transitions do not make them safe
    (e.g. they show two conflicting greens): the light may keep them as they are, unjudged.
    :class:`DesignSpace` and ``--design``'s Webster reference both follow this rule.

    Returns
    -------
    program, unsafe
        The timed program; why ITE transitions were not safe ("" when they were kept, or
        when the light could not be laid out).
    """
    try:
        ite = with_ite_transitions(net, program)
    except (KeyError, ValueError):  # not laid out: the network's transitions
        return timed(program), ""
    if issues := safety.program_issues(net, timed_ite := timed(ite)):
        return timed(program), "; ".join(issues)
    return timed_ite, ""


def network_phases(a: Program, b: Program) -> bool:
    """``a`` runs ``b``'s stages (green phases) in ``b``'s cyclic order.

    Coordinated control rotates them; the transitions between them may differ (ITE ones in
    place of the network's).
    """
    sa = [a.phases[st.green].state for st in a.stages]
    sb = [b.phases[st.green].state for st in b.stages]
    return len(sa) == len(sb) and any(sa == sb[k:] + sb[:k] for k in range(len(sb)))


@dataclass
class DesignOutcome:
    """What the phasing phase chose and what each alternative scored.

    Attributes
    ----------
    choice
        Light → chosen phasing.
    tried
        Light → phasing → objective of the plan that differed from the incumbent only there
        (a lower bound when ``cut``): ``{"objective": …, "cut": …, "key": …}``.
    everywhere
        Phasing → objective of the plan with that phasing at every light that offers it.
    """

    choice: dict[str, str]
    tried: dict[str, dict[str, dict[str, Any]]]
    plan: SignalPlan
    key: str
    everywhere: dict[str, dict[str, Any]] = field(default_factory=dict)


def choose_phasings(search: Search, space: DesignSpace) -> DesignOutcome:
    """Coordinate descent over the lights' phasings (see the module docstring).

    The incumbent starts as the starting phases with Webster timings; an alternative replaces
    it only when better by :data:`MIN_GAIN`.  When the budget runs out mid-pass, the incumbent
    is the outcome.  ``search.role`` should be :data:`DESIGN_ROLE`.
    """
    choice = {p.tls_id: NETWORK for p in space.start.programs}
    tried: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in space.order()}
    everywhere: dict[str, dict[str, Any]] = {}

    def item(ch: dict[str, str]) -> Item:
        plan = space.plan(ch)
        return (search.key(plan), plan, search.role, None)

    def note(tls: str, kind: str, key: str) -> None:
        e = search.journal.entries.get(key)
        if key in search.rejected:
            tried[tls][kind] = {"objective": None, "unsafe": search.rejected[key], "key": key}
        elif e is not None:
            tried[tls][kind] = {"objective": e.objective, "cut": e.cut, "key": key}

    try:
        first = item(choice)
        value = search.run_batch([first])[0]
        for t in tried:
            note(t, NETWORK, first[0])
        # network-wide moves first: one phasing at every light that offers it (a grid of alike
        # junctions learns in a handful of plans what light-by-light moves take dozens for)
        kinds = [k for k in dict.fromkeys(k for ks in space.options.values() for k in ks)
                 if k != NETWORK]
        if len(tried) > 2 and kinds:  # (with two lights, light by light costs as much)
            uniform = [{t: k if k in space.options[t] else NETWORK for t in choice}
                       for k in kinds]
            items = [item(ch) for ch in uniform]
            values = search.run_batch(items, threshold=_bar(value))
            for k, it in zip(kinds, items, strict=True):
                e = search.journal.entries.get(it[0])
                if e is not None:
                    everywhere[k] = {"objective": e.objective, "cut": e.cut, "key": it[0]}
            j = min(range(len(values)), key=lambda i: values[i])
            if values[j] < _bar(value):
                choice, value = uniform[j], values[j]
        for _ in range(MAX_PASSES):
            changed = False
            for tls in space.order():
                alts = [k for k in space.options[tls] if k != choice[tls]]
                items = [item(choice | {tls: k}) for k in alts]
                try:
                    values = search.run_batch(items, threshold=_bar(value))
                finally:
                    for k, it in zip(alts, items, strict=True):
                        note(tls, k, it[0])
                j = min(range(len(values)), key=lambda i: values[i]) if values else -1
                if j >= 0 and values[j] < _bar(value):
                    choice, value, changed = choice | {tls: alts[j]}, values[j], True
            if not changed:
                break
    except BudgetReached:
        pass
    return _outcome(space, choice, tried, everywhere)


def _bar(value: float) -> float:
    """What an alternative must beat to replace an incumbent of objective ``value``.

    It is also the early cut's threshold: a plan known to exceed it cannot be taken.
    """
    return value - MIN_GAIN * abs(value)


def _outcome(space: DesignSpace, choice: Mapping[str, str],
             tried: dict[str, dict[str, dict[str, Any]]],
             everywhere: dict[str, dict[str, Any]]) -> DesignOutcome:
    """The incumbent of the phasing phase, with its choice."""
    plan = space.plan(choice)
    return DesignOutcome(dict(choice), tried, plan, plan_key(plan), everywhere)


def run_design(search: Search, space: DesignSpace, *, edges: Mapping[str, Any],
               design_limit: int, fixed_limit: int, tune_budget: int,
               after_phasing: AfterPhasing | None = None) -> tuple[DesignOutcome, str]:
    """Run all phases of the design search on one :class:`Search`.

    Returns the phasing choice and why the fixed-time search stopped.

    Parameters
    ----------
    design_limit, fixed_limit
        Evaluations allowed in total at the end of the phasing phase and of the fixed-time
        search (the start and Webster plans included).
    tune_budget
        Evaluations of the actuated and of the coordinated tuning each.
    after_phasing
        A phase between the phasing choice and the timings (``--design-lanes``: lane use,
        :mod:`~trafficsim.optimise.lanes`): given the phasing outcome, it returns the outcome
        and space the timings build on (plans still indexed by ``space``'s links).
    """
    s = search.settings
    search.restart(search.encoding, DESIGN_ROLE, design_limit)
    outcome = choose_phasings(search, space)
    links = dict(space.links)
    flows = dict(space.flows)
    if after_phasing is not None:
        outcome, space = after_phasing(outcome)
    designed = outcome.plan
    n_refine = max(0, min(round((fixed_limit - len(search.numbers)) * s.refine_share),
                          fixed_limit - len(search.numbers) - 1))
    enc = Encoding(designed, s.min_cycle_s, s.max_cycle_s)
    search.restart(enc, "candidate", fixed_limit - n_refine)
    stopped = run_phase(lambda: global_search(search, designed, designed, links, dict(edges),
                                              flows), search)
    if n_refine:
        enc2 = search.encoding
        search.restart(enc2, "refine", fixed_limit)
        stopped = run_phase(lambda: refine(search, enc2, roles=DESIGN_FIXED_ROLES,
                                           structure=designed), search)
    if tune_budget:
        n_fixed = len(search.numbers)
        search.restart(None, "actuated", n_fixed + tune_budget)
        holder: list[SignalPlan] = []
        run_phase(lambda: holder.append(_actuated_base(search, space, designed)), search)
        if holder:
            act = _actuated_encoding(holder[0], space)
            search.restart(act, "actuated", n_fixed + tune_budget)
            run_phase(lambda: tune_vector(search, "actuated"), search)
        base = best_fixed(search, designed)
        min_green = max(max(p.min_greens_s) for p in base.programs)
        search.restart(DesignCoordinatedEncoding(base, links, edges, min_green_s=min_green),
                       "coordinated", n_fixed + 2 * tune_budget)
        run_phase(lambda: tune_vector(search, "coordinated"), search)
    return outcome, stopped


@dataclass(frozen=True)
class DesignCoordinatedEncoding(CoordinatedEncoding):
    """Coordinated actuated control whose actuated stages keep the designed minimum greens.

    (A stage where a crossing's walk starts needs 7 s, more than SUMO's 5 s default.)
    """

    min_green_s: float = 5.0

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """As :meth:`CoordinatedEncoding.decode`, with minimum greens ``min_green_s`` [s]."""
        return self.base.coordinated_actuated(
            self.links, self.edges, skip=x[2] >= 0.5, extension_s=float(round(x[0])),
            max_gap_s=round(float(x[1]) * 2) / 2, program_id="coordinated",
            min_green_s=self.min_green_s)


def _actuated_encoding(base: SignalPlan, space: DesignSpace | None = None) -> ActuatedEncoding:
    """Actuated control on ``base``'s phases, shaped by its (Webster) greens.

    The vector is :class:`DemandActuatedEncoding`'s.  With ``space``, and a light of three or
    more designed stages in ``base``, a last coordinate says whether stages without demand are
    skipped (:class:`SkippingEncoding`).
    """
    lowest = min(min(p.min_greens_s) for p in base.programs)
    bounds = ((max(lowest, 3.0), 15.0), (20.0, 90.0), (1.0, 6.0), (0.0, 1.0),
              (0.0, JAM_MAX_S), (0.0, 1.0), (0.0, 1.0))
    steps = ((2.0, 15.0, 1.0, 0.5, 10.0, 1.0, 1.0), (1.0, 5.0, 0.5, 0.25, 5.0, 1.0, 1.0))
    # the queue-chosen next stage, queue switching and the demand shape first (the hypotheses
    # of this encoding), then the max gap, which mattered most with shared parameters
    order = (6, 5, 3, 2, 4, 1, 0)
    net = space.net if space is not None else None
    if space is not None and any(len(p.stages) >= 3 and not network_phases(
            p, space.start[p.tls_id]) for p in base.programs):
        return SkippingEncoding(base, bounds=(*bounds, (0.0, 1.0)),
                                steps=tuple((*st, 1.0) for st in steps),
                                order=(6, *order), net=net, space=space)
    return DemandActuatedEncoding(base, bounds=bounds, steps=steps, order=order, net=net)


#: Highest jam threshold the actuated tuning tries (0 switches it off). [s]
JAM_MAX_S = 30.0
#: Longest maximum green a stage may get. [s]
MAX_GREEN_CAP_S = 120.0


@dataclass(frozen=True)
class DemandActuatedEncoding(ActuatedEncoding):
    """Actuated control whose maximum greens follow each stage's share of the demand.

    The vector is ``[min green [s], max green [s], max gap [s], shape, jam threshold [s]]``:

    - every stage's ``minDur`` is the larger of the min green and its own minimum green (a
      stage where a crossing's walk starts needs 7 s; the others need not wait that long);
    - stage *i* of the base plan (Webster-timed on the measured lane flows, green ``g_i``)
      gets ``maxDur = max green × (g_i / ḡ) ** shape``, ``ḡ`` the mean green of all stages of
      the plan, within [``minDur``, :data:`MAX_GREEN_CAP_S`]: shape 0 is one max green for
      every stage (SUMO's practice), shape 1 a max green proportional to the stage's Webster
      green (the practice of signal engineers: max green ≈ k × the green the demand needs), so
      a stage of light demand cannot hold its light long when its detector keeps calling;
    - SUMO's ``max-gap`` and ``jam-threshold`` (0: off, SUMO's default): a detector occupied
      longer than this stops extending the green; a queue that cannot leave (its exit is
      blocked) no longer holds a green that serves nobody;
    - with a sixth coordinate ``queue >= 0.5`` (and :attr:`net`): queue switching
      (:func:`with_queue_switching`) in place of SUMO's gap control: after its minimum a
      green ends as soon as more vehicles wait for the other stages than approach its own;
    - with a seventh coordinate ``choice >= 0.5`` (and :attr:`net`): the next stage is the
      one with the most demand, not the sequence's next (:func:`with_queue_choice`); a green
      ends on queues with ``queue >= 0.5``, else when its own lanes gap out.
    """

    bounds: tuple[tuple[float, float], ...] = ((5.0, 15.0), (20.0, 90.0), (1.0, 6.0),
                                               (0.0, 1.0), (0.0, JAM_MAX_S))
    steps: tuple[tuple[float, ...], ...] = ((2.0, 15.0, 1.0, 0.5, 10.0),
                                            (1.0, 5.0, 0.5, 0.25, 5.0))
    order: tuple[int, ...] = (3, 2, 4, 1, 0)
    net: Network | None = None

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """Actuated programs with the vector's parameters, clamped to :attr:`bounds`.

        Durations are rounded to whole seconds, the max gap to 0.1 s, the shape to 0.05 and
        the jam threshold to whole seconds.
        """
        v = [min(max(float(x[i]), self.bounds[i][0]), self.bounds[i][1]) for i in range(5)]
        min_green, max_green, gap = float(round(v[0])), float(round(v[1])), round(v[2], 1)
        shape, jam = round(v[3] * 20) / 20, float(round(v[4]))
        greens = [g for p in self.base.programs for g in p.greens_s]
        mean = sum(greens) / len(greens)
        params = {"max-gap": f"{gap:g}"}
        if jam > 0:
            params["jam-threshold"] = f"{jam:g}"
        progs = []
        for p in self.base.programs:
            mins = [max(min_green, m) for m in p.min_greens_s]
            maxs = [min(max(float(round(max_green * (g / mean) ** shape)), lo), MAX_GREEN_CAP_S)
                    for g, lo in zip(p.greens_s, mins, strict=True)]
            prog = stage_actuated(p, mins, maxs, params)
            if self.net is not None and self.choice(x):
                # greens end on queues (queue coordinate) or on gaps, SUMO's rule
                prog = with_queue_choice(self.net, prog, end="queue" if x[5] >= 0.5 else "gap")
            elif len(self.bounds) > 5 and len(x) > 5 and x[5] >= 0.5 and self.net is not None:
                prog = with_queue_switching(self.net, prog)
            progs.append(prog)
        return SignalPlan(tuple(progs))

    def choice(self, x: Sequence[float] | np.ndarray) -> bool:
        """Whether ``x`` asks for the queue-chosen next stage (:func:`with_queue_choice`)."""
        return len(self.bounds) > 6 and len(x) > 6 and x[6] >= 0.5

    def default(self) -> np.ndarray:
        """SUMO's defaults (minDur 5 s, maxDur 50 s, max-gap 3 s), shape 0, nothing else."""
        return np.array([5.0, 50.0, 3.0, 0.0, 0.0, *([0.0] * (len(self.bounds) - 5))])


def stage_actuated(program: Program, min_greens_s: Sequence[float],
                   max_greens_s: Sequence[float], params: Mapping[str, str]) -> Program:
    """``program`` as SUMO actuated control with a minimum and maximum green per stage [s].

    Each green phase starts at its current duration clamped to its bounds; transitions stay
    fixed; ``params`` become the tlLogic's ``<param>`` elements.
    """
    phases = [replace(ph, min_dur_s=None, max_dur_s=None) for ph in program.phases]
    for st, lo, hi in zip(program.stages, min_greens_s, max_greens_s, strict=True):
        ph = phases[st.green]
        phases[st.green] = replace(ph, min_dur_s=lo, max_dur_s=hi,
                                   duration_s=min(max(ph.duration_s, lo), hi))
    return replace(program, phases=tuple(phases), kind="actuated", program_id="actuated_tuned",
                   params=tuple(sorted(params.items())))


#: Queue switching: lane-area detectors reach this far upstream of the stop line (less on a
#: shorter lane). [m]
QUEUE_DETECTOR_M = 60.0


def with_queue_switching(net: Network, program: Program) -> Program:
    """An actuated ``program`` whose greens end when the other stages' queues are longer.

    Max-pressure serves a side street as soon as its queue outweighs the main street's; SUMO's
    gap control instead holds a green while its own vehicles keep coming (up to ``maxDur``).
    Here, after its ``minDur``, a green ends as soon as the vehicles on the lanes that only
    other stages serve outnumber those on its own lanes (lane-area detectors up to
    :data:`QUEUE_DETECTOR_M` upstream of the stop line), and at ``maxDur`` at the latest; with
    nobody waiting elsewhere it rests.  SUMO's switching rules: the condition is the
    ``earlyTarget`` of the first transition phase after each green (``a:DET``: vehicles on a
    lane-area detector).  The stages keep their order and their transitions, so the program is
    as safe as ``program``.  A stage whose transitions are empty, or which no other stage's
    lane waits for, keeps SUMO's gap control.
    """
    stages = program.stages
    served = stage_lanes(program, _detected_links(net, program))

    def vehicles(lanes: Sequence[str]) -> str:  # (SUMO's switching-rule expression)
        return " + ".join(f"a:{_queue_detector(program, lane)}" for lane in lanes) or "0"

    used: set[str] = set()
    phases = list(program.phases)
    for k, st in enumerate(stages):
        others = set().union(*(served[j] for j in range(len(stages)) if j != k)) - served[k]
        if not st.transitions or not others:
            continue
        own = sorted(served[k])
        used |= others | served[k]
        cond = f"({vehicles(sorted(others))}) > ({vehicles(own)})"
        t = st.transitions[0]
        phases[t] = replace(phases[t], early_target=cond)
    return replace(program, phases=tuple(phases), detectors=tuple(dict.fromkeys(
        program.detectors + _queue_detectors(net, program, used))))


def _queue_detector(program: Program, lane: str) -> str:
    return f"{program.tls_id}_q_{lane}"


def _queue_detectors(net: Network, program: Program,
                     lanes: set[str]) -> tuple[tuple[str, str, float], ...]:
    """Queue detectors ``(id, lane, length [m])`` on ``lanes``.

    They reach :data:`QUEUE_DETECTOR_M` upstream of the stop line, less on a shorter lane.
    """
    return tuple((_queue_detector(program, lane), lane,
                  round(min(QUEUE_DETECTOR_M, net.lane(lane).length_m - 0.5), 1))
                 for lane in sorted(lanes))


#: Queue choice: a stage whose lanes hold a vehicle and whose links have been red this long is
#: served next, whatever the other queues (every stage is served at least once per this bound
#: plus a minimum green and an intergreen while anyone waits for it). [s]
MAX_WAIT_S = 120.0


def with_queue_choice(net: Network, program: Program, max_wait_s: float = MAX_WAIT_S,
                      end: str = "queue") -> Program:
    """An actuated ``program`` whose greens go to the stage with the most demand.

    :func:`with_queue_switching` ends a green early when the other stages' queues outnumber its
    own, but then runs the *next stage of the sequence*, even when another stage holds the
    queue.  Here every green may be followed by any other stage, each through its own
    transition (:func:`trafficsim.phasing.with_skipping` builds one per pair of stages, with ITE
    yellow and all-red), and SUMO's switching rules choose (``decideNextPhaseCustom``: at every
    second after ``minDur`` the first candidate in ``next`` whose ``earlyTarget`` holds is
    taken; at ``maxDur`` the first whose ``finalTarget`` holds, else the last):

    - *starved*: a stage with a vehicle on one of its lanes whose link has been red for more
      than ``max_wait_s`` (SUMO's ``r:LINK``) is taken first;
    - *demand*: after its minimum, a green ends (``end="queue"``) when more lanes hold
      vehicles for the other stages than for its own (the rule of
      :func:`with_queue_switching`), or (``end="gap"``) when its own lanes are empty over the
      distance a vehicle drives in the program's ``max-gap`` (SUMO's gap-out, on lane-area
      detectors of that length, at least 5 m), and goes to the stage with the most occupied
      lanes that the current green does not serve; ties go to the earlier stage of the
      sequence;
    - at ``maxDur`` the green goes to the stage with the most occupied lanes (the next in the
      sequence when nobody waits).

    Occupied lanes are counted by lane-area detectors up to :data:`QUEUE_DETECTOR_M` upstream of
    the stop line (``a:DET`` is 1 when the detector holds a vehicle).  Programs of fewer than
    three stages, or of a light the phasing module cannot lay out, get
    :func:`with_queue_switching` (with two stages the next stage is the only choice).
    """
    try:
        lay = phasing.layout(net, program.tls_id)
    except (KeyError, ValueError):
        return with_queue_switching(net, program)
    if len(program.stages) < 3 or any(len(p.state) < lay.n_links for p in program.phases):
        return with_queue_switching(net, program)
    # (only now: building every pair's transition is wasted on a program that falls back)
    multi = phasing.with_skipping(lay, _walk_anywhere(lay, program))
    links = _detected_links(net, program)
    stages = multi.stages
    n = len(stages)
    served = stage_lanes(multi, links)
    greens = [st.green for st in stages]
    stage_of_green = {g: k for k, g in enumerate(greens)}
    phases = list(multi.phases)

    def det(lane: str) -> str:
        return f"a:{_queue_detector(program, lane)}"

    # SUMO re-reads a condition's text at every evaluation, bracket by bracket, and the
    # conditions of every candidate are evaluated every second of a green: the parts that
    # many conditions share are computed once per decision instead, into variables
    variables: dict[str, str] = {}  # expression -> variable

    def named(expr: str) -> str:
        if " " not in expr:  # (a number or a single reading is as cheap to read again)
            return expr
        return variables.setdefault(expr, f"{CHOICE_VAR}{len(variables)}")

    def count(lanes: set[str]) -> str:
        return named(" + ".join(det(lane) for lane in sorted(lanes)) or "0")

    gap_s = float(dict(program.params).get("max-gap", "3"))

    def gap_length(lane: str) -> float:
        ln = net.lane(lane)
        return round(min(max(gap_s * ln.speed_m_s, 5.0), QUEUE_DETECTOR_M, ln.length_m - 0.5), 1)

    def gapped_out(lanes: set[str]) -> str:  # (no own vehicle within max-gap of the stop line)
        terms = " + ".join(f"a:{_gap_detector(program, lane)}" for lane in sorted(lanes))
        return named(f"({terms or '0'}) == 0")

    def starved(a: int, b: int) -> str:
        state_a, state_b = phases[greens[a]].state, phases[greens[b]].state
        # one link per lane: the lane's links that b serves and a does not turn red together
        first: dict[str, int] = {}
        for lk in links:
            if state_b[lk.index] in "Gg" and state_a[lk.index] not in "Gg":
                first.setdefault(lk.lane_id, lk.index)
        terms = [f"((r:{i} > {max_wait_s:g}) and {det(lane)})" for lane, i in sorted(first.items())]
        return named(_any(terms))

    used: set[str] = set().union(*served)
    claimed: set[int] = set()  # green phases that already carry one source's conditions
    for a in range(n):
        order = [(a + step) % n for step in range(1, n)]
        entry: dict[int, int] = {}
        for i in phases[greens[a]].next:
            b = stage_of_green.get(_target(phases, i))
            if b is not None:
                entry[b] = i
        gain = {b: served[b] - served[a] for b in order}
        others = set().union(*(served[b] for b in order)) - served[a]
        hungry = {b: starved(a, b) for b in order}
        nxt: list[int] = []
        shared: list[int] = []
        for b in order:
            i = entry[b]
            if i in stage_of_green:  # no transition: the target green carries the conditions
                if i in claimed:
                    shared.append(i)  # (another stage's conditions are on it)
                    continue
                claimed.add(i)
            best = _all([f"({count(gain[b])} >= {count(gain[c])})" for c in order if c != b])
            none_starved = f"(({_any([hungry[c] for c in order if c != b])}) == 0)"
            ends = (named(f"{count(others)} > {count(served[a])}") if end == "queue"
                    else gapped_out(served[a]))
            queue = _all([none_starved, ends, f"({count(gain[b])} > 0)", best])
            final = _all([none_starved, f"({count(gain[b])} > 0)", best])
            phases[i] = replace(phases[i], early_target=_any([hungry[b], queue]),
                                final_target=_any([hungry[b], final]))
            nxt.append(i)
        # when no condition holds at maxDur SUMO takes the last candidate: the green itself
        # (it rests while nobody waits elsewhere), or a stage whose green carries another
        # stage's conditions, reached then whatever they say (so no stage is unreachable)
        nxt += shared or [greens[a]]
        phases[greens[a]] = replace(phases[greens[a]], next=tuple(nxt))
    detectors = _queue_detectors(net, program, used)
    if end == "gap":
        detectors += tuple((_gap_detector(program, lane), lane, gap_length(lane))
                           for lane in sorted(used))
    return replace(multi, phases=tuple(phases),
                   detectors=tuple(dict.fromkeys(multi.detectors + detectors)),
                   assignments=multi.assignments + tuple((v, "1", expr)
                                                         for expr, v in variables.items()))


#: Prefix of the variables of :func:`with_queue_choice`'s switching rules.
CHOICE_VAR = "qc"


def _gap_detector(program: Program, lane: str) -> str:
    return f"{program.tls_id}_g_{lane}"


def _walk_anywhere(lay: phasing.JunctionLayout, program: Program) -> Program:
    """``program`` whose greens last the pedestrian walk wherever a crossing is green in them.

    In a fixed sequence a crossing green in two stages starts in the first, so the second may
    be shorter than the walk; when any stage may follow any other, the walk may start in
    either.
    """
    crossings = lay.crossing_links
    phases = list(program.phases)
    for st in program.stages:
        g = phases[st.green]
        if any(g.state[c] in "Gg" for c in crossings if c < len(g.state)):
            walk = phasing.WALK_S
            phases[st.green] = replace(
                g, duration_s=max(g.duration_s, walk),
                min_dur_s=None if g.min_dur_s is None else max(g.min_dur_s, walk),
                max_dur_s=None if g.max_dur_s is None else max(g.max_dur_s, walk))
    return replace(program, phases=tuple(phases))


def _detected_links(net: Network, program: Program) -> list[Link]:
    """``program``'s links from lanes that can hold a queue detector.

    (A crossing's walking area has no detector; nor has a lane too short to hold one.)
    """
    return [Link(c.link_index, c.from_edge, c.from_lane, c.to_edge, c.direction)
            for c in net.tl_links(program.tls_id) if not c.from_edge.startswith(":")
            and net.lane(f"{c.from_edge}_{c.from_lane}").length_m > 2.0]


def _target(phases: Sequence[Phase], i: int) -> int:
    """The green phase that phase ``i`` leads to (SUMO's ``getTarget``)."""
    seen = set()
    while not phases[i].is_green and i not in seen:
        seen.add(i)
        i = phases[i].next[0] if phases[i].next else (i + 1) % len(phases)
    return i


def _any(terms: Sequence[str]) -> str:
    """SUMO condition: one of ``terms`` holds ("0" for none).

    Nested in pairs: SUMO evaluates brackets first, and an expression of three tokens directly.
    """
    return _nest(terms, "or", "0")


def _all(terms: Sequence[str]) -> str:
    """SUMO condition: every one of ``terms`` holds ("1" for none)."""
    return _nest(terms, "and", "1")


def _nest(terms: Sequence[str], op: str, empty: str) -> str:
    if not terms:
        return empty
    out = terms[0]
    for t in terms[1:]:
        out = f"({out} {op} {t})"
    return out


@dataclass(frozen=True)
class SkippingEncoding(DemandActuatedEncoding):
    """Demand-shaped actuated control, and whether designed stages without demand are skipped.

    The vector is :class:`DemandActuatedEncoding`'s and ``skip``; with ``skip >= 0.5`` every
    light of three or more designed stages gets :func:`trafficsim.phasing.with_skipping`
    (lights that keep the network's phases keep its fixed sequence).  The search starts without
    skipping and tries it first.
    """

    space: DesignSpace | None = None

    def decode(self, x: Sequence[float] | np.ndarray) -> SignalPlan:
        """As :meth:`DemandActuatedEncoding.decode`, then skipping (last coordinate >= 0.5).

        A light that skips switches by gaps, not by queues.
        """
        k = len(self.bounds) - 1
        skip = x[k] >= 0.5 and self.space is not None
        plan = super().decode(x)
        if not skip or self.space is None:
            return plan
        sp = self.space
        unqueued = super().decode([*x[:5], *([0.0] * (k - 5)), x[k]]) if k > 5 else plan
        return SignalPlan(tuple(
            phasing.with_skipping(phasing.layout(sp.net, p.tls_id), unqueued[p.tls_id])
            if not network_phases(p, sp.start[p.tls_id]) and len(p.stages) >= 3 else p
            for p in plan.programs))

    def default(self) -> np.ndarray:
        """As :meth:`DemandActuatedEncoding.default`, no skipping."""
        return np.array([*super().default()[:len(self.bounds) - 1], 0.0])


def _actuated_base(search: Search, space: DesignSpace, designed: SignalPlan) -> SignalPlan:
    """The phases the actuated tuning starts from: the designed, the network's or SUMO's.

    Each runs as SUMO actuated control with SUMO's defaults; the best one is tuned.  (SUMO's
    rebuilt actuated programs are a strong reference: on an imported city network they beat
    tuned actuated control on the network's own phases.)
    """
    bases = [designed]
    sumo = {t: "sumo" for t, kinds in space.options.items() if "sumo" in kinds}
    for other in (space.plan({}), space.plan(sumo)):  # the network's phases, SUMO's
        if not any(same_phases(other, b) for b in bases):
            bases.append(other)
    items: list[Item] = []
    for b in bases:
        enc = _actuated_encoding(b)
        x0 = enc.default()
        plan = enc.decode(x0)
        items.append((search.key(plan), plan, "actuated", [float(v) for v in x0]))
    values = search.run_batch(items)
    return bases[min(range(len(bases)), key=lambda i: (values[i], i))]


def running_choice(space: DesignSpace, plan: SignalPlan,
                   chosen: Mapping[str, str]) -> dict[str, str]:
    """The phasing each light of ``plan`` runs: the option whose stages its greens are.

    The actuated tuning may start from the network's or SUMO's phases rather than the phasing
    step's ``chosen`` ones, and queue choice adds transitions but keeps the stages, so a
    light's phasing is read from its green states (in cyclic order, as coordinated control
    rotates them: :func:`network_phases`).  A light whose stages match no option keeps its
    entry of ``chosen`` (:data:`NETWORK` if none).
    """
    out: dict[str, str] = {}
    for p in plan.programs:
        kinds = space.options.get(p.tls_id, ())
        out[p.tls_id] = next((k for k in kinds if network_phases(p, space.program(p.tls_id, k))),
                             chosen.get(p.tls_id, NETWORK))
    return out


def with_ite_transitions(net: Network, program: Program) -> Program:
    """``program``'s stages (its green phases, in order) with ITE intergreens.

    SUMO's rebuilt programs choose good stages but their 3 s yellows and missing all-reds fall
    short of ITE's change and clearance intervals (:mod:`trafficsim.safety`); the transitions
    are rebuilt as :func:`trafficsim.phasing.build_program` builds them
    (:func:`trafficsim.phasing.with_ite_intergreens`).

    Raises
    ------
    KeyError, ValueError
        When the phasing module cannot lay out the light.
    """
    return phasing.with_ite_intergreens(phasing.layout(net, program.tls_id), program)


def fixed_time(program: Program) -> Program:
    """An actuated program's phases as a fixed-time program (SUMO's ``static``)."""
    phases = tuple(replace(ph, min_dur_s=None, max_dur_s=None, earliest_end_s=None,
                           latest_end_s=None, next=(), final_target="", early_target="")
                   for ph in program.phases)
    return replace(program, phases=phases, kind="static", params=(), detectors=(),
                   assignments=())


def best_fixed(search: Search, designed: SignalPlan) -> SignalPlan:
    """The best fixed-time plan evaluated on the designed phases."""
    exact = [e for e in search.journal.entries.values()
             if not e.cut and e.key in search.plans and e.role in DESIGN_FIXED_ROLES
             and search.layout_of.get(e.key, "") == search.layout
             and same_phases(search.plans[e.key], designed)]
    if not exact:
        return designed
    best = min(exact, key=lambda e: (e.objective, e.n))
    return search.plans[best.key]

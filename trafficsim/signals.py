"""Signal plans: SUMO ``<tlLogic>`` programs as typed data, Webster timings, additional-file I/O.

A :class:`Program` is one traffic light's program (SUMO state strings and durations).  Its *stages*
are its green phases, each followed by the transition phases (yellow, all-red) up to the next green
phase; tuning a program changes the green durations and the offset and keeps the phase structure,
the yellow and the all-red times of the network.  A :class:`SignalPlan` holds the programs of
several traffic lights; :class:`DayPlan` switches between plans by time of day with SUMO's
``<WAUT>``.

Traffic-light ids are tlLogic ids, which need not equal junction ids (one tlLogic may control
several joined junctions); links come from the network's ``<connection tl=… linkIndex=…>``.

Pure module: it reads and writes files but never starts SUMO.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from trafficsim.netmodel import NetworkError, TlProgram, read_network

#: Program id of plans written by trafficsim (a new programID becomes the active program).
PROGRAM_ID = "trafficsim"
#: SUMO's actuated defaults as ``netconvert --tls.default-type actuated`` writes them. [s]
SUMO_MIN_DUR_S = 5.0
SUMO_MAX_DUR_S = 50.0
DEFAULT_MIN_GREEN_S = 5.0
DEFAULT_SATURATION_FLOW_VEH_H = 1800.0


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    """One phase of a SUMO program.

    Attributes
    ----------
    state
        SUMO signal state string, one character per link (``G``, ``g``, ``y``, ``r``, …).
    duration_s
        Duration (the initial duration for actuated programs). [s]
    min_dur_s, max_dur_s
        Minimum and maximum duration of actuated phases (None for fixed phases). [s]
    earliest_end_s, latest_end_s
        Coordinated actuated control: time in the cycle before which the phase may not end, and
        at which it must end (SUMO's ``earliestEnd``/``latestEnd``). [s]
    next, final_target
        Phase skipping: candidate next phases, and the condition under which this transition
        phase is a valid target (SUMO's ``next`` and ``finalTarget``).
    early_target
        The condition under which the green before this phase ends early, after its minimum
        and before its maximum duration (SUMO's ``earlyTarget``: the green then ends only on
        it or at ``maxDur``, not on gaps).
    """

    state: str
    duration_s: float
    min_dur_s: float | None = None
    max_dur_s: float | None = None
    name: str = ""
    earliest_end_s: float | None = None
    latest_end_s: float | None = None
    next: tuple[int, ...] = ()
    final_target: str = ""
    early_target: str = ""

    @property
    def is_green(self) -> bool:
        """A phase that gives green to some link and shows no yellow: its length is tunable."""
        return "y" not in self.state and "u" not in self.state and any(
            c in "Gg" for c in self.state)


@dataclass(frozen=True)
class Stage:
    """A green phase and the transition phases (yellow, all-red) that follow it.

    Attributes
    ----------
    green
        Index of the green phase in the program.
    transitions
        Indices of the transition phases after it.
    intergreen_s
        Total duration of the transitions. [s]
    """

    green: int
    transitions: tuple[int, ...]
    intergreen_s: float


@dataclass(frozen=True)
class Program:
    """One traffic light's program.

    Attributes
    ----------
    tls_id
        The tlLogic id.
    phases
        The phases in order.
    offset_s
        Time at which phase 0 starts (mod the cycle), as SUMO's ``offset``. [s]
    program_id
        SUMO programID.
    kind
        SUMO type: ``static``, ``actuated`` or ``delay_based``.
    params
        ``<param>`` key/value pairs (actuated parameters such as ``max-gap``).
    min_greens_s
        Minimum green of each stage (same order as :attr:`stages`). [s]
    detectors
        Lane-area detectors ``(id, lane, length [m])`` that the program's conditions read
        (written next to the ``<tlLogic>``).
    assignments
        Variables ``(id, check, value)`` that SUMO sets, in this order, at the start of every
        switching decision (``<assignment>``: ``id`` takes the value of the expression
        ``value`` when ``check`` holds); conditions read them by ``id``.
    """

    tls_id: str
    phases: tuple[Phase, ...]
    offset_s: float = 0.0
    program_id: str = "0"
    kind: str = "static"
    params: tuple[tuple[str, str], ...] = ()
    min_greens_s: tuple[float, ...] = ()
    detectors: tuple[tuple[str, str, float], ...] = ()
    assignments: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.min_greens_s:
            mins = tuple(min(DEFAULT_MIN_GREEN_S, self.phases[s.green].duration_s)
                         for s in self.stages)
            object.__setattr__(self, "min_greens_s", mins)

    @property
    def cycle_s(self) -> float:
        """Cycle length: the sum of the phase durations [s]."""
        return sum(p.duration_s for p in self.phases)

    @property
    def main_stage(self) -> int:
        """Index of the stage with the longest green (the first of equals).

        It is the main road's stage, the one coordinated control keeps on the green wave.
        """
        greens = self.greens_s
        return max(range(len(greens)), key=lambda k: (greens[k], -k))

    def phase_starts_s(self) -> tuple[float, ...]:
        """Start of each phase within the cycle, counted from the start of phase 0 [s]."""
        starts, t = [], 0.0
        for p in self.phases:
            starts.append(t)
            t += p.duration_s
        return tuple(starts)

    def phase_at(self, t_s: float) -> int:
        """Index of the phase a static program shows at simulation time ``t_s`` [s].

        Phase 0 starts whenever ``(t − offset) mod cycle = 0`` (SUMO's rule).
        """
        pos = (t_s - self.offset_s) % self.cycle_s
        for i, start in reversed(list(enumerate(self.phase_starts_s()))):
            if pos >= start - 1e-9:
                return i
        return 0

    @property
    def stages(self) -> tuple[Stage, ...]:
        """Green phases with the transitions that follow them (cyclically)."""
        greens = [i for i, p in enumerate(self.phases) if p.is_green]
        n = len(self.phases)
        out = []
        for k, g in enumerate(greens):
            nxt = greens[(k + 1) % len(greens)]
            trans = []
            i = (g + 1) % n
            while i != nxt and i != g:
                trans.append(i)
                i = (i + 1) % n
            out.append(Stage(g, tuple(trans), sum(self.phases[t].duration_s for t in trans)))
        return tuple(out)

    @property
    def greens_s(self) -> tuple[float, ...]:
        """Green duration of each stage [s]."""
        return tuple(self.phases[s.green].duration_s for s in self.stages)

    @property
    def intergreens_s(self) -> tuple[float, ...]:
        """Intergreen (yellow + all-red) after each stage [s]."""
        return tuple(s.intergreen_s for s in self.stages)

    def with_greens(self, greens_s: Sequence[float], offset_s: float | None = None,
                    program_id: str | None = None) -> Program:
        """Return the program with new stage greens [s] (and offset [s], program id).

        Transitions are kept; ``None`` keeps the current offset or program id.

        Raises
        ------
        ValueError
            When the number of greens differs from the number of stages.
        """
        stages = self.stages
        if len(greens_s) != len(stages):
            msg = f"{self.tls_id}: {len(greens_s)} greens for {len(stages)} stages"
            raise ValueError(msg)
        phases = list(self.phases)
        for st, g in zip(stages, greens_s, strict=True):
            phases[st.green] = replace(phases[st.green], duration_s=float(g))
        return replace(self, phases=tuple(phases),
                       offset_s=self.offset_s if offset_s is None else float(offset_s),
                       program_id=self.program_id if program_id is None else program_id)

    def actuated(self, *, min_green_s: float = SUMO_MIN_DUR_S, max_green_s: float = SUMO_MAX_DUR_S,
                 params: Mapping[str, str] | None = None,
                 program_id: str = "actuated") -> Program:
        """Return SUMO ``actuated`` control with this program's phases.

        This is what ``netconvert --tls.default-type actuated`` builds: green phases get
        minDur ``min_green_s`` / maxDur ``max_green_s`` [s] (their duration clamped between
        them), other phases stay fixed; ``params`` become the tlLogic's ``<param>`` elements.
        """
        phases = tuple(
            replace(p, min_dur_s=min(min_green_s, max_green_s), max_dur_s=max_green_s,
                    duration_s=min(max(p.duration_s, min_green_s), max_green_s))
            if p.is_green else replace(p, min_dur_s=None, max_dur_s=None)
            for p in self.phases)
        return replace(self, phases=phases, kind="actuated", program_id=program_id,
                       params=tuple(sorted((params or {}).items())))

    def coordinated_actuated(self, *, extension_s: float = 3.0, max_gap_s: float = 4.0,
                             min_green_s: float = SUMO_MIN_DUR_S,
                             skip_detectors: Sequence[tuple[str, float]] = (),
                             program_id: str = "coordinated") -> Program:
        """Coordinated actuated control built on this fixed-time program.

        The stage with the longest green is the coordinated (main-road) stage: it always ends at
        its fixed-time end (the force-off point), so the green wave of the fixed plan is kept.
        The other stages are actuated: they end when their queue is served (gap-out, SUMO's
        ``max-gap``), after at least ``min_green_s``, and at the latest ``extension_s`` after
        their fixed-time end; time they leave unused returns to the main stage early.

        In SUMO terms (``coordinated = true``, time in cycle = (t − offset) mod ``cycleTime``):
        the phases are rotated so that the cycle starts at the force-off point (offset moved by
        the same amount), the main green gets ``earliestEnd = latestEnd = cycle`` (so it ends
        exactly at the force-off, however early it started) and the others ``latestEnd`` =
        their fixed-time end + extension.  Putting the force-off elsewhere breaks SUMO's
        bookkeeping: a main green that starts after its own latestEnd point ends at once.

        ``skip_detectors`` (lane, length [m]) of the side approaches let a two-stage program skip
        the side stage when no vehicle waits there: the main green then continues to the next
        force-off (``next``/``finalTarget`` with lane-area detectors).

        Parameters
        ----------
        extension_s
            How long a side stage may run past its fixed-time end (capped so that the main
            stage keeps its minimum green). [s]
        max_gap_s
            SUMO ``max-gap``: the time gap that ends an actuated stage. [s]
        min_green_s
            Minimum green of the actuated stages. [s]
        """
        stages = self.stages
        greens = self.greens_s
        k_main = self.main_stage
        g_main = stages[k_main].green
        n = len(self.phases)
        cycle = self.cycle_s
        slack = max(greens[k_main] - self.min_greens_s[k_main], 0.0)
        ext = min(max(extension_s, 0.0), slack)
        skip = bool(skip_detectors) and len(stages) == 2
        order = [(g_main + 1 + i) % n for i in range(n)]  # main's transitions first, main last
        phases = []
        t = 0.0
        for idx in order:
            ph = self.phases[idx]
            t += ph.duration_s
            if idx == g_main:
                phases.append(replace(
                    ph, min_dur_s=min(self.min_greens_s[k_main], ph.duration_s),
                    max_dur_s=1e5 if skip else cycle, earliest_end_s=cycle, latest_end_s=cycle,
                    next=(0, n - 1) if skip else ()))
            elif ph.is_green:
                phases.append(replace(ph, min_dur_s=min(min_green_s, ph.duration_s),
                                      max_dur_s=ph.duration_s + ext, latest_end_s=t + ext))
            else:
                phases.append(replace(ph, min_dur_s=None, max_dur_s=None))
        detectors: tuple[tuple[str, str, float], ...] = ()
        if skip:
            detectors = tuple((f"{self.tls_id}_skip_{lane}", lane, length)
                              for lane, length in skip_detectors)
            phases[0] = replace(phases[0], final_target=" or ".join(f"a:{d}"
                                                                   for d, _, _ in detectors))
        offset = (self.offset_s + sum(p.duration_s for p in self.phases[:g_main + 1])) % cycle
        params = {"coordinated": "true", "cycleTime": _num(cycle), "max-gap": _num(max_gap_s)}
        return replace(self, phases=tuple(phases), offset_s=float(offset), kind="actuated",
                       program_id=program_id, params=tuple(sorted(params.items())),
                       min_greens_s=(), detectors=detectors)

    def to_xml(self, indent: str = "  ", *, read_detectors_once: bool = True) -> str:
        """The ``<tlLogic>`` element.

        Each of the program's own detectors that a condition reads (``a:DET``) is read once
        per decision into a variable (SUMO's ``<assignment>``, evaluated first at every
        switching decision) and the conditions read the variable: SUMO resolves ``a:DET`` of a
        lane-area detector through a failed induction-loop lookup and a C++ exception, each
        time it appears.  The values, hence the simulation, are the same
        (``benchmarks/switching_rules.py`` measures the saving; ``read_detectors_once=False``
        writes the reads in place).
        """
        lines = [f"{indent}<tlLogic id={quoteattr(self.tls_id)} type={quoteattr(self.kind)} "
                 f"programID={quoteattr(self.program_id)} offset=\"{_num(self.offset_s)}\">"]
        lines += [f"{indent}  <param key={quoteattr(k)} value={quoteattr(v)}/>"
                  for k, v in self.params]
        own = {d for d, _, _ in self.detectors}
        read: dict[str, None] = {}

        def once(cond: str) -> str:
            def var(m: re.Match[str]) -> str:
                if not read_detectors_once or m.group(1) not in own:
                    return m.group(0)
                read[m.group(1)] = None
                return DETECTOR_VAR + m.group(1)
            return _DETECTOR_READ.sub(var, cond)

        for p in self.phases:
            optional = (("minDur", p.min_dur_s), ("maxDur", p.max_dur_s), ("name", p.name),
                        ("earliestEnd", p.earliest_end_s), ("latestEnd", p.latest_end_s),
                        ("next", " ".join(map(str, p.next))),
                        ("finalTarget", once(p.final_target)),
                        ("earlyTarget", once(p.early_target)))
            extra = "".join(f" {k}={quoteattr(v if isinstance(v, str) else _num(v))}"
                            for k, v in optional if v is not None and v != "")
            lines.append(f'{indent}  <phase duration="{_num(p.duration_s)}" '
                         f'state="{p.state}"{extra}/>')
        own_vars = [(v, once(check), once(value)) for v, check, value in self.assignments]
        # (the detector reads first: SUMO runs the assignments in order)
        lines += [f'{indent}  <assignment id={quoteattr(DETECTOR_VAR + d)} check="1" '
                  f'value={quoteattr("a:" + d)}/>' for d in read]
        lines += [f"{indent}  <assignment id={quoteattr(v)} check={quoteattr(check)} "
                  f"value={quoteattr(value)}/>" for v, check, value in own_vars]
        lines.append(f"{indent}</tlLogic>")
        # SUMO insists on an output file; /dev/null is understood on every platform
        lines += [f'{indent}<laneAreaDetector id={quoteattr(d)} lane={quoteattr(lane)} '
                  f'endPos="-0.1" length="{_num(length)}" period="3600" file="/dev/null"/>'
                  for d, lane, length in self.detectors]
        return "\n".join(lines)

    def inlined(self) -> Program:
        """The program with its variables written out in its conditions, and none assigned.

        SUMO decides the same with either form (each variable is assigned at the start of every
        switching decision, before any condition is read); the written-out form costs SUMO
        more, as it re-reads the shared parts in every condition.
        """
        exprs = {v: e for v, c, e in self.assignments if c == "1"}
        if not exprs or len(exprs) < len(self.assignments):
            return self  # (a conditional assignment has no written-out form)
        name = re.compile(r"(?<![\w:.-])(" + "|".join(map(re.escape, exprs)) + r")(?![\w:.-])")

        def expand(cond: str) -> str:
            while (out := name.sub(lambda m: f"({exprs[m.group(1)]})", cond)) != cond:
                cond = out
            return cond

        phases = tuple(replace(ph, early_target=expand(ph.early_target),
                               final_target=expand(ph.final_target)) for ph in self.phases)
        return replace(self, phases=phases, assignments=())

    def to_dict(self) -> dict[str, object]:
        """JSON form: ids, cycle, offset, stage greens and intergreens, the phases."""
        return {"tls": self.tls_id, "program_id": self.program_id, "type": self.kind,
                "cycle_s": self.cycle_s, "offset_s": self.offset_s,
                "greens_s": list(self.greens_s), "intergreens_s": list(self.intergreens_s),
                "min_greens_s": list(self.min_greens_s),
                "phases": [{"state": p.state, "duration_s": p.duration_s,
                            **({"min_dur_s": p.min_dur_s} if p.min_dur_s is not None else {}),
                            **({"max_dur_s": p.max_dur_s} if p.max_dur_s is not None else {}),
                            **({"earliest_end_s": p.earliest_end_s}
                               if p.earliest_end_s is not None else {}),
                            **({"latest_end_s": p.latest_end_s}
                               if p.latest_end_s is not None else {}),
                            **({"next": list(p.next)} if p.next else {}),
                            **({"final_target": p.final_target} if p.final_target else {}),
                            **({"early_target": p.early_target} if p.early_target else {})}
                           for p in self.phases],
                **({"assignments": [{"id": v, "check": c, "value": e}
                                    for v, c, e in self.assignments]}
                   if self.assignments else {})}


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


#: Prefix of the variable that holds a detector's reading in written programs
#: (:meth:`Program.to_xml`).
DETECTOR_VAR = "on_"
_DETECTOR_READ = re.compile(r"\ba:([^\s()]+)")
_VAR_READ = re.compile(re.escape(DETECTOR_VAR) + r"[^\s()]+")


@dataclass(frozen=True)
class SignalPlan:
    """Programs of several traffic lights, keyed by tlLogic id (in network order)."""

    programs: tuple[Program, ...]

    def __getitem__(self, tls_id: str) -> Program:
        for p in self.programs:
            if p.tls_id == tls_id:
                return p
        raise KeyError(tls_id)

    @property
    def tls_ids(self) -> tuple[str, ...]:
        """Ids of the programs' tlLogics, in plan order."""
        return tuple(p.tls_id for p in self.programs)

    def with_program_id(self, program_id: str) -> SignalPlan:
        """Return the plan with every program's programID set to ``program_id``."""
        return SignalPlan(tuple(replace(p, program_id=program_id) for p in self.programs))

    def actuated(self, **kw: object) -> SignalPlan:
        """Every program as SUMO ``actuated`` control (see :meth:`Program.actuated`)."""
        return SignalPlan(tuple(p.actuated(**kw) for p in self.programs))  # type: ignore[arg-type]

    def coordinated_actuated(self, links: Mapping[str, Sequence[Link]] | None = None,
                             edges: Mapping[str, EdgeInfo] | None = None, *,
                             skip: bool = True, detector_length_m: float = 100.0,
                             **kw: Any) -> SignalPlan:
        """Return every program as coordinated actuated control.

        See :meth:`Program.coordinated_actuated` (``kw`` goes to it).  With ``links`` and
        ``edges`` of the network and ``skip``, two-stage programs skip their side stage when its
        approach lanes hold no vehicle within ``detector_length_m`` [m] of the stop line (not
        those that serve a pedestrian crossing, which has no detector).
        """
        out = []
        for p in self.programs:
            dets: list[tuple[str, float]] = []
            if skip and links is not None and edges is not None and len(p.stages) == 2:
                k_main = p.main_stage
                main = p.phases[p.stages[k_main].green].state
                side = p.phases[p.stages[1 - k_main].green].state
                served = [lk for lk in links.get(p.tls_id, ())
                          if lk.index < len(side) and side[lk.index] in "Gg"
                          and main[lk.index] not in "Gg"]
                # a pedestrian crossing (links from internal walking areas) has no detector:
                # skipping its stage would starve the pedestrians, so such a light never skips
                if not any(lk.from_edge.startswith(":") for lk in served):
                    lanes = {(lk.lane_id, lk.from_edge) for lk in served}
                    dets = [(lane, round(min(detector_length_m, edges[e].length_m - 0.5), 1))
                            for lane, e in sorted(lanes)
                            if e in edges and edges[e].length_m > 1.0]
            out.append(p.coordinated_actuated(skip_detectors=dets, **kw))
        return SignalPlan(tuple(out))

    def elements(self) -> list[str]:
        """The ``<tlLogic>`` elements (for a measure's additional elements)."""
        return [p.to_xml() for p in self.programs]

    def to_additional(self) -> str:
        """An additional file that ``sumo -a`` loads; its programs become the active ones."""
        return "<additional>\n" + "\n".join(self.elements()) + "\n</additional>\n"

    def write(self, path: Path) -> Path:
        """Write :meth:`to_additional` to ``path``; return ``path``."""
        path.write_text(self.to_additional(), encoding="utf-8")
        return path

    def to_dict(self) -> dict[str, object]:
        """JSON form: each program's :meth:`Program.to_dict`, keyed by tlLogic id."""
        return {p.tls_id: p.to_dict() for p in self.programs}

    def key(self) -> str:
        """Canonical text of the timings (identical plans have identical keys)."""
        def phase(ph: Phase) -> str:
            bounds = "" if ph.min_dur_s is None else f"[{_num(ph.min_dur_s)}-{_num(ph.max_dur_s or 0)}]"
            if ph.earliest_end_s is not None or ph.latest_end_s is not None:
                bounds += f"<{ph.earliest_end_s},{ph.latest_end_s}>"
            if ph.next or ph.final_target or ph.early_target:
                bounds += f"{ph.next}{ph.final_target}{ph.early_target}"
            return _num(ph.duration_s) + bounds

        return ";".join(f"{p.tls_id}:{p.kind}:{_num(p.offset_s)}:"
                        + ",".join(phase(ph) for ph in p.phases)
                        + "".join(f":{k}={v}" for k, v in p.params)
                        + "".join(f":{d}" for d in p.detectors)
                        + "".join(f":{v}?{c}={e}" for v, c, e in p.assignments)
                        for p in self.programs)


@dataclass(frozen=True)
class DayPlan:
    """Signal plans by time of day, switched with SUMO's ``<WAUT>``.

    Attributes
    ----------
    periods
        (start time [s], plan) in ascending start order; the first plan is active at the start.
    """

    periods: tuple[tuple[float, SignalPlan], ...]

    def to_additional(self, waut_id: str = "trafficsim_tod", *, procedure: str = "",
                      synchron: bool = False) -> str:
        """Return an additional file with every period's programs and the WAUT that switches them.

        The programs get programIDs ``tod0``, ``tod1``, …; the one WAUT switches all their
        traffic lights at the period starts.  ``refTime`` is the first period's start and SUMO
        counts the ``wautSwitch`` times from it, so they are written relative to it.

        Parameters
        ----------
        waut_id
            Id of the ``<WAUT>``.
        procedure, synchron
            SUMO's switching procedure of each ``<wautJunction>`` (``""``: immediate,
            ``"GSP"``, ``"Stretch"``) and its ``synchron`` flag.  A light with an actuated
            program switches immediately (GSP would never find its switching point).

        Raises
        ------
        ValueError
            When the day plan has no period.
        """
        if not self.periods:
            msg = "a day plan needs at least one period"
            raise ValueError(msg)
        lines = ["<additional>"]
        seen: set[str] = set()
        for i, (_, plan) in enumerate(self.periods):
            for el in plan.with_program_id(f"tod{i}").elements():
                # detectors (skip, coordinated actuated) are named after their lane: periods
                # share them, and SUMO refuses a detector declared twice
                lines += [ln for ln in el.split("\n") if not _repeated(ln, seen)]
        t0 = self.periods[0][0]
        lines.append(f'  <WAUT id={quoteattr(waut_id)} refTime="{_num(t0)}" startProg="tod0">')
        lines += [f'    <wautSwitch time="{_num(t - t0)}" to="tod{i}"/>'
                  for i, (t, _) in enumerate(self.periods) if i > 0]
        lines.append("  </WAUT>")
        tls = sorted({t for _, plan in self.periods for t in plan.tls_ids})

        def how(tls_id: str) -> str:
            # GSP waits for a static program's cycle position, which an actuated program never
            # reports: such a light would never switch, so its switches are immediate
            static = all(p.kind == "static" for _, plan in self.periods for p in plan.programs
                         if p.tls_id == tls_id)
            if not procedure or (procedure == "GSP" and not static):
                return ""
            return f" procedure={quoteattr(procedure)}" + (' synchron="true"' if synchron else "")

        # wautJunction's junctionID is the tlLogic id (SUMO's attribute name predates joined TLS)
        lines += [f"  <wautJunction wautID={quoteattr(waut_id)} junctionID={quoteattr(t)}"
                  f"{how(t)}/>" for t in tls]
        lines.append("</additional>\n")
        return "\n".join(lines)


def _repeated(line: str, seen: set[str]) -> bool:
    """Whether ``line`` declares a detector whose id is in ``seen`` (else: record it)."""
    m = re.match(r'\s*<(laneAreaDetector|inductionLoop|e1Detector|e2Detector)\s.*?\bid="([^"]+)"',
                 line)
    if m is None:
        return False
    if m.group(2) in seen:
        return True
    seen.add(m.group(2))
    return False


# --------------------------------------------------------------------------------------------
# Reading programs and links
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """One signal-controlled connection: ``linkIndex`` of its tlLogic, from lane → to edge."""

    index: int
    from_edge: str
    from_lane: int
    to_edge: str
    direction: str = ""

    @property
    def lane_id(self) -> str:
        """SUMO id of the from lane: ``<from edge>_<lane index>``."""
        return f"{self.from_edge}_{self.from_lane}"


def parse_program(tl: ET.Element) -> Program:
    """One ``<tlLogic>`` element.

    Conditions that read a detector through the variable :meth:`Program.to_xml` assigns read
    it directly again (``a:DET``), so that a written program reads back as it was built.
    """
    def is_read(a: ET.Element) -> bool:
        return (a.get("check") == "1" and a.get("id", "").startswith(DETECTOR_VAR)
                and a.get("value", "") == "a:" + a.get("id", "").removeprefix(DETECTOR_VAR))

    read = {a.get("id", ""): a.get("value", "") for a in tl.findall("assignment") if is_read(a)}

    def direct(cond: str) -> str:
        return _VAR_READ.sub(lambda m: read.get(m.group(0), m.group(0)), cond) if read else cond

    phases = [{**ph.attrib, **{k: direct(ph.attrib[k]) for k in ("finalTarget", "earlyTarget")
                               if k in ph.attrib}} for ph in tl.findall("phase")]
    prog = _program(tl.attrib, phases,
                    tuple((p.get("key", ""), p.get("value", "")) for p in tl.findall("param")))
    own = tuple((a.get("id", ""), direct(a.get("check", "")), direct(a.get("value", "")))
                for a in tl.findall("assignment") if not is_read(a))
    return replace(prog, assignments=own) if own else prog


def program_of(tl: TlProgram) -> Program:
    """A program of the network model (:func:`trafficsim.netmodel.read_network`)."""
    return _program(tl.attrs, [ph.attrs for ph in tl.phases], tl.params)


def _program(attrs: Mapping[str, str], phase_attrs: Sequence[Mapping[str, str]],
             params: tuple[tuple[str, str], ...]) -> Program:
    phases = tuple(Phase(state=ph.get("state", ""), duration_s=float(ph.get("duration", 0)),
                         min_dur_s=_opt(ph.get("minDur")), max_dur_s=_opt(ph.get("maxDur")),
                         name=ph.get("name", ""), earliest_end_s=_opt(ph.get("earliestEnd")),
                         latest_end_s=_opt(ph.get("latestEnd")),
                         next=tuple(int(v) for v in ph.get("next", "").split()),
                         final_target=ph.get("finalTarget", ""),
                         early_target=ph.get("earlyTarget", ""))
                   for ph in phase_attrs)
    return Program(tls_id=attrs.get("id", ""), phases=phases,
                   offset_s=float(attrs.get("offset", 0) or 0),
                   program_id=attrs.get("programID", "0"), kind=attrs.get("type", "static"),
                   params=params)


def parse_programs(root: ET.Element) -> list[Program]:
    """Parse the ``<tlLogic>`` elements under a network or additional-file root, in file order.

    Programs without a green phase (e.g. rail signals) are left out: there is nothing to time.
    The lane-area detectors under ``root`` that a program's conditions read, in the form
    :meth:`Program.to_xml` writes them (ending at the stop line), become the program's own
    detectors again: a program read from a written plan (``optimise --design``'s queue choice)
    and written anew keeps the detectors its conditions read (without them SUMO refuses the
    file: unknown detector).
    """
    dets = {el.get("id", ""): el for el in root.iter("laneAreaDetector")}
    return _timed(_with_detectors(parse_program(tl), dets) for tl in root.iter("tlLogic"))


def _with_detectors(prog: Program, dets: Mapping[str, ET.Element]) -> Program:
    """``prog`` with the detectors of ``dets`` its conditions read as its own (see above)."""
    if prog.detectors or not dets:
        return prog
    conds = [c for ph in prog.phases for c in (ph.final_target, ph.early_target)]
    conds += [c for _, check, value in prog.assignments for c in (check, value)]
    read = dict.fromkeys(m.group(1) for c in conds for m in _DETECTOR_READ.finditer(c))
    own = []
    for d, el in dets.items():  # (in file order: the order to_xml wrote them in)
        # (only the form to_xml writes: another placement has no (id, lane, length) form)
        if (d not in read or el.get("pos") is not None or el.get("endPos") != "-0.1"
                or not el.get("lane") or el.get("length") is None):
            continue
        try:
            own.append((d, el.get("lane", ""), float(el.get("length", ""))))
        except ValueError:
            continue
    return replace(prog, detectors=tuple(own)) if own else prog


def _timed(programs: Iterable[Program]) -> list[Program]:
    return [p for p in programs if any(ph.is_green for ph in p.phases)]


def _opt(v: str | None) -> float | None:
    return None if v is None else float(v)


def read_plan(net: Path, additional: Iterable[Path] = ()) -> SignalPlan:
    """The programs SUMO would run: the network's, overridden by programs in additional files.

    As in SUMO, the program loaded last for a traffic light is the active one.
    """
    active: dict[str, Program] = {}
    try:
        network = read_network(net)
    except NetworkError:
        network = None
    if network is not None:
        for prog in _timed(map(program_of, network.programs)):
            active[prog.tls_id] = prog
    for path in additional:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue  # additional files without programs may be anything SUMO reads
        for prog in parse_programs(root):
            active[prog.tls_id] = prog
    return SignalPlan(tuple(active.values()))


def read_plan_file(path: Path) -> tuple[list[Program], list[str]]:
    """Programs and the raw ``<tlLogic>``/``<WAUT>``/``<wautJunction>`` elements of a plan file.

    Raises
    ------
    ValueError
        When the file is not XML or holds no program.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        msg = f"is not valid XML: {exc}"
        raise ValueError(msg) from None
    progs = parse_programs(root)
    if not progs:
        msg = "holds no <tlLogic> program with a green phase"
        raise ValueError(msg)
    elements = [ET.tostring(el, encoding="unicode").strip() for el in root
                if el.tag in ("tlLogic", "WAUT", "wautJunction", "laneAreaDetector")]
    return progs, elements


def read_links(net: Path) -> dict[str, list[Link]]:
    """Signal-controlled links of each tlLogic id, from the network's connections."""
    links: dict[str, list[Link]] = {}
    for c in read_network(net).connections:
        if c.tl:
            links.setdefault(c.tl, []).append(
                Link(c.link_index, c.from_edge, c.from_lane, c.to_edge, c.direction))
    return {t: sorted(v, key=lambda k: k.index) for t, v in links.items()}


# --------------------------------------------------------------------------------------------
# Webster
# --------------------------------------------------------------------------------------------
def webster_cycle_s(flow_ratios: Sequence[float], lost_time_s: float) -> float:
    """Webster's optimum cycle ``C0 = (1.5 L + 5) / (1 - Y)``.

    Parameters
    ----------
    flow_ratios
        Critical flow ratio ``y = q / s`` of each stage. [-]
    lost_time_s
        Total lost time per cycle ``L``. [s]

    Returns
    -------
    float
        The cycle [s]; ``inf`` when ``Y = Σy ≥ 1`` (oversaturated: no cycle suffices).

    References
    ----------
    F. V. Webster, *Traffic Signal Settings*, Road Research Technical Paper No. 39, HMSO, 1958.
    """
    y = sum(flow_ratios)
    if y >= 1.0:
        return math.inf
    return (1.5 * lost_time_s + 5.0) / (1.0 - y)


def webster_effective_greens_s(flow_ratios: Sequence[float], cycle_s: float,
                               lost_time_s: float) -> list[float]:
    """Effective greens in proportion to the flow ratios, ``g_i = (C - L) y_i / Y`` [s].

    With no flow at all (``Y ≤ 0``) the available time ``C - L`` is split equally.
    """
    y = sum(flow_ratios)
    avail = cycle_s - lost_time_s
    if y <= 0:
        return [avail / len(flow_ratios)] * len(flow_ratios)
    return [avail * yi / y for yi in flow_ratios]


@dataclass(frozen=True)
class WebsterSettings:
    """Parameters of Webster timings.

    Attributes
    ----------
    saturation_flow_veh_h
        Saturation flow per lane. [veh/h]
    lost_time_s
        Lost time per stage (start-up + clearance); None: the stage's intergreen. [s]
    min_cycle_s, max_cycle_s
        Cycle bounds; oversaturated junctions get the maximum. [s]
    """

    saturation_flow_veh_h: float = DEFAULT_SATURATION_FLOW_VEH_H
    lost_time_s: float | None = None
    min_cycle_s: float = 30.0
    max_cycle_s: float = 120.0


@dataclass(frozen=True)
class WebsterResult:
    """Webster timings of one traffic light: its flow ratios, cycle and stage greens."""

    tls_id: str
    flow_ratios: tuple[float, ...]
    lost_time_s: float
    cycle_s: float
    greens_s: tuple[float, ...]
    program: Program = field(repr=False)


def stage_lanes(program: Program, links: Sequence[Link]) -> list[set[str]]:
    """The lanes (of ``links``) each stage of ``program`` gives green (``G`` or ``g``)."""
    out: list[set[str]] = []
    for st in program.stages:
        state = program.phases[st.green].state
        out.append({lk.lane_id for lk in links
                    if 0 <= lk.index < len(state) and state[lk.index] in "Gg"})
    return out


def stage_flow_ratios(program: Program, links: Sequence[Link], lane_flows_veh_h: Mapping[str, float],
                      saturation_flow_veh_h: float) -> list[float]:
    """Critical flow ratio of each stage: the largest ``q / s`` of the lanes it gives green.

    A lane that gets green in several stages has its flow shared equally between them (as SUMO's
    ``tlsCycleAdaptation.py`` does).
    """
    lanes_of_stage = stage_lanes(program, links)
    n_stages_of_lane: dict[str, int] = {}
    for lanes in lanes_of_stage:
        for lane in lanes:
            n_stages_of_lane[lane] = n_stages_of_lane.get(lane, 0) + 1
    return [max((lane_flows_veh_h.get(lane, 0.0) / n_stages_of_lane[lane] / saturation_flow_veh_h
                 for lane in lanes), default=0.0)
            for lanes in lanes_of_stage]


def webster_program(program: Program, links: Sequence[Link], lane_flows_veh_h: Mapping[str, float],
                    settings: WebsterSettings = WebsterSettings(), *,
                    cycle_s: float | None = None) -> WebsterResult:
    """Webster cycle and green splits for one traffic light, keeping its phase structure.

    Displayed green = effective green − intergreen + lost time (so with the default lost time,
    the stage's intergreen, displayed green = effective green).  Greens respect the program's
    minimum greens; a given ``cycle_s`` (e.g. a common cycle) replaces Webster's own.
    """
    ys = stage_flow_ratios(program, links, lane_flows_veh_h, settings.saturation_flow_veh_h)
    inter = program.intergreens_s
    lost = [settings.lost_time_s if settings.lost_time_s is not None else i for i in inter]
    total_lost = sum(lost)
    fixed = sum(inter) + sum(program.min_greens_s)
    if cycle_s is None:
        c0 = webster_cycle_s(ys, total_lost)
        cycle_s = min(max(c0, settings.min_cycle_s), settings.max_cycle_s)
    cycle_s = max(float(round(cycle_s)), math.ceil(fixed))
    eff = webster_effective_greens_s(ys, cycle_s, total_lost)
    greens = [e - i + lt for e, i, lt in zip(eff, inter, lost, strict=True)]
    greens = fit_greens(greens, program.min_greens_s, cycle_s - sum(inter))
    prog = program.with_greens(greens)
    return WebsterResult(program.tls_id, tuple(ys), total_lost, cycle_s, tuple(greens), prog)


def fit_greens(greens: Sequence[float], min_greens: Sequence[float], total_s: float) -> list[float]:
    """Whole-second greens ≥ the minimum greens that sum to ``total_s``, close to ``greens``.

    Time above the minimum greens is shared in proportion to each stage's wish above its minimum,
    then rounded by largest remainder so the sum is exact.
    """
    mins = [float(m) for m in min_greens]
    spare = total_s - sum(mins)
    want = [max(g - m, 0.0) for g, m in zip(greens, mins, strict=True)]
    tot = sum(want)
    shares = [w / tot for w in want] if tot > 0 else [1.0 / len(want)] * len(want)
    raw = [m + spare * s for m, s in zip(mins, shares, strict=True)]
    return round_preserving_sum(raw, total_s)


def round_preserving_sum(values: Sequence[float], total: float) -> list[float]:
    """Round to whole numbers keeping the (rounded) total, by largest remainder."""
    target = round(total)
    floors = [math.floor(v) for v in values]
    rest = int(target - sum(floors))
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    for i in order[:max(rest, 0)]:
        floors[i] += 1
    return [float(f) for f in floors]


def webster_plan(plan: SignalPlan, links: Mapping[str, Sequence[Link]],
                 lane_flows_veh_h: Mapping[str, float],
                 settings: WebsterSettings = WebsterSettings(), *,
                 program_id: str = "webster") -> tuple[SignalPlan, list[WebsterResult]]:
    """Webster timings for every traffic light of a plan (each junction on its own cycle)."""
    results = [webster_program(p, links.get(p.tls_id, ()), lane_flows_veh_h, settings)
               for p in plan.programs]
    programs = tuple(replace(r.program, program_id=program_id, offset_s=0.0) for r in results)
    return SignalPlan(programs), results


# --------------------------------------------------------------------------------------------
# Coordination: green-wave offsets
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EdgeInfo:
    """A normal edge: its end junctions, length [m] and speed limit [m/s]."""

    from_node: str
    to_node: str
    length_m: float
    speed_m_s: float


def read_edges(net: Path) -> dict[str, EdgeInfo]:
    """Normal (non-internal) edges of a network with their ends, length and speed."""
    return {e.id: EdgeInfo(e.from_junction, e.to_junction, e.lanes[0].length_m,
                           e.lanes[0].speed_m_s)
            for e in read_network(net).normal_edges() if e.lanes}


def _green_start_s(program: Program, link_indices: set[int]) -> float | None:
    """Cycle time at which the stage serving most of ``link_indices`` with major green starts."""
    best: tuple[int, float] | None = None
    t = 0.0
    for ph in program.phases:
        if ph.is_green:
            n = sum(1 for i in link_indices if i < len(ph.state) and ph.state[i] == "G")
            if n and (best is None or n > best[0]):
                best = (n, t)
        t += ph.duration_s
    return None if best is None else best[1]


def green_wave_offsets(plan: SignalPlan, links: Mapping[str, Sequence[Link]],
                       edges: Mapping[str, EdgeInfo], lane_flows_veh_h: Mapping[str, float],
                       cycle_s: float | None, *, max_chain: int = 5) -> dict[str, float]:
    """Offsets that send the heaviest flows from one signal to the next on a green wave.

    Signals are linked when an edge (or a chain of up to ``max_chain`` edges through unsignalised
    junctions with a single way on) leads from one to the other; a maximum spanning tree over the
    links weighted by their flow picks which pairs to coordinate, and along it the downstream
    stage's green starts one free-flow travel time after the upstream stage's green. [s]
    With ``cycle_s=None`` the offsets are not wrapped: taken modulo any cycle they give the same
    wave, which lets a search change the cycle without losing the coordination.
    """
    pairs, by_tls = _coordination_pairs(plan, links, edges, lane_flows_veh_h, max_chain)
    # Prim's maximum spanning tree from the signal with the heaviest coordinated flow
    offsets: dict[str, float] = {}
    if not pairs:
        return dict.fromkeys(by_tls, 0.0)
    weight: dict[str, float] = {}
    for f, a, b, _ in pairs:
        weight[a] = weight.get(a, 0.0) + f
        weight[b] = weight.get(b, 0.0) + f
    for root in sorted(by_tls, key=lambda t: -weight.get(t, 0.0)):
        if root in offsets:
            continue
        offsets[root] = 0.0
        while True:
            cands = [(f, a, b, d) for f, a, b, d in pairs if (a in offsets) != (b in offsets)]
            if not cands:
                break
            f, a, b, d = max(cands, key=lambda c: c[0])
            if a in offsets:
                offsets[b] = offsets[a] + d
            else:
                offsets[a] = offsets[b] - d
    if cycle_s is None:
        return offsets
    return {t: o % cycle_s for t, o in offsets.items()}


def two_way_cycles_s(plan: SignalPlan, links: Mapping[str, Sequence[Link]],
                     edges: Mapping[str, EdgeInfo], lane_flows_veh_h: Mapping[str, float],
                     lo_s: float, hi_s: float, *, max_chain: int = 5) -> list[float]:
    """Cycles [s] in ``[lo_s, hi_s]`` at which both directions of a corridor can ride a green wave.

    A one-way wave steps the offsets by the link travel time T; the opposite direction then
    needs a step of −T, and both hold modulo the cycle C when 2T is a multiple of C (the classic
    alternate/simultaneous progression: C = 2T/k).  T is the flow-weighted mean offset step of
    the coordinated pairs.  Empty when no pair of signals is linked.
    """
    pairs, _ = _coordination_pairs(plan, links, edges, lane_flows_veh_h, max_chain)
    tot = sum(f for f, *_ in pairs)
    if not pairs or tot <= 0:
        return []
    step = sum(f * abs(d) for f, _, _, d in pairs) / tot
    out = []
    k = 1
    while 2 * step / k >= lo_s:
        c = float(round(2 * step / k))
        if lo_s <= c <= hi_s:
            out.append(c)
        k += 1
    return out


def _coordination_pairs(plan: SignalPlan, links: Mapping[str, Sequence[Link]],
                        edges: Mapping[str, EdgeInfo], lane_flows_veh_h: Mapping[str, float],
                        max_chain: int) -> tuple[list[tuple[float, str, str, float]],
                                                 dict[str, Program]]:
    by_tls = {p.tls_id: p for p in plan.programs}
    # edge → (tls whose link feeds it, indices of those links)
    fed_by: dict[str, tuple[str, set[int]]] = {}
    for tls, ls in links.items():
        for lk in ls:
            fed_by.setdefault(lk.to_edge, (tls, set()))[1].add(lk.index)
    into: dict[str, list[str]] = {}
    for eid, einfo in edges.items():
        into.setdefault(einfo.to_node, []).append(eid)
    pairs: list[tuple[float, str, str, float]] = []  # (flow, upstream, downstream, offset step)
    for tls_b, ls in links.items():
        if tls_b not in by_tls:
            continue
        for edge in sorted({lk.from_edge for lk in ls}):
            flow = sum(q for lane, q in lane_flows_veh_h.items() if lane.rsplit("_", 1)[0] == edge)
            tt = 0.0
            e = edge
            for _ in range(max_chain):
                info = edges.get(e)
                if info is None:
                    break
                tt += info.length_m / max(info.speed_m_s, 0.1)
                if e in fed_by:
                    tls_a, idx_a = fed_by[e]
                    if tls_a == tls_b or tls_a not in by_tls:
                        break
                    idx_b = {lk.index for lk in ls if lk.from_edge == edge}
                    ta = _green_start_s(by_tls[tls_a], idx_a)
                    tb = _green_start_s(by_tls[tls_b], idx_b)
                    if ta is not None and tb is not None and flow > 0:
                        pairs.append((flow, tls_a, tls_b, ta + tt - tb))
                    break
                ins = [x for x in into.get(info.from_node, ())
                       if edges[x].from_node != info.to_node]  # not the way back
                if len(ins) != 1:
                    break
                e = ins[0]
    return pairs, by_tls

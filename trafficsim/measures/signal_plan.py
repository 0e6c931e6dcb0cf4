"""Signal plans as a measure.

A tuned plan file, SUMO actuated control, Webster timings, or coordinated actuated control on a
fixed-time plan; and phase design: programs built from each junction's movements in a chosen
phasing (:mod:`trafficsim.phasing`), run fixed-time, with Webster timings or actuated.

::

    [[plans.tuned.measures]]
    type = "signal_plan"
    file = "optimise_out/signal_plan.add.xml"   # <tlLogic> programs (and a <WAUT>) to load

    [[plans.actuated.measures]]
    type = "signal_plan"
    control = "actuated"                         # SUMO actuated with the network's phases
    min_green_s = 5
    max_green_s = 50
    max_gap_s = 3.0

    [[plans.webster.measures]]
    type = "signal_plan"
    control = "webster"
    flows_veh_h = { W_J1 = 1250, N1_J1 = 180 }   # approach flows (counts), spread over lanes
    saturation_flow_veh_h = 1800                 # per lane
    # lost_time_s = 4                            # per stage; default: the stage's intergreen

    [[plans.coordinated.measures]]
    type = "signal_plan"
    control = "coordinated"                      # coordinated actuated on a fixed-time plan:
    file = "optimise_out/fixed_time.add.xml"     # its base (default: the network's programs)
    extension_s = 3                              # side stages may run 3 s past their end
    max_gap_s = 4
    skip_empty_side = true                       # skip a side stage nobody waits for

    [[plans.max_pressure.measures]]
    type = "signal_plan"
    control = "max_pressure"                     # max-pressure (Varaiya), driven through TraCI
    min_green_s = 5                              # on the network's stages; intergreens kept
    step_s = 5                                   # decide every 5 s once min green has run
    # max_green_s = 60                           # optional: hand over after 60 s of green
    [[plans.designed.measures]]
    type = "signal_plan"
    phasing = "leading_left"                     # every light; or per light:
    # phasing = { J1 = "leading_left", J2 = "split" }
    control = "fixed"                            # the default with a phasing: equal greens of a
    cycle_s = 90                                 # cycle_s cycle (at least the minimum greens)
    # control = "webster" (with flows_veh_h), "actuated" or "coordinated" (on the fixed-time
    # design at cycle_s) run the designed stages instead

    [[plans.actuated_ite.measures]]
    type = "signal_plan"
    control = "actuated"                         # the network's phases, with their transitions
    intergreens = "ite"                          # rebuilt: ITE yellow and all-red, 7 s walk

Phasings: ``two_stage``, ``leading_left``, ``lead_lag``, ``split``, ``left_overlap`` (see
:mod:`trafficsim.phasing`).  A designed program has ITE yellow and all-red times, pedestrian
walk and clearance, and is checked with :func:`trafficsim.safety.program_issues` before use.
A phasing must apply at its light (e.g. ``leading_left`` needs a left turn with a lane of its
own); the string form must apply at every light it covers (``tls`` narrows them).

Programs get a new programID, which SUMO makes the active program of each traffic light.

Max-pressure is external control (:mod:`trafficsim.control`): trafficsim steps the run through
TraCI in the run's own process; ``sumo -c case.sumocfg`` alone cannot reproduce such a run, and
the case folder says so (``controllers.json``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trafficsim.control import MaxPressureSettings, max_pressure_program, max_pressure_spec
from trafficsim.measures.base import CaseDraft, Measure, NetIndex
from trafficsim.measures.registry import register
from trafficsim.netmodel import Network, NetworkError, read_network
from trafficsim.phasing import (
    DEFAULT_CYCLE_S,
    MIN_GREEN_S,
    PHASINGS,
    build_program,
    layout,
    why_not,
    with_ite_intergreens,
    with_min_greens,
    with_skipping,
)
from trafficsim.safety import conflict_issues, program_issues
from trafficsim.signals import (
    SUMO_MAX_DUR_S,
    SUMO_MIN_DUR_S,
    Link,
    SignalPlan,
    WebsterSettings,
    read_edges,
    read_links,
    read_plan,
    read_plan_file,
    webster_plan,
)
from trafficsim.spec import Fields

CONTROLS = ("file", "actuated", "webster", "coordinated", "max_pressure", "fixed")
#: Transitions of the network's programs under actuated or Webster control: as the network has
#: them, or rebuilt with ITE yellow and all-red (:func:`trafficsim.phasing.with_ite_intergreens`).
INTERGREENS = ("network", "ite")
#: Controls that run designed phases (``phasing``).
DESIGN_CONTROLS = ("fixed", "webster", "actuated", "coordinated")


@register
@dataclass(frozen=True)
class SignalPlanMeasure(Measure):
    """Replace the signal programs of some or all traffic lights.

    Parameters
    ----------
    control
        ``file`` (load ``file``), ``actuated``, ``webster``, ``coordinated``, ``max_pressure``,
        or ``fixed`` (equal greens of the designed stages at ``cycle_s``; the default with a ``phasing``).
    phasing
        Designed phases: traffic light → phasing (``*``: every light, or those of ``tls``).
    cycle_s
        Fixed-time design (and the base of coordinated control of designed phases): the
        cycle [s].
    intergreens
        ``network`` (the network's transitions, as netconvert wrote them) or ``ite`` (rebuilt
        with ITE yellow and all-red and checked for safety) under actuated or Webster control
        of the network's phases; designed programs always have ITE intergreens.
    file
        Plan file with ``<tlLogic>`` programs (and optionally ``<WAUT>`` switching); with
        ``coordinated``, the fixed-time programs it builds on.
    extension_s, skip_empty_side
        Coordinated: how long a side stage may run past its fixed-time end [s]; whether a
        two-stage junction skips a side stage when no vehicle waits (see
        :meth:`~trafficsim.signals.Program.coordinated_actuated`).
    tls
        tlLogic ids to change (default: all that the file names / all of the network).
    min_green_s, max_green_s, max_gap_s
        Actuated control: minimum and maximum green [s], and the time gap that ends a green [s].
    flows_veh_h
        Webster: approach edge → flow [veh/h], spread evenly over the edge's lanes.
    saturation_flow_veh_h, lost_time_s
        Webster: saturation flow per lane [veh/h], lost time per stage [s] (None: intergreen).
    step_s
        Max-pressure: time between decisions once the minimum green has run [s]; its
        ``min_green_s`` and ``max_green_s`` bound each green [s] (``math.inf``: no maximum,
        the default in a scenario file; pass it when building the measure in code).
    fitted
        The programs (``elements``, ``base_programs``) index the plan network's links, not the
        base network's: the optimiser tuning for a plan that adds links (``--plan``, e.g. a
        tidal lane) reads its programs from that plan's network; they are not fitted again.
    """

    kind = "signal_plan"
    control: str
    file: Path | None = None
    elements: tuple[str, ...] = ()
    file_tls: tuple[str, ...] = ()
    tls: tuple[str, ...] = ()
    min_green_s: float = SUMO_MIN_DUR_S
    max_green_s: float = SUMO_MAX_DUR_S
    max_gap_s: float | None = None
    flows_veh_h: tuple[tuple[str, float], ...] = ()
    saturation_flow_veh_h: float = 1800.0
    lost_time_s: float | None = None
    base_programs: tuple[Any, ...] = ()  # coordinated: the fixed-time programs of ``file``
    extension_s: float = 3.0
    skip_empty_side: bool = True
    step_s: float = 5.0
    phasing: tuple[tuple[str, str], ...] = ()
    cycle_s: float = DEFAULT_CYCLE_S
    intergreens: str = "network"
    skip_stages: bool = False
    fitted: bool = False

    @classmethod
    def parse(cls, f: Fields) -> SignalPlanMeasure:
        """A signal-plan measure from its plan table; problems go to ``f.issues``.

        A plan file is read here: its elements travel with the measure, and a damaged file is a
        problem of the scenario, reported at load time.
        """
        has_file = f.has("file")
        phasing = _parse_phasing(f)
        control = f.str("control", "file" if has_file else "fixed" if f.has("phasing") else "",
                        choices=CONTROLS)
        if not control:
            f.error("control", "is missing; give file = \"plan.add.xml\", control = "
                               "\"actuated\" / \"webster\", or a phasing")
        tls = tuple(f.str_list("tls", ()))
        if f.has("tls") and not tls and isinstance(f.table.get("tls"), list):
            # (left out, tls means every light: an empty list would silently mean the same)
            f.error("tls", "is empty; expected traffic-light ids, or leave tls out for every "
                           "light")
        kw: dict[str, object] = {"control": control, "tls": tls, "phasing": phasing}
        if phasing and control not in DESIGN_CONTROLS:
            f.error("phasing", f"works with control = {', '.join(map(repr, DESIGN_CONTROLS))}, "
                               f"not {control!r}")
        if control == "fixed" and not phasing and f.has("control"):
            f.error("control", "= \"fixed\" runs designed phases: give a phasing, e.g. "
                               "phasing = \"two_stage\"")
        if control == "fixed" or (phasing and control == "coordinated"):
            kw["cycle_s"] = f.float("cycle_s", DEFAULT_CYCLE_S, lo=20.0, hi=300.0, unit=" s")
        if phasing and has_file:
            f.error("file", "is not used with a phasing: the programs are designed")
        kw["intergreens"] = _parse_intergreens(f, control, bool(phasing))
        if phasing and tls and any(t != "*" for t, _ in phasing):
            f.error("tls", "is not used with a phasing table; the table names the lights")
        if control in ("file", "coordinated") and has_file and not phasing:
            raw = f.str("file")
            if isinstance(raw, str):
                path = (Path(f.file).parent / raw).resolve()
                kw["file"] = path
                if not path.is_file():
                    f.error("file", f"= {raw!r}: file not found (looked for {path})")
                else:
                    try:
                        progs, elements = read_plan_file(path)
                    except ValueError as exc:
                        f.error("file", f"= {raw!r} {exc}")
                    else:
                        kw["elements"] = tuple(elements)
                        kw["file_tls"] = tuple(p.tls_id for p in progs)
                        if control == "coordinated":
                            kw["base_programs"] = tuple(progs)
                            if any(p.kind != "static" for p in progs):
                                f.error("file", f"= {raw!r} holds actuated programs; "
                                                "coordinated control builds on fixed-time "
                                                "(static) programs")
        elif control == "file":
            f.error("file", "is missing")
        elif has_file:
            f.error("file", f"is only used with control = \"file\", not {control!r}")
        if control == "actuated":
            kw["min_green_s"] = f.float("min_green_s", SUMO_MIN_DUR_S, lo=1.0, hi=120.0, unit=" s")
            kw["max_green_s"] = f.float("max_green_s", SUMO_MAX_DUR_S, lo=1.0, hi=300.0,
                                        unit=" s")
            kw["max_gap_s"] = f.float("max_gap_s", None, lo=0.1, hi=20.0, unit=" s")
            if kw["max_green_s"] < kw["min_green_s"]:  # type: ignore[operator]
                f.error("max_green_s", f"= {kw['max_green_s']} is below min_green_s = "
                                       f"{kw['min_green_s']}")
            kw["skip_stages"] = f.bool("skip_stages", False)
            if kw["skip_stages"] and not phasing:
                f.error("skip_stages", "works with designed phases: give a phasing, e.g. "
                                       "phasing = \"leading_left\"")
        elif f.has("skip_stages"):
            f.error("skip_stages", f"is used with control = \"actuated\", not {control!r}")
        if control == "coordinated":
            kw["extension_s"] = f.float("extension_s", 3.0, lo=0.0, hi=60.0, unit=" s")
            kw["max_gap_s"] = f.float("max_gap_s", 4.0, lo=0.1, hi=20.0, unit=" s")
            kw["min_green_s"] = f.float("min_green_s", SUMO_MIN_DUR_S, lo=1.0, hi=120.0, unit=" s")
            kw["skip_empty_side"] = f.bool("skip_empty_side", True)
        if control == "max_pressure":
            kw["min_green_s"] = f.float("min_green_s", 5.0, lo=1.0, hi=120.0, unit=" s")
            kw["step_s"] = f.float("step_s", 5.0, lo=1.0, hi=60.0, unit=" s")
            kw["max_green_s"] = f.float("max_green_s", math.inf, lo=1.0, hi=600.0, unit=" s")
            if kw["max_green_s"] < kw["min_green_s"]:  # type: ignore[operator]
                f.error("max_green_s", f"= {kw['max_green_s']} is below min_green_s = "
                                       f"{kw['min_green_s']}")
        if control == "webster":
            flows = f.table_("flows_veh_h", required=True)
            pairs = []
            if flows is not None:
                for edge in list(flows.table):
                    pairs.append((edge, float(flows.float(edge, lo=0.0, hi=20000.0,
                                                          unit=" veh/h"))))
            if flows is not None and not flows.table:
                f.error("flows_veh_h", "is empty; expected the counted flow of each approach "
                                       "edge, e.g. { W_J1 = 1250, N1_J1 = 180 } [veh/h]")
            kw["flows_veh_h"] = tuple(pairs)
            kw["saturation_flow_veh_h"] = f.float("saturation_flow_veh_h", 1800.0, lo=100.0,
                                                  hi=4000.0, unit=" veh/h")
            kw["lost_time_s"] = f.float("lost_time_s", None, lo=0.0, hi=30.0, unit=" s")
        return cls(**kw)  # type: ignore[arg-type]

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the traffic lights and edges it names, as (field, message).

        The lights of ``tls`` and of the plan file, and the edges of ``flows_veh_h``, must be in
        the network.
        """
        out = []
        known = sorted(net.signals)
        for i, t in enumerate(self.tls):
            if t not in net.signals:
                out.append((f"tls[{i}]", f"traffic light '{t}' is not in the network; "
                                         f"traffic lights: {', '.join(known) or 'none'}"))
        for t in self.file_tls:
            if t not in net.signals:
                out.append(("file", f"names traffic light '{t}', which is not in the network; "
                                    f"traffic lights: {', '.join(known) or 'none'}"))
        for e, _ in self.flows_veh_h:
            if (msg := net.missing_edge(e)) is not None:
                out.append((f"flows_veh_h.{e}", msg))
        out += self._check_phasing(net, known)
        out += self._check_file_conflicts(net)
        return out

    def _check_file_conflicts(self, net: NetIndex) -> list[tuple[str, str]]:
        """Conflicting greens in the plan file's programs, as (field, message).

        SUMO runs such a program, and an all-green one looked like a 40% gain.
        """
        if self.file is None or not self.file_tls or net.path is None or self.fitted:
            return []  # (fitted: programs of a plan's own network, not of this one)
        try:
            model = read_network(net.path)
            progs, _ = read_plan_file(self.file)
        except (NetworkError, ValueError, OSError):
            return []  # (reported where the file and the network are read)
        out = []
        for prog in progs:
            if prog.tls_id not in net.signals:
                continue
            issues = conflict_issues(model, prog)
            if issues:
                more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
                out.append(("file", f"program '{prog.program_id}' of traffic light "
                                    f"'{prog.tls_id}' is unsafe: " + "; ".join(issues[:3])
                                    + more))
        return out

    def _check_phasing(self, net: NetIndex, known: list[str]) -> list[tuple[str, str]]:
        """Lights of the phasing table in the network, and each phasing applicable at its light."""
        out = []
        for t, _ in self.phasing:
            if t != "*" and t not in net.signals:
                out.append((f"phasing.{t}", f"traffic light '{t}' is not in the network; "
                                            f"traffic lights: {', '.join(known) or 'none'}"))
        if not self.phasing or net.path is None or out:
            return out
        try:
            model = read_network(net.path)
        except NetworkError:
            return out
        every: list[str] = []  # the string form: one message for all the lights it misses
        for t, kind in self._choice(model).items():
            try:
                reason = why_not(layout(model, t), kind)
            except KeyError:
                reason = "it controls no link"
            if reason is None:
                continue
            if self.phasing[0][0] == "*":
                every.append(f"'{t}' ({reason})")
            else:
                out.append((f"phasing.{t}",
                            f"= {kind!r} does not apply at traffic light '{t}': {reason}"))
        if every:
            kind = self.phasing[0][1]
            out.append(("phasing", f"= {kind!r} does not apply at traffic light(s) "
                                   f"{', '.join(sorted(every))}; name the lights in a table, "
                                   f"e.g. phasing = {{ J1 = \"{kind}\", J2 = \"two_stage\" }}"
                                   ", or narrow them with tls"))
        return out

    def _choice(self, net: Network) -> dict[str, str]:
        """Traffic light → phasing of every light the measure designs."""
        if self.phasing and self.phasing[0][0] == "*":
            kind = self.phasing[0][1]
            lights = self.tls or tuple(dict.fromkeys(c.tl for c in net.connections if c.tl))
            return dict.fromkeys(lights, kind)
        return dict(self.phasing)

    def apply(self, draft: CaseDraft) -> None:
        """Add its traffic-light programs to ``draft``.

        The plan file's programs (only those of ``tls``, if given), or programs derived from the
        network's own: actuated, coordinated actuated, or Webster timings for ``flows_veh_h``.

        Raises
        ------
        ValueError
            When programs must be derived and the draft has no network file.
        """
        out = draft.fitted if self.fitted else draft.additional
        if self.phasing:
            if draft.net_file is None:
                msg = "signal_plan: the network is needed to design programs"
                raise ValueError(msg)
            out.extend(self._designed(read_network(draft.net_file),
                                                   draft.net_file).elements())
            return
        if self.control == "file":
            keep = set(self.tls)
            out.extend(
                el for el in self.elements
                if not keep or not el.startswith("<tlLogic") or _element_id(el) in keep)
            return
        if draft.net_file is None:
            msg = "signal_plan: the network is needed to derive programs"
            raise ValueError(msg)
        plan = (SignalPlan(self.base_programs) if self.base_programs
                else read_plan(draft.net_file))
        if self.tls:
            plan = SignalPlan(tuple(p for p in plan.programs if p.tls_id in self.tls))
        model = read_network(draft.net_file) if self.intergreens == "ite" else None
        if self.control == "max_pressure":
            # (ITE: the stages' own transitions rebuilt; the controller derives the others)
            self._apply_max_pressure(draft, plan if model is None else _ite(model, plan))
            return
        if self.control == "coordinated":
            plan = plan.coordinated_actuated(
                read_links(draft.net_file), read_edges(draft.net_file),
                skip=self.skip_empty_side, extension_s=self.extension_s,
                max_gap_s=self.max_gap_s or 4.0, min_green_s=self.min_green_s)
        elif self.control == "actuated":
            params = {"max-gap": f"{self.max_gap_s:g}"} if self.max_gap_s is not None else {}
            plan = plan.actuated(min_green_s=self.min_green_s, max_green_s=self.max_green_s,
                                 params=params)
            if model is not None:  # (after: a walk raises its stage's minDur)
                plan = _ite(model, plan)
        else:
            if model is not None:  # (before: Webster's lost time is the new intergreen)
                plan = _ite(model, plan)
            links = read_links(draft.net_file)
            settings = WebsterSettings(self.saturation_flow_veh_h, self.lost_time_s)
            plan, _ = webster_plan(plan, links, self._lane_flows(links), settings)
        if model is not None:
            self._check_safe(model, plan, min(self.min_green_s, MIN_GREEN_S))
        out.extend(plan.elements())

    def _apply_max_pressure(self, draft: CaseDraft, plan: SignalPlan) -> None:
        """Max-pressure programs (every stage pair's transition) and the controller's spec."""
        tables = {}
        for prog in plan.programs:
            built = max_pressure_program(prog)
            if built is None:  # one stage: nothing to choose, the light keeps its program
                continue
            program, tables[prog.tls_id] = built
            draft.additional.append(program.to_xml())
        if tables:
            settings = MaxPressureSettings(
                self.min_green_s, self.step_s,
                None if math.isinf(self.max_green_s) else self.max_green_s)
            draft.controllers.append(max_pressure_spec(tables, settings))
    def _designed(self, net: Network, net_file: Path) -> SignalPlan:
        """The designed programs, timed by the control, each checked for safety.

        Raises
        ------
        ValueError
            When a program is unsafe (:func:`trafficsim.safety.program_issues`).
        """
        programs = []
        for t, kind in self._choice(net).items():
            lay = layout(net, t)
            prog = build_program(lay, kind, program_id="ts_design", cycle_s=self.cycle_s)
            programs.append(prog)
        plan = SignalPlan(tuple(programs))
        min_green = MIN_GREEN_S
        if self.control == "webster":
            links = read_links(net_file)
            settings = WebsterSettings(self.saturation_flow_veh_h, self.lost_time_s)
            plan, _ = webster_plan(plan, links, self._lane_flows(links), settings,
                                   program_id="ts_design")
        elif self.control == "actuated":
            params = {"max-gap": f"{self.max_gap_s:g}"} if self.max_gap_s is not None else {}
            plan = SignalPlan(tuple(with_min_greens(p, p.actuated(
                min_green_s=self.min_green_s, max_green_s=self.max_green_s, params=params,
                program_id="ts_design")) for p in plan.programs))
            if self.skip_stages:
                plan = SignalPlan(tuple(with_skipping(layout(net, p.tls_id), p)
                                        for p in plan.programs))
            min_green = min(self.min_green_s, min_green)
        elif self.control == "coordinated":
            designed = {p.tls_id: p for p in plan.programs}
            coord = plan.coordinated_actuated(
                read_links(net_file), read_edges(net_file), skip=self.skip_empty_side,
                extension_s=self.extension_s, max_gap_s=self.max_gap_s or 4.0,
                min_green_s=self.min_green_s, program_id="ts_design")
            plan = SignalPlan(tuple(with_min_greens(designed[p.tls_id], p)
                                    for p in coord.programs))
            min_green = min(self.min_green_s, min_green)
        self._check_safe(net, plan, min_green)
        return plan

    def _lane_flows(self, links: Mapping[str, Sequence[Link]]) -> dict[str, float]:
        """Webster: ``flows_veh_h`` spread evenly over each approach's signalised lanes [veh/h]."""
        lanes: dict[str, float] = {}
        for edge, q in self.flows_veh_h:
            edge_lanes = sorted({lk.lane_id for ls in links.values() for lk in ls
                                 if lk.from_edge == edge})
            for lane in edge_lanes:
                lanes[lane] = q / len(edge_lanes)
        return lanes

    def _check_safe(self, net: Network, plan: SignalPlan, min_green_s: float) -> None:
        """Raise ValueError naming the light and its issues when a program is unsafe."""
        choice = self._choice(net) if self.phasing else {}
        for p in plan.programs:
            issues = program_issues(net, p, min_green_s=min_green_s)
            if issues:
                what = f"designed {choice[p.tls_id]}" if p.tls_id in choice else self.control
                msg = (f"signal_plan: the {what} program of traffic light '{p.tls_id}' is "
                       "unsafe:\n  " + "\n  ".join(issues))
                raise ValueError(msg)


def _ite(net: Network, plan: SignalPlan) -> SignalPlan:
    """Every program with ITE intergreens (:func:`trafficsim.phasing.with_ite_intergreens`)."""
    return SignalPlan(tuple(with_ite_intergreens(layout(net, p.tls_id), p)
                            for p in plan.programs))


def _parse_intergreens(f: Fields, control: str, phasing: bool) -> str:
    """``intergreens``: the network's transitions or ITE ones (designed programs: always ITE)."""
    if not f.has("intergreens"):
        return "ite" if phasing else "network"
    value = f.str("intergreens", choices=INTERGREENS)
    if phasing and value != "ite":
        f.error("intergreens", "designed programs (phasing) always have ITE intergreens")
    elif control not in ("actuated", "webster", "max_pressure") and not phasing:
        f.error("intergreens", f"is used with control = \"actuated\", \"webster\" or "
                               f"\"max_pressure\" on the network's phases, not {control!r}")
    return str(value) if value in INTERGREENS else "network"


def _parse_phasing(f: Fields) -> tuple[tuple[str, str], ...]:
    """``phasing`` as (light, phasing) pairs; ``("*", kind)`` for every light."""
    if not f.has("phasing"):
        return ()
    raw = f.table["phasing"]
    if isinstance(raw, str):
        kind = f.str("phasing", choices=PHASINGS)
        return (("*", kind),) if kind in PHASINGS else ()
    if not isinstance(raw, dict):
        f.error("phasing", f"= {raw!r} is neither a phasing ({', '.join(PHASINGS)}) nor a table "
                           "light → phasing, e.g. phasing = { J1 = \"split\" }")
        return ()
    sub = f.table_("phasing")
    if sub is None:
        return ()
    out = []
    for t in list(sub.table):
        kind = sub.str(t, choices=PHASINGS)
        if kind in PHASINGS:
            out.append((t, kind))
    if not sub.table:
        f.error("phasing", "is an empty table; name lights, e.g. phasing = { J1 = \"split\" }")
    return tuple(out)


def _element_id(xml: str) -> str:
    start = xml.find('id="') + 4
    return xml[start:xml.find('"', start)]

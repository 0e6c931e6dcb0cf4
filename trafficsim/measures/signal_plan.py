"""Signal plans as a measure.

A tuned plan file, SUMO actuated control, Webster timings, or coordinated actuated control on a
fixed-time plan.

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

Programs get a new programID, which SUMO makes the active program of each traffic light.

Max-pressure is external control (:mod:`trafficsim.control`): trafficsim steps the run through
TraCI in the run's own process; ``sumo -c case.sumocfg`` alone cannot reproduce such a run, and
the case folder says so (``controllers.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trafficsim.control import MaxPressureSettings, max_pressure_program, max_pressure_spec
from trafficsim.measures.base import CaseDraft, Measure, NetIndex
from trafficsim.measures.registry import register
from trafficsim.signals import (
    SUMO_MAX_DUR_S,
    SUMO_MIN_DUR_S,
    SignalPlan,
    WebsterSettings,
    read_edges,
    read_links,
    read_plan,
    read_plan_file,
    webster_plan,
)
from trafficsim.spec import Fields

CONTROLS = ("file", "actuated", "webster", "coordinated", "max_pressure")


@register
@dataclass(frozen=True)
class SignalPlanMeasure(Measure):
    """Replace the signal programs of some or all traffic lights.

    Parameters
    ----------
    control
        ``file`` (load ``file``), ``actuated``, ``webster``, ``coordinated`` or
        ``max_pressure``.
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

    @classmethod
    def parse(cls, f: Fields) -> SignalPlanMeasure:
        """A signal-plan measure from its plan table; problems go to ``f.issues``.

        A plan file is read here: its elements travel with the measure, and a damaged file is a
        problem of the scenario, reported at load time.
        """
        has_file = f.has("file")
        control = f.str("control", "file" if has_file else "", choices=CONTROLS)
        if not control:
            f.error("control", "is missing; give file = \"plan.add.xml\" or control = "
                               "\"actuated\" / \"webster\"")
        tls = tuple(f.str_list("tls", ()))
        kw: dict[str, object] = {"control": control, "tls": tls}
        if control in ("file", "coordinated") and has_file:
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
        return out

    def apply(self, draft: CaseDraft) -> None:
        """Add its traffic-light programs to ``draft``.

        The plan file's programs (only those of ``tls``, if given), or programs derived from the
        network's own: actuated, coordinated actuated, or Webster timings for ``flows_veh_h``.

        Raises
        ------
        ValueError
            When programs must be derived and the draft has no network file.
        """
        if self.control == "file":
            keep = set(self.tls)
            draft.additional.extend(
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
        if self.control == "max_pressure":
            self._apply_max_pressure(draft, plan)
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
        else:
            links = read_links(draft.net_file)
            lanes: dict[str, float] = {}
            for edge, q in self.flows_veh_h:
                edge_lanes = sorted({lk.lane_id for ls in links.values() for lk in ls
                                     if lk.from_edge == edge})
                for lane in edge_lanes:
                    lanes[lane] = q / len(edge_lanes)
            settings = WebsterSettings(self.saturation_flow_veh_h, self.lost_time_s)
            plan, _ = webster_plan(plan, links, lanes, settings)
        draft.additional.extend(plan.elements())

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


def _element_id(xml: str) -> str:
    start = xml.find('id="') + 4
    return xml[start:xml.find('"', start)]

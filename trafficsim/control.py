"""External signal control driven through TraCI: the :class:`Controller` protocol and max-pressure.

A controller drives traffic lights from inside a run: :func:`trafficsim.sumo.run_sumo_monitored`
steps SUMO through TraCI (its own port, in the run's own process, so runs stay isolated and
parallel) and calls :meth:`Controller.step` whenever the controller asked to be called again.
The controller only *switches* between phases of a program SUMO has loaded: every signal state
the run shows is a phase of that program, which sits in the case's additional file for anyone to
inspect.

Max-pressure (Varaiya 2013, the adaptive baseline of RESCO and LibSignal): at each decision,
every traffic light gives green to the stage whose movements have the largest pressure,

    pressure(stage) = Σ over its green movements (vehicles on the incoming lane
                      − vehicles on the outgoing lane),

counted once per (incoming lane, outgoing lane) pair, pedestrian crossings left out (so a stage
serving pedestrians only is reached through ``max_green_s``).  Decisions fall on a common grid
of ``step_s`` from the start of the run, for every light alike: a green that has not yet run
``min_green_s`` is kept at a decision time, so a green lasts at least ``min_green_s`` and less
than ``min_green_s + step_s`` when it is left at once.  After ``max_green_s`` (if given, kept to
the step) a light must hand over to the best *other* stage.  The common grid costs one TraCI
round trip per decision time for the whole network (lane counts by subscription) rather than
one per light.  A switch runs the yellow and all-red of the program: see
:func:`max_pressure_program` for how the transitions are built.

A case driven this way cannot be reproduced by ``sumo -c case.sumocfg`` alone: without the
controller, SUMO would hold the first stage's green for the whole run.  Its folder says so in
``controllers.json`` (:data:`CONTROLLERS_FILE`), which also holds everything the controller
needs.  Runs are reproducible: the same seed gives the same decisions and metrics, bit for bit.

Pure module apart from the TraCI connection it is handed: it never starts SUMO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from trafficsim.signals import Phase, Program

#: programID of the max-pressure programs (the measure's programs become the active ones).
MAX_PRESSURE_PROGRAM_ID = "max_pressure"
#: Duration of a max-pressure green in the program: the controller, not SUMO, ends it. [s]
HOLD_S = 1_000_000.0
#: Yellow of a derived transition when the light's own transition has none. [s]
DEFAULT_YELLOW_S = 3.0
#: What a case folder driven by a controller holds about it (beside ``case.sumocfg``).
CONTROLLERS_FILE = "controllers.json"
CONTROLLERS_NOTE = (
    "The traffic lights listed here are driven from outside SUMO, through TraCI, by trafficsim's "
    "controllers (trafficsim/control.py); 'sumo -c case.sumocfg' alone does NOT reproduce this "
    "run (SUMO would hold each light's first green). Re-run the plan with trafficsim "
    "(run/compare) to repeat it.")


class Controller(Protocol):
    """Something that drives signals during a run through a TraCI connection.

    Both methods return the simulation time at which the controller wants to be called next
    [s]; the stepping loop calls :meth:`step` at the first simulation step at or after it.
    """

    def start(self, conn: Any, t_s: float) -> float:
        """Set up (subscriptions, checks) at the first step ``t_s`` [s] of the run."""
        ...

    def step(self, conn: Any, t_s: float) -> float:
        """Act at simulation time ``t_s`` [s]."""
        ...


class ControlError(RuntimeError):
    """The run cannot be controlled as its case says (e.g. another program replaced it)."""


# --------------------------------------------------------------------------------------------
# The max-pressure program: the light's stages and every transition between two of them
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageTable:
    """One light's max-pressure program, as the controller needs it.

    Attributes
    ----------
    greens
        Phase index of each stage's green.
    transitions
        ``(from stage, to stage)`` → (index of the first transition phase, or of the target
        green when none is needed; total transition time [s]).
    """

    greens: tuple[int, ...]
    transitions: Mapping[tuple[int, int], tuple[int, float]]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``controllers.json``)."""
        return {"greens": list(self.greens),
                "transitions": [[a, b, i, d] for (a, b), (i, d) in sorted(self.transitions.items())]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StageTable:
        """The table of :meth:`to_json`."""
        return cls(tuple(int(g) for g in doc["greens"]),
                   {(int(a), int(b)): (int(i), float(d)) for a, b, i, d in doc["transitions"]})


def _is_green(c: str) -> bool:
    return c in "Gg"


def derived_transition(a: str, b: str, own: Sequence[Phase]) -> list[Phase]:
    """Yellow and all-red phases from green state ``a`` to green state ``b``.

    A link green in ``a`` and not in ``b`` shows yellow, then red; a link green in both keeps
    its green (it runs with ``b``'s movements anyway); any other link shows red unless it
    shows the same in both (e.g. ``O``, off).  The yellow lasts as long as the yellow phases
    of ``own`` (the light's own transition after ``a``, :data:`DEFAULT_YELLOW_S` if it has
    none), the red as long as its other phases.  No phase when no link loses its green: then
    ``b`` only adds movements to ``a``'s, which is safe at once.
    """
    if not any(_is_green(x) and not _is_green(y) for x, y in zip(a, b, strict=True)):
        return []
    yellow_s = sum(p.duration_s for p in own if "y" in p.state) or DEFAULT_YELLOW_S
    red_s = sum(p.duration_s for p in own if "y" not in p.state)

    def state(losing: str) -> str:
        return "".join(x if _is_green(x) and _is_green(y)
                       else losing if _is_green(x)
                       else x if x == y else "r"
                       for x, y in zip(a, b, strict=True))

    out = [Phase(state("y"), yellow_s)]
    if red_s > 0:
        out.append(Phase(state("r"), red_s))
    return out


def max_pressure_program(program: Program, program_id: str = MAX_PRESSURE_PROGRAM_ID
                         ) -> tuple[Program, StageTable] | None:
    """A static program holding ``program``'s stages and a transition for each pair of them.

    Phases ``0 … k−1`` are the stage greens (duration :data:`HOLD_S`: only the controller ends
    them).  Then, for each ordered pair of stages (a, b), the phases that lead from a's green
    to b's, the last with ``next`` = b's green: from a to the stage that follows it in the
    program, the program's own transition phases unchanged; to any other stage, a transition
    derived from the two greens with the same yellow and all-red times
    (:func:`derived_transition`).  Each green's ``next`` is its program's own successor, so the
    phase order of the original cycle is kept.

    Returns None for a light with fewer than two stages (nothing to choose).
    """
    stages = program.stages
    k = len(stages)
    if k < 2:
        return None
    greens = [program.phases[s.green] for s in stages]
    trans: list[Phase] = []
    table: dict[tuple[int, int], tuple[int, float]] = {}
    for a, st in enumerate(stages):
        own = [program.phases[i] for i in st.transitions]
        for step in range(1, k):
            b = (a + step) % k
            phases = own if step == 1 else derived_transition(greens[a].state, greens[b].state, own)
            if not phases:
                table[(a, b)] = (b, 0.0)
                continue
            first = k + len(trans)
            phases = [Phase(p.state, p.duration_s, name=p.name) for p in phases]
            phases[-1] = Phase(phases[-1].state, phases[-1].duration_s, name=phases[-1].name,
                               next=(b,))
            trans += phases
            table[(a, b)] = (first, sum(p.duration_s for p in phases))
    hold = [Phase(g.state, HOLD_S, name=g.name, next=(table[(a, (a + 1) % k)][0],))
            for a, g in enumerate(greens)]
    prog = Program(tls_id=program.tls_id, phases=(*hold, *trans), offset_s=0.0,
                   program_id=program_id, kind="static",
                   min_greens_s=tuple(program.min_greens_s))
    return prog, StageTable(tuple(range(k)), table)


@dataclass(frozen=True)
class MaxPressureSettings:
    """Timing of max-pressure decisions.

    Attributes
    ----------
    min_green_s
        Shortest green. [s]
    step_s
        Time between two decisions once the minimum green has run. [s]
    max_green_s
        Longest green (None: none); then the best other stage gets the green. [s]
    """

    min_green_s: float = 5.0
    step_s: float = 5.0
    max_green_s: float | None = None


def max_pressure_spec(tables: Mapping[str, StageTable], settings: MaxPressureSettings,
                      program_id: str = MAX_PRESSURE_PROGRAM_ID) -> dict[str, Any]:
    """The JSON description of a max-pressure controller (what :func:`make_controllers` reads)."""
    return {"type": "max_pressure", "program_id": program_id,
            "min_green_s": settings.min_green_s, "step_s": settings.step_s,
            "max_green_s": settings.max_green_s,
            "tls": {t: tab.to_json() for t, tab in tables.items()}}


# --------------------------------------------------------------------------------------------
# The controller
# --------------------------------------------------------------------------------------------
@dataclass
class _Light:
    """Run-time state of one light."""

    tls: str
    table: StageTable
    pairs: list[list[tuple[str, str]]] = field(default_factory=list)  # per stage: (in, out)
    stage: int = 0
    green_start_s: float = 0.0
    due_s: float = 0.0
    switches: int = 0


class MaxPressure:
    """Max-pressure control of some traffic lights (see the module docstring).

    Lane counts come from TraCI subscriptions (one round trip per decision time for all
    lanes); switching is ``setPhase`` to the first phase of the program's transition.
    """

    def __init__(self, tables: Mapping[str, StageTable], settings: MaxPressureSettings,
                 program_id: str = MAX_PRESSURE_PROGRAM_ID) -> None:
        self.settings = settings
        self.program_id = program_id
        self.lights = [_Light(t, tab) for t, tab in tables.items()]
        self.begin_s = 0.0

    def _on_grid(self, t_s: float) -> float:
        """The first decision time at or after ``t_s`` [s] (multiples of ``step_s`` from the start)."""
        step = self.settings.step_s
        return self.begin_s + math.ceil(round((t_s - self.begin_s) / step, 6)) * step

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> MaxPressure:
        """The controller a :func:`max_pressure_spec` document describes."""
        mg = spec.get("max_green_s")
        settings = MaxPressureSettings(float(spec["min_green_s"]), float(spec["step_s"]),
                                       None if mg is None else float(mg))
        tables = {t: StageTable.from_json(d) for t, d in spec["tls"].items()}
        return cls(tables, settings, str(spec.get("program_id", MAX_PRESSURE_PROGRAM_ID)))

    def start(self, conn: Any, t_s: float) -> float:
        """Check the programs, subscribe to the lanes, and start each light in its first stage."""
        import traci.constants as tc

        lanes: set[str] = set()
        for light in self.lights:
            running = conn.trafficlight.getProgram(light.tls)
            if running != self.program_id:
                msg = (f"traffic light '{light.tls}' runs program '{running}', not the "
                       f"max-pressure program '{self.program_id}': another signal program loaded "
                       "after it replaces it (two signal_plan measures for one light?)")
                raise ControlError(msg)
            logic = next(lg for lg in conn.trafficlight.getAllProgramLogics(light.tls)
                         if lg.programID == self.program_id)
            links = conn.trafficlight.getControlledLinks(light.tls)
            for g in light.table.greens:
                state = logic.phases[g].state
                pairs = sorted({(inc, out) for i, group in enumerate(links)
                                if i < len(state) and _is_green(state[i])
                                for inc, out, _via in group
                                if not inc.startswith(":")})  # crossings: no vehicles
                light.pairs.append(pairs)
                lanes |= {ln for p in pairs for ln in p}
            conn.trafficlight.setPhase(light.tls, light.table.greens[0])
            light.stage, light.green_start_s = 0, t_s
        self.begin_s = t_s
        for light in self.lights:
            light.due_s = self._on_grid(t_s + self.settings.min_green_s)
        for lane in sorted(lanes):
            conn.lane.subscribe(lane, [tc.LAST_STEP_VEHICLE_NUMBER])
        return min(lt.due_s for lt in self.lights)

    def step(self, conn: Any, t_s: float) -> float:
        """Decide for every light whose decision is due at ``t_s`` [s]."""
        import traci.constants as tc

        counts = {lane: r[tc.LAST_STEP_VEHICLE_NUMBER]
                  for lane, r in conn.lane.getAllSubscriptionResults().items()}
        for light in self.lights:
            if light.due_s <= t_s + 1e-9:
                self._decide(conn, light, counts, t_s)
        return min(lt.due_s for lt in self.lights)

    def _decide(self, conn: Any, light: _Light, counts: Mapping[str, int], t_s: float) -> None:
        s = self.settings
        pressure = [sum(counts.get(i, 0) - counts.get(o, 0) for i, o in pairs)
                    for pairs in light.pairs]
        held = t_s - light.green_start_s
        forced = s.max_green_s is not None and held >= s.max_green_s - 1e-9
        # ties: keep the current stage (no needless intergreen), else the first in the cycle
        order = [light.stage] + [k for k in range(len(pressure)) if k != light.stage]
        if forced:
            order = order[1:]
        best = max(order, key=lambda k: pressure[k])
        if best == light.stage:
            light.due_s = self._on_grid(t_s + s.step_s)
            if s.max_green_s is not None:  # the maximum is kept exactly, off the grid if need be
                light.due_s = min(light.due_s, light.green_start_s + s.max_green_s)
            return
        first, intergreen_s = light.table.transitions[(light.stage, best)]
        conn.trafficlight.setPhase(light.tls, first)
        light.stage, light.green_start_s = best, t_s + intergreen_s
        light.switches += 1
        light.due_s = self._on_grid(light.green_start_s + s.min_green_s)


#: Controller type (the ``type`` of a spec) → how to build it from its spec.
CONTROLLER_TYPES = {"max_pressure": MaxPressure.from_spec}


def make_controllers(specs: Sequence[Mapping[str, Any]]) -> list[Controller]:
    """The controllers that JSON specs (a case's ``controllers.json``) describe.

    Raises
    ------
    ControlError
        For a spec of an unknown type.
    """
    out: list[Controller] = []
    for spec in specs:
        kind = str(spec.get("type", ""))
        if kind not in CONTROLLER_TYPES:
            msg = f"unknown controller type {kind!r}; known: {', '.join(CONTROLLER_TYPES)}"
            raise ControlError(msg)
        out.append(CONTROLLER_TYPES[kind](spec))
    return out


def next_step_s(t_s: float, due_s: float, dt_s: float) -> float:
    """The first simulation step at or after ``due_s`` and after ``t_s`` [s].

    Steps are multiples of ``dt_s`` (SUMO's step length) [s].
    """
    n = math.ceil(round(due_s / dt_s, 6))
    return max(n * dt_s, t_s + dt_s)

"""What every measure is: a validated spec that turns into native SUMO elements.

A measure never talks to SUMO.  It reads its own table of the scenario file (``parse``), checks its
references against the network (``check``) and adds native SUMO elements to a :class:`CaseDraft`
(``apply``): edge patches that ``netconvert`` applies to the network, additional-file elements
(rerouters, parking areas, detectors, …) and vehicle-type changes.

A measure module declares everything about the measure, so that a new measure is one file:

=======================  =================================================================
``parse`` / ``check``    its table in the scenario file and its references to the network
``apply``                how it changes a case (native SUMO elements)
``observe``              the outputs every plan records so that plans compare on its yardstick
``metrics`` /            what it reads back from a run
``observed_metrics``
``METRICS``              each metric key it reports, with unit and direction (:class:`MetricInfo`)
``figures`` /            its pictures and its section of ``trafficsim report``
``report_section``
=======================  =================================================================

A :class:`Situation` is the scenario-wide counterpart: something that happens in every plan
(incidents, car-park demand, kerb stops), read from a top-level table and turned into the
measures each plan applies.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from trafficsim.errors import suggest
from trafficsim.spec import Fields

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trafficsim.report import ResultsFolder

__all__ = ["CaseDraft", "Measure", "MetricInfo", "NetIndex", "Situation", "StopVisit",
           "match_metric", "via_edges", "via_lane"]


@dataclass(frozen=True)
class NetIndex:
    """The parts of a network that scenario references are checked against.

    Parameters
    ----------
    edges
        Edge id → number of lanes.
    junctions
        Ids of all junctions.
    signals
        Ids of traffic-light controlled junctions (tlLogic ids).
    edge_length_m
        Edge id → length. [m]
    out_edges, in_edges
        Junction id → ids of the edges leaving / entering it.
    signal_approaches
        Traffic-light id → ids of the edges whose movements it controls.
    edge_speed_m_s
        Edge id → speed limit of its first lane. [m/s]
    connections
        Lane-to-lane links between (non-internal) edges: (from edge, from lane, to edge, to lane).
    directions
        SUMO's direction of each of those links (``s`` straight, ``l``/``L`` left, ``r``/``R``
        right, ``t`` turnaround).
    path
        The network file, for checks that need more than this index (turn directions, signal
        programs: :func:`trafficsim.netmodel.read_network` reads it, cached); None when the
        index was built by hand.
    """

    edges: dict[str, int]
    junctions: frozenset[str]
    signals: frozenset[str]
    edge_length_m: dict[str, float] = field(default_factory=dict)
    out_edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signal_approaches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    edge_speed_m_s: dict[str, float] = field(default_factory=dict)
    connections: tuple[tuple[str, int, str, int], ...] = ()
    directions: dict[tuple[str, int, str, int], str] = field(default_factory=dict)
    path: Path | None = None

    def ends(self, edge: str) -> tuple[str, str]:
        """(from junction, to junction) of an edge."""
        return self._edge_ends[edge]

    def reverse(self, edge: str) -> str | None:
        """The edge that runs between the same junctions in the other direction, if any."""
        a, b = self.ends(edge)
        back = [e for e in self.out_edges.get(b, ()) if e in self.in_edges.get(a, ())]
        return back[0] if len(back) == 1 else None

    @functools.cached_property
    def _edge_ends(self) -> dict[str, tuple[str, str]]:
        src = {e: j for j, es in self.out_edges.items() for e in es}
        dst = {e: j for j, es in self.in_edges.items() for e in es}
        return {e: (src.get(e, ""), dst.get(e, "")) for e in self.edges}

    def missing_edge(self, edge: str) -> str | None:
        """A message when ``edge`` is not in the network, else None."""
        if edge in self.edges:
            return None
        return f"edge '{edge}' is not in the network.{suggest(edge, self.edges)}"

    def missing_lane(self, edge: str, lane: int) -> str | None:
        """A message when the edge lacks lane index ``lane``, else None."""
        if (msg := self.missing_edge(edge)) is not None:
            return msg
        n = self.edges[edge]
        if not 0 <= lane < n:
            return f"edge '{edge}' has {n} lane(s), indices 0..{n - 1}; lane {lane} does not exist"
        return None


@dataclass(frozen=True)
class StopVisit:
    """A drawn vehicle's wish to stop at the kerb (a drop-off, pick-up or visit).

    Attributes
    ----------
    edge, lane
        Where it wants to stop (lane 0 is the kerb lane).
    pos_m
        Position of the gate along the edge. [m]
    frontage_m
        Length of kerb before the gate along which it may stop. [m]
    dwell_s
        How long it wants to stay. [s]
    arrive_s
        When it would reach the gate in free flow (departure + free-flow travel time). [s]
    """

    edge: str
    lane: int
    pos_m: float
    frontage_m: float
    dwell_s: float
    arrive_s: float


@dataclass
class CaseDraft:
    """Native SUMO elements that the measures of one plan add to a case.

    Elements that name internal lanes use the placeholders of :func:`via_lane` and
    :func:`via_edges`: the plan's network numbers them only when it is built.

    Attributes
    ----------
    edge_patches
        ``<edge .../>`` elements applied to the network by ``netconvert`` (plain-XML patch).
    additional
        Elements of the case's additional file (``<rerouter>``, ``<parkingArea>``, …).
        Programs among them index the base network's links and are fitted to a patched plan
        network's links (:func:`~trafficsim.network.fit_programs`).
    fitted
        Additional-file elements whose programs already index the plan network's links (the
        optimiser's candidates with ``--plan``): appended after the fitting, never remapped.
    vtype_attrs
        vType id → attributes to set on that type in the route file (``car``, ``bus``, ``truck``,
        ``delivery``, or a type added through ``vtypes``).
    vtypes
        New vType id → (base vehicle kind, attributes that override the base kind's).
    retype
        Rules applied to every generated vehicle, in order: ``rule(kind, occupancy)`` returns the
        vType id the vehicle should use instead, or None to leave it (e.g. carpools → ``car_hov``).
    sumo_options
        Extra command-line options for the run (pairs: ``["--stop-output", "stops.xml"]``).
    connection_patches
        ``<connection .../>`` elements applied by ``netconvert`` with the edge patches (e.g. the
        lane-to-lane links of an added lane).
    outputs
        Additional-file elements that write output files (detectors, ``<laneData>``, …).  They go
        into each run's own directory: SUMO resolves an output file name against the file that
        declares it, so in the plan's shared ``measures.add.xml`` parallel seeds would overwrite
        each other's output.
    net
        The base network the plan is built on, for measures whose elements depend on its topology
        (e.g. every edge on which a rerouter must act).
    stop_rules
        Rules that write a vehicle's kerb stop: ``rule(visit)`` returns the ``<stop .../>``
        element, or None to leave it to the next rule.  Without an answer the vehicle stops in
        the travel lane (double parking), the do-nothing behaviour.
    begin_s, end_s
        The simulation window. [s]
    net_file
        The base network's file, for measures that read what the index does not hold (e.g. the
        signal programs a ``signal_plan`` measure derives actuated or Webster control from).
    waiting_links
        Movements that get a waiting area inside the junction: (traffic light, from edge, to
        edge).  The network's programs are then changed in exactly one way
        (:func:`trafficsim.network.waiting_area_states`): the movement's entry also shows green
        in the preceding stage, and a new signal index (``linkIndex2``) holds the internal stop
        until the movement's own green.
    controllers
        JSON specs of controllers that drive signals during the run through TraCI
        (:mod:`trafficsim.control`, e.g. max-pressure): a case with any is run stepped by
        trafficsim, not by plain ``sumo -c``, and its folder says so (``controllers.json``).
    """

    edge_patches: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    fitted: list[str] = field(default_factory=list)
    vtype_attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    vtypes: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    retype: list[Callable[[str, int], str | None]] = field(default_factory=list)
    sumo_options: list[str] = field(default_factory=list)
    connection_patches: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    stop_rules: list[Callable[[StopVisit], str | None]] = field(default_factory=list)
    net: NetIndex | None = None
    begin_s: float = 0.0
    end_s: float = 86400.0
    net_file: Path | None = None
    waiting_links: list[tuple[str, str, str]] = field(default_factory=list)
    controllers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class MetricInfo:
    """What a metric means: its unit, which way is better and a one-line description.

    Attributes
    ----------
    unit
        Unit as printed (``"s"``, ``"veh"``, ``"%"``, ``"-"`` for a ratio).
    better
        ``"lower"`` or ``"higher"`` when a change in that direction is an improvement; None
        for a metric that describes without judging (a lane's share of the traffic, the
        number of uses of a bay): a significant change is reported, never called better.
    description
        One line for tables and documentation.
    rule
        A rule the plan's model keeps by construction (a tidal lane entered against its
        direction, a stop in a bay outside its windows): where a plan recorded 0, any other
        value is a fault, and ``regress`` accepts no change at all (tolerance 0, no noise
        allowance).
    """

    unit: str
    better: Literal["lower", "higher"] | None
    description: str = ""
    rule: bool = False

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher", None):
            msg = f"MetricInfo.better = {self.better!r}; expected 'lower', 'higher' or None"
            raise ValueError(msg)


def match_metric(declared: Mapping[str, MetricInfo], key: str) -> MetricInfo | None:
    """The declaration of a metric key among ``declared``, or None.

    A key is declared exactly, or by a pattern whose ``{…}`` parts stand for an id
    (``"{id}_max_queue_m"`` declares ``crash_max_queue_m``).
    """
    if key in declared:
        return declared[key]
    for pattern, info in declared.items():
        if "{" in pattern and _pattern(pattern).fullmatch(key):
            return info
    return None


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", pattern)
    return re.compile(".+".join(re.escape(p) for p in parts))


def via_lane(from_edge: str, from_lane: int, to_edge: str, to_lane: int) -> str:
    """A placeholder for the internal (via) lane of a connection, in a draft's elements.

    ``netconvert`` numbers internal lanes when it builds the plan's network, after the measures
    have written their elements; the case builder replaces each placeholder by the lane's id in
    the plan's network (:func:`trafficsim.network.resolve_vias`), and refuses a plan whose
    network lacks the connection.
    """
    return f"{{via|{from_edge}|{from_lane}|{to_edge}|{to_lane}}}"


def via_edges(from_edge: str) -> str:
    """A placeholder for the internal edges entered from ``from_edge`` (space-separated ids).

    For outputs that observe every plan: each plan's network has its own connections (an edge
    without any yields nothing).
    """
    return f"{{vias|{from_edge}}}"


class Measure(ABC):
    """Base class of every measure.  Subclasses are frozen dataclasses registered by ``kind``.

    Class attributes
    ----------------
    kind
        The ``type`` that names it in a scenario file.
    METRICS
        Every metric key its :meth:`metrics` and :meth:`observed_metrics` report → unit,
        direction and description.  A key may hold ``{…}`` for an id (``"{id}_conflicts"``).
        :func:`trafficsim.metrics.is_improvement` reads it for the CLI, the report and the
        regression check, so an undeclared key is never called better or worse.
    REPORT_TITLE, REPORT_ORDER, REPORT_NOTE
        Heading and position (the built-in sections use 10–90) of its section of the report
        (no section when the title is empty), and the note (HTML) under its figures.

    The figure hooks import :mod:`trafficsim.plots` when they draw (never at import): the one
    place a measure reaches above its layer, and only while a report is drawn.
    """

    kind: ClassVar[str]
    METRICS: ClassVar[dict[str, MetricInfo]] = {}
    REPORT_TITLE: ClassVar[str] = ""
    REPORT_ORDER: ClassVar[float] = 35.0
    REPORT_NOTE: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def parse(cls, f: Fields) -> Measure:
        """Read the measure from its table, recording problems in ``f.issues``."""

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with references to the network or the simulation window.

        Returns
        -------
        list of (field, message)
            ``field`` is relative to the measure's table.
        """
        return []

    @abstractmethod
    def apply(self, draft: CaseDraft) -> None:
        """Add this measure's native SUMO elements to ``draft``."""

    @property
    def label(self) -> str:
        """Name of this instance in metric keys (``LABEL:key``).

        Used when a plan holds several measures whose metrics share names (e.g. two kerb
        bays).  Measures whose metrics are per instance override it with something unique (the
        bay, the lane's edges); measures sharing a label report the same plan-wide values under
        a key.
        """
        return self.kind

    @property
    def remarks(self) -> tuple[str, ...]:
        """Approach edges whose lane marking (which lane serves which movement) it rewrites.

        Two measures of one plan that rewrite one approach's marking would patch the same
        connections in an order-dependent way, so a plan may hold only one of them per edge.
        """
        return ()

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Measure-specific metrics read from a finished run's outputs (e.g. violations).

        Runs in the worker process after SUMO; keys should carry units.  Plans without this
        measure simply lack the keys (reported as null).
        """
        return {}

    def observe(self, draft: CaseDraft) -> None:
        """Add the outputs :meth:`observed_metrics` needs; called for EVERY plan of the scenario.

        A measure is judged by comparing its plan with the baseline on the same yardstick (e.g.
        the delay along its road in each direction), so the baseline must record it too.  Only
        add outputs here (``draft.outputs``, ``draft.sumo_options``), never behaviour.
        """
        return None

    def observed_metrics(self, run_dir: Path) -> dict[str, float]:
        """Metrics computed identically in every plan's run.

        They come from the outputs of :meth:`observe` and the standard ones, so that they get
        paired differences against the baseline.
        """
        return {}

    # -- results -------------------------------------------------------------------------------
    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """Its pictures of a results folder (empty when the folder holds none of its results).

        Reads only the folder (``metrics.json``, the tables, the run directories), so that
        ``trafficsim report`` can draw a folder written earlier.
        """
        return []

    @classmethod
    def report_section(cls, folder: ResultsFolder) -> list[Any]:
        """Blocks of its report section: figures and escaped HTML fragments.

        By default its :meth:`figures` followed by the class's ``REPORT_NOTE`` paragraph, if
        any.
        """
        return _figures_and_note(cls, folder)


class Situation(ABC):
    """Something that happens in every plan of a scenario: incidents, car-park demand, kerb stops.

    It is read once from a top-level table and turned into measures each plan applies.

    Registered by ``table`` (the scenario file's table name, e.g. ``"incidents"``), so the
    scenario loader, the case builder and the runner handle every situation alike.

    Class attributes
    ----------------
    table
        Its table in the scenario file (``"incidents"``, ``"parking"``, ``"demand.stops"``).
    METRICS, REPORT_TITLE, REPORT_ORDER
        As for :class:`Measure` (the metrics of the measures it adds).
    """

    table: ClassVar[str]
    METRICS: ClassVar[dict[str, MetricInfo]] = {}
    REPORT_TITLE: ClassVar[str] = ""
    REPORT_ORDER: ClassVar[float] = 35.0
    REPORT_NOTE: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def read(cls, top: Fields, demand: Any) -> Situation | None:
        """Read it from the scenario's top-level table (problems go to ``top.issues``).

        ``demand`` is the parsed ``[demand]`` (or None), for situations that live in it.
        Returns None when the scenario has none.
        """

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with its references to the network.

        Fields are full paths (``incidents[0].edge``).
        """
        return []

    @classmethod
    def plan_issues(cls, found: Situation | None, plans: Mapping[str, Sequence[Measure]]
                    ) -> list[tuple[str, str]]:
        """Problems of plan measures that refer to it (full field paths).

        For example a clearance time for an incident the scenario does not have.  ``found`` is
        the scenario's situation of this kind, None when the scenario has none (a plan may
        still refer to it).
        """
        return []

    def resolve(self, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
        """The measures a plan applies, given the plan's own.

        It adds its own, and may consume plan measures that only parametrise it (a plan's
        clearance time of an incident).
        """
        return measures

    def write_demand(self, run_dir: Path, begin_s: float, end_s: float, seed: int
                     ) -> list[str]:
        """Write its own route files into a run directory and return their names.

        The routes are drawn per seed, the same in every plan.
        """
        return []

    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """As :meth:`Measure.figures`."""
        return []

    @classmethod
    def report_section(cls, folder: ResultsFolder) -> list[Any]:
        """As :meth:`Measure.report_section`."""
        return _figures_and_note(cls, folder)


def _figures_and_note(cls: type[Measure] | type[Situation], folder: ResultsFolder) -> list[Any]:
    """A class's figures, then its ``REPORT_NOTE`` (HTML, escaped by the author) if any."""
    figs: list[Any] = list(cls.figures(folder))
    return [*figs, f'<p class="note">{cls.REPORT_NOTE}</p>'] if figs and cls.REPORT_NOTE else figs

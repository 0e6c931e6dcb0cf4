"""What every measure is: a validated spec that turns into native SUMO elements.

A measure never talks to SUMO.  It reads its own table of the scenario file (``parse``), checks its
references against the network (``check``) and adds native SUMO elements to a :class:`CaseDraft`
(``apply``): edge patches that ``netconvert`` applies to the network, additional-file elements
(rerouters, parking areas, detectors, …) and vehicle-type changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from trafficsim.errors import suggest
from trafficsim.spec import Fields


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
    """

    edges: dict[str, int]
    junctions: frozenset[str]
    signals: frozenset[str]
    edge_length_m: dict[str, float] = field(default_factory=dict)
    out_edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_edges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    signal_approaches: dict[str, tuple[str, ...]] = field(default_factory=dict)

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


@dataclass
class CaseDraft:
    """Native SUMO elements that the measures of one plan add to a case.

    Attributes
    ----------
    edge_patches
        ``<edge .../>`` elements applied to the network by ``netconvert`` (plain-XML patch).
    additional
        Elements of the case's additional file (``<rerouter>``, ``<parkingArea>``, …).
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
    outputs
        Additional-file elements that write output files (detectors, ``<laneData>``, …).  They go
        into each run's own directory: SUMO resolves an output file name against the file that
        declares it, so in the plan's shared ``measures.add.xml`` parallel seeds would overwrite
        each other's output.
    net
        The base network the plan is built on, for measures whose elements depend on its topology
        (e.g. every edge on which a rerouter must act).
    """

    edge_patches: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    vtype_attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    vtypes: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    retype: list[Callable[[str, int], str | None]] = field(default_factory=list)
    sumo_options: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    net: NetIndex | None = None


class Measure(ABC):
    """Base class of every measure.  Subclasses are frozen dataclasses registered by ``kind``."""

    kind: ClassVar[str]

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

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Measure-specific metrics read from a finished run's outputs (e.g. violations).

        Runs in the worker process after SUMO; keys should carry units.  Plans without this
        measure simply lack the keys (reported as null).
        """
        return {}

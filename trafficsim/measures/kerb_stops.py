"""Kerb stops: cars that stop at the kerb on their way (school drop-offs, hospital visits).

The demand is scenario-level (``[[demand.stops]]``, drawn with the flows by
:mod:`trafficsim.demand`): the same cars, with the same wishes, exist in every plan, and where
they stop is up to the plan (by default in the travel lane: double parking; a ``parking_bay``
offers them a bay).  This situation gives every plan's runs SUMO's stop output and reads the
drop-off metrics from it, so that plans compare on the same yardstick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, Situation
from trafficsim.measures.registry import register
from trafficsim.outputs import (
    RunStatistics,
    Table,
    offroad_parking_areas,
    read_csv,
    read_statistics,
    read_stops,
    read_vehicle_table,
    vehicle_delays,
)
from trafficsim.spec import Fields
from trafficsim.sumocfg import read_sumocfg

#: Stop output of the runs (XML: SUMO's CSV drops the parkingArea column).
STOP_OUTPUT = "stops.xml"

#: The drop-off metrics, in every plan of a scenario with kerb-stop demand.
KERB_METRICS: dict[str, MetricInfo] = {
    "through_delay_s": MetricInfo("s", "lower", "mean delay of the vehicles that do not stop"),
    "dropoffs_veh": MetricInfo("veh", "higher", "kerb stops completed"),
    "dropoff_bay_share": MetricInfo("-", "higher", "share of the stops made off the travel lane"),
    "lane_blocking_h": MetricInfo("h", "lower", "time stopping vehicles stood in the travel lane "
                                                "(stopped, or waiting for a full bay)"),
    "dropoff_search_s": MetricInfo("s", "lower", "mean wait in front of a full stopping place"),
}


@dataclass(frozen=True)
class KerbStopOutput(Measure):
    """What every plan of a scenario with kerb-stop demand adds.

    The stop output and the drop-off metrics; not a measure a plan names.
    """

    kind = "kerb_stops"
    METRICS = KERB_METRICS

    @classmethod
    def parse(cls, f: Fields) -> KerbStopOutput:
        """Not read from a plan: kerb stops come from ``[[demand.stops]]``.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError("kerb stops come from [[demand.stops]]")

    def apply(self, draft: CaseDraft) -> None:
        """Ask SUMO for the stop output, unless another measure already did."""
        # a [parking] study asks for the same file: SUMO writes one stop output per run
        if "--stop-output" not in draft.sumo_options:
            draft.sumo_options += ["--stop-output", STOP_OUTPUT]

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Drop-off metrics of a finished run (keys of :data:`KERB_METRICS`)."""
        trips = read_csv(run_dir / "tripinfo.csv")
        return kerb_metrics(trips, read_vehicle_table(run_dir / "vehicles.csv"),
                            read_statistics(run_dir / "stats.xml"), _run_end(run_dir),
                            read_stops(run_dir / STOP_OUTPUT),
                            offroad_parking_areas(run_dir.parent / "measures.add.xml"))


@register
@dataclass(frozen=True)
class KerbStops(Situation):
    """``[[demand.stops]]`` as a situation: every plan records the kerb stops."""

    table = "demand.stops"
    METRICS = KERB_METRICS

    @classmethod
    def read(cls, top: Fields, demand: Any) -> KerbStops | None:
        """The kerb-stop output when the scenario's demand has stops, else None."""
        stops = () if demand is None else getattr(demand, "stops", ())
        return cls() if stops else None

    def resolve(self, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
        """The plan's measures after the kerb-stop output."""
        return (KerbStopOutput(), *measures)


def _run_end(run_dir: Path) -> float:
    """The simulation end of a run, from its configuration [s]."""
    return float(read_sumocfg(run_dir / "case.sumocfg").get("end", math.nan))


def kerb_metrics(trips: Table, vehicles: Table, stats: RunStatistics, end_s: float,
                 stops: Table, offroad: frozenset[str]) -> dict[str, float]:
    """Drop-off / visit metrics from SUMO's stop output (keys of :data:`KERB_METRICS`).

    Parameters
    ----------
    trips, vehicles, stats, end_s
        As for :func:`trafficsim.outputs.vehicle_delays`; ``vehicles`` has a ``stop_edge`` column.
    stops
        SUMO stop output (:func:`trafficsim.outputs.read_stops`).
    offroad
        Parking areas where a stopped vehicle is off the travel lane (a bay).

    Returns
    -------
    dict
        ``through_delay_s``: mean delay of the vehicles that do not stop [s];
        ``dropoffs_veh``: finished kerb stops; ``dropoff_bay_share``: share of them made off the
        travel lane; ``lane_blocking_h``: time stopping vehicles stood in the travel lane, stopped
        or waiting in front of a full bay [h]; ``dropoff_search_s``: mean wait in front of a
        full stopping place per stop [s].
    """
    delays, _, ids = vehicle_delays(trips, vehicles, stats, end_s)
    stopping = {i for i, e in zip(vehicles.get("id", ()), vehicles.get("stop_edge", ()),
                                  strict=True) if isinstance(e, str) and e}
    through = np.array([i not in stopping for i in ids], dtype=bool)
    # finished stops only (a [parking] study also asks SUMO for unfinished ones: ended = -1)
    mine = np.array([i in stopping for i in stops.get("id", ())], dtype=bool)
    if mine.any():
        mine &= stops["ended"] >= 0
    n = int(mine.sum())
    area = stops["parkingArea"][mine] if n else np.zeros(0, dtype=object)
    in_bay = np.array([a in offroad for a in area], dtype=bool)
    stood = (stops["ended"] - stops["started"])[mine] if n else np.zeros(0)
    blocked = stops["blockedDuration"][mine] if n else np.zeros(0)
    return {
        "through_delay_s": float(delays[through].mean()) if through.any() else float("nan"),
        "dropoffs_veh": float(n),
        "dropoff_bay_share": float(in_bay.mean()) if n else float("nan"),
        "lane_blocking_h": float(blocked.sum() + stood[~in_bay].sum()) / 3600.0,
        "dropoff_search_s": float(blocked.mean()) if n else float("nan"),
    }

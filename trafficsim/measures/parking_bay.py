"""Time-limited kerb bays at school and hospital gates.

The drop-off / visit demand is scenario-level (``[[demand.stops]]``): the same cars with the
same wished stays exist in every plan, and without a bay they stop in the travel lane (double
parking).  A bay is a ``<parkingArea>`` beside the kerb lane, off the travel lane, with
``roadsideCapacity`` spaces.  A visit uses it when it would reach the gate (free-flow arrival)
inside one of the bay's windows; its stop then lasts its wished stay cut to ``max_stay_s``.
Outside the windows the bay is not there for them: they stop in the lane as before.

When the bay is full, a car either double-parks next to it (``when_full = "double_park"``: a
``<rerouter>`` with ``<parkingAreaReroute>`` sends a car that sees the bay full as it turns into
the street to an on-road parking area just before the bay, i.e. in the travel lane) or waits in
the lane for a space (``when_full = "wait"``, and also a car that finds the bay full only on
arrival).  Cars leave the bay at its downstream end (``departPos``), ahead of anyone standing
alongside; queues reaching back past the gate can still hold them in, so that a stay lasts
longer than wished (``bay_overstays_veh`` counts stays beyond the maximum).

Scenario table::

    [[plans.bays.measures]]
    type = "school_bay"                  # or "hospital_bay", "parking_bay"
    edge = "J1_J2"
    pos_m = 180                          # the bay ends at the gate
    capacity = 6                         # spaces
    max_stay_s = 600
    windows = [["08:00", "09:00"], ["14:45", "15:45"]]
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex, StopVisit
from trafficsim.measures.lanes import Window, tag
from trafficsim.measures.registry import register
from trafficsim.outputs import read_stops
from trafficsim.spec import Fields, read_windows, window_issues

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trafficsim.report import ResultsFolder

#: Kerb length of one parallel parking space. [m]
SPACE_M = 6.5
#: Length of the strip before a full bay where cars double-park. [m]
DOUBLE_PARK_M = 20.0
#: Cars leaving the bay re-enter the lane this far past its end (clear of cars alongside). [m]
EXIT_M = 7.0
#: Stop output of scenarios with kerb stops (written by the build, see trafficsim.build).
STOPS_FILE = "stops.xml"
#: Sampling step of the occupancy time series. [s]
OCCUPANCY_STEP_S = 60.0


@register
@dataclass(frozen=True)
class ParkingBay(Measure):
    """A kerb bay for drop-offs or visits, open in its windows, with a maximum stay.

    Parameters
    ----------
    edge, lane
        Where the bay is: beside ``lane`` (0: the kerb lane) of ``edge``.
    pos_m
        Where the bay ends along the edge (the gate). [m]
    capacity
        Number of spaces.
    max_stay_s
        Longest stay allowed. [s]
    windows
        When the bay serves drop-offs / visits. [s]
    when_full
        ``double_park`` (next to the bay, in the lane) or ``wait`` (in the lane for a space).
    """

    METRICS: ClassVar[dict[str, MetricInfo]] = {
        "bay_uses_veh": MetricInfo("veh", None, "stops made in the bay"),
        "bay_peak_occupancy_veh": MetricInfo("veh", None, "most vehicles in the bay at once"),
        "bay_mean_occupancy_veh": MetricInfo("veh", None, "mean vehicles in the bay in its "
                                                          "windows"),
        "bay_longest_stay_s": MetricInfo("s", None, "longest stay in the bay"),
        "bay_overstays_veh": MetricInfo("veh", "lower", "stays longer than the maximum"),
        "bay_outside_window_veh": MetricInfo("veh", "lower", "stops in the bay outside its "
                                                             "windows (must be 0)", rule=True),
    }
    REPORT_TITLE: ClassVar[str] = "Kerb bays: occupancy"
    REPORT_ORDER: ClassVar[float] = 36.0

    kind: ClassVar[str] = "parking_bay"
    default_max_stay_s: ClassVar[float] = 900.0
    edge: str
    pos_m: float
    capacity: int
    max_stay_s: float
    windows: tuple[Window, ...]
    lane: int = 0
    when_full: str = "double_park"

    @classmethod
    def parse(cls, f: Fields) -> ParkingBay:
        """A kerb bay from its plan table; problems go to ``f.issues``."""
        edge = f.str("edge")
        pos = f.float("pos_m", lo=0.0, unit=" m")
        capacity = f.int("capacity", lo=1, hi=200)
        max_stay = f.float("max_stay_s", cls.default_max_stay_s, lo=0.0, lo_open=True,
                           hi=86400.0, unit=" s")
        windows = read_windows(f, "windows")
        lane = f.int("lane", 0, lo=0, hi=15)
        when_full = f.str("when_full", "double_park", choices=("double_park", "wait"))
        return cls(edge=edge if isinstance(edge, str) else "", pos_m=float(pos or 0.0),
                   capacity=int(capacity or 1), max_stay_s=float(max_stay), windows=windows,
                   lane=int(lane or 0),
                   when_full=when_full if when_full in ("double_park", "wait") else "double_park")

    @property
    def length_m(self) -> float:
        """Kerb length of the bay [m]."""
        return self.capacity * SPACE_M

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Problems with the bay's edge, lane, position and windows, as (field, message).

        The bay (and the double-parking space before it, if used) must fit on the edge before
        ``pos_m``, and cars must be able to leave it before the edge ends.
        """
        if (msg := net.missing_edge(self.edge)) is not None:
            return [("edge", msg)]
        out = []
        if (msg := net.missing_lane(self.edge, self.lane)) is not None:
            out.append(("lane", msg))
        length = net.edge_length_m.get(self.edge, 0.0)
        room = self.length_m + (DOUBLE_PARK_M if self.when_full == "double_park" else 0.0)
        if self.pos_m > length - EXIT_M:
            out.append(("pos_m", f"= {self.pos_m:g} does not fit edge '{self.edge}' "
                                 f"({length:.1f} m long; cars leave the bay {EXIT_M:g} m past "
                                 "its end)"))
        elif self.pos_m < room:
            extra = (f" and {DOUBLE_PARK_M:g} m before it for double parking when it is full"
                     if self.when_full == "double_park" else "")
            out.append(("capacity", f"= {self.capacity}: the bay needs {self.length_m:g} m of kerb "
                                    f"({SPACE_M:g} m a space){extra}, {room:g} m in all before "
                                    f"pos_m = {self.pos_m:g}"))
        return out + window_issues(self.windows, begin_s, end_s)

    # -- SUMO elements ------------------------------------------------------------------------
    @property
    def bay_id(self) -> str:
        """SUMO parkingArea id of the bay, from its edge and position."""
        return f"bay_{tag(self.edge, self.pos_m)}"

    @property
    def label(self) -> str:
        """The bay id: one label per bay."""
        return self.bay_id

    @property
    def full_id(self) -> str:
        """SUMO id of the stopping place where cars double-park when the bay is full."""
        return f"bayfull_{tag(self.edge, self.pos_m)}"

    def apply(self, draft: CaseDraft) -> None:
        """Add the bay (a SUMO parkingArea) and the rule that sends stops in its windows to it.

        With ``when_full = "double_park"`` also an on-road place before the bay and a rerouter
        that sends cars there when the bay is full.
        """
        lane = f"{self.edge}_{self.lane}"
        draft.additional.append(
            f'<parkingArea id="{self.bay_id}" lane="{lane}" startPos="{self.pos_m - self.length_m:.2f}" '
            f'endPos="{self.pos_m:.2f}" roadsideCapacity="{self.capacity}" '
            f'departPos="{self.pos_m + EXIT_M:.2f}" name="{self.kind}"/>')
        if self.when_full == "double_park":
            start = self.pos_m - self.length_m - DOUBLE_PARK_M
            draft.additional += [
                f'<parkingArea id="{self.full_id}" lane="{lane}" startPos="{start:.2f}" '
                f'endPos="{start + DOUBLE_PARK_M:.2f}" '
                f'roadsideCapacity="{int(DOUBLE_PARK_M // SPACE_M)}" '
                f'onRoad="true" name="double parking next to {self.bay_id}"/>',
                f'<rerouter id="{self.full_id}" edges="{self.edge}">'
                f'<interval begin="{draft.begin_s:g}" end="{draft.end_s:g}">'
                f'<parkingAreaReroute id="{self.bay_id}" visible="true"/>'
                f'<parkingAreaReroute id="{self.full_id}" visible="true"/>'
                f"</interval></rerouter>"]
        draft.stop_rules.append(_BayRule(self.edge, self.bay_id, self.windows, self.max_stay_s))

    # -- metrics -----------------------------------------------------------------------------
    @classmethod
    def figures(cls, folder: ResultsFolder) -> list[Figure]:
        """The occupancy of every bay over time, if the folder has bay occupancy files."""
        from trafficsim import plots  # matplotlib only when a report is drawn

        runs = plots.bay_occupancy_runs(folder.dir)
        return [plots.bay_occupancy(runs)] if runs else []

    def metrics(self, run_dir: Path) -> dict[str, float]:
        """Use of the bay, from SUMO's stop output; also writes ``bay_occupancy_BAYID.csv``.

        ``bay_uses_veh``: stays in the bay; ``bay_peak_occupancy_veh`` and
        ``bay_mean_occupancy_veh`` (time-mean over its windows) [veh];
        ``bay_longest_stay_s`` [s]; ``bay_overstays_veh``: stays longer than the maximum
        (e.g. held in by traffic when pulling out); ``bay_outside_window_veh``: stays that began
        outside the windows (both should be 0).
        """
        stops = read_stops(run_dir / STOPS_FILE)
        mine = np.array([a == self.bay_id for a in stops.get("parkingArea", ())], dtype=bool)
        if mine.any():
            mine &= stops["ended"] >= 0  # finished stays (unfinished ones have ended = -1)
        started = stops["started"][mine] if mine.any() else np.zeros(0)
        ended = stops["ended"][mine] if mine.any() else np.zeros(0)
        stay = ended - started
        inside = np.array([any(b <= t < e for b, e in self.windows) for t in started], dtype=bool)
        times = np.arange(min((b for b, _ in self.windows), default=0.0),
                          max((e for _, e in self.windows), default=0.0), OCCUPANCY_STEP_S)
        occupancy = occupancy_series(started, ended, times)
        in_window = np.array([any(b <= t < e for b, e in self.windows) for t in times], dtype=bool)
        with (run_dir / f"bay_occupancy_{self.bay_id}.csv").open("w", newline="",
                                                               encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(["time_s", "occupancy_veh", "capacity_veh"])
            w.writerows((f"{t:g}", int(o), self.capacity) for t, o in zip(times, occupancy,
                                                                              strict=True))
        return {
            "bay_uses_veh": float(mine.sum()),
            "bay_peak_occupancy_veh": float(peak_occupancy(started, ended)),
            "bay_mean_occupancy_veh": float(occupancy[in_window].mean()) if in_window.any()
            else math.nan,
            "bay_longest_stay_s": float(stay.max()) if len(stay) else 0.0,
            "bay_overstays_veh": float(np.count_nonzero(stay > self.max_stay_s + 1.0)),
            "bay_outside_window_veh": float(np.count_nonzero(~inside)),
        }


@register
@dataclass(frozen=True)
class SchoolBay(ParkingBay):
    """A drop-off / pick-up bay at a school gate (default maximum stay: 10 minutes)."""

    kind: ClassVar[str] = "school_bay"
    default_max_stay_s: ClassVar[float] = 600.0


@register
@dataclass(frozen=True)
class HospitalBay(ParkingBay):
    """A drop-off / visit bay at a hospital entrance (default maximum stay: 20 minutes)."""

    kind: ClassVar[str] = "hospital_bay"
    default_max_stay_s: ClassVar[float] = 1200.0


@dataclass(frozen=True)
class _BayRule:
    """Stop rule: visits to the bay's street that arrive in a window stop in the bay."""

    edge: str
    bay_id: str
    windows: tuple[Window, ...]
    max_stay_s: float

    def __call__(self, visit: StopVisit) -> str | None:
        if visit.edge != self.edge or not any(b <= visit.arrive_s < e for b, e in self.windows):
            return None
        stay = min(visit.dwell_s, self.max_stay_s)
        return f'<stop parkingArea="{self.bay_id}" duration="{stay:g}" parking="true"/>'


def peak_occupancy(started: np.ndarray, ended: np.ndarray) -> int:
    """Most stays under way at the same time (a stay occupies [started, ended))."""
    events = sorted([(t, 1) for t in started] + [(t, -1) for t in ended], key=lambda x: (x[0], x[1]))
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def occupancy_series(started: np.ndarray, ended: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Stays under way at each time [veh]."""
    return np.array([np.count_nonzero((started <= t) & (t < ended)) for t in times], dtype=float)

"""Reading SUMO outputs into column tables (``dict`` of column name → numpy array).

SUMO writes CSV when an output file name ends in ``.csv``: semicolon separated, columns prefixed by
the element name (``tripinfo_timeLoss``, ``edge_speed``, ``interval_maxJamLengthInMeters``).  The
prefix is dropped here.  Numeric columns become float arrays; others stay string arrays.
"""

from __future__ import annotations

import csv
import gzip
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Table = dict[str, np.ndarray]


def read_csv(path: Path, *, keep_prefix: tuple[str, ...] = ("emissions_",)) -> Table:
    """Read a SUMO CSV output.

    Parameters
    ----------
    path
        The file.
    keep_prefix
        Column prefixes that are kept (so ``emissions_CO2_abs`` stays distinct).

    Returns
    -------
    Table
        Column name without its element prefix → array (float where every value parses; an
        ``id`` column always text).
    """
    # SUMO gzips any output whose name ends in .gz (trajectories are written that way)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    if not rows:
        return {}
    header = [_strip(h, keep_prefix) for h in rows[0]]
    body = rows[1:]
    table: Table = {}
    for j, name in enumerate(header):
        col = [r[j] if j < len(r) else "" for r in body]
        # ids stay text: a network's or a route file's numeric ids ("9", "-19") read as floats
        # became "-19.0" and matched no edge, junction or detector (empty junction tables)
        table[name] = np.array(col, dtype=object) if name == "id" else _column(col)
    return table


def _strip(name: str, keep: tuple[str, ...]) -> str:
    if name.startswith(keep) or "_" not in name:
        return name
    return name.split("_", 1)[1]


def _column(values: list[str]) -> np.ndarray:
    try:
        return np.array([float(v) if v != "" else np.nan for v in values], dtype=float)
    except ValueError:
        return np.array(values, dtype=object)


def read_vehicle_table(path: Path) -> Table:
    """Read ``vehicles.csv`` written by :func:`trafficsim.demand.write_vehicle_table`."""
    return read_csv(path, keep_prefix=("depart_", "stop_")) if path.is_file() else {}


@dataclass(frozen=True)
class RunStatistics:
    """SUMO's ``--statistic-output`` summary of a run.

    Attributes
    ----------
    loaded, inserted, running, waiting
        Vehicle counts; ``running`` are still in the network at the end, ``waiting`` never got in.
    teleports, teleports_jam
        Vehicles teleported (all causes / because of a jam).
    collisions
        Collisions.
    depart_delay_waiting_s
        Mean wait so far of the vehicles that never got in. [s]
    """

    loaded: int
    inserted: int
    running: int
    waiting: int
    teleports: int
    teleports_jam: int
    collisions: int
    depart_delay_waiting_s: float


def read_statistics(path: Path) -> RunStatistics:
    """Read ``stats.xml`` (SUMO ``--statistic-output``)."""
    root = ET.parse(path).getroot()

    def attr(tag: str, name: str) -> float:
        el = root.find(tag)
        return float(el.get(name, 0)) if el is not None else 0.0

    return RunStatistics(
        loaded=int(attr("vehicles", "loaded")),
        inserted=int(attr("vehicles", "inserted")),
        running=int(attr("vehicles", "running")),
        waiting=int(attr("vehicles", "waiting")),
        teleports=int(attr("teleports", "total")),
        teleports_jam=int(attr("teleports", "jam")),
        collisions=int(attr("safety", "collisions")),
        depart_delay_waiting_s=attr("vehicleTripStatistics", "departDelayWaiting"),
    )


def read_tls_states(path: Path) -> list[tuple[float, str, str]]:
    """Read SUMO's ``SaveTLSSwitchStates`` output.

    One ``(time [s], traffic-light id, state)`` per switch, in time order.
    """
    out = []
    for _, el in ET.iterparse(path):
        if el.tag == "tlsState":
            out.append((float(el.get("time", 0.0)), el.get("id", ""), el.get("state", "")))
        el.clear()
    return out


def read_stops(path: Path) -> Table:
    """Read SUMO's ``--stop-output`` (XML) into a table, one row per stop.

    An unfinished stop, written with ``--stop-output.write-unfinished``, has ``ended`` = -1.

    Columns: ``id``, ``lane``, ``pos``, ``parking`` (1 when the vehicle left the road),
    ``started``, ``ended``, ``blockedDuration`` (time waiting in front of a full stopping place)
    [s], and ``parkingArea`` ("" for stops in a lane).
    """
    rows: dict[str, list[str]] = {k: [] for k in (
        "id", "lane", "pos", "parking", "started", "ended", "blockedDuration", "parkingArea")}
    if not path.is_file():
        return {}
    for _, el in ET.iterparse(path):
        if el.tag == "stopinfo":
            for k, col in rows.items():
                col.append(el.get(k, "0" if k == "blockedDuration" else ""))
            el.clear()
    table: Table = {k: _column(v) for k, v in rows.items() if k not in ("id", "lane", "parkingArea")}
    for k in ("id", "lane", "parkingArea"):
        table[k] = np.array(rows[k], dtype=object)
    return table


def offroad_parking_areas(additional: Path) -> frozenset[str]:
    """Ids of the parking areas in an additional file where vehicles leave the road."""
    if not additional.is_file():
        return frozenset()
    return frozenset(el.get("id", "") for el in ET.parse(additional).getroot().iter("parkingArea")
                     if el.get("onRoad", "false").lower() not in ("true", "1"))


@dataclass(frozen=True)
class MeanDataRow:
    """One edge or lane of one interval of SUMO edge/lane data (``<edgeData>``/``<laneData>``).

    Attributes
    ----------
    interval
        The ``id`` of the meandata element that wrote the interval.
    begin_s, end_s
        The interval. [s]
    edge, lane
        The edge id, and the lane id for lane data ("" for edge data).
    values
        Numeric attributes (``sampledSeconds``, ``timeLoss``, ``entered``, ``distance``, …).
    """

    interval: str
    begin_s: float
    end_s: float
    edge: str
    lane: str
    values: dict[str, float]


def read_meandata(path: Path) -> list[MeanDataRow]:
    """Every edge/lane row of an XML meandata file (several elements may share the file)."""
    rows: list[MeanDataRow] = []
    if not path.is_file():
        return rows
    interval, begin, end, edge = "", 0.0, 0.0, ""
    for event, el in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            if el.tag == "interval":
                interval = el.get("id", "")
                begin, end = float(el.get("begin", 0)), float(el.get("end", 0))
            elif el.tag == "edge":
                edge = el.get("id", "")
            # Lane data nests <lane> rows in <edge>; edge data puts the values on <edge>.
            if el.tag == "lane" or (el.tag == "edge" and len(el.attrib) > 1):
                values = {k: float(v) for k, v in el.attrib.items() if _is_number(v)}
                rows.append(MeanDataRow(interval, begin, end, edge,
                                        el.get("id", "") if el.tag == "lane" else "", values))
        elif el.tag == "interval":
            el.clear()
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def vehicle_delays(trips: Table, vehicles: Table, stats: RunStatistics, end_s: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delay of every demanded vehicle and its occupancy.

    Parameters
    ----------
    trips
        Tripinfo table (with unfinished vehicles).
    vehicles
        Our vehicle table (id, depart_s, occupancy); empty for imported route files.
    stats
        SUMO's run statistics (for never-inserted vehicles of imported demand).
    end_s
        End of the simulation. [s]

    Returns
    -------
    delays_s, occupancy, ids
        One entry per vehicle that wanted to depart before the end, inserted vehicles first in
        tripinfo order. [s], [persons], vehicle ids ("" for never-inserted vehicles of imported
        demand, whose ids SUMO does not report).
    """
    n = len(trips.get("id", ()))
    inserted = trips["timeLoss"] + trips["departDelay"] if n else np.zeros(0)
    if vehicles:
        occ_by_id = dict(zip(vehicles["id"], vehicles["occupancy"], strict=True))
        occ_in = np.array([occ_by_id.get(i, 1.0) for i in trips.get("id", ())], dtype=float)
        seen = set(trips.get("id", ()))
        missing = [(i, d, o) for i, d, o in zip(vehicles["id"], vehicles["depart_s"],
                                                vehicles["occupancy"], strict=True)
                   if i not in seen and d < end_s]
        never = np.array([end_s - d for _, d, _ in missing], dtype=float)
        occ_never = np.array([o for _, _, o in missing], dtype=float)
        ids_never = np.array([i for i, _, _ in missing], dtype=object)
    else:
        occ_in = np.ones(n)
        never = np.full(stats.waiting, max(stats.depart_delay_waiting_s, 0.0))
        occ_never = np.ones(stats.waiting)
        ids_never = np.full(stats.waiting, "", dtype=object)
    ids = np.concatenate([np.asarray(trips.get("id", ()), dtype=object), ids_never])
    return np.concatenate([inserted, never]), np.concatenate([occ_in, occ_never]), ids

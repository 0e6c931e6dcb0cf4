"""Traffic counts: reading a counts CSV into typed records, and the GEH statistic.

A counts file has the columns ``location,begin,end,count[,vclass]``:

``location``
    an edge id, the id of a detector in the scenario's additional files (induction loop or
    lane-area detector; counted on its edge), or a turning movement ``FROM_EDGE>TO_EDGE`` (a
    connection of the network).
``begin``, ``end``
    the interval, as clock times (``07:15``) or seconds.
``count``
    vehicles that passed in the interval. [veh]
``vclass``
    optional vehicle kind (``car``, ``bus``, ``truck``, …); empty means every vehicle.

Every problem is reported with the file, line and column (:class:`CountsError`).
"""

from __future__ import annotations

import csv
import itertools
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trafficsim.errors import Issue, ScenarioError, suggest
from trafficsim.measures import NetIndex
from trafficsim.spec import MAX_FLOW_VEH_H, clock, parse_time
from trafficsim.vtypes import VEHICLE_KINDS

COLUMNS = ("location", "begin", "end", "count")
#: Detector elements of SUMO additional files whose passages count as a count location.
DETECTOR_TAGS = ("inductionLoop", "e1Detector", "instantInductionLoop", "laneAreaDetector",
                 "e2Detector")


class CountsError(ScenarioError):
    """A counts (or travel-times) file has problems; each issue names file, line and column."""

    #: What the file holds, for the heading of the error ("invalid counts").
    what: str = "counts"


class TravelTimesError(CountsError):
    """A travel-times file (``calibrate --travel-times``) has problems."""

    what = "travel times"


@dataclass(frozen=True)
class CountLocation:
    """Where vehicles are counted.

    Attributes
    ----------
    name
        As written in the file (edge id, detector id or ``FROM>TO``).
    edges
        The edge (one) or the turning movement's two edges, in driving order.
    """

    name: str
    edges: tuple[str, ...]

    @property
    def is_turn(self) -> bool:
        """True for a turning movement ``FROM>TO``."""
        return len(self.edges) == 2


@dataclass(frozen=True)
class Count:
    """One observed count.

    Attributes
    ----------
    location
        Where.
    begin_s, end_s
        The interval. [s]
    count
        Vehicles observed in it. [veh]
    vclass
        Vehicle kind counted, or None for every vehicle.
    line
        Line of the file it came from (for messages).
    """

    location: CountLocation
    begin_s: float
    end_s: float
    count: float
    vclass: str | None = None
    line: int = 0


@dataclass(frozen=True)
class TravelTime:
    """An observed mean travel time between the starts of two edges [s] in an interval [s]."""

    from_edge: str
    to_edge: str
    begin_s: float
    end_s: float
    seconds: float
    line: int = 0


def geh(observed: float, simulated: float) -> float:
    """The GEH statistic of two hourly flows [veh/h]: sqrt(2 (M - C)² / (M + C)).

    ``observed`` is C (the count), ``simulated`` is M (the model).  0 when both are 0.  GEH < 5
    is the usual acceptance criterion for an hourly volume (FHWA Traffic Analysis Toolbox vol.
    III, UK DMRB).  [-]
    """
    total = observed + simulated
    if total <= 0:
        return 0.0
    return math.sqrt(2.0 * (simulated - observed) ** 2 / total)


def detector_edges(additional_files: Iterable[Path]) -> dict[str, str]:
    """Detector id → the edge it sits on, from SUMO additional files.

    Unreadable files are skipped: the scenario's own checks report them.
    """
    out: dict[str, str] = {}
    for path in additional_files:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue
        for el in root.iter():
            if el.tag in DETECTOR_TAGS and el.get("id"):
                lane = el.get("lane") or (el.get("lanes") or "").split(" ")[0]
                if lane:
                    out[el.get("id", "")] = lane.rsplit("_", 1)[0]
    return out


class _Reader:
    """Collects issues while reading one CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.issues: list[Issue] = []

    def error(self, line: int, column: str, msg: str) -> None:
        self.issues.append(Issue(self.path, f"line {line}, column '{column}'", msg))

    def rows(self, required: Sequence[str], optional: Sequence[str] = ()
             ) -> list[tuple[int, dict[str, str]]]:
        """The data rows with their line numbers; header problems end the reading."""
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.issues.append(Issue(self.path, "", f"cannot be read as UTF-8 text: {exc}"))
            return []
        try:
            parsed = csv_rows(text)
        except CountsError as exc:
            self.issues += [Issue(self.path, i.field, i.message) for i in exc.issues]
            return []
        reader = iter(parsed)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in (*required, *optional)]
        if missing or unknown:
            what = []
            if missing:
                what.append(f"lacks column(s) {', '.join(missing)}")
            if unknown:
                what.append(f"has unknown column(s) {', '.join(unknown)}"
                            + suggest(unknown[0], [*required, *optional]))
            self.issues.append(Issue(self.path, "line 1", "header " + " and ".join(what)
                                     + f"; expected {','.join(required)}"
                                     + "".join(f"[,{c}]" for c in optional)))
            return []
        out = []
        for n, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            if len(row) != len(header):
                self.issues.append(Issue(self.path, f"line {n}",
                                         f"has {len(row)} fields; expected {len(header)} "
                                         f"({','.join(header)})"))
                continue
            out.append((n, {h: c.strip() for h, c in zip(header, row, strict=True)}))
        if not out:
            self.issues.append(Issue(self.path, "", "has no data rows"))
        return out

    def interval(self, n: int, row: dict[str, str], begin_s: float, end_s: float
                 ) -> tuple[float, float] | None:
        """``begin``/``end`` of a row, checked against each other and the window [s]."""
        times = []
        for col in ("begin", "end"):
            t = parse_time(_number_or_text(row[col]))
            if t is None:
                self.error(n, col, f"= {row[col]!r} is not a time; expected HH:MM[:SS] or "
                                   "seconds")
            times.append(t)
        b, e = times
        if b is None or e is None:
            return None
        if e <= b:
            self.error(n, "end", f"= {row['end']} is not after begin = {row['begin']}")
            return None
        if b < begin_s - 1e-6 or e > end_s + 1e-6:
            col = "begin" if b < begin_s - 1e-6 else "end"
            self.error(n, col, f"interval {clock(b)}–{clock(e)} lies outside the scenario "
                               f"window {clock(begin_s)}–{clock(end_s)}")
            return None
        return b, e


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _location(text: str, net: NetIndex, detectors: dict[str, str]
              ) -> tuple[CountLocation | None, str | None]:
    """Resolve a location name: (location, None) or (None, message)."""
    if ">" in text:
        a, _, b = (s.strip() for s in text.partition(">"))
        for e in (a, b):
            if e not in net.edges:
                return None, (f"'{e}' of the turning movement {text!r} is not an edge of the "
                              "network." + suggest(e, net.edges))
        if not any(c[0] == a and c[2] == b for c in net.connections):
            return None, (f"{text!r} is not a turning movement of the network: no connection "
                          f"leads from edge '{a}' to edge '{b}'")
        return CountLocation(text, (a, b)), None
    if text in net.edges:
        return CountLocation(text, (text,)), None
    if text in detectors:
        edge = detectors[text]
        if edge not in net.edges:
            return None, f"detector {text!r} sits on edge '{edge}', which the network lacks"
        return CountLocation(text, (edge,)), None
    return None, (f"{text!r} is neither an edge, a detector of the scenario's additional files "
                  "nor a turning movement FROM_EDGE>TO_EDGE." + suggest(text, [*net.edges,
                                                                             *detectors]))


def read_counts(path: Path, net: NetIndex, begin_s: float, end_s: float, *,
                detectors: dict[str, str] | None = None) -> tuple[Count, ...]:
    """Read and check a counts CSV against the network and the scenario window.

    Parameters
    ----------
    path
        The CSV file (``location,begin,end,count[,vclass]``).
    net
        The network the locations must exist in.
    begin_s, end_s
        The scenario window every interval must lie in. [s]
    detectors
        Detector id → edge (see :func:`detector_edges`).

    Raises
    ------
    CountsError
        Listing every problem with its line and column.
    """
    rd = _Reader(path)
    counts: list[Count] = []
    for n, row in rd.rows(COLUMNS, ("vclass",)):
        loc, msg = _location(row["location"], net, detectors or {})
        if msg is not None:
            rd.error(n, "location", msg)
        value = _number_or_text(row["count"])
        if not isinstance(value, float) or not math.isfinite(value) or value < 0:
            rd.error(n, "count", f"= {row['count']!r} is not a count; expected a number ≥ 0 "
                                 "[veh]")
        vclass = row.get("vclass") or None
        if vclass is not None and vclass not in VEHICLE_KINDS:
            rd.error(n, "vclass", f"= {vclass!r} is not a vehicle kind; expected one of "
                                  f"{', '.join(VEHICLE_KINDS)} or empty (all vehicles)."
                     + suggest(vclass, VEHICLE_KINDS))
        iv = rd.interval(n, row, begin_s, end_s)
        if iv is not None and isinstance(value, float) and math.isfinite(value) \
                and value * 3600.0 / (iv[1] - iv[0]) > MAX_FLOW_VEH_H:
            rd.error(n, "count", f"= {row['count']} in {iv[1] - iv[0]:g} s is "
                                 f"{value * 3600.0 / (iv[1] - iv[0]):,.0f} veh/h; expected at "
                                 f"most {MAX_FLOW_VEH_H:,.0f} veh/h")
            iv = None
        if loc is not None and iv is not None and isinstance(value, float) and value >= 0 \
                and math.isfinite(value):
            counts.append(Count(loc, iv[0], iv[1], value, vclass, n))
    _overlaps(rd, counts)
    if rd.issues:
        raise CountsError(rd.issues)
    return tuple(counts)


def csv_rows(text: str) -> list[list[str]]:
    """The rows of a CSV text; a text the ``csv`` module cannot read is a :class:`CountsError`.

    (A field over the ``csv`` module's 131,072-character limit, for instance, names its line
    instead of ending in a traceback.)
    """
    reader = csv.reader(text.splitlines())
    try:
        return list(reader)
    except csv.Error as exc:
        raise CountsError([Issue("", f"line {reader.line_num}",
                                 f"cannot be read as CSV: {exc}")]) from None


def _overlaps(rd: _Reader, counts: Sequence[Count]) -> None:
    """Report intervals of one location and vehicle kind that overlap (they would count twice)."""
    by_key: dict[tuple[str, str | None], list[Count]] = {}
    for c in counts:
        by_key.setdefault((c.location.name, c.vclass), []).append(c)
    for group in by_key.values():
        group.sort(key=lambda c: (c.begin_s, c.end_s))
        for prev, cur in itertools.pairwise(group):
            if cur.begin_s < prev.end_s - 1e-6:
                rd.error(cur.line, "begin",
                         f"interval {clock(cur.begin_s)}–{clock(cur.end_s)} of "
                         f"'{cur.location.name}' overlaps {clock(prev.begin_s)}–"
                         f"{clock(prev.end_s)} on line {prev.line}; expected disjoint intervals")


def read_travel_times(path: Path, net: NetIndex, begin_s: float, end_s: float
                      ) -> tuple[TravelTime, ...]:
    """Read ``from_edge,to_edge,begin,end,seconds`` travel-time targets.

    Raises
    ------
    TravelTimesError
        Listing every problem with its line and column.
    """
    rd = _Reader(path)
    out = []
    for n, row in rd.rows(("from_edge", "to_edge", "begin", "end", "seconds")):
        ok = True
        for col in ("from_edge", "to_edge"):
            if row[col] not in net.edges:
                rd.error(n, col, f"= {row[col]!r} is not an edge of the network."
                         + suggest(row[col], net.edges))
                ok = False
        value = _number_or_text(row["seconds"])
        if not isinstance(value, float) or not math.isfinite(value) or value <= 0:
            rd.error(n, "seconds", f"= {row['seconds']!r} is not a travel time; expected a "
                                   "number > 0 [s]")
            ok = False
        iv = rd.interval(n, row, begin_s, end_s)
        if ok and iv is not None and isinstance(value, float):
            out.append(TravelTime(row["from_edge"], row["to_edge"], iv[0], iv[1], value, n))
    if rd.issues:
        raise TravelTimesError(rd.issues)
    return tuple(out)


def by_vclass(counts: Sequence[Count]) -> list[tuple[str | None, list[int]]]:
    """The counts' indices grouped by vehicle kind, all vehicles (``None``) first: one fit each."""
    groups: dict[str | None, list[int]] = {}
    for i, c in enumerate(counts):
        groups.setdefault(c.vclass, []).append(i)
    return sorted(groups.items(), key=lambda kv: kv[0] or "")


def hourly(counts: Iterable[tuple[float, float, float]], begin_s: float
           ) -> dict[int, tuple[float, float]]:
    """Sum (begin [s], end [s], vehicles) into hours from ``begin_s``: hour → (vehicles, hours).

    An interval is put in the hour its middle falls in; the second value is the share of the
    hour the intervals cover (1.0 when fully counted), to scale partial hours to veh/h.
    """
    out: dict[int, tuple[float, float]] = {}
    for b, e, v in counts:
        h = int(((b + e) / 2 - begin_s) // 3600)
        n, cover = out.get(h, (0.0, 0.0))
        out[h] = (n + v, cover + (e - b) / 3600.0)
    return out

"""Scenario files: the schema, loading ``.toml`` and ``.sumocfg``, and reference checks.

A scenario is validated, typed, frozen data.  Loading collects every problem in the file and raises
one :class:`~trafficsim.errors.ScenarioError` naming file, field path, bad value and what is allowed.

TOML layout (see ``scenarios/`` for complete examples)::

    name = "arterial_am_peak"
    [simulation]     begin = "07:00", end = "09:00", seeds = [1, 2, 3]
    [network.corridor] / [network.grid] / [network] file = "x.net.xml" / [network] sumocfg = "x.sumocfg"
                     / [network] osm = "x.osm" (optional bbox = [W, S, E, N], keep = ["primary", ...])
    [demand]         bin_minutes, [demand.mix], [demand.occupancy], [demand.profiles], [[demand.flows]],
                     [[demand.stops]] (drop-offs / visits that stop at the kerb),
                     counts = "counts.csv" / route_flows = "route_flows.csv" (demand from counts)
    [plans.NAME]     description, [[plans.NAME.measures]] type = "speed_limit", ...
"""

from __future__ import annotations

import math
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from trafficsim.errors import Issue, ScenarioError, suggest
from trafficsim.measures import SITUATIONS, Measure, NetIndex, Situation, parse_measure
from trafficsim.spec import MAX_TIME_S, Fields, MissingValue, clock, flow_issue, parse_time
from trafficsim.sumocfg import SumocfgError, read_options, read_sumocfg, resolve_file, split_files
from trafficsim.vtypes import VEHICLE_KINDS

BASELINE = "baseline"

DEFAULT_SEEDS = (1, 2, 3, 4, 5)
#: SUMO's ``--seed`` is a 32-bit signed integer.
MAX_SEED = 2**31 - 1


# --------------------------------------------------------------------------------------------
# Typed specs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorridorSpec:
    """A generated arterial: a straight main road with signalised intersections ``J1..Jn``.

    Main-road ends are junctions ``W`` and ``E``; side streets end at ``N1..Nn`` and ``S1..Sn``.
    Edge ids are ``FROM_TO`` (e.g. ``W_J1``, ``J2_J1``, ``N1_J1``).
    """

    intersections: int
    #: Distance between neighbouring intersections [m]: one number for all, or one per pair
    #: (``intersections - 1`` values, west to east) for an irregular corridor.
    spacing_m: float | tuple[float, ...]
    lanes: int
    speed_kmh: float
    side_streets: bool = True
    side_lanes: int = 1
    side_length_m: float = 200.0
    side_speed_kmh: float = 40.0
    approach_length_m: float = 400.0
    cycle_s: float = 90.0


@dataclass(frozen=True)
class GridSpec:
    """A generated grid (``netgenerate --grid``) with fringe links on every side."""

    rows: int
    cols: int
    spacing_m: float
    lanes: int
    speed_kmh: float
    fringe_length_m: float = 200.0
    signalised: bool = True
    cycle_s: float = 90.0


@dataclass(frozen=True)
class NetFileSpec:
    """An existing SUMO network file."""

    path: Path


@dataclass(frozen=True)
class OsmSpec:
    """A network imported from an OpenStreetMap file (:func:`trafficsim.osm.import_osm`).

    Parameters
    ----------
    path
        The ``.osm`` file.
    bbox
        Keep only roads within (W, S, E, N) [°]; None: the whole file.
    keep
        OSM highway classes kept (their ``_link`` roads included); None: every road for cars.
    """

    path: Path
    bbox: tuple[float, float, float, float] | None = None
    keep: tuple[str, ...] | None = None


NetworkSpec = CorridorSpec | GridSpec | NetFileSpec | OsmSpec


@dataclass(frozen=True)
class FlowSpec:
    """Origin–destination demand with a time-of-day profile.

    Parameters
    ----------
    id
        Name used as prefix of the vehicle ids.
    origin, destination
        Junction id at the network fringe, or edge id.
    veh_per_hour
        Peak hourly flow; each bin's flow is this times the profile value. [veh/h]
    profile
        One multiplier per time bin of the simulation window. [-]
    mix
        Vehicle kind → share, overriding the demand-wide mix for this flow.
    """

    id: str
    origin: str
    destination: str
    veh_per_hour: float
    profile: tuple[float, ...]
    mix: tuple[tuple[str, float], ...] | None = None


@dataclass(frozen=True)
class StopDemandSpec:
    """Cars that stop at the kerb on their way: school drop-offs and pick-ups, hospital visits.

    The same vehicles, with the same wishes, exist in every plan; where and how they stop is up
    to the plan (by default in the travel lane: double parking).

    Parameters
    ----------
    id
        Name used as prefix of the vehicle ids.
    origin, destination
        Junction id at the network fringe, or edge id.
    edge, lane
        The gate street and the kerb lane (0: the rightmost lane).
    pos_m
        Position of the gate along the edge. [m]
    frontage_m
        Kerb length before the gate along which they stop. [m]
    veh_per_hour
        Peak hourly number of stopping vehicles; times the profile per bin. [veh/h]
    profile
        One multiplier per time bin of the simulation window. [-]
    dwell_mean_s, dwell_sd_s
        Mean and standard deviation of the wished stay (log-normal). [s]
    dwell_min_s, dwell_max_s
        Bounds of the wished stay. [s]
    """

    id: str
    origin: str
    destination: str
    edge: str
    pos_m: float
    veh_per_hour: float
    profile: tuple[float, ...]
    dwell_mean_s: float
    dwell_sd_s: float
    lane: int = 0
    frontage_m: float = 30.0
    dwell_min_s: float = 10.0
    dwell_max_s: float = 3600.0


@dataclass(frozen=True)
class DemandSpec:
    """Time-varying OD demand, vehicle mix and car occupancy.

    Parameters
    ----------
    bin_s
        Length of a profile bin. [s]
    flows
        The OD flows.
    mix
        Vehicle kind → share of vehicles (sums to 1).
    occupancy
        Persons per car → share of cars (sums to 1).
    bus_occupancy
        Persons per bus. [persons]
    stops
        Kerb-stop demand (drop-offs, visits).
    counts
        Traffic counts (``[demand] counts``) the vehicles' route flows are fitted to
        (:mod:`trafficsim.routeflows`), or None.
    route_flows
        A route-flow file (``[demand] route_flows``, e.g. written by ``trafficsim calibrate``),
        or None.
    shortened
        An ``--end`` override cut the scenario's window: route flows may run past its end.
    """

    bin_s: float
    flows: tuple[FlowSpec, ...]
    mix: tuple[tuple[str, float], ...] = (("car", 1.0),)
    occupancy: tuple[tuple[int, float], ...] = ((1, 1.0),)
    bus_occupancy: int = 30
    stops: tuple[StopDemandSpec, ...] = ()
    counts: Path | None = None
    route_flows: Path | None = None
    shortened: bool = False


@dataclass(frozen=True)
class PlanSpec:
    """A named plan: the measures applied on top of the base case."""

    name: str
    measures: tuple[Measure, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: network, demand, window, seeds, a baseline and named plans.

    Parameters
    ----------
    name
        Scenario name.
    source
        The file it was read from.
    network
        How to obtain the network.
    demand
        Generated demand, or None when route files supply it.
    begin_s, end_s
        Simulation window. [s]
    seeds
        Default seeds.
    plans
        Plan name → plan; ``baseline`` is always present and first.
    route_files, additional_files
        Extra SUMO inputs (e.g. from an imported ``.sumocfg``), absolute paths.
    timeout_s
        Wall-clock limit of one run. [s]
    time_to_teleport_s
        SUMO's jam-teleport time (``--time-to-teleport``). [s]
    step_length_s
        SUMO's time step (``--step-length``). [s]
    sumo_options
        Options of an imported ``.sumocfg`` that every run keeps (its processing, routing,
        … settings: lateral resolution, collision handling, ignore-route-errors, …), as
        (option name, value) pairs; see :func:`sumocfg_options`.
    situations
        What happens in every plan, by table (``[[incidents]]``, ``[parking]``,
        ``[[demand.stops]]``; see :class:`~trafficsim.measures.Situation`).
    tuned_plan
        The plan whose measures the baseline holds (``optimise --plan``), or None: the
        optimiser's programs then index that plan's network (see
        :attr:`~trafficsim.measures.signal_plan.SignalPlanMeasure.fitted`).
    day
        The whole window this scenario is one period of (``optimise --periods``), or None:
        measure and situation windows are checked against it, as a period's run may begin or
        end inside them (a tidal lane opened before the period). [s]
    """

    name: str
    source: Path
    network: NetworkSpec
    demand: DemandSpec | None
    begin_s: float
    end_s: float
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    plans: dict[str, PlanSpec] = field(default_factory=dict)
    route_files: tuple[Path, ...] = ()
    additional_files: tuple[Path, ...] = ()
    description: str = ""
    timeout_s: float = 900.0
    time_to_teleport_s: float = 300.0
    step_length_s: float = 1.0
    sumo_options: tuple[tuple[str, str], ...] = ()
    situations: tuple[Situation, ...] = ()
    day: tuple[float, float] | None = None
    tuned_plan: str | None = None

    def situation(self, table: str) -> Situation | None:
        """The scenario's situation read from ``table`` (e.g. ``"incidents"``), if any."""
        return next((s for s in self.situations if s.table == table), None)

    @property
    def incidents(self) -> tuple[Any, ...]:
        """The ``[[incidents]]`` (empty without); kept for scripts."""
        return getattr(self.situation("incidents"), "incidents", ())

    @property
    def parking(self) -> Any:
        """The ``[parking]`` car parks and demand (None without); kept for scripts."""
        return getattr(self.situation("parking"), "parking", None)

    def plan(self, name: str) -> PlanSpec:
        """The plan called ``name``; a :class:`ScenarioError` with a suggestion otherwise."""
        if name not in self.plans:
            msg = (f"plan '{name}' is not defined; plans: {', '.join(self.plans)}."
                   + suggest(name, self.plans))
            raise ScenarioError([Issue(self.source, "plans", msg)])
        return self.plans[name]

    @property
    def window(self) -> str:
        """The simulation window as clock times, e.g. ``07:00–09:00``."""
        return f"{clock(self.begin_s)}–{clock(self.end_s)}"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def load_scenario(path: str | Path, *, end_s: float | None = None,
                  clip_windows: bool = False) -> Scenario:
    """Read and validate a scenario file (``.toml``) or a SUMO configuration (``.sumocfg``).

    Parameters
    ----------
    path
        The file.
    end_s
        Override of the simulation end. [s]
    clip_windows
        With ``end_s``: cut the plans' measure windows to the shortened run (see
        :func:`clip_measure_windows`), for a quick look at a long scenario.

    Raises
    ------
    ScenarioError
        Listing every problem in the file.
    """
    path = Path(path)
    if path.is_dir():
        raise ScenarioError([Issue(path, "", "is a folder; expected a .toml scenario or a SUMO "
                                             ".sumocfg file")])
    if not path.is_file():
        raise ScenarioError([Issue(path, "", "file not found")])
    if path.suffix == ".sumocfg" or path.name.endswith(".sumo.cfg"):
        return _from_sumocfg(path, end_s=end_s)
    if path.suffix != ".toml":
        raise ScenarioError([Issue(path, "", "unsupported file type; expected a .toml scenario "
                                             "or a SUMO .sumocfg")])
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Issue(path, "", f"is not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ScenarioError([Issue(path, "", "nests arrays or tables too deeply to be read; "
                                             "expected a scenario file")]) from None
    if clip_windows and end_s is not None:
        data = clip_measure_windows(data, float(end_s))
    return _from_toml(data, path, end_s=end_s)


def _read_text(path: Path) -> str:
    """The file as text; a :class:`ScenarioError` when it cannot be read or is not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([Issue(path, "", f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        # (Windows editors save UTF-8 with a byte-order mark, which tomllib rejects)
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        msg = (f"is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded; "
               "expected a TOML file saved as UTF-8")
        raise ScenarioError([Issue(path, "", msg)]) from None


def clip_measure_windows(data: dict[str, Any], end_s: float) -> dict[str, Any]:
    """A copy of a scenario document whose plans' measure windows end by ``end_s``.

    Every key of a ``[[plans.NAME.measures]]`` table that ends in ``windows`` (``windows``,
    ``inbound_windows``, …) loses the windows that begin at or after ``end_s`` and has the one
    running past it cut at ``end_s``.  Values that are not windows are left for the parser to
    report. [s]
    """

    def clip(raw: Any) -> Any:
        if not isinstance(raw, list):
            return raw
        out = []
        for w in raw:
            b, e = (parse_time(w[0]), parse_time(w[1])) if isinstance(w, list) and len(w) == 2 \
                else (None, None)
            if b is None or e is None:
                out.append(w)
            elif b < end_s:
                out.append([w[0], min(e, end_s)] if e > end_s else w)
        return out

    if not isinstance(data.get("plans"), dict):
        return data  # not plans: left for the parser to report
    plans = {}
    for name, plan in data["plans"].items():
        if isinstance(plan, dict) and isinstance(plan.get("measures"), list):
            plan = {**plan, "measures": [
                {k: clip(v) if k.endswith("windows") else v for k, v in m.items()}
                if isinstance(m, dict) else m for m in plan["measures"]]}
        plans[name] = plan
    return {**data, "plans": plans} if "plans" in data else data


def _from_toml(data: dict[str, Any], path: Path, *, end_s: float | None) -> Scenario:
    issues: list[Issue] = []
    try:
        return _read_toml(data, path, issues, end_s=end_s)
    except MissingValue:
        # A missing required value was used beyond the item it belongs to: stop and report what
        # was found.  Its own problem is among ``issues``: the placeholder exists only then.
        if not issues:
            raise
        raise ScenarioError(issues) from None


def _read_toml(data: dict[str, Any], path: Path, issues: list[Issue], *,
               end_s: float | None) -> Scenario:
    top = Fields(data, path, "", issues)
    name = top.str("name", path.stem)
    if isinstance(name, str) and (msg := _folder_name_issue(name)) is not None:
        top.error("name", f"= {name!r} {msg}")
    description = top.str("description", "")

    sim = top.table_("simulation", required=True) or Fields({}, path, "simulation", [])
    begin = sim.time("begin", 0.0)
    end = sim.time("end")
    if end_s is not None:
        end = float(end_s)
    seeds = _seeds(sim)
    timeout = sim.float("timeout_s", 900.0, lo=1.0, hi=MAX_TIME_S, unit=" s")
    ttt = sim.float("time_to_teleport_s", 300.0, lo=-1.0, hi=MAX_TIME_S, unit=" s")
    step = sim.float("step_length_s", 1.0, lo=0.01, hi=10.0, unit=" s")
    sim.done()
    if isinstance(end, float) and isinstance(begin, float) and end <= begin:
        if end_s is None:
            sim.error("end", f"= {clock(end)} is not after begin = {clock(begin)}")
        else:  # (the user's flag, not the file, is wrong)
            issues.append(Issue(path, "--end", f"= {clock(end)} is not after the scenario's "
                                               f"begin = {clock(begin)}"))

    network, routes, adds, cfg_window, cfg = _network(top, path, issues)
    if cfg_window and not top.has("simulation"):
        begin, end = cfg_window
    cfg_options: dict[str, str] = {}
    if cfg is not None:
        # The configuration's own processing settings hold unless the scenario sets them.
        cfg_options = sumocfg_options(cfg, issues)
        if not sim.has("time_to_teleport_s"):
            ttt = _cfg_seconds(cfg, cfg_options, "time-to-teleport", issues, ttt)
        if not sim.has("step_length_s"):
            step = _cfg_seconds(cfg, cfg_options, "step-length", issues, step)

    demand = None
    dem = top.table_("demand")
    if dem is not None:
        demand = _demand(dem, begin, end, shortened=end_s is not None)
    elif not routes:
        top.error("demand", "is missing; give [demand] flows or route files via "
                            "network.sumocfg / network.routes")

    situations = _situations(top, demand)
    incomplete: set[str] = set()
    plans = _plans(top, path, issues, incomplete)
    # Cross-checks name a measure by its index: skip plans that lost one to a reported problem.
    plan_lists = {n: p.measures for n, p in plans.items() if n not in incomplete}
    for kind in SITUATIONS.values():
        found = next((s for s in situations if isinstance(s, kind)), None)
        issues += [Issue(path, fld, msg) for fld, msg in kind.plan_issues(found, plan_lists)]
    top.done()
    if issues:
        raise ScenarioError(issues)
    return Scenario(
        name=name, source=path.resolve(), network=network, demand=demand, begin_s=begin,
        end_s=end, seeds=seeds, plans=plans, route_files=routes, additional_files=adds,
        description=description, timeout_s=timeout, time_to_teleport_s=ttt, step_length_s=step,
        situations=situations, sumo_options=_carried(cfg_options),
    )


def _situations(top: Fields, demand: DemandSpec | None) -> tuple[Situation, ...]:
    """Every registered situation the file has, in table order (the order plans apply them)."""
    found = (kind.read(top, demand) for _, kind in sorted(SITUATIONS.items()))
    return tuple(s for s in found if s is not None)


def _seeds(sim: Fields) -> tuple[int, ...]:
    seeds = sim.list("seeds", list(DEFAULT_SEEDS))
    ok = []
    for i, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            sim.error("seeds", f"[{i}] = {s!r} is not a seed; expected integers "
                               f"0..{MAX_SEED} (SUMO's --seed)")
        else:
            ok.append(s)
    if not seeds:
        sim.error("seeds", "is empty; expected at least one seed")
    if len(set(ok)) != len(ok):
        sim.error("seeds", f"= {seeds} repeats a seed; each seed must appear once")
    return tuple(ok) or DEFAULT_SEEDS


def _network(top: Fields, path: Path, issues: list[Issue]
             ) -> tuple[NetworkSpec, tuple[Path, ...], tuple[Path, ...], tuple[float, float] | None,
                        Path | None]:
    """What a scenario's ``[network]`` table names.

    The network, extra route and additional files, the window and the ``.sumocfg`` (if any).
    """
    net = top.table_("network", required=True)
    placeholder = NetFileSpec(Path("missing.net.xml"))
    if net is None:
        return placeholder, (), (), None, None
    kinds = [k for k in ("corridor", "grid", "file", "sumocfg", "osm") if k in net.table]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else "found none"
        issues.append(Issue(path, "network", "needs exactly one of [network.corridor], "
                                              "[network.grid], file = ..., sumocfg = ..., "
                                              f"osm = ...; {found}"))
    routes: tuple[Path, ...] = ()
    adds: tuple[Path, ...] = ()
    window = None
    cfg_file = None
    spec: NetworkSpec = placeholder
    if (c := net.table_("corridor")) is not None:
        n = c.int("intersections", lo=1, hi=30)
        spec = CorridorSpec(
            intersections=n,
            spacing_m=_spacing(c, n),
            lanes=c.int("lanes", lo=1, hi=6),
            speed_kmh=c.float("speed_kmh", lo=5.0, hi=130.0, unit=" km/h"),
            side_streets=c.bool("side_streets", True),
            side_lanes=c.int("side_lanes", 1, lo=1, hi=4),
            side_length_m=c.float("side_length_m", 200.0, lo=30.0, hi=5000.0, unit=" m"),
            side_speed_kmh=c.float("side_speed_kmh", 40.0, lo=5.0, hi=130.0, unit=" km/h"),
            approach_length_m=c.float("approach_length_m", 400.0, lo=30.0, hi=5000.0, unit=" m"),
            cycle_s=c.float("cycle_s", 90.0, lo=20.0, hi=240.0, unit=" s"),
        )
        c.done()
    if (g := net.table_("grid")) is not None:
        spec = GridSpec(
            rows=g.int("rows", lo=2, hi=20), cols=g.int("cols", lo=2, hi=20),
            spacing_m=g.float("spacing_m", lo=50.0, hi=5000.0, unit=" m"),
            lanes=g.int("lanes", 1, lo=1, hi=6),
            speed_kmh=g.float("speed_kmh", 50.0, lo=5.0, hi=130.0, unit=" km/h"),
            fringe_length_m=g.float("fringe_length_m", 200.0, lo=30.0, hi=5000.0, unit=" m"),
            signalised=g.bool("signalised", True),
            cycle_s=g.float("cycle_s", 90.0, lo=20.0, hi=240.0, unit=" s"),
        )
        g.done()
    if net.has("file"):
        spec = NetFileSpec(_existing(net, "file", path, xml=NET_ROOTS))
    if net.has("sumocfg"):
        cfg = _existing(net, "sumocfg", path, xml=CFG_ROOTS)
        if cfg.is_file() and not any(i.field == net.field("sumocfg") for i in issues):
            cfg_net, routes, adds, window = _read_sumocfg(cfg, issues)
            spec = NetFileSpec(cfg_net)
            cfg_file = cfg
    if net.has("osm"):
        spec = _osm_spec(net, path)
    net.str_list("routes", ())  # type checks; each path is resolved below
    net.str_list("additional", ())
    extra_routes = tuple(_existing(net, "routes", path, i, xml=())
                         for i in _str_indices(net, "routes"))
    extra_adds = tuple(_existing(net, "additional", path, i, xml=())
                       for i in _str_indices(net, "additional"))
    net.done()
    return spec, routes + extra_routes, adds + extra_adds, window, cfg_file


def _spacing(c: Fields, intersections: Any) -> float | tuple[float, ...]:
    """``[network.corridor] spacing_m``: one gap [m] for all, or a list of one per pair.

    A list needs ``intersections - 1`` numbers of 50–5000 m (west to east); each bad item is
    recorded against ``spacing_m[i]`` and clamped, a wrong length against ``spacing_m``.
    """
    if not isinstance(c.table.get("spacing_m"), list):
        gap: float = c.float("spacing_m", lo=50.0, hi=5000.0, unit=" m")
        return gap
    raw = c.list("spacing_m")
    gaps = []
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            c.issues.append(Issue(c.file, f"{c.field('spacing_m')}[{i}]",
                                  f"= {item!r} is not a finite number; expected a gap in m "
                                  "(50–5000)"))
            gaps.append(50.0)
        elif not 50.0 <= item <= 5000.0:
            c.issues.append(Issue(c.file, f"{c.field('spacing_m')}[{i}]",
                                  f"= {item!r} is out of range; expected 50–5000 m"))
            gaps.append(min(max(float(item), 50.0), 5000.0))
        else:
            gaps.append(float(item))
    if isinstance(intersections, int) and len(raw) != max(intersections - 1, 0):
        c.error("spacing_m", f"has {len(raw)} value{'s' * (len(raw) != 1)}; expected "
                             f"{intersections - 1} (one gap per pair of neighbouring "
                             f"intersections, for intersections = {intersections}) or a "
                             f"single number [m]")
    return tuple(gaps)


def _osm_spec(net: Fields, path: Path) -> OsmSpec:
    """``[network] osm = "x.osm"`` with its optional ``bbox`` and ``keep``."""
    from trafficsim.osm import OsmError, parse_bbox, parse_keep

    osm = _existing(net, "osm", path, xml=("osm",))
    bbox = keep = None
    if net.has("bbox"):
        try:
            raw = net.table["bbox"]
            bbox = parse_bbox(raw if isinstance(raw, (str, list)) else [raw], "")
        except OsmError as exc:
            net.error("bbox", f"= {net.table['bbox']!r}: {exc.message}")
    if net.has("keep"):
        classes = net.str_list("keep")
        try:
            keep = parse_keep(classes, "")
        except OsmError as exc:
            net.error("keep", f"= {list(classes)!r}: {exc.message}")
    return OsmSpec(osm, bbox, keep)


#: Root elements of a SUMO network and of a SUMO configuration.
NET_ROOTS = ("net",)
CFG_ROOTS = ("configuration", "sumoConfiguration")


def _str_indices(f: Fields, key: str) -> list[int]:
    raw = f.table.get(key)
    return [i for i, v in enumerate(raw) if isinstance(v, str)] if isinstance(raw, list) else []


def _existing(f: Fields, key: str, base: Path, index: int | None = None, *,
              xml: tuple[str, ...] | None = None) -> Path:
    """Resolve a file path relative to the scenario file, recording an issue if it is absent.

    With ``xml`` the file must also be XML whose root element is one of ``xml`` (any root when
    empty): a network that is not XML would otherwise surface deep inside a run.
    """
    raw = f.table[key] if index is None else f.table[key][index]
    if not isinstance(raw, str):
        f.error(key, f"= {raw!r} is not a path; expected a string")
        return Path(str(raw))
    fld = key if index is None else f"{key}[{index}]"
    try:
        p = (base.parent / raw).resolve()
        found = p.is_file()
    except (OSError, ValueError) as exc:  # e.g. a NUL byte or an over-long name
        f.error(fld, f"= {raw!r} is not a usable path ({exc}); expected a file name")
        return Path("missing")
    if not found:
        f.error(fld, f"= {raw!r}: file not found (looked for {p})")
    elif xml is not None and (msg := xml_issue(p, xml)) is not None:
        f.error(fld, f"= {raw!r} {msg}")
    return p


def xml_issue(path: Path, roots: tuple[str, ...] = ()) -> str | None:
    """What is wrong with an input that should be XML with one of ``roots`` as its root, or None.

    Any root is accepted when ``roots`` is empty.  Reads only up to the root element: a cheap
    check at load time; a file damaged further on is reported by SUMO when it reads it.
    """
    try:
        # our own handle: iterparse left to open the file keeps it open when we stop early
        with path.open("rb") as fh:
            for _event, el in ET.iterparse(fh, events=("start",)):
                if roots and el.tag not in roots:
                    want = " or ".join(f"<{r}>" for r in roots)
                    return f"is XML with root element <{el.tag}>; expected {want}"
                return None
    except ET.ParseError as exc:
        want = f" with a {' or '.join(f'<{r}>' for r in roots)} root element" if roots else ""
        return f"is not valid XML ({exc}); expected a SUMO XML file{want}"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return "is empty; expected a SUMO XML file"


def _demand(dem: Fields, begin: Any, end: Any, *, shortened: bool = False) -> DemandSpec:
    bin_min = dem.float("bin_minutes", 15.0, lo=1.0, hi=240.0, unit=" min")
    bin_s = bin_min * 60.0
    n_bins = 0  # the window is not known (its problem is recorded): profiles are not counted
    if isinstance(begin, float) and isinstance(end, float) and end > begin:
        n_bins = math.ceil((end - begin) / bin_s - 1e-9)
    mix = _shares(dem, "mix", VEHICLE_KINDS, default=(("car", 1.0),))
    occ = _occupancy(dem)
    bus_occ = dem.int("bus_occupancy", 30, lo=1, hi=300)
    profiles: dict[str, tuple[float, ...]] = {}
    if (pt := dem.table_("profiles")) is not None:
        for pname in list(pt.table):
            pt.has(pname)
            profiles[pname] = _profile_values(pt, pname, pt.table[pname], n_bins, begin, bin_min,
                                              shortened=shortened)
    flows = []
    ids: set[str] = set()
    for i, item, fld in dem.items("flows"):
        if not isinstance(item, dict):
            dem.issues.append(Issue(dem.file, fld, "expected a table (use [[demand.flows]])"))
            continue
        f = Fields(item, dem.file, fld, dem.issues)
        origin = f.str("from")
        dest = f.str("to")
        vph = f.float("veh_per_hour", lo=0.0, hi=20000.0, unit=" veh/h")
        named = isinstance(origin, str) and isinstance(dest, str)
        fid = f.str("id", f"{origin}_{dest}" if named else f"flow{i}")
        if fid in ids:
            fid = f"{fid}_{i}"
        ids.add(fid)
        prof = _flow_profile(f, profiles, n_bins, begin, bin_min, shortened=shortened)
        flow_issue(f, "profile", vph, prof)
        fmix = _shares(f, "mix", VEHICLE_KINDS, default=None) if f.has("mix") else None
        if isinstance(origin, str) and origin == dest:
            f.error("to", f"= {dest!r} equals 'from'; a flow needs two different ends")
        f.done()
        flows.append(FlowSpec(id=fid, origin=origin, destination=dest, veh_per_hour=vph,
                              profile=prof, mix=fmix))
    stops = _stop_demand(dem, profiles, n_bins, begin, bin_min, ids, shortened=shortened)
    # route flows fitted to counts, or given as a file: the vehicles need no OD flows then
    counts = _existing(dem, "counts", Path(dem.file)) if dem.has("counts") else None
    route_flows = (_existing(dem, "route_flows", Path(dem.file)) if dem.has("route_flows")
                   else None)
    if counts is not None and route_flows is not None:
        dem.error("route_flows", "is given with counts; expected one of them (counts are "
                                 "fitted into route flows)")
    if not flows and not stops and counts is None and route_flows is None:
        dem.error("flows", "is empty; expected at least one [[demand.flows]] entry (or "
                           "[demand] counts / route_flows)")
    dem.done()
    return DemandSpec(bin_s=bin_s, flows=tuple(flows), mix=mix, occupancy=occ,
                      bus_occupancy=bus_occ, stops=tuple(stops), counts=counts,
                      route_flows=route_flows, shortened=shortened)


def _flow_profile(f: Fields, profiles: dict[str, tuple[float, ...]], n_bins: int, begin: Any,
                  bin_min: float, *, shortened: bool = False) -> tuple[float, ...]:
    """The ``profile`` of a flow-like table: a named profile, a list, or 1.0 throughout."""
    if not f.has("profile"):
        return (1.0,) * n_bins
    raw = f.table["profile"]
    if isinstance(raw, str):
        if raw not in profiles:
            f.error("profile", f"= {raw!r} is not defined in [demand.profiles]; "
                               f"defined: {', '.join(profiles) or 'none'}." + suggest(raw, profiles))
            return (1.0,) * n_bins
        return profiles[raw]
    return _profile_values(f, "profile", raw, n_bins, begin, bin_min, shortened=shortened)


def _stop_demand(dem: Fields, profiles: dict[str, tuple[float, ...]], n_bins: int, begin: Any,
                 bin_min: float, ids: set[str], *, shortened: bool = False
                 ) -> list[StopDemandSpec]:
    """``[[demand.stops]]``: cars that stop at a kerb (gate) on their way."""
    out = []
    for i, item, fld in dem.items("stops"):
        if not isinstance(item, dict):
            dem.issues.append(Issue(dem.file, fld, "expected a table (use [[demand.stops]])"))
            continue
        f = Fields(item, dem.file, fld, dem.issues)
        origin, dest = f.str("from"), f.str("to")
        edge = f.str("edge")
        sid = f.str("id", f"stop_{edge}" if isinstance(edge, str) else f"stops{i}")
        if sid in ids:
            f.error("id", f"= {sid!r} is already used by another flow; ids must be unique")
        ids.add(sid)
        pos = f.float("pos_m", lo=0.0, unit=" m")
        frontage = f.float("frontage_m", 30.0, lo=5.0, hi=500.0, unit=" m")
        lane = f.int("lane", 0, lo=0, hi=9)
        vph = f.float("veh_per_hour", lo=0.0, hi=2000.0, unit=" veh/h")
        prof = _flow_profile(f, profiles, n_bins, begin, bin_min, shortened=shortened)
        flow_issue(f, "profile", vph, prof)
        dwell = f.table_("dwell", required=True) or Fields({}, dem.file, f.field("dwell"), [])
        mean = dwell.float("mean_s", lo=1.0, hi=86400.0, unit=" s")
        sd = dwell.float("sd_s", 0.0, lo=0.0, hi=86400.0, unit=" s")
        lo = dwell.float("min_s", 10.0, lo=1.0, hi=86400.0, unit=" s")
        hi = dwell.float("max_s", 3600.0, lo=1.0, hi=86400.0, unit=" s")
        dwell.done()
        if isinstance(lo, float) and isinstance(hi, float) and lo > hi:
            dwell.error("min_s", f"= {lo:g} is above max_s = {hi:g}")
        elif isinstance(mean, float) and isinstance(lo, float) and isinstance(hi, float) \
                and not lo <= mean <= hi:
            dwell.error("mean_s", f"= {mean:g} lies outside [min_s, max_s] = [{lo:g}, {hi:g}] s")
        if isinstance(origin, str) and origin == dest:
            f.error("to", f"= {dest!r} equals 'from'; a trip needs two different ends")
        f.done()
        out.append(StopDemandSpec(
            id=sid, origin=origin, destination=dest, edge=edge, pos_m=_number(pos, 0.0),
            veh_per_hour=_number(vph, 0.0), profile=prof, dwell_mean_s=_number(mean, 60.0),
            dwell_sd_s=_number(sd, 0.0), lane=int(_number(lane, 0)),
            frontage_m=_number(frontage, 30.0), dwell_min_s=_number(lo, 10.0),
            dwell_max_s=_number(hi, 3600.0)))
    return out


def _number(value: Any, placeholder: float) -> float:
    """The value, or a placeholder where an issue was recorded (the load fails anyway)."""
    return float(value) if isinstance(value, int | float) else placeholder


def _profile_values(f: Fields, key: str, raw: Any, n_bins: int, begin: Any,
                    bin_min: float, *, shortened: bool = False) -> tuple[float, ...]:
    """One multiplier per bin.

    With ``shortened`` (an ``--end`` override cut the window) a longer profile is truncated to
    the bins that remain.
    """
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = [raw] * n_bins
    if not isinstance(raw, list):
        count = f" ({n_bins})" if n_bins else ""
        f.error(key, f"= {raw!r} is not a profile; expected a list of multipliers, one per "
                     f"{bin_min:g}-minute bin{count}")
        return (1.0,) * n_bins
    values = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
            f.error(key, f"[{i}] = {v!r} is not a flow multiplier; expected a number ≥ 0")
            v = 0.0
        values.append(float(v))
    if shortened and len(values) > n_bins:
        values = values[:n_bins]
    if n_bins and len(values) != n_bins:
        start = clock(begin) if isinstance(begin, float) else "begin"
        f.error(key, f"has {len(values)} values; the simulation window from {start} in "
                     f"{bin_min:g}-minute bins needs {n_bins}")
        values = (values + [values[-1] if values else 1.0] * n_bins)[:n_bins]
    return tuple(values)


#: What :func:`_shares` returns for a missing table: a default mix, or None for "not given".
_Default = TypeVar("_Default", tuple[tuple[str, float], ...], None)


def _shares(f: Fields, key: str, allowed: tuple[str, ...],
            default: _Default) -> tuple[tuple[str, float], ...] | _Default:
    t = f.table_(key)
    if t is None:
        return default
    out = []
    for k in list(t.table):
        if k not in allowed:
            continue
        v = t.float(k, lo=0.0, hi=1.0)
        out.append((k, float(v)))
    t.done()  # reports unknown kinds with a suggestion
    total = sum(v for _, v in out)
    if out and abs(total - 1.0) > 1e-6:
        f.error(key, f"shares sum to {total:g}; expected 1")
    if not out:
        f.error(key, f"is empty; expected shares of: {', '.join(allowed)}")
        return default or (("car", 1.0),)
    return tuple(out)


def _occupancy(dem: Fields) -> tuple[tuple[int, float], ...]:
    t = dem.table_("occupancy")
    if t is None:
        return ((1, 1.0),)
    out = []
    for k in list(t.table):
        t.has(k)
        if not k.isdigit() or not 1 <= int(k) <= 9:
            t.error(k, "is not a number of persons; expected keys 1..9 (persons per car)")
            continue
        v = t.table[k]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            t.error(k, f"= {v!r} is not a share; expected a number in [0, 1]")
            continue
        out.append((int(k), float(v)))
    total = sum(v for _, v in out)
    if out and abs(total - 1.0) > 1e-6:
        dem.error("occupancy", f"shares sum to {total:g}; expected 1")
    return tuple(sorted(out)) or ((1, 1.0),)


def _folder_name_issue(name: str) -> str | None:
    """Why ``name`` cannot name a folder of its own (plans' case folders, ``optimise_NAME``)."""
    if not name.strip() or name in (".", "..") or len(name) > 100 \
            or any(c in "/\\" or not c.isprintable() for c in name):
        return ("is not usable as a folder name; expected up to 100 printable characters "
                "without / or \\ (e.g. letters, digits and _)")
    return None


def _plans(top: Fields, path: Path, issues: list[Issue],
           incomplete: set[str] | None = None) -> dict[str, PlanSpec]:
    """The plans of a scenario file.

    Names of plans with a measure left out (its problem recorded) go to ``incomplete``.
    """
    incomplete = set() if incomplete is None else incomplete
    plans: dict[str, PlanSpec] = {BASELINE: PlanSpec(BASELINE, (), "do nothing")}
    table = top.table_("plans")
    if table is None:
        return plans
    for pname in list(table.table):
        table.has(pname)
        if (msg := _folder_name_issue(pname)) is not None:
            table.error(pname, msg)  # a plan's runs go to the folder cases/NAME
        p = table.table_(pname)
        if p is None:
            continue
        desc = p.str("description", "")
        measures = []
        for _i, item, fld in p.items("measures"):
            if not isinstance(item, dict):
                issues.append(Issue(path, fld, f"= {item!r}: expected a table "
                                               f"(use [[plans.{pname}.measures]])"))
                incomplete.add(pname)
                continue
            m = parse_measure(Fields(item, path, fld, issues))
            if m is not None:
                measures.append(m)
            else:
                incomplete.add(pname)
        p.done()
        plans[pname] = PlanSpec(pname, tuple(measures), desc or plans.get(pname, PlanSpec("")).description)
    return plans


# --------------------------------------------------------------------------------------------
# .sumocfg
# --------------------------------------------------------------------------------------------
def _read_sumocfg(cfg: Path, issues: list[Issue]
                  ) -> tuple[Path, tuple[Path, ...], tuple[Path, ...], tuple[float, float] | None]:
    """Net, route and additional files and the (begin, end) window of a SUMO configuration."""
    try:
        options = read_sumocfg(cfg, resolve=False)
    except SumocfgError as exc:
        issues.append(Issue(cfg, "", str(exc).removeprefix(f"{cfg}: ")))
        return Path("missing.net.xml"), (), (), None

    def files(key: str) -> tuple[Path, ...]:
        raw = options.get(key)  # (SUMO reads an option in any section)
        if not raw:
            return ()
        out = []
        for name in split_files(raw):
            p = resolve_file(cfg, name)
            if not p.is_file():
                issues.append(Issue(cfg, f"input.{key}", f"= '{name}': file not found "
                                                         f"(looked for {p})"))
            elif key != "net-file" and (msg := xml_issue(p)) is not None:
                issues.append(Issue(cfg, f"input.{key}", f"= '{name}' {msg}"))
            out.append(p)
        return tuple(out)

    nets = files("net-file")
    if not nets and not any(i.field == "input.net-file" for i in issues):
        issues.append(Issue(cfg, "input.net-file", "is missing; a configuration needs a network"))
    elif nets and nets[0].is_file() and (msg := xml_issue(nets[0], NET_ROOTS)) is not None:
        issues.append(Issue(cfg, "input.net-file", f"= '{nets[0].name}' {msg}"))
    window = None
    times = {}
    for key in ("begin", "end"):
        raw = options.get(key)
        if raw is None:
            continue
        try:
            times[key] = float(raw)
        except ValueError:  # SUMO also reads clock times
            seconds = parse_time(raw)
            times[key] = math.nan if seconds is None else seconds
        if not 0 <= times[key] <= MAX_TIME_S:
            issues.append(Issue(cfg, f"time.{key}", f"= {raw!r} is not a time; expected seconds "
                                                    "≥ 0 or a clock time such as 07:00:00"))
    if "end" in times:
        window = (times.get("begin", 0.0), times["end"])
    return (nets[0] if nets else Path("missing.net.xml"), files("route-files"),
            files("additional-files"), window)


def _from_sumocfg(cfg: Path, *, end_s: float | None) -> Scenario:
    issues: list[Issue] = []
    net, routes, adds, window = _read_sumocfg(cfg, issues)
    begin, end = window or (0.0, None)
    if end_s is not None:
        end = float(end_s)
    if end is None and not issues:
        issues.append(Issue(cfg, "time.end", "is missing; pass an end time (--end 3600 or --end 08:00)"))
    if not routes and not issues:
        issues.append(Issue(cfg, "input.route-files", "is missing; the configuration has no "
                                                      "demand"))
    if end is not None and end <= begin:
        issues.append(Issue(cfg, "time.end" if end_s is None else "--end",
                            f"= {end:g} is not after begin = {begin:g}"))
    options = sumocfg_options(cfg, issues) if not issues else {}
    ttt = _cfg_seconds(cfg, options, "time-to-teleport", issues, 300.0)
    step = _cfg_seconds(cfg, options, "step-length", issues, 1.0)
    if issues or end is None:  # a missing end is one of the issues
        raise ScenarioError(issues)
    return Scenario(name=cfg.stem, source=cfg.resolve(), network=NetFileSpec(net), demand=None,
                    begin_s=begin, end_s=float(end), plans={BASELINE: PlanSpec(BASELINE)},
                    route_files=routes, additional_files=adds, seeds=(1, 2, 3),
                    time_to_teleport_s=ttt, step_length_s=step, sumo_options=_carried(options))


#: Sections of a configuration whose options are the run's own business: its files, outputs,
#: logging, seed and window are set by the case builder.
_CASE_SECTIONS = frozenset({"input", "output", "report", "random_number", "gui_only",
                            "traci_server", "configuration"})
#: Options that the case builder sets itself, wherever a configuration puts them.
_CASE_OPTIONS = frozenset({
    "net-file", "route-files", "additional-files", "begin", "end", "seed", "random",
    "verbose", "print-options", "xml-validation", "xml-validation.net", "xml-validation.routes",
    "no-warnings", "aggregate-warnings", "log", "message-log", "error-log", "language",
    "duration-log.disable", "duration-log.statistics", "no-step-log", "step-log.period",
    "remote-port", "num-clients", "save-configuration", "save-template", "save-schema",
    "output-prefix", "precision", "precision.geo", "human-readable-time",
})
#: Options that map to scenario fields (``time_to_teleport_s``, ``step_length_s``).
_FIELD_OPTIONS = ("time-to-teleport", "step-length")


def sumocfg_options(cfg: Path, issues: list[Issue]) -> dict[str, str]:
    """The options of a SUMO configuration that every run of it must keep.

    Processing, routing, time-step, mesoscopic, emission and device settings (e.g.
    ``time-to-teleport``, ``step-length``, ``lateral-resolution``, ``ignore-route-errors``,
    ``collision.action``) change what the simulation does, so a case runs with them.  Files,
    outputs, logging, the seed and the window are the case builder's (they are set per run),
    and so is any option naming a file: it would resolve against the case, not the model.
    """
    try:
        # SUMO reads an option in any section, or in none: <processing><x/></processing> or <x/>
        options = read_options(cfg)
    except SumocfgError as exc:
        issues.append(Issue(cfg, "", str(exc).removeprefix(f"{cfg}: ")))
        return {}
    out: dict[str, str] = {}
    for opt in options:
        key = opt.key
        if (opt.section in _CASE_SECTIONS or key in _CASE_OPTIONS
                or key.endswith(("-output", "-file", "-files")) or "-output." in key):
            continue
        out[key] = opt.value
    return out


def _cfg_seconds(cfg: Path, options: dict[str, str], key: str, issues: list[Issue],
                 default: float) -> float:
    """A time option of a configuration [s]; ``default`` when absent or not a number."""
    raw = options.get(key)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        issues.append(Issue(cfg, key, f"= {raw!r} is not a number of seconds"))
        return default


def _carried(options: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The options a case writes as they are (those with a scenario field are written from it)."""
    return tuple((k, v) for k, v in options.items() if k not in _FIELD_OPTIONS)


# --------------------------------------------------------------------------------------------
# References against the network
# --------------------------------------------------------------------------------------------
def check_references(scenario: Scenario, net: NetIndex,
                     plans: Iterable[str] | None = None) -> list[Issue]:
    """Problems with ids, lane indices and time windows that only the network can reveal.

    ``plans`` names the plans that will run (default: all): a plan left out is not checked,
    so ``compare --plans baseline --end 09:00`` is not refused for a tidal window of a plan it
    does not run.  The baseline of a scenario tuned for a plan (``optimise --plan``) is named
    after that plan, the one the user wrote.
    """
    src = scenario.source
    checked = set(scenario.plans if plans is None else plans)
    issues: list[Issue] = []
    begin_s, end_s = scenario.day or (scenario.begin_s, scenario.end_s)
    if scenario.demand is not None:
        for i, fl in enumerate(scenario.demand.flows):
            for key, end in (("from", fl.origin), ("to", fl.destination)):
                _, msg = net_endpoint(net, end, outgoing=(key == "from"))
                if msg:
                    issues.append(Issue(src, f"demand.flows[{i}].{key}", msg))
        for i, st in enumerate(scenario.demand.stops):
            for fld, msg in _stop_issues(st, net):
                issues.append(Issue(src, f"demand.stops[{i}].{fld}", msg))
        issues += _route_flow_issues(scenario, net)
    for sit in scenario.situations:
        issues += [Issue(src, fld, msg)
                   for fld, msg in sit.check(net, begin_s, end_s)]
    entered: dict[str, str] | None = None  # read only when a plan splits an edge
    for name, plan in scenario.plans.items():
        if name not in checked:
            continue
        pname = scenario.tuned_plan if name == BASELINE and scenario.tuned_plan else name
        marked: dict[str, int] = {}
        for j, m in enumerate(plan.measures):
            for fld, msg in m.check(net, begin_s, end_s):
                issues.append(Issue(src, f"plans.{pname}.measures[{j}].{fld}", msg))
            if getattr(m, "pocket_m", None) is not None:
                entered = routes_entering(scenario) if entered is None else entered
                msg = pocket_route_issue(getattr(m, "edge", ""), entered)
                if msg:
                    issues.append(Issue(src, f"plans.{pname}.measures[{j}].pocket_m", msg))
            for edge in m.remarks:
                if edge in marked:
                    issues.append(Issue(
                        src, f"plans.{pname}.measures[{j}].edge",
                        f"= {edge!r}: measures[{marked[edge]}] of this plan already re-marks "
                        "this approach's lanes; one lane_use or variable_lane per approach in a "
                        "plan (their connection patches would overwrite each other)"))
                marked.setdefault(edge, j)
    return issues


def routes_entering(scenario: Scenario) -> dict[str, str]:
    """Edges that explicit routes of the demand enter from another edge, and the file saying so.

    Explicit edge lists (``<route edges=...>`` in route files, a ``route_flows`` file) name every
    edge they drive; SUMO routes ``<trip>`` and from/to ``<flow>`` itself, so those are left
    out.  A route's first edge is left out too: it is entered at departure.
    """
    files = [*scenario.route_files]
    out: dict[str, str] = {}
    for path in files:
        try:
            # opened here: iterparse given a path leaks the file when it raises (Python < 3.13)
            with Path(path).open("rb") as fh:
                for _, el in ET.iterparse(fh):
                    if el.tag == "route":
                        for e in el.get("edges", "").split()[1:]:
                            out.setdefault(e, path.name)
                    if el.tag in ("vehicle", "flow", "route", "routeDistribution"):
                        el.clear()
        except (OSError, ET.ParseError):
            continue  # reported where the file is checked; this is only a refinement
    demand = scenario.demand
    if demand is not None and demand.route_flows is not None:
        from trafficsim.counts import CountsError
        from trafficsim.routeflows import read_route_flows

        try:
            for rf in read_route_flows(demand.route_flows):
                for e in rf.edges[1:]:
                    out.setdefault(e, demand.route_flows.name)
        except (CountsError, OSError):
            pass
    return out


def pocket_route_issue(edge: str, entered: dict[str, str]) -> str | None:
    """Why a turn pocket on ``edge`` cannot run, or None.

    The pocket splits the edge (its first part becomes ``EDGE.up``), so an explicit route that
    enters ``edge`` from its upstream edge no longer connects and SUMO stops with "no valid
    route".
    """
    if edge not in entered:
        return None
    return (f"a pocket splits edge '{edge}' into '{edge}.up' and '{edge}', but routes of "
            f"{entered[edge]} drive through '{edge}' as an explicit edge list, which SUMO "
            "cannot follow on the split edge; re-mark the lanes without pocket_m, or give the "
            "demand as trips or from/to flows")


def _route_flow_issues(scenario: Scenario, net: NetIndex) -> list[Issue]:
    """Problems of the counts or route-flow file, each naming its line and column."""
    from trafficsim.counts import CountsError, detector_edges, read_counts
    from trafficsim.routeflows import read_route_flows

    demand = scenario.demand
    try:
        if demand is not None and demand.counts is not None:
            read_counts(demand.counts, net, scenario.begin_s, scenario.end_s,
                        detectors=detector_edges(scenario.additional_files))
        if demand is not None and demand.route_flows is not None:
            read_route_flows(demand.route_flows, net, (scenario.begin_s, scenario.end_s),
                             past_end=demand.shortened)
    except CountsError as exc:
        return list(exc.issues)
    return []


def plan_measures(scenario: Scenario, plan: PlanSpec) -> tuple[Measure, ...]:
    """What a plan applies: its own measures as each situation of the scenario resolves them.

    For example the incidents with the plan's clearance times, the car parks with its sharing
    rules, the kerb stops' output.
    """
    measures = plan.measures
    for sit in scenario.situations:
        measures = sit.resolve(measures)
    return measures


def _stop_issues(st: StopDemandSpec, net: NetIndex) -> list[tuple[str, str]]:
    out = []
    for key, end in (("from", st.origin), ("to", st.destination)):
        _, msg = net_endpoint(net, end, outgoing=(key == "from"))
        if msg:
            out.append((key, msg))
    if (msg := net.missing_edge(st.edge)) is not None:
        return [*out, ("edge", msg)]
    if (msg := net.missing_lane(st.edge, st.lane)) is not None:
        out.append(("lane", msg))
    length = net.edge_length_m.get(st.edge, 0.0)
    if not st.frontage_m <= st.pos_m <= length:
        out.append(("pos_m", f"= {st.pos_m:g} does not fit edge '{st.edge}' ({length:.1f} m long) "
                             f"with frontage_m = {st.frontage_m:g}; expected "
                             f"{st.frontage_m:g} ≤ pos_m ≤ {length:.1f}"))
    return out


def net_endpoint(net: NetIndex, name: str, *, outgoing: bool) -> tuple[str | None, str | None]:
    """Resolve a flow end (junction or edge id) to an edge: (edge, None) or (None, message)."""
    if name in net.edges:
        return name, None
    if name in net.junctions:
        edges = (net.out_edges if outgoing else net.in_edges).get(name, ())
        if len(edges) == 1:
            return edges[0], None
        way = "leaves" if outgoing else "enters"
        if not edges:
            return None, f"no edge {way} junction '{name}'"
        return None, (f"junction '{name}' has {len(edges)} edges that {way} it "
                      f"({', '.join(edges)}); name one of those edges instead")
    return None, (f"'{name}' is neither a junction nor an edge of the network."
                  + suggest(name, [*net.junctions, *net.edges]))

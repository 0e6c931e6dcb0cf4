"""``trafficsim calibrate``: fit route flows to counts, simulate them, and say how well they fit.

The orchestrator on top of :mod:`trafficsim.counts` (reading, GEH) and
:mod:`trafficsim.routeflows` (the fit).  Writes, into the output folder::

    route_flows.csv     the fitted route flows (id,begin,end,veh_per_hour,vclass,edges)
    calibrated.toml     the input scenario with [demand] route_flows = "route_flows.csv"
                        (its plans, mix, occupancy and seeds kept)
    calibration.json    per location and interval observed and simulated counts (mean over
                        the seeds' SUMO runs), GEH per location-hour, flagged locations, summary
    runs/               the baseline's runs (SUMO cases with vehicle routes and exit times)

Simulated counts come from the SUMO runs (each vehicle's edges and the times it left them),
never from the route file.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.counts import (
    Count,
    TravelTime,
    detector_edges,
    geh,
    hourly,
    read_counts,
    read_travel_times,
)
from trafficsim.errors import Issue, ScenarioError
from trafficsim.measures import NetIndex
from trafficsim.outdir import out_dir_lock
from trafficsim.routeflows import Fit, candidate_routes, fit_route_flows, write_route_flows
from trafficsim.scenario import BASELINE, Scenario, load_scenario
from trafficsim.spec import clock

#: GEH below this on an hourly volume counts as a match. [-]
GEH_OK = 5.0
#: Share of location-hours with GEH < 5 that accepts a calibration (FHWA, UK DMRB). [-]
ACCEPT_SHARE = 0.85
VEHROUTES = "vehroutes.xml"
#: Route-flow fits: our linear program, SUMO's routeSampler (``--optimize full``), and
#: routeSampler also told to prefer routes through several counts (``--minimize-vehicles 0.5``).
METHODS = ("lp", "routesampler", "routesampler_minveh")


# --------------------------------------------------------------------------------------------
# Passages in a run
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Passages:
    """When the vehicles of one run entered each edge and made each turn.

    Attributes
    ----------
    edges
        (edge, kind) → sorted entry times. [s]
    turns
        (from edge, to edge, kind) → sorted times of entering the second edge. [s]
    trips
        Per vehicle: its edges with entry times [s].
    vehicles
        Vehicles that entered the network.
    """

    edges: dict[tuple[str, str], np.ndarray]
    turns: dict[tuple[str, str, str], np.ndarray]
    trips: tuple[tuple[tuple[str, float], ...], ...]
    vehicles: int


def read_passages(vehroutes: Path, kinds: Mapping[str, str] | None = None) -> Passages:
    """Passages from a SUMO ``--vehroute-output`` written with ``exit-times``.

    ``kinds`` maps vehicle id → kind (from the case's ``vehicles.csv``); without it the
    vehicle's type is its kind.
    """
    edges: dict[tuple[str, str], list[float]] = {}
    turns: dict[tuple[str, str, str], list[float]] = {}
    trips = []
    n = 0
    for _, el in ET.iterparse(vehroutes, events=("end",)):
        if el.tag != "vehicle":
            continue
        routes = el.findall("route") or el.findall("routeDistribution/route")
        depart = el.get("depart")
        if not routes or depart is None:
            el.clear()
            continue
        vid = el.get("id", "")
        kind = (kinds or {}).get(vid) or el.get("type", "car")
        route = routes[-1]
        ids = route.get("edges", "").split()
        exits = [float(t) for t in route.get("exitTimes", "").split()]
        entry = [float(depart), *exits][:len(ids)]
        n += 1
        trip = []
        for i, t in enumerate(entry):
            if t < 0:
                break
            trip.append((ids[i], t))
            edges.setdefault((ids[i], kind), []).append(t)
            if i:
                turns.setdefault((ids[i - 1], ids[i], kind), []).append(t)
        trips.append(tuple(trip))
        el.clear()
    return Passages({k: np.sort(v) for k, v in edges.items()},
                    {k: np.sort(v) for k, v in turns.items()}, tuple(trips), n)


def passed(p: Passages, count: Count) -> int:
    """Vehicles of one run that passed a count's location in its interval (of its kind)."""
    total = 0
    loc = count.location
    table: Mapping[Any, np.ndarray] = p.turns if loc.is_turn else p.edges
    for key, times in table.items():
        if key[:-1] != loc.edges or (count.vclass is not None and key[-1] != count.vclass):
            continue
        total += int(np.searchsorted(times, count.end_s, "left")
                     - np.searchsorted(times, count.begin_s, "left"))
    return total


def trip_times(p: Passages, target: TravelTime) -> list[float]:
    """Times [s] from entering ``from_edge`` (in the target's interval) to entering ``to_edge``."""
    out = []
    for trip in p.trips:
        t0 = next((t for e, t in trip if e == target.from_edge), None)
        if t0 is None or not target.begin_s <= t0 < target.end_s:
            continue
        t1 = next((t for e, t in trip if e == target.to_edge and t >= t0), None)
        if t1 is not None and t1 > t0:
            out.append(t1 - t0)
    return out


# --------------------------------------------------------------------------------------------
# Goodness of fit
# --------------------------------------------------------------------------------------------
def location_hours(counts: Sequence[Count], simulated: Sequence[float], begin_s: float
                   ) -> list[dict[str, Any]]:
    """Observed and simulated hourly volumes [veh/h] and their GEH, per location, kind and hour.

    Shorter count intervals are summed per hour (a partly counted hour is scaled to an hour).
    """
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, c in enumerate(counts):
        groups.setdefault((c.location.name, c.vclass), []).append(i)
    out = []
    for (name, vclass), idx in groups.items():
        obs = hourly(((counts[i].begin_s, counts[i].end_s, counts[i].count) for i in idx), begin_s)
        sim = hourly(((counts[i].begin_s, counts[i].end_s, simulated[i]) for i in idx), begin_s)
        for h in sorted(obs):
            (o, cover), (s, _) = obs[h], sim[h]
            o_h, s_h = o / cover, s / cover
            out.append({"location": name, "vclass": vclass,
                        "hour": clock(begin_s + 3600 * h),
                        "observed_veh_h": round(o_h, 2), "simulated_veh_h": round(s_h, 2),
                        "geh": round(geh(o_h, s_h), 3)})
    return out


def summary(hours: Sequence[Mapping[str, Any]], vehicles: float) -> dict[str, Any]:
    """The goodness of fit of hourly volumes.

    ``geh_lt5_share``, ``r2``, ``rmse_pct`` (of the hourly volumes), ``locations``,
    ``vehicles`` (mean per seed) and whether the GEH criterion accepts the calibration.
    """
    obs = np.array([h["observed_veh_h"] for h in hours], dtype=float)
    sim = np.array([h["simulated_veh_h"] for h in hours], dtype=float)
    share = float(np.mean([h["geh"] < GEH_OK for h in hours])) if hours else math.nan
    ss_tot = float(np.sum((obs - obs.mean()) ** 2)) if hours else 0.0
    r2 = 1.0 - float(np.sum((sim - obs) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    mean_obs = float(obs.mean()) if hours else 0.0
    rmse_pct = 100.0 * math.sqrt(float(np.mean((sim - obs) ** 2))) / mean_obs \
        if mean_obs > 0 else math.nan
    return {"geh_lt5_share": round(share, 4), "r2": _r(r2, 4), "rmse_pct": _r(rmse_pct, 2),
            "locations": len({(h["location"], h["vclass"]) for h in hours}),
            "location_hours": len(hours), "vehicles": round(vehicles, 1),
            "accepted": bool(share >= ACCEPT_SHARE)}


def _r(x: float, digits: int) -> float | None:
    return round(x, digits) if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# The calibrated scenario file
# --------------------------------------------------------------------------------------------
#: ``[demand]`` keys a calibrated scenario keeps (flows and counts give way to route flows).
_KEPT_DEMAND = ("bin_minutes", "mix", "occupancy", "bus_occupancy", "profiles", "stops")


def calibrated_document(source: Path, out_dir: Path, route_flows: str) -> dict[str, Any]:
    """The input scenario as a TOML document whose demand is the fitted route flows.

    Network file paths are rewritten relative to ``out_dir`` so that the file works there.
    """
    data = tomllib.loads(source.read_text(encoding="utf-8-sig"))  # (as load_scenario)
    demand = data.get("demand", {})
    data["demand"] = {**{k: v for k, v in demand.items() if k in _KEPT_DEMAND},
                      "route_flows": route_flows}
    data["name"] = f"{data.get('name', source.stem)}_calibrated"
    net = data.get("network", {})

    def moved(p: str) -> str:
        return os.path.relpath((source.parent / p).resolve(), out_dir.resolve())

    for key in ("file", "sumocfg", "osm"):
        if isinstance(net.get(key), str):
            net[key] = moved(net[key])
    for key in ("routes", "additional"):
        if isinstance(net.get(key), list):
            net[key] = [moved(p) if isinstance(p, str) else p for p in net[key]]
    return data


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A TOML text of a document made of tables, arrays of tables and plain values."""
    return "\n".join(_toml_lines(data, "")).lstrip("\n") + "\n"


def _toml_lines(data: Mapping[str, Any], prefix: str) -> list[str]:
    plain, tables, arrays = [], [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            plain.append(f"{_toml_key(k)} = {_toml_value(v)}")
    out = plain
    for k, v in tables:
        name = f"{prefix}{_toml_key(k)}"
        out += ["", f"[{name}]", *_toml_lines(v, name + ".")]
    for k, items in arrays:
        name = f"{prefix}{_toml_key(k)}"
        for item in items:
            out += ["", f"[[{name}]]", *_toml_lines(item, name + ".")]
    return out


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else
                                                  ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


# --------------------------------------------------------------------------------------------
# Running the calibrated baseline
# --------------------------------------------------------------------------------------------
#: The output the passages are read from: in each case's ``case.sumocfg``, so that a bare
#: ``sumo -c case.sumocfg`` writes it too (and repeats the calibration's counts).
VEHROUTE_OPTIONS = ("--vehroute-output", VEHROUTES, "--vehroute-output.exit-times", "true",
                    "--vehroute-output.write-unfinished", "true")


@dataclass(frozen=True)
class _RunTask:
    """A picklable callable: run one case (its config records vehicle routes, exit times)."""

    timeout_s: float

    def __call__(self, config: Path) -> Path:
        from trafficsim.sumo import run_sumo

        seed = int(config.parent.name.removeprefix("seed_"))
        run_sumo(config, seed=seed, timeout_s=self.timeout_s, what=f"calibration run seed {seed}")
        return config.parent


def simulate_passages(sc: Scenario, work: Path, seeds: Sequence[int], *,
                      workers: int | None = None, progress: bool = False) -> list[Passages]:
    """Run the scenario's baseline over ``seeds`` and read every run's passages."""
    from trafficsim.build import build_case, build_plan, prepare_network
    from trafficsim.outputs import read_vehicle_table
    from trafficsim.parallel import local_executor, map_tasks

    base_net, _ = prepare_network(sc, work)
    plan = sc.plan(BASELINE)
    draft = build_plan(sc, plan, base_net, work)
    configs = [build_case(sc, plan, draft, s, work, lean=True,
                          sumo_options=VEHROUTE_OPTIONS).config for s in seeds]
    with local_executor(workers, len(configs)) as ex:
        dirs = map_tasks(_RunTask(sc.timeout_s), configs, ex, [f"seed={s}" for s in seeds],
                         desc="calibration runs", progress=progress)
    out = []
    for d in dirs:
        kinds: dict[str, str] = {}
        if (d / "vehicles.csv").is_file():
            table = read_vehicle_table(d / "vehicles.csv")
            kinds = {str(i): str(k) for i, k in zip(table["id"], table["kind"], strict=True)}
        out.append(read_passages(d / VEHROUTES, kinds))
    return out


# --------------------------------------------------------------------------------------------
# The whole calibration
# --------------------------------------------------------------------------------------------
def fit_counts(counts: Sequence[Count], net: NetIndex, *, method: str = "lp",
               work: Path | None = None, seed: int = 1) -> Fit:
    """Fit route flows with our linear program or SUMO's ``routeSampler`` (see :data:`METHODS`).

    Raises
    ------
    ValueError
        For an unknown method.
    """
    if method not in METHODS:
        msg = f"method = {method!r}; expected one of {', '.join(METHODS)}"
        raise ValueError(msg)
    if method == "lp":
        return fit_route_flows(counts, net)
    from trafficsim.sampler import fit_with_route_sampler

    return fit_with_route_sampler(counts, net, candidate_routes(net), work or Path(),
                                  seed=seed,
                                  minimize_vehicles=0.5 if method.endswith("minveh") else None)


def calibrate(scenario: str | Path, counts_file: Path, out: Path, *,
              travel_times: Path | None = None, seeds: Sequence[int] | None = None,
              workers: int | None = None, method: str = "lp",
              progress: bool = False) -> dict[str, Any]:
    """Fit route flows to ``counts_file``, write the calibrated scenario and measure it.

    Parameters
    ----------
    scenario
        The scenario file whose network, window, mix, seeds and plans are kept.
    counts_file
        Counts CSV (``location,begin,end,count[,vclass]``).
    out
        Output folder (``calibrated.toml``, ``route_flows.csv``, ``calibration.json``).
    travel_times
        Optional travel-time targets (``from_edge,to_edge,begin,end,seconds``).
    seeds
        Seeds of the check runs (default: the scenario's).
    method
        ``lp`` (our fit), ``routesampler`` or ``routesampler_minveh`` (SUMO's
        ``routeSampler.py``; see :data:`METHODS`).

    Returns
    -------
    dict
        The ``calibration.json`` document.
    """
    with out_dir_lock(out):  # one run per folder, as for compare: two calibrations never mix
        return _calibrate(scenario, counts_file, out, travel_times, seeds, workers, method,
                          progress)


def _calibrate(scenario: str | Path, counts_file: Path, out: Path, travel_times: Path | None,
               seeds: Sequence[int] | None, workers: int | None, method: str,
               progress: bool) -> dict[str, Any]:
    from trafficsim.build import prepare_network

    sc = load_scenario(scenario)
    if Path(sc.source).suffix != ".toml":
        raise ScenarioError([Issue(sc.source, "", "calibrate needs a .toml scenario (it writes a "
                                                  "calibrated copy of it); import the .sumocfg "
                                                  "with [network] sumocfg = ... in one")])
    out.mkdir(parents=True, exist_ok=True)
    _, net = prepare_network(sc, out / "runs" / "fit")
    detectors = detector_edges(sc.additional_files)
    counts = read_counts(counts_file, net, sc.begin_s, sc.end_s, detectors=detectors)
    targets = read_travel_times(travel_times, net, sc.begin_s, sc.end_s) \
        if travel_times is not None else ()
    fit = fit_counts(counts, net, method=method, work=out / "runs" / "fit")
    write_route_flows(fit.flows, out / "route_flows.csv")
    doc = calibrated_document(Path(sc.source), out, "route_flows.csv")
    (out / "calibrated.toml").write_text(
        "# Written by `trafficsim calibrate`: the demand is route flows fitted to "
        f"{counts_file.name}.\n" + dumps_toml(doc), encoding="utf-8")
    cal = load_scenario(out / "calibrated.toml")
    run_seeds = tuple(seeds or cal.seeds)
    runs = simulate_passages(cal, out / "runs", run_seeds, workers=workers, progress=progress)
    return _document(cal, counts, fit, runs, run_seeds, targets, counts_file, method, out)


def _document(sc: Scenario, counts: Sequence[Count], fit: Fit, runs: Sequence[Passages],
              seeds: Sequence[int], targets: Sequence[TravelTime], counts_file: Path,
              method: str, out: Path) -> dict[str, Any]:
    sim = [float(np.mean([passed(p, c) for p in runs])) for c in counts]
    hours = location_hours(counts, sim, sc.begin_s)
    vehicles = float(np.mean([p.vehicles for p in runs]))
    fitted_total = sum(f.veh_per_hour * (f.end_s - f.begin_s) / 3600.0 for f in fit.flows)
    rows = [{"location": c.location.name, "vclass": c.vclass, "begin": clock(c.begin_s),
             "end": clock(c.end_s), "observed": c.count, "fitted": round(fv, 2),
             "simulated": round(s, 2)}
            for c, fv, s in zip(counts, fit.fitted, sim, strict=True)]
    tt_rows = []
    for t in targets:
        times = [x for p in runs for x in trip_times(p, t)]
        mean = float(np.mean(times)) if times else None
        tt_rows.append({"from_edge": t.from_edge, "to_edge": t.to_edge, "begin": clock(t.begin_s),
                        "end": clock(t.end_s), "observed_s": t.seconds,
                        "simulated_s": _r(mean, 1) if mean is not None else None,
                        "trips": len(times),
                        "error_pct": _r(100 * (mean - t.seconds) / t.seconds, 1)
                        if mean is not None else None})
    doc: dict[str, Any] = {
        "scenario": str(out / "calibrated.toml"),
        "counts": str(counts_file),
        "method": method,
        "seeds": list(seeds),
        "summary": {**summary(hours, vehicles), "vehicles_fitted": round(fitted_total, 1),
                    "candidate_routes": fit.routes, "route_flows": len(fit.flows)},
        "criterion": f"GEH < {GEH_OK:g} on at least {ACCEPT_SHARE:.0%} of location-hours "
                     "(hourly volumes; FHWA Traffic Analysis Toolbox vol. III, UK DMRB)",
        "flagged": [{"location": f.location, "vclass": f.vclass, "reason": f.reason}
                    for f in fit.flags],
        "location_hours": hours,
        "intervals": rows,
    }
    if tt_rows:
        doc["travel_times"] = tt_rows
    (out / "calibration.json").write_text(json.dumps(doc, indent=2, allow_nan=False),
                                          encoding="utf-8")
    return doc



def write_counts(p: Passages, locations: Sequence[str], begin_s: float, end_s: float,
                 interval_s: float, path: Path) -> int:
    """Write a counts CSV of one run's passages (e.g. a simulated "true" demand).

    ``locations`` are edge ids or turning movements ``FROM>TO``; intervals of ``interval_s``
    from ``begin_s`` to ``end_s`` [s].  Returns the sum of all counts [veh].
    """
    lines = ["location,begin,end,count"]
    total = 0
    for name in locations:
        a, _, b = name.partition(">")
        table = p.turns if b else p.edges
        want = (a, b) if b else (a,)
        times = [t for key, t in table.items() if key[:-1] == want]
        allt = np.sort(np.concatenate(times)) if times else np.zeros(0)
        t = begin_s
        while t < end_s - 1e-6:
            t1 = min(t + interval_s, end_s)
            n = int(np.searchsorted(allt, t1, "left") - np.searchsorted(allt, t, "left"))
            total += n
            lines.append(f"{name},{clock(t)},{clock(t1)},{n}")
            t = t1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return total

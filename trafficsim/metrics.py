"""Pure functions from output tables to metrics.  Names carry units (``mean_delay_s``).

Delay is SUMO's time loss (time lost against driving at the vehicle's desired speed) plus the
insertion delay.  Vehicles still driving at the end count with the delay they have accrued so far,
and vehicles that never got into the network count with their whole wait, so a plan that blocks
entry cannot look good by keeping vehicles out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trafficsim.measures.base import MetricInfo
from trafficsim.measures.registry import declared_metric
from trafficsim.outputs import RunStatistics, Table, vehicle_delays

#: The metric keys of every run, in report order (a contract for users' scripts).
METRICS: tuple[str, ...] = (
    "mean_delay_s", "mean_travel_time_s", "mean_waiting_time_s", "mean_stops", "throughput_veh",
    "unfinished_veh", "person_delay_s", "co2_kg", "teleports",
)
#: Further metrics, after the contract keys.
EXTRA_METRICS: tuple[str, ...] = (
    "total_delay_veh_h", "person_throughput", "not_inserted_veh", "nox_kg", "collisions",
)
#: Metrics of each vehicle group (flow, kind, occupancy class).
GROUP_METRICS: tuple[str, ...] = (
    "vehicles", "mean_delay_s", "mean_travel_time_s", "person_delay_s", "throughput_veh",
    "mean_distance_km",
)


def _lower(unit: str, description: str) -> MetricInfo:
    return MetricInfo(unit, "lower", description)


#: The metrics every run has (core and group metrics); measures declare their own in
#: :attr:`trafficsim.measures.Measure.METRICS`.
CORE_METRICS: dict[str, MetricInfo] = {
    "mean_delay_s": _lower("s", "mean delay per vehicle (time loss + insertion delay)"),
    "mean_travel_time_s": _lower("s", "mean travel time of arrived vehicles"),
    "mean_waiting_time_s": _lower("s", "mean time standing (speed < 0.1 m/s)"),
    "mean_stops": _lower("-", "mean number of stops per vehicle"),
    "throughput_veh": MetricInfo("veh", "higher", "vehicles that arrived"),
    "unfinished_veh": _lower("veh", "vehicles still driving or never inserted at the end"),
    "person_delay_s": _lower("s", "mean delay per person (occupancy-weighted)"),
    "co2_kg": _lower("kg", "CO2 emitted"),
    "teleports": _lower("-", "SUMO teleports (jams, collisions)"),
    "total_delay_veh_h": _lower("veh·h", "total delay of all vehicles"),
    "person_throughput": MetricInfo("persons", "higher", "persons that arrived"),
    "not_inserted_veh": _lower("veh", "vehicles that never entered the network"),
    "nox_kg": _lower("kg", "NOx emitted"),
    "collisions": _lower("-", "collisions"),
    "vehicles": MetricInfo("veh", None, "vehicles of a group"),
    "mean_distance_km": _lower("km", "mean route length of arrived vehicles (detours)"),
}


def metric_info(metric: str) -> MetricInfo | None:
    """What a metric key means: a core metric, or one a measure or situation declares.

    ``metric`` may carry the label prefix that tells two measures apart (``LABEL:key``, see
    :func:`trafficsim.compare.merge_measure_metrics`).  None for an undeclared key.
    """
    key = metric.rsplit(":", 1)[-1]
    if key in CORE_METRICS:
        return CORE_METRICS[key]
    return declared_metric(key)


def is_improvement(metric: str, diff: float) -> bool | None:
    """Whether a change ``diff`` (plan − baseline) in ``metric`` is an improvement.

    The single source of better/worse for the CLI table, the HTML report and the regression
    report.  Returns None when the metric has no direction (declared neutral, or undeclared)
    or ``diff`` is 0 or not finite.
    """
    info = metric_info(metric)
    if info is None or info.better is None or not math.isfinite(diff) or diff == 0:
        return None
    return diff > 0 if info.better == "higher" else diff < 0


#: Core metrics where larger is better (kept for scripts; use :func:`is_improvement`).
HIGHER_IS_BETTER = frozenset(k for k, v in CORE_METRICS.items() if v.better == "higher")

#: HCM control-delay thresholds of LOS A..E [s]; above the last is F.
HCM_SIGNALISED_S = (10.0, 20.0, 35.0, 55.0, 80.0)
HCM_UNSIGNALISED_S = (10.0, 15.0, 25.0, 35.0, 50.0)

GRIDLOCK_WINDOW_S = 600.0
#: Over the window's last this many seconds, a network whose load (vehicles in it plus vehicles
#: waiting to enter) grew by :data:`FILLING_MIN_GROWTH` and at least :data:`FILLING_MIN_VEH` is
#: still filling: the window cuts a growing queue, so delays depend on where the window ends. [s]
FILLING_WINDOW_S = 900.0
FILLING_MIN_GROWTH = 0.25
FILLING_MIN_VEH = 50.0
#: A vehicle kept out of the network longer than this is a sign of a blocked entry; one that
#: wanted to leave in the last moments of the window simply had no time to get in. [s]
INSERTION_GRACE_S = 60.0


def level_of_service(delay_s: float, thresholds: Sequence[float] = HCM_SIGNALISED_S) -> str:
    """HCM level of service (A–F) of a control delay.

    Parameters
    ----------
    delay_s
        Mean control delay per vehicle. [s]
    thresholds
        Upper bounds of A..E. [s]  Defaults to the signalised-intersection thresholds.
    """
    if not np.isfinite(delay_s):
        return "-"
    for grade, bound in zip("ABCDE", thresholds, strict=True):
        if delay_s <= bound:
            return grade
    return "F"


def run_metrics(trips: Table, vehicles: Table, stats: RunStatistics, end_s: float
                ) -> dict[str, float]:
    """The per-run metrics, keys of :data:`METRICS` and :data:`EXTRA_METRICS` in that order.

    ``co2_kg`` and ``nox_kg`` only when the run carried the emission device.
    """
    delays, occ, _ = vehicle_delays(trips, vehicles, stats, end_s)
    n_in = len(trips.get("id", ()))
    arrived = trips["arrival"] >= 0 if n_in else np.zeros(0, dtype=bool)
    not_inserted = len(delays) - n_in

    def mean(x: np.ndarray) -> float:
        return float(np.mean(x)) if len(x) else float("nan")

    occ_arrived = occ[:n_in][arrived] if n_in else np.zeros(0)
    out = {
        "mean_delay_s": mean(delays),
        "mean_travel_time_s": mean(trips["duration"][arrived]) if n_in else float("nan"),
        "mean_waiting_time_s": mean(trips["waitingTime"]) if n_in else float("nan"),
        "mean_stops": mean(trips["waitingCount"]) if n_in else float("nan"),
        "throughput_veh": float(np.count_nonzero(arrived)),
        "unfinished_veh": float(np.count_nonzero(~arrived) + not_inserted),
        "person_delay_s": float(np.sum(delays * occ) / np.sum(occ)) if len(occ) else float("nan"),
        "teleports": float(stats.teleports),
        "total_delay_veh_h": float(np.sum(delays)) / 3600.0,
        "person_throughput": float(np.sum(occ_arrived)),
        "not_inserted_veh": float(not_inserted),
        "collisions": float(stats.collisions),
    }
    # Emissions only when the run measured them (a lean optimiser run has no emission device):
    # a metric that was not measured is absent, never 0.
    for key, column in (("co2_kg", "emissions_CO2_abs"), ("nox_kg", "emissions_NOx_abs")):
        if column in trips:
            out[key] = float(np.nansum(trips[column])) / 1e6
    return {k: out[k] for k in (*METRICS, *EXTRA_METRICS) if k in out}


def group_metrics(trips: Table, vehicles: Table, stats: RunStatistics, end_s: float
                  ) -> dict[str, dict[str, float]]:
    """Delay and travel time per flow, per vehicle kind and per occupancy class.

    Groups are ``flow:ID`` (the vehicle id before its last dot), ``kind:car|bus|…`` (the vType
    for imported demand) and ``occupancy:1`` / ``occupancy:2+``.  Never-inserted vehicles count
    in their groups as in :func:`run_metrics` (for imported demand SUMO does not name them, so
    they are left out of the groups).

    Returns
    -------
    dict
        Group → ``{"vehicles", "mean_delay_s", "mean_travel_time_s", "person_delay_s",
        "throughput_veh", "mean_distance_km"}``.
    """
    delays, occ, ids = vehicle_delays(trips, vehicles, stats, end_s)
    n_in = len(trips.get("id", ()))
    duration = np.full(len(ids), np.nan)
    distance_m = np.full(len(ids), np.nan)
    arrived = np.zeros(len(ids), dtype=bool)
    if n_in:
        arrived[:n_in] = trips["arrival"] >= 0
        duration[:n_in] = trips["duration"]
        distance_m[:n_in] = trips.get("routeLength", np.full(n_in, np.nan))
    if vehicles:
        kind_by_id = dict(zip(vehicles["id"], vehicles["kind"], strict=True))
        kinds = np.array([kind_by_id.get(i, "") for i in ids], dtype=object)
    else:
        kinds = np.concatenate([np.asarray(trips.get("vType", np.zeros(0)), dtype=object),
                                np.full(len(ids) - n_in, "", dtype=object)])
    flows = np.array([str(i).rsplit(".", 1)[0] for i in ids], dtype=object)
    named = ids != ""
    masks: dict[str, np.ndarray] = {}
    for f in sorted(set(flows[named])):
        masks[f"flow:{f}"] = named & (flows == f)
    for k in sorted(set(kinds[named]) - {""}):
        masks[f"kind:{k}"] = named & (kinds == k)
    if vehicles:
        masks["occupancy:1"] = named & (occ <= 1)
        masks["occupancy:2+"] = named & (occ >= 2)
    out: dict[str, dict[str, float]] = {}
    for group, m in masks.items():
        if not m.any():
            continue
        done = m & arrived
        out[group] = {
            "vehicles": float(m.sum()),
            "mean_delay_s": float(delays[m].mean()),
            "mean_travel_time_s": float(duration[done].mean()) if done.any() else float("nan"),
            "person_delay_s": float((delays[m] * occ[m]).sum() / occ[m].sum()),
            "throughput_veh": float(done.sum()),
            # detours show up as longer routes of the arrived vehicles
            "mean_distance_km": float(distance_m[done].mean()) / 1000.0 if done.any() else float("nan"),
        }
    return out


def edge_table(edgedata: Table, queues: Table) -> list[dict[str, object]]:
    """Per-edge volume, delay, speed and queue over the simulation window.

    Parameters
    ----------
    edgedata
        SUMO edge data (one interval).
    queues
        Lane-area detector output (``q_EDGE_LANE`` ids).

    Returns
    -------
    list of dict
        ``edge``, ``volume_veh``, ``mean_delay_s`` (time loss per vehicle on the edge),
        ``mean_speed_m_s``, ``max_queue_m`` (longest queue on any lane), ``mean_queue_m``
        (time-mean queue of its busiest lane).
    """
    q_max: dict[str, float] = {}
    q_mean: dict[str, float] = {}
    for det, mx, mn in zip(queues.get("id", ()), queues.get("maxJamLengthInMeters", ()),
                           queues.get("meanMaxJamLengthInMeters", ()), strict=False):
        edge = str(det)[2:].rsplit("_", 1)[0]
        q_max[edge] = max(q_max.get(edge, 0.0), float(mx))
        q_mean[edge] = max(q_mean.get(edge, 0.0), float(mn))
    rows = []
    for i, edge in enumerate(edgedata.get("id", ())):
        volume = float(edgedata["entered"][i] + edgedata["departed"][i])
        rows.append({
            "edge": str(edge),
            "volume_veh": volume,
            "mean_delay_s": float(edgedata["timeLoss"][i]) / volume if volume else float("nan"),
            "mean_speed_m_s": float(edgedata["speed"][i]),
            "max_queue_m": q_max.get(str(edge), float("nan")),
            "mean_queue_m": q_mean.get(str(edge), float("nan")),
        })
    return rows


def junction_table(edges: Sequence[dict[str, object]],
                   approaches: dict[str, tuple[str, ...]]) -> list[dict[str, object]]:
    """Per signalised junction and approach: volume, control delay, HCM LOS and queue.

    The approach's control delay is the time loss per vehicle on the approach edge (deceleration,
    stopped and acceleration delay up to the stop line).  The junction row (``approach = "ALL"``)
    is the volume-weighted mean of its approaches, as HCM aggregates intersection delay.
    """
    by_edge = {str(r["edge"]): r for r in edges}
    rows: list[dict[str, object]] = []
    for junction, in_edges in sorted(approaches.items()):
        total_v = total_d = 0.0
        worst_q = float("nan")
        for e in in_edges:
            r = by_edge.get(e)
            v = float(r["volume_veh"]) if r else 0.0  # type: ignore[arg-type]
            d = float(r["mean_delay_s"]) if r and v else float("nan")  # type: ignore[arg-type]
            q = float(r["max_queue_m"]) if r else float("nan")  # type: ignore[arg-type]
            rows.append({"junction": junction, "approach": e, "volume_veh": v,
                         "mean_delay_s": d, "los": level_of_service(d), "max_queue_m": q})
            if v:
                total_v += v
                total_d += v * d
            worst_q = q if not math.isfinite(worst_q) else max(worst_q, float(np.nan_to_num(q)))
        d_all = total_d / total_v if total_v else float("nan")
        rows.append({"junction": junction, "approach": "ALL", "volume_veh": total_v,
                     "mean_delay_s": d_all, "los": level_of_service(d_all), "max_queue_m": worst_q})
    return rows


@dataclass(frozen=True)
class Health:
    """What went wrong in a run, reported with every result.

    Attributes
    ----------
    teleports, teleports_jam, collisions
        Counts from SUMO's statistics.
    running_at_end, not_inserted
        Vehicles still in the network at the end / never inserted.
    gridlock
        True when, over the last 10 minutes, nothing arrived while nearly every vehicle in the
        network stood still.
    filling
        True when the network was still filling up at the window's end without teleports or
        gridlock (see :func:`still_filling`).
    warnings
        Human-readable findings (empty when the run is clean).
    """

    teleports: int
    teleports_jam: int
    collisions: int
    running_at_end: int
    not_inserted: int
    gridlock: bool
    warnings: tuple[str, ...]
    filling: bool = False

    @property
    def ok(self) -> bool:
        """True when the run raised no warnings."""
        return not self.warnings


def kept_out(trips: Table, vehicles: Table, stats: RunStatistics, end_s: float,
             grace_s: float = INSERTION_GRACE_S) -> int:
    """Vehicles that never got in though they wanted to leave ``grace_s`` before the end or earlier.

    Such a vehicle points to a blocked entry (see :data:`INSERTION_GRACE_S`).
    """
    delays, _, _ = vehicle_delays(trips, vehicles, stats, end_s)
    n_in = len(trips.get("id", ()))
    return int(np.count_nonzero(delays[n_in:] > grace_s))


def still_filling(summary: Table) -> tuple[float, float] | None:
    """The network's load at the start and end of the window's last 15 minutes, if still growing.

    The load is the vehicles in the network plus those waiting to enter (SUMO's summary
    ``running + waiting``).  A peak that outlasts the window keeps growing it to the end, with
    no teleport and no gridlock to show for it; the delays of such a run grow with the window's
    length, which the user must know to read them.

    Returns
    -------
    (load at the start, load at the end) [veh] when the load grew by at least
    :data:`FILLING_MIN_GROWTH` and :data:`FILLING_MIN_VEH` over :data:`FILLING_WINDOW_S` and
    most vehicles in the network stood still at the end; None otherwise (or too short a run).
    """
    t = np.asarray(summary.get("time", ()), dtype=float)
    if len(t) < 2 or t[-1] - t[0] < FILLING_WINDOW_S:
        return None
    load = np.asarray(summary["running"], dtype=float) + np.asarray(
        summary.get("waiting", np.zeros(len(t))), dtype=float)
    # the load at the span's start: the last sample at or before it
    i = int(np.searchsorted(t, t[-1] - FILLING_WINDOW_S, side="right")) - 1
    first, last = float(load[i]), float(load[-1])
    halting = float(np.asarray(summary["halting"], dtype=float)[-1])
    running = float(np.asarray(summary["running"], dtype=float)[-1])
    grew = last - first >= max(FILLING_MIN_VEH, FILLING_MIN_GROWTH * first)
    return (first, last) if grew and halting >= 0.5 * running else None


def run_health(stats: RunStatistics, summary: Table, not_inserted: int, *,
               blocked: int | None = None) -> Health:
    """Detect teleport storms, gridlock, a network still filling up, collisions and blocked entries.

    ``blocked``: of the ``not_inserted`` vehicles, those kept out longer than
    :data:`INSERTION_GRACE_S` (see :func:`kept_out`); only these are warned about, as a city
    always has a few vehicles that wanted to leave in the window's last seconds.  None: all.
    """
    gridlock = False
    if len(summary.get("time", ())) >= 2:
        t = summary["time"]
        recent = t >= t[-1] - GRIDLOCK_WINDOW_S
        if t[-1] - t[0] >= GRIDLOCK_WINDOW_S and recent.sum() >= 2:
            arrived = summary["arrived"][recent]
            running = summary["running"][recent]
            halting = summary["halting"][recent]
            gridlock = bool(arrived[-1] == arrived[0] and running.min() > 0
                            and np.all(halting >= 0.9 * running))
    w = []
    if gridlock:
        w.append(f"gridlock: no vehicle arrived in the last {GRIDLOCK_WINDOW_S / 60:g} min while "
                 f"{int(summary['running'][-1])} stood in the network")
    filling = None if gridlock else still_filling(summary)
    if filling:
        w.append(f"the network was still filling up at the end: {filling[0]:.0f} → "
                 f"{filling[1]:.0f} vehicles in it or waiting to enter over the last "
                 f"{FILLING_WINDOW_S / 60:g} min; delays grow with the window's length (extend "
                 f"[simulation] end past the peak to measure all of it)")
    if stats.teleports:
        storm = stats.teleports >= max(5, 0.02 * max(stats.inserted, 1))
        w.append(f"{'teleport storm: ' if storm else ''}{stats.teleports} teleport(s) "
                 f"({stats.teleports_jam} from jams)")
    if stats.collisions:
        w.append(f"{stats.collisions} collision(s)")
    if blocked is None and not_inserted:
        w.append(f"{not_inserted} vehicle(s) never entered the network")
    elif blocked:
        w.append(f"{not_inserted} vehicle(s) never entered the network ({blocked} waited more "
                 f"than {INSERTION_GRACE_S:g} s for a gap: an entry is blocked)")
    return Health(teleports=stats.teleports, teleports_jam=stats.teleports_jam,
                  collisions=stats.collisions, running_at_end=stats.running,
                  not_inserted=not_inserted, gridlock=gridlock, warnings=tuple(w),
                  filling=filling is not None)

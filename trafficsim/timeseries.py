"""Pure functions from one run's outputs to its time series in fixed bins (5 minutes by default).

Per bin of the simulation window:

* ``mean_delay_s``: mean delay (time loss + insertion delay, as :data:`metrics.METRICS`) of the
  vehicles that *wanted to depart* in the bin, so a plan that holds vehicles back shows it in the
  bin where they were due; vehicles never inserted count with their whole wait.
* ``demand_veh``: those vehicles.
* ``throughput_veh_h``: vehicles that arrived in the bin, as an hourly rate.
* ``queued_veh``: vehicles standing (speed < 0.1 m/s, SUMO's ``halting``), time-mean over
  the bin from the summary output.
* ``running_veh``: vehicles in the network, time-mean over the bin.

No extra SUMO output is needed: tripinfo and the summary (every 60 s) already hold all of it.
"""

from __future__ import annotations

import math

import numpy as np

from trafficsim.outputs import RunStatistics, Table, vehicle_delays

#: Default bin of the time series. [s]
BIN_S = 300.0
#: Columns of a time-series row, in order.
SERIES_COLUMNS = ("bin_begin_s", "mean_delay_s", "demand_veh", "throughput_veh_h",
                  "queued_veh", "running_veh")


def run_series(trips: Table, vehicles: Table, stats: RunStatistics, summary: Table,
               begin_s: float, end_s: float, bin_s: float = BIN_S) -> list[dict[str, float]]:
    """One run's time series.

    Parameters
    ----------
    trips
        Tripinfo table (with unfinished vehicles).
    vehicles
        Our vehicle table (empty for imported route files).
    stats
        SUMO's run statistics.
    summary
        SUMO's summary output (``time``, ``halting``, ``running``).
    begin_s, end_s
        Simulation window. [s]
    bin_s
        Bin length. [s]

    Returns
    -------
    list of dict
        One row per bin with the keys of :data:`SERIES_COLUMNS`.
    """
    n_bins = max(1, math.ceil((end_s - begin_s) / bin_s - 1e-9))
    edges = begin_s + bin_s * np.arange(n_bins + 1)

    delays, _, ids = vehicle_delays(trips, vehicles, stats, end_s)
    n_in = len(trips.get("id", ()))
    due = np.full(len(delays), np.nan)
    if n_in:
        due[:n_in] = trips["depart"] - trips["departDelay"]
    if vehicles and len(delays) > n_in:
        depart_by_id = dict(zip(vehicles["id"], vehicles["depart_s"], strict=True))
        due[n_in:] = [depart_by_id.get(i, np.nan) for i in ids[n_in:]]
    due_bin = _bin_of(due, begin_s, bin_s, n_bins)

    arrival = trips["arrival"] if n_in else np.zeros(0)
    arr_bin = _bin_of(np.where(arrival >= 0, arrival, np.nan), begin_s, bin_s, n_bins)

    t = np.asarray(summary.get("time", np.zeros(0)), dtype=float)
    sum_bin = _bin_of(t, begin_s, bin_s, n_bins)
    halting = np.asarray(summary.get("halting", np.zeros(len(t))), dtype=float)
    running = np.asarray(summary.get("running", np.zeros(len(t))), dtype=float)

    rows = []
    for b in range(n_bins):
        width = min(edges[b + 1], end_s) - edges[b]
        d = delays[due_bin == b]
        in_sum = sum_bin == b
        rows.append({
            "bin_begin_s": float(edges[b]),
            "mean_delay_s": float(d.mean()) if len(d) else math.nan,
            "demand_veh": float(len(d)),
            "throughput_veh_h": float(np.count_nonzero(arr_bin == b) * 3600.0 / width),
            "queued_veh": float(halting[in_sum].mean()) if in_sum.any() else math.nan,
            "running_veh": float(running[in_sum].mean()) if in_sum.any() else math.nan,
        })
    return rows


def _bin_of(t: np.ndarray, begin_s: float, bin_s: float, n_bins: int) -> np.ndarray:
    """Bin index of each time (−1 for NaN or outside the window)."""
    t = np.asarray(t, dtype=float)
    out = np.full(len(t), -1, dtype=int)
    ok = np.isfinite(t)
    idx = np.floor((t[ok] - begin_s) / bin_s).astype(int)
    # an arrival exactly at the end belongs to the last bin
    idx[idx == n_bins] = n_bins - 1
    idx[(idx < 0) | (idx >= n_bins)] = -1
    out[ok] = idx
    return out

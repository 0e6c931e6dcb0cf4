"""Matplotlib figures of results: pure functions from results and tables to figures.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global
state, no GUI backend: figures render with Agg, and a notebook shows a returned figure as it is).
Inputs are the plain tables a comparison writes (``metrics.json``, ``timeseries.csv``,
``edges.csv``, a case's trajectories), so the same functions serve a notebook holding a
:class:`~trafficsim.compare.Comparison` and ``trafficsim report`` reading a folder:

=====================  ==========================================================
``metric_bars``        mean and 95% CI of metrics per plan
``time_series``        delay, queue and throughput in 5-minute bins per plan
``edge_heatmap``       per-edge speed / delay / volume on the network geometry
``time_space``         vehicle trajectories along a corridor with its signal states
``signal_timing``      the phases of every signal over one cycle, offsets applied
``direction_delays``   tidal plans: peak vs counter-peak delay and travel time
``person_vehicle``     HOV plans: person vs vehicle delay, HOV vs non-HOV times
``bay_occupancy``      kerb-bay plans: occupied spaces over time vs capacity
``optimiser_convergence`` objective per evaluation, best so far, validation (``optimise.json``)
=====================  ==========================================================
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from trafficsim.netgeom import Corridor, NetGeometry, Point, corridor, read_net
from trafficsim.outputs import Table, read_csv, read_tls_states
from trafficsim.stats import mean_ci

#: Metrics drawn by :func:`metric_bars` by default.
BAR_METRICS = ("mean_delay_s", "mean_travel_time_s", "mean_stops", "throughput_veh",
               "person_delay_s", "co2_kg")
#: Series drawn by :func:`time_series` by default.
SERIES_METRICS = ("mean_delay_s", "queued_veh", "throughput_veh_h")

LABELS = {
    "mean_delay_s": "mean delay [s/veh]",
    "mean_travel_time_s": "mean travel time [s]",
    "mean_waiting_time_s": "mean waiting time [s]",
    "mean_stops": "stops per vehicle",
    "throughput_veh": "throughput [veh]",
    "unfinished_veh": "unfinished [veh]",
    "person_delay_s": "delay per person [s]",
    "co2_kg": "CO2 [kg]",
    "teleports": "teleports",
    "queued_veh": "standing vehicles [veh]",
    "throughput_veh_h": "throughput [veh/h]",
    "demand_veh": "vehicles due [veh per bin]",
    "running_veh": "vehicles in the network",
    "mean_speed_m_s": "mean speed [km/h]",
    "volume_veh": "volume [veh]",
    "max_queue_m": "longest queue [m]",
}
# SUMO signal characters → colours of a signal head
SIGNAL_COLORS = {"G": "#1a9850", "g": "#91cf60", "y": "#fdae61", "Y": "#fdae61",
                 "r": "#d73027", "R": "#d73027", "u": "#fdae61", "s": "#d73027",
                 "o": "#bdbdbd", "O": "#bdbdbd"}
_PALETTE = ("#4d4d4d", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22", "#d62728")


def plan_colors(plans: Iterable[str]) -> dict[str, str]:
    """A stable colour per plan (the baseline is dark grey)."""
    names = list(plans)
    out = {}
    others = iter(_PALETTE[1:] * 4)
    for p in names:
        out[p] = _PALETTE[0] if p == "baseline" else next(others)
    return out


def _doc(result: Any) -> Mapping[str, Any]:
    """The JSON document of a comparison (accepts a Comparison or its ``to_dict()``)."""
    doc: Mapping[str, Any] = result.to_dict() if hasattr(result, "to_dict") else result
    return doc


def _clock(t_s: float, _pos: object = None) -> str:
    t = round(float(t_s))
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def _time_axis(ax: Any, t0: float, t1: float, *, seconds: bool = False) -> None:
    """Clock-time ticks on round minutes, about eight of them."""
    span_min = max((t1 - t0) / 60.0, 1.0)
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120) if span_min / s <= 9), 240) * 60.0
    first = math.ceil(t0 / step) * step
    ax.set_xticks(np.arange(first, t1 + 1e-6, step))
    ax.xaxis.set_major_formatter(
        (lambda v, _p: f"{_clock(v)}:{int(v) % 60:02d}") if seconds and step < 60 else _clock)


def _label(metric: str) -> str:
    return LABELS.get(metric, metric)


def to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (rendered with Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------
def metric_bars(result: Any, metrics: Sequence[str] = BAR_METRICS,
                plans: Sequence[str] | None = None) -> Figure:
    """Mean of each metric per plan with its 95% confidence interval over seeds.

    Parameters
    ----------
    result
        A :class:`~trafficsim.compare.Comparison` or its JSON document (``metrics.json``).
    metrics
        Metric keys, one panel each (missing ones are skipped).
    plans
        Plans to show (default: all, in the result's order).
    """
    doc = _doc(result)
    plans = list(plans or doc["plans"])
    metrics = [m for m in metrics if any(m in doc["plans"][p] for p in plans)]
    colors = plan_colors(plans)
    ncol = min(3, max(1, len(metrics)))
    nrow = max(1, math.ceil(len(metrics) / ncol))
    fig = Figure(figsize=(3.6 * ncol, 2.8 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, m in zip(axes, metrics, strict=False):
        means: list[float] = []
        err: list[list[float]] = [[], []]
        for p in plans:
            e = doc["plans"][p].get(m) or {}
            mean = e.get("mean")
            lo, hi = e.get("ci95", [None, None])
            means.append(np.nan if mean is None else mean)
            err[0].append(0.0 if lo is None or mean is None else mean - lo)
            err[1].append(0.0 if hi is None or mean is None else hi - mean)
        x = np.arange(len(plans))
        ax.bar(x, means, yerr=err, capsize=4, color=[colors[p] for p in plans],
               error_kw={"elinewidth": 1.2})
        ax.set_xticks(x, plans, rotation=20 if len(plans) > 3 else 0, ha="right"
                      if len(plans) > 3 else "center")
        ax.set_title(_label(m), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    seeds = doc.get("seeds", [])
    fig.suptitle(f"{doc.get('scenario', '')}: mean and 95% CI over {len(seeds)} seed(s)",
                 fontsize=11)
    return fig


def time_series(rows: Any, metrics: Sequence[str] = SERIES_METRICS,
                plans: Sequence[str] | None = None, *,
                marks: Sequence[tuple[float, str]] = ()) -> Figure:
    """Time series per plan in 5-minute bins: the mean over seeds and its 95% CI band.

    Parameters
    ----------
    rows
        ``timeseries.csv`` rows (``plan``, ``seed``, ``bin_begin_s`` and the metrics), or a
        Comparison (its ``series_rows()``).
    metrics
        Columns to draw, one panel each.
    plans
        Plans to show (default: all, in first-seen order).
    marks
        (time [s], label) drawn as vertical lines, e.g. a day plan's program switches.
    """
    if hasattr(rows, "series_rows"):
        rows = rows.series_rows()
    plans = list(plans or dict.fromkeys(str(r["plan"]) for r in rows))
    colors = plan_colors(plans)
    fig = Figure(figsize=(9, 2.3 * len(metrics)), layout="constrained")
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False).ravel()
    bin_s = _bin_width(rows)
    for ax, m in zip(axes, metrics, strict=True):
        for p in plans:
            by_bin: dict[float, list[float]] = {}
            for r in rows:
                if str(r["plan"]) == p:
                    by_bin.setdefault(float(r["bin_begin_s"]), []).append(float(r[m]))
            t = np.array(sorted(by_bin))
            if not len(t):
                continue
            est = [mean_ci([v for v in by_bin[b] if math.isfinite(v)]) for b in t]
            mid = t + bin_s / 2
            mean = np.array([e.mean for e in est])
            ax.plot(mid, mean, marker="o", ms=3, color=colors[p], label=p)
            # every series is a count or a duration: a band below zero would mean nothing
            lo = np.maximum(np.array([e.ci95[0] for e in est]), 0.0)
            hi = np.array([e.ci95[1] for e in est])
            if np.isfinite(lo).any():
                ax.fill_between(mid, lo, hi, color=colors[p], alpha=0.18, linewidth=0)
        ax.set_ylabel(_label(m), fontsize=9)
        ax.grid(alpha=0.3)
        for t_mark, _ in marks:
            ax.axvline(t_mark, color="0.3", linestyle="--", linewidth=0.9)
    for t_mark, label in marks:
        axes[0].annotate(label, (t_mark, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                         ha="left", va="bottom", color="0.3")
    axes[0].legend(fontsize=8, ncol=min(4, len(plans)), loc="upper left")
    times = [float(r["bin_begin_s"]) for r in rows]
    if times:
        axes[-1].set_xlim(min(times), max(times) + bin_s)
        _time_axis(axes[-1], min(times), max(times) + bin_s)
    axes[-1].set_xlabel(f"time of day ({bin_s / 60:g}-minute bins; band: 95% CI over seeds)")
    return fig


def _bin_width(rows: Sequence[Mapping[str, Any]]) -> float:
    t = sorted({float(r["bin_begin_s"]) for r in rows})
    return float(np.min(np.diff(t))) if len(t) > 1 else 300.0


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------
def edge_heatmap(net: str | Path | NetGeometry, edge_rows: Sequence[Mapping[str, Any]],
                 value: str = "mean_speed_m_s", plans: Sequence[str] | None = None) -> Figure:
    """A per-edge value drawn on the network's lane geometry, one panel per plan.

    Parameters
    ----------
    net
        The network (path or :class:`~trafficsim.netgeom.NetGeometry`).
    edge_rows
        ``edges.csv`` rows (``plan``, ``seed``, ``edge`` and the values), or a Comparison;
        averaged over seeds.
    value
        ``mean_speed_m_s`` (drawn in km/h), ``mean_delay_s``, ``volume_veh`` or ``max_queue_m``.
    plans
        Plans to show (default: all).
    """
    geo = net if isinstance(net, NetGeometry) else read_net(net)
    if hasattr(edge_rows, "runs"):  # a Comparison
        edge_rows = [{"plan": r.plan, "seed": r.seed, **e} for r in edge_rows.runs
                     for e in r.edges]
    plans = list(plans or dict.fromkeys(str(r["plan"]) for r in edge_rows))
    scale = 3.6 if value == "mean_speed_m_s" else 1.0
    per_plan: dict[str, dict[str, float]] = {}
    for p in plans:
        acc: dict[str, list[float]] = {}
        for r in edge_rows:
            if str(r["plan"]) == p:
                v = float(r[value]) if r.get(value) not in (None, "") else math.nan
                if math.isfinite(v):
                    acc.setdefault(str(r["edge"]), []).append(v * scale)
        per_plan[p] = {e: float(np.mean(v)) for e, v in acc.items()}
    every = [v for d in per_plan.values() for v in d.values()]
    vmax = max(every) if every else 1.0
    vmin = 0.0
    cmap = "RdYlGn" if value == "mean_speed_m_s" else "magma_r"
    norm = Normalize(vmin, vmax if vmax > vmin else vmin + 1.0)
    xs = [x for e in geo.edges.values() for ln in e.lanes for x, _ in ln.shape]
    ys = [y for e in geo.edges.values() for ln in e.lanes for _, y in ln.shape]
    w = (max(xs) - min(xs)) if xs else 1.0
    h = (max(ys) - min(ys)) if ys else 1.0
    aspect = h / w if w else 1.0
    ncol = min(2, len(plans)) or 1
    nrow = math.ceil(len(plans) / ncol) or 1
    panel_w = 6.5 if ncol == 1 else 5.2
    fig = Figure(figsize=(panel_w * ncol + 0.8, max(2.2, panel_w * aspect) * nrow + 0.6),
                 layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    mappable = None
    for ax, p in zip(axes, plans, strict=False):
        segs, vals = [], []
        for e in geo.edges.values():
            v = per_plan[p].get(e.id, math.nan)
            for ln in e.lanes:
                if len(ln.shape) >= 2:
                    segs.append(_offset_right(ln.shape, 0.006 * max(w, h)))
                    vals.append(v)
        arr = np.array(vals, dtype=float)
        known = np.isfinite(arr)
        grey = LineCollection([s for s, k in zip(segs, known, strict=True) if not k],
                              colors="#d9d9d9", linewidths=1.5)
        ax.add_collection(grey)
        lc = LineCollection([s for s, k in zip(segs, known, strict=True) if k], cmap=cmap,
                            norm=norm, linewidths=2.6)
        lc.set_array(arr[known])
        ax.add_collection(lc)
        mappable = lc
        ax.autoscale()
        ax.set_aspect("equal")
        ax.set_title(p, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(plans):]:
        ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes[:len(plans)]), shrink=0.8, label=_label(value))
    fig.suptitle(f"{_label(value)} per edge, mean over seeds (grey: no traffic; each direction "
                 "drawn on its right-hand side)", fontsize=10)
    return fig


def _offset_right(shape: Sequence[Point], d: float) -> list[Point]:
    """The polyline moved ``d`` to the right of its overall direction.

    So the two directions of a street stay apart at any zoom.
    """
    (x0, y0), (x1, y1) = shape[0], shape[-1]
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    dx, dy = (y1 - y0) / n * d, -(x1 - x0) / n * d
    return [(x + dx, y + dy) for x, y in shape]


def signal_timing(net: str | Path | NetGeometry, corridors: Sequence[Sequence[str]] = (),
                  signals: Sequence[str] | None = None) -> Figure:
    """Every signal's phases over one cycle, with offsets applied, one row per junction.

    Time is the simulation time modulo the cycle: phase 0 of a program starts at its offset
    (SUMO's rule).  Each phase is a block labelled with its index and duration; amber phases
    are drawn amber, all-red ones red.  For every corridor, a thin strip under each row shows
    the signal its through traffic sees (green / amber / red).

    Parameters
    ----------
    net
        The network.
    corridors
        Edge chains (e.g. both directions of an arterial); their signals come first, in
        driving order.
    signals
        Traffic-light ids to draw (default: all).
    """
    geo = net if isinstance(net, NetGeometry) else read_net(net)
    lay = [corridor(geo, list(c)) for c in corridors if len(c)]
    order: list[str] = []
    if lay:
        order = [tl for _, tl, _ in lay[0].signals]
    order += sorted(t for t in geo.programs if t not in order)
    if signals is not None:
        order = [t for t in order if t in signals]
    if not order:
        fig = Figure(figsize=(6, 1.2))
        fig.text(0.5, 0.5, "no signalised junction in the network", ha="center")
        return fig
    max_cycle = max(geo.programs[t].cycle_s for t in order)
    strip = 0.18
    row_h = 0.6 + strip * len(lay)
    fig = Figure(figsize=(9, 0.9 + 0.55 * row_h * len(order) + 0.5), layout="constrained")
    ax = fig.subplots()
    phase_colors = ("#c6dbef", "#9ecae1", "#dadaeb", "#bcbddc", "#c7e9c0", "#a1d99b")
    for row, tl in enumerate(order):
        prog = geo.programs[tl]
        y = -row * row_h
        for i, (p, start) in enumerate(zip(prog.phases, prog.phase_starts_s(), strict=True)):
            color = _phase_color(p.state) or phase_colors[i % len(phase_colors)]
            for a, b in _wrap(prog.offset_s + start, p.duration_s, prog.cycle_s):
                ax.broken_barh([(a, b - a)], (y - 0.3, 0.6), facecolors=color,
                               edgecolors="white", linewidth=1)
            mid = (prog.offset_s + start + p.duration_s / 2) % prog.cycle_s
            if p.duration_s >= 0.06 * max_cycle:
                ax.text(mid, y, f"{i}: {p.duration_s:g}s", ha="center", va="center", fontsize=8)
        for k, lay_k in enumerate(lay):
            links = next((li for _, t, li in lay_k.signals if t == tl), None)
            if links is None:
                continue
            ys = y - 0.3 - strip * (k + 1)
            for p, start in zip(prog.phases, prog.phase_starts_s(), strict=True):
                c = SIGNAL_COLORS.get(p.state[links[0]] if links[0] < len(p.state) else "o")
                for a, b in _wrap(prog.offset_s + start, p.duration_s, prog.cycle_s):
                    ax.broken_barh([(a, b - a)], (ys + 0.02, strip - 0.04), facecolors=c)
        kind = "" if prog.kind == "static" else f"\n{prog.kind}: nominal durations"
        ax.text(-0.01 * max_cycle, y, f"{tl}\noffset {prog.offset_s:g} s, cycle "
                f"{prog.cycle_s:g} s{kind}", ha="right", va="center", fontsize=8)
    ax.set_xlim(0, max_cycle)
    ax.set_ylim(-(len(order) - 0.5) * row_h - strip * len(lay), 0.5)
    ax.set_yticks([])
    ax.set_xlabel("simulation time mod cycle [s]  (phase 0 starts at the offset)")
    handles = [Patch(color=SIGNAL_COLORS[c], label=n) for c, n in
               (("G", "green"), ("y", "amber"), ("r", "red"))]
    names = ", ".join(f"strip {k + 1}: {c.edges[0]} → {c.edges[-1]}" for k, c in enumerate(lay))
    ax.set_title("Signal timing over one cycle" + (f"  ({names})" if names else ""), fontsize=10)
    if lay:
        fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncol=3,
                   frameon=False)
    return fig


def day_plan_timeline(switch_log: Mapping[str, Sequence[Mapping[str, Any]]],
                      begin_s: float, end_s: float,
                      breakpoints_s: Sequence[float] = ()) -> Figure:
    """Which program each light ran when, from SUMO's own program log (one row per light).

    Parameters
    ----------
    switch_log
        tlLogic id → [{"program_id", "begin_s"}] in the order SUMO ran them (``optimise.json``'s
        ``periods.switch_log``).
    begin_s, end_s
        The window. [s]
    breakpoints_s
        The scheduled switches, drawn as dashed lines: a light reaches the new program at
        most one cycle later (GSP finishes the running cycle). [s]
    """
    lights = sorted(switch_log)
    progs = sorted({str(r["program_id"]) for rows in switch_log.values() for r in rows})
    palette = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#d9d9d9")
    color = {p: palette[i % len(palette)] for i, p in enumerate(progs)}
    fig = Figure(figsize=(9, 0.9 + 0.45 * max(len(lights), 1)), layout="constrained")
    ax = fig.subplots()
    for row, light in enumerate(lights):
        rows = list(switch_log[light])
        for k, r in enumerate(rows):
            a = float(r["begin_s"])
            b = float(rows[k + 1]["begin_s"]) if k + 1 < len(rows) else end_s
            ax.broken_barh([(a, b - a)], (-row - 0.35, 0.7),
                           facecolors=color[str(r["program_id"])], edgecolors="white")
            if b - a > 0.04 * (end_s - begin_s):
                ax.text((a + b) / 2, -row, str(r["program_id"]), ha="center", va="center",
                        fontsize=8)
    for t in breakpoints_s:
        ax.axvline(t, color="0.3", linestyle="--", linewidth=0.9)
    ax.set_yticks([-i for i in range(len(lights))], lights, fontsize=8)
    ax.set_xlim(begin_s, end_s)
    _time_axis(ax, begin_s, end_s)
    ax.set_title("Program active, from SUMO's own log (SaveTLSProgram); dashed: scheduled "
                 "switches", fontsize=10)
    return fig


def _phase_color(state: str) -> str | None:
    """Amber for transition phases, red for all-red ones, None for green phases."""
    if "G" in state or "g" in state:
        return None
    if "y" in state or "Y" in state:
        return SIGNAL_COLORS["y"]
    return SIGNAL_COLORS["r"]


def _wrap(start: float, duration: float, cycle: float) -> list[tuple[float, float]]:
    """The pieces of [start, start + duration) modulo the cycle."""
    a = start % cycle
    b = a + duration
    return [(a, b)] if b <= cycle + 1e-9 else [(a, cycle), (0.0, b - cycle)]


# --------------------------------------------------------------------------------------------
# Lane and kerb measures
# --------------------------------------------------------------------------------------------
#: Panels of :func:`direction_delays`: (title, [(metric, label), ...]).
DIRECTION_PANELS = (
    ("delay along the road [s/veh]", (("tidal_peak_delay_s", "peak direction"),
                                      ("tidal_counter_delay_s", "counter-peak"))),
    ("travel time along the road [s]", (("tidal_peak_travel_time_s", "peak direction"),
                                        ("tidal_counter_travel_time_s", "counter-peak"))),
)
#: Panels of :func:`person_vehicle`.
PERSON_PANELS = (
    ("delay per person vs per vehicle [s]", (("person_delay_s", "per person"),
                                             ("mean_delay_s", "per vehicle"))),
    ("delay per vehicle [s]", (("hov_delay_s", "HOV"), ("non_hov_delay_s", "non-HOV"))),
    ("travel time [s]", (("hov_travel_time_s", "HOV"), ("non_hov_travel_time_s", "non-HOV"))),
)
_SIDE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")
#: File a kerb bay writes into each run directory (see trafficsim.measures.parking_bay).
BAY_OCCUPANCY_FILE = "bay_occupancy"  # + _BAYID.csv


def has_metrics(result: Any, metrics: Iterable[str]) -> bool:
    """Whether any plan of a result has any of the metrics with a finite mean."""
    doc = _doc(result)
    return any((doc["plans"][p].get(m) or {}).get("mean") is not None
               for p in doc.get("plans", {}) for m in metrics)


def _mean_err(doc: Mapping[str, Any], plans: Sequence[str], metric: str
              ) -> tuple[list[float], list[list[float]]]:
    """Means of a metric per plan and their CI half-widths below/above (0 when absent)."""
    means: list[float] = []
    err: list[list[float]] = [[], []]
    for p in plans:
        e = doc["plans"][p].get(metric) or {}
        mean = e.get("mean")
        lo, hi = e.get("ci95", [None, None])
        means.append(np.nan if mean is None else float(mean))
        err[0].append(0.0 if lo is None or mean is None else mean - lo)
        err[1].append(0.0 if hi is None or mean is None else hi - mean)
    return means, err


def paired_bars(result: Any, panels: Sequence[tuple[str, Sequence[tuple[str, str]]]],
                plans: Sequence[str] | None = None, title: str = "") -> Figure:
    """Side-by-side bars per plan (e.g. peak vs counter-peak), mean and 95% CI over seeds.

    Parameters
    ----------
    result
        A Comparison or its JSON document (``metrics.json``).
    panels
        One panel each: its title and the ``(metric, label)`` pairs drawn side by side per plan
        (panels whose metrics no plan has are left out).
    plans
        Plans to show (default: all).
    title
        Figure title (the scenario and seed count are added).

    Raises
    ------
    ValueError
        When no plan has any of the metrics.
    """
    doc = _doc(result)
    plans = list(plans or doc["plans"])
    panels = [(t, pairs) for t, pairs in panels if has_metrics(doc, [m for m, _ in pairs])]
    if not panels:
        msg = "none of the metrics of these panels is in the result"
        raise ValueError(msg)
    fig = Figure(figsize=(3.2 + 1.2 * len(plans) * len(panels), 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    x = np.arange(len(plans))
    for ax, (panel_title, pairs) in zip(axes, panels, strict=True):
        width = 0.8 / len(pairs)
        for k, (metric, label) in enumerate(pairs):
            means, err = _mean_err(doc, plans, metric)
            ax.bar(x + (k - (len(pairs) - 1) / 2) * width, means, width, yerr=err, capsize=3,
                   color=_SIDE_COLORS[k % len(_SIDE_COLORS)], label=label,
                   error_kw={"elinewidth": 1.0}, gid=metric)
        ax.set_xticks(x, plans, rotation=20 if len(plans) > 3 else 0)
        ax.set_title(panel_title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    seeds = doc.get("seeds", [])
    fig.suptitle(f"{doc.get('scenario', '')}: {title}mean and 95% CI over {len(seeds)} seed(s)",
                 fontsize=11)
    return fig


def direction_delays(result: Any, plans: Sequence[str] | None = None) -> Figure:
    """Tidal plans: delay and travel time along the road, peak and counter-peak direction.

    The values cover the scheduled windows, per plan with 95% CIs.

    The values are the ``tidal_peak_*`` / ``tidal_counter_*`` metrics, which every plan of a
    scenario with a tidal lane measures (the baseline too), so the plans compare directly.
    """
    return paired_bars(result, DIRECTION_PANELS, plans, "by direction in the tidal windows, ")


def person_vehicle(result: Any, plans: Sequence[str] | None = None) -> Figure:
    """HOV plans: delay per person and per vehicle, HOV and other vehicles, per plan.

    Delay per person vs per vehicle, and delay and travel time of qualifying (HOV) vs other
    vehicles, per plan with 95% CIs.

    An HOV lane is for people: it can raise vehicle delay and still lower person delay.
    """
    return paired_bars(result, PERSON_PANELS, plans, "people and vehicles, ")


def read_bay_occupancy(path: str | Path) -> dict[str, np.ndarray]:
    """A ``bay_occupancy_BAYID.csv``: ``time_s`` [s], ``occupancy_veh`` and ``capacity_veh`` [veh]."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return {k: np.array([float(r[k]) for r in rows], dtype=float)
            for k in ("time_s", "occupancy_veh", "capacity_veh")}


def bay_occupancy_runs(folder: str | Path) -> dict[str, list[Path]]:
    """Plan → its runs' bay occupancy files (``bay_occupancy_BAYID.csv``) in a results folder.

    The key is ``"plan · bay"`` when a plan has several bays; files are in seed order; plans
    without a kerb bay are left out.
    """
    out: dict[str, list[Path]] = {}
    for plan_dir in sorted(Path(folder, "cases").glob("*")):
        by_bay: dict[str, list[Path]] = {}
        for f in plan_dir.glob(f"seed_*/{BAY_OCCUPANCY_FILE}*.csv"):
            by_bay.setdefault(f.stem.removeprefix(BAY_OCCUPANCY_FILE).lstrip("_"), []).append(f)
        for bay, files in sorted(by_bay.items()):
            key = plan_dir.name if len(by_bay) == 1 else f"{plan_dir.name} · {bay}"
            out[key] = sorted(files, key=lambda p: int(p.parent.name.split("_")[1]))
    return out


def _busy_spans(times: np.ndarray, busy: np.ndarray, gap_s: float, step_s: float
                ) -> list[tuple[float, float]]:
    """Time spans to draw: the sampled range without idle stretches of at least ``gap_s``.

    Each span keeps a margin of idle time around its busy samples.
    """
    first, end = float(times[0]), float(times[-1]) + step_s
    t = times[busy]
    if not len(t):
        return [(first, end)]
    pad = min(gap_s / 4, 600.0)
    groups = np.split(t, np.nonzero(np.diff(t) > gap_s)[0] + 1)
    spans = [(float(g[0]) - pad, float(g[-1]) + step_s + pad) for g in groups]
    if spans[0][0] - first <= gap_s:
        spans[0] = (first, spans[0][1])
    if end - spans[-1][1] <= gap_s:
        spans[-1] = (spans[-1][0], end)
    return [(max(b, first), min(e, end)) for b, e in spans]


def bay_occupancy(runs: Mapping[str, Sequence[str | Path]], *, gap_s: float = 1800.0) -> Figure:
    """Kerb-bay plans: occupied spaces over time, per seed and their mean, against capacity.

    Parameters
    ----------
    runs
        Plan → the ``bay_occupancy_BAYID.csv`` files of its runs (see :func:`bay_occupancy_runs`);
        the measure samples SUMO's stop output every minute over the bay's windows.
    gap_s
        Stretches this long with the bay empty in every run (e.g. between a morning and an
        afternoon window) are left out: the time axis is broken there. [s]
    """
    if not runs:
        msg = "no bay occupancy files to draw"
        raise ValueError(msg)
    tables = {plan: [read_bay_occupancy(f) for f in files] for plan, files in runs.items()}
    every = [t for tabs in tables.values() for t in tabs if len(t["time_s"])]
    times = np.unique(np.concatenate([t["time_s"] for t in every])) if every else np.zeros(1)
    busy = np.zeros(len(times), dtype=bool)
    for t in every:
        busy[np.searchsorted(times, t["time_s"][t["occupancy_veh"] > 0])] = True
    step = float(np.min(np.diff(times))) if len(times) > 1 else 60.0
    spans = _busy_spans(times, busy, gap_s, step)
    fig = Figure(figsize=(9, 2.4 * len(runs)), layout="constrained")
    axes = fig.subplots(len(runs), len(spans), squeeze=False, sharey="row",
                        width_ratios=[max(e - b, 600.0) for b, e in spans])
    for row, (plan, files) in zip(axes, runs.items(), strict=True):
        tabs = tables[plan]
        cap = max((float(t["capacity_veh"].max()) for t in tabs if len(t["capacity_veh"])),
                  default=0.0)
        same = len(tabs) > 1 and all(np.array_equal(t["time_s"], tabs[0]["time_s"]) for t in tabs)
        for k, (ax, (b, e)) in enumerate(zip(row, spans, strict=True)):
            for f, tab in zip(files, tabs, strict=True):
                ax.step(tab["time_s"], tab["occupancy_veh"], where="post", color="#1f77b4",
                        alpha=0.35, lw=0.8, label=Path(f).parent.name)
            if same:
                ax.step(tabs[0]["time_s"], np.mean([t["occupancy_veh"] for t in tabs], axis=0),
                        where="post", color="#08306b", lw=1.8, label="mean over seeds",
                        gid="mean")
            ax.axhline(cap, color="#d62728", ls="--", lw=1.2, label="capacity", gid="capacity")
            ax.set_ylim(0, cap + 1)
            ax.set_xlim(b, e)
            _time_axis(ax, b, e)
            ax.grid(alpha=0.3)
            if k == 0:
                ax.set_ylabel("occupied spaces [veh]", fontsize=9)
                ax.set_title(f"plan {plan}", fontsize=10, loc="left")
        row[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    note = f"; idle stretches of {gap_s / 60:g}+ min left out" if len(spans) > 1 else ""
    fig.suptitle("kerb bay occupancy in its windows (sampled each minute from SUMO's stop "
                 f"output{note})", fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# Signal optimisation
# --------------------------------------------------------------------------------------------
_ROLE_STYLE = {"start": ("#4d4d4d", "s", "start plan"), "webster": ("#2ca02c", "D", "Webster"),
               "candidate": ("#1f77b4", "o", "candidate"),
               "refine": ("#17becf", ".", "pattern search"),
               "actuated": ("#9467bd", "^", "actuated (tuned)"),
               "coordinated": ("#ff7f0e", "v", "coordinated actuated")}


def optimiser_convergence(doc: Mapping[str, Any]) -> Figure:
    """Signal optimisation: the objective of every evaluated plan in evaluation order.

    Also the best so far, and the start and Webster levels; evaluations cut early are marked
    (their value is a lower bound, not the plan's objective).  With a validation, a second panel
    shows the objective on the unseen validation seeds per plan with its 95% CI.

    Parameters
    ----------
    doc
        ``optimise.json`` as written by ``trafficsim optimise --out DIR``.
    """
    hist = [h for h in doc.get("history", []) if h.get("objective") is not None]
    if not hist:
        msg = "optimise.json has no evaluations"
        raise ValueError(msg)
    val = doc.get("validation") or {}
    vplans = val.get("plans") or {}
    fig = Figure(figsize=(10 if vplans else 7, 3.4), layout="constrained")
    axes = fig.subplots(1, 2 if vplans else 1, squeeze=False,
                        width_ratios=[2, 1] if vplans else None).ravel()
    ax = axes[0]
    for role, (color, marker, label) in _ROLE_STYLE.items():
        mine = [h for h in hist if h.get("role") == role]
        full = [h for h in mine if not h.get("cut")]
        cut = [h for h in mine if h.get("cut")]
        if full:
            ax.scatter([h["n"] for h in full], [h["objective"] for h in full], s=16,
                       color=color, marker=marker, label=label, zorder=3)
        if cut:
            ax.scatter([h["n"] for h in cut], [h["objective"] for h in cut], s=16,
                       facecolors="none", edgecolors=color, marker=marker, zorder=2,
                       label=f"{label}, cut early (lower bound)")
    full = sorted((h for h in hist if not h.get("cut")), key=lambda h: h["n"])
    if full:
        best = np.minimum.accumulate([h["objective"] for h in full])
        ax.step([h["n"] for h in full], best, where="post", color="#d62728", lw=1.6,
                label="best so far", gid="best")
    for key, ls in (("start", ":"), ("webster", "--")):
        o = (doc.get(key) or {}).get("objective")
        if o is not None:
            ax.axhline(o, color=_ROLE_STYLE[key][0], ls=ls, lw=1.0)
    objs = [h["objective"] for h in hist if h["objective"] > 0]
    if objs and max(objs) / min(objs) > 10:  # poor candidates would flatten the best ones
        ax.set_yscale("log")
    ax.set_xlabel("evaluation")
    ax.set_ylabel(f"objective ({doc.get('objective', '')})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(f"search: {doc.get('method', '')}, {len(hist)} plans on seeds "
                 f"{', '.join(map(str, doc.get('seeds', [])))}", fontsize=10)
    if vplans:
        ax2 = axes[1]
        names = list(vplans)
        means, err = _mean_err({"plans": {p: {"objective": vplans[p].get("objective")}
                                          for p in names}}, names, "objective")
        x = np.arange(len(names))
        ax2.bar(x, means, yerr=err, capsize=4, color=[_PALETTE[i % len(_PALETTE)]
                                                      for i in range(len(names))])
        ax2.set_xticks(x, names, rotation=30, ha="right")
        ax2.set_title(f"validation on seeds {', '.join(map(str, val.get('seeds', [])))}",
                      fontsize=10)
        ax2.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{doc.get('scenario', '')}: signal optimisation", fontsize=11)
    return fig


def calibration_fit(doc: Mapping[str, Any]) -> Figure:
    """Calibration against counts: observed vs simulated hourly volumes, and the GEH histogram.

    The left panel has the 1:1 line and the band where GEH < 5; the right one a histogram of
    the GEH of every location-hour with the acceptance threshold 5.

    Parameters
    ----------
    doc
        ``calibration.json`` as written by ``trafficsim calibrate --out DIR``.
    """
    hours = doc.get("location_hours") or []
    if not hours:
        msg = "calibration.json has no location-hours"
        raise ValueError(msg)
    obs = np.array([h["observed_veh_h"] for h in hours], dtype=float)
    sim = np.array([h["simulated_veh_h"] for h in hours], dtype=float)
    g = np.array([h["geh"] for h in hours], dtype=float)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    top = max(float(obs.max()), float(sim.max()), 1.0) * 1.05
    line = np.linspace(0.0, top, 200)
    # GEH = 5 where (M - C)² = 12.5 (M + C): M = C + 6.25 ± sqrt(6.25² + 25 C)
    band = np.sqrt(6.25 ** 2 + 25.0 * line)
    ax.fill_between(line, np.maximum(line + 6.25 - band, 0), line + 6.25 + band,
                    color="#2ca02c", alpha=0.12, label="GEH < 5")
    ax.plot(line, line, color="#444", lw=1.0, label="1:1")
    ok = g < 5
    ax.scatter(obs[ok], sim[ok], s=14, color="#1f77b4", label="location-hour, GEH < 5")
    ax.scatter(obs[~ok], sim[~ok], s=18, color="#d62728", marker="x", label="GEH ≥ 5")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("observed [veh/h]")
    ax.set_ylabel("simulated, mean over seeds [veh/h]")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    edges = np.arange(0.0, max(10.0, float(np.ceil(g.max()))) + 0.5, 0.5)
    ax2.hist(g, bins=edges, color="#1f77b4")
    ax2.axvline(5.0, color="#d62728", ls="--", lw=1.2, label="GEH = 5")
    ax2.set_xlabel("GEH of the hourly volume [-]")
    ax2.set_ylabel("location-hours")
    ax2.legend(fontsize=7)
    ax2.grid(axis="y", alpha=0.3)
    s = doc.get("summary", {})
    fig.suptitle(f"calibration ({doc.get('method', '')}): GEH < 5 on "
                 f"{100 * s.get('geh_lt5_share', 0):.0f}% of {len(hours)} location-hours",
                 fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------
def read_trajectories(path: str | Path) -> Table:
    """Read a run's ``trajectories.csv.gz``.

    Its columns are ``time``, ``id``, ``speed``, ``pos`` and ``lane``.
    """
    return read_csv(Path(path))


def time_space(trajectories: Table, lay: Corridor,
               tls_states: Sequence[tuple[float, str, str]] = (),
               window_s: tuple[float, float] | None = None, title: str = "",
               ax: Any = None, vmax_kmh: float | None = None) -> Figure:
    """A time–space diagram: every vehicle's position along a corridor over time.

    Trajectories are coloured by speed; at each signal's stop line a bar shows the state of the
    corridor's through movement (green / amber / red) as SUMO switched it.

    Parameters
    ----------
    trajectories
        SUMO fcd output on the corridor's edges (see :func:`read_trajectories`).
    lay
        The corridor (:func:`trafficsim.netgeom.corridor`).
    tls_states
        Signal switches ``(time [s], id, state)`` (:func:`trafficsim.outputs.read_tls_states`).
    window_s
        Time range to draw [s]; default: the busiest 15 minutes.
    title
        Panel title.
    ax
        Draw into this axes instead of a new figure.
    vmax_kmh
        Top of the speed colour scale (default: the fastest sample). [km/h]
    """
    fig = ax.figure if ax is not None else Figure(figsize=(10, 5), layout="constrained")
    if ax is None:
        ax = fig.subplots()
    x = lay.positions(trajectories.get("lane", ()), trajectories.get("pos", ()))
    on = np.isfinite(x)
    x = x[on]
    t = np.asarray(trajectories.get("time", np.zeros(0)), dtype=float)[on]
    ids = np.asarray(trajectories.get("id", np.zeros(0)), dtype=object)[on]
    speed = np.asarray(trajectories.get("speed", np.zeros(0)), dtype=float)[on]
    if window_s is None:
        window_s = _busiest_window(t, 900.0)
    keep = (t >= window_s[0]) & (t <= window_s[1])
    t, x, ids, speed = t[keep], x[keep], ids[keep], speed[keep]
    order = np.lexsort((t, ids))
    t, x, ids, speed = t[order], x[order], ids[order], speed[order]
    # break a vehicle's line where it left the corridor (a gap in time) or jumped back
    brk = np.ones(len(t), dtype=bool)
    if len(t) > 1:
        brk[1:] = (ids[1:] != ids[:-1]) | (np.diff(t) > 1.5) | (np.diff(x) < -1.0)
    pts = np.column_stack([t, x])
    segs = [pts[i:i + 2] for i in range(len(t) - 1) if not brk[i + 1]]
    seg_speed = [speed[i + 1] for i in range(len(t) - 1) if not brk[i + 1]]
    if vmax_kmh is None:
        vmax_kmh = 3.6 * max(15.0, float(np.nanmax(speed)) if len(speed) else 15.0)
    lc = LineCollection(segs, cmap="RdYlGn", norm=Normalize(0.0, vmax_kmh), linewidths=0.8)
    lc.set_array(np.asarray(seg_speed) * 3.6)
    ax.add_collection(lc)
    fig.colorbar(lc, ax=ax, label="speed [km/h]", shrink=0.8)
    _draw_signals(ax, lay, tls_states, window_s)
    ax.set_xlim(*window_s)
    ax.set_ylim(0, lay.length_m)
    _time_axis(ax, *window_s, seconds=True)
    ax.set_xlabel("time of day")
    ax.set_ylabel(f"distance from {lay.edges[0]} [m]")
    ax.set_title(title or f"{lay.edges[0]} → {lay.edges[-1]}", fontsize=10)
    return fig


def _busiest_window(t: np.ndarray, width_s: float) -> tuple[float, float]:
    """The ``width_s`` window (on a minute grid) with the most trajectory samples."""
    if not len(t):
        return (0.0, width_s)
    lo, hi = float(t.min()), float(t.max())
    if hi - lo <= width_s:
        return (lo, max(hi, lo + 1.0))
    starts = np.arange(lo, hi - width_s + 60.0, 60.0)
    sorted_t = np.sort(t)
    counts = np.searchsorted(sorted_t, starts + width_s) - np.searchsorted(sorted_t, starts)
    s = float(starts[int(np.argmax(counts))])
    return (s, s + width_s)


def _draw_signals(ax: Any, lay: Corridor, tls_states: Sequence[tuple[float, str, str]],
                  window_s: tuple[float, float]) -> None:
    """Bars at the stop lines coloured by the through movement's signal over time."""
    height = 0.012 * lay.length_m
    for pos, tl, links in lay.signals:
        events = [(t, s) for t, i, s in tls_states if i == tl]
        for k, (t0, state) in enumerate(events):
            t1 = events[k + 1][0] if k + 1 < len(events) else window_s[1]
            a, b = max(t0, window_s[0]), min(t1, window_s[1])
            if b <= a:
                continue
            c = SIGNAL_COLORS.get(state[links[0]] if links[0] < len(state) else "o", "#bdbdbd")
            ax.broken_barh([(a, b - a)], (pos - height / 2, height), facecolors=c, zorder=3)
        ax.text(window_s[0], pos + height, f" {tl}", fontsize=7, va="bottom", zorder=4)


def time_space_case(case_dir: str | Path, window_s: tuple[float, float] | None = None
                    ) -> Figure:
    """Time–space diagrams of a run recorded with trajectories: one panel per corridor.

    Reads the run's ``corridors.json``, ``trajectories.csv.gz`` and ``tls_states.xml`` and the
    plan's network (``../net.net.xml``).  The direction with more vehicles comes first.
    """
    import json

    d = Path(case_dir)
    geo = read_net(d.parent / "net.net.xml")
    meta = json.loads((d / "corridors.json").read_text(encoding="utf-8"))
    chains = meta["corridors"]
    traj = read_trajectories(d / "trajectories.csv.gz")
    states = read_tls_states(d / "tls_states.xml") if (d / "tls_states.xml").is_file() else []
    lays = [corridor(geo, c) for c in chains]
    ids = np.asarray(traj.get("id", ()), dtype=object)
    vol = {lay.edges: len(set(ids[np.isfinite(lay.positions(traj.get("lane", ()),
                                                            traj.get("pos", ())))]))
           for lay in lays}

    def volume(lay: Corridor) -> int:
        return vol[lay.edges]

    lays.sort(key=volume, reverse=True)
    lays = [lay for lay in lays if volume(lay)] or lays[:1]
    if window_s is None:
        recorded = meta.get("window_s")
        window_s = (tuple(recorded) if recorded else
                    _busiest_window(np.asarray(traj.get("time", np.zeros(0)), dtype=float), 900.0))
    # one colour scale for every panel: the corridor's fastest limit, plus drivers' speed factor
    limit = max(ln.speed_m_s for lay in lays for e in lay.edges for ln in geo.edges[e].lanes)
    fig = Figure(figsize=(10, 4.2 * len(lays)), layout="constrained")
    axes = fig.subplots(len(lays), 1, squeeze=False).ravel()
    for ax, lay in zip(axes, lays, strict=True):
        time_space(traj, lay, states, window_s=window_s, ax=ax, vmax_kmh=1.2 * limit * 3.6,
                   title=f"{lay.edges[0]} → {lay.edges[-1]}  ({volume(lay)} vehicles in the "
                         f"recording)")
    return fig

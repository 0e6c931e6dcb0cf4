"""``trafficsim report DIR``: one self-contained HTML file from a results folder.

The folder is what ``compare --out`` / ``run --out`` wrote (``metrics.json``, ``runs.csv``,
``edges.csv``, ``junctions.csv``, ``timeseries.csv`` and ``cases/``).  The report holds the
comparison table, the per-junction level of service, the pictures of :mod:`trafficsim.plots`
(embedded as ``data:`` URIs, so the file can be mailed or archived alone) and the provenance of
the results: scenario file and its SHA-256, seeds, window, SUMO and trafficsim versions.

The report is a list of sections.  A section is a function ``(ResultsFolder) -> list of blocks``
(a block is a matplotlib figure or an HTML fragment; an empty list leaves the section out),
registered with :func:`section`.  Features that write more into the folder (the optimiser's
history) add their pictures by registering a section; a measure declares its own section in its
module (``REPORT_TITLE`` and ``report_section``, see :class:`trafficsim.measures.Measure`).
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from trafficsim import plots
from trafficsim.metrics import is_improvement, level_of_service
from trafficsim.netgeom import read_net, with_additional_programs
from trafficsim.spec import clock

REPORT_NAME = "report.html"
#: What ``trafficsim optimise --out DIR`` writes (see trafficsim.optimise).
OPTIMISE_JSON = "optimise.json"
#: What ``trafficsim calibrate --out DIR`` writes (see trafficsim.calibrate).
CALIBRATION_JSON = "calibration.json"


class ReportError(ValueError):
    """The folder is not a results folder (or lacks a file the report needs)."""


@dataclass(frozen=True)
class ResultsFolder:
    """A results folder read back: the JSON document and the tables, as written.

    Attributes
    ----------
    dir
        The folder.
    doc
        ``metrics.json`` (the ``--json`` document).
    runs, edges, junctions, series
        Rows of ``runs.csv``, ``edges.csv``, ``junctions.csv`` and ``timeseries.csv``
        (values as strings, as the CSV holds them).
    """

    dir: Path
    doc: dict[str, Any]
    runs: list[dict[str, str]] = field(default_factory=list)
    edges: list[dict[str, str]] = field(default_factory=list)
    junctions: list[dict[str, str]] = field(default_factory=list)
    series: list[dict[str, str]] = field(default_factory=list)

    @property
    def plans(self) -> list[str]:
        """The plans of the results document, in its order."""
        return list(self.doc.get("plans", {}))

    @property
    def seeds(self) -> list[int]:
        """The seeds the results ran on."""
        return list(self.doc.get("seeds", []))

    def net(self, plan: str) -> Path | None:
        """The network a plan ran on (None when the cases were not kept)."""
        for p in (self.dir / "cases" / plan / "net.net.xml", self.dir / "network" / "net.net.xml"):
            if p.is_file():
                return p
        return None

    def trajectory_runs(self) -> dict[str, Path]:
        """Plan → the run directory that recorded trajectories (``--trajectories``)."""
        out = {}
        for plan in self.plans:
            for s in self.seeds:
                d = self.dir / "cases" / plan / f"seed_{s}"
                if (d / "trajectories.csv.gz").is_file() and (d / "corridors.json").is_file():
                    out[plan] = d
                    break
        return out

    def corridors(self) -> list[list[str]]:
        """The corridors trajectories were recorded on (empty when none were)."""
        for d in self.trajectory_runs().values():
            doc: dict[str, list[list[str]]] = json.loads(
                (d / "corridors.json").read_text(encoding="utf-8"))
            return doc["corridors"]
        return []


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_folder(path: str | Path) -> ResultsFolder:
    """Read a results folder.

    Raises
    ------
    ReportError
        When ``metrics.json`` is missing or unreadable.
    """
    d = Path(path)
    mj = d / "metrics.json"
    if not mj.is_file() and (d / OPTIMISE_JSON).is_file():
        return ResultsFolder(dir=d, doc=_optimise_doc(d / OPTIMISE_JSON))
    if not mj.is_file() and (d / CALIBRATION_JSON).is_file():
        return ResultsFolder(dir=d, doc=_calibration_doc(d / CALIBRATION_JSON))
    if not mj.is_file():
        msg = (f"{d}: no metrics.json here; expected a folder written by "
               "'trafficsim compare --out DIR', 'trafficsim run --out DIR' or "
               "'trafficsim optimise --out DIR'")
        raise ReportError(msg)
    try:
        doc = json.loads(mj.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        msg = f"{mj}: is not valid JSON ({exc})"
        raise ReportError(msg) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("plans"), dict) \
            or not all(isinstance(p, dict) for p in doc["plans"].values()):
        msg = (f"{mj}: plans: missing or not a table of plans; expected the metrics.json that "
               "'trafficsim compare --out DIR' or 'trafficsim run --out DIR' writes")
        raise ReportError(msg)
    bad = _malformed_estimate(doc)
    if bad:
        msg = (f"{mj}: {bad}; expected the metrics.json that 'trafficsim compare --out DIR' or "
               "'trafficsim run --out DIR' writes")
        raise ReportError(msg)
    return ResultsFolder(dir=d, doc=doc, runs=_rows(d / "runs.csv"),
                         edges=_rows(d / "edges.csv"), junctions=_rows(d / "junctions.csv"),
                         series=_rows(d / "timeseries.csv"))


def _is_number(v: object) -> bool:
    """A JSON number or null (a metric without a value, e.g. one seed's CI)."""
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _malformed_estimate(doc: dict[str, Any]) -> str | None:
    """Where ``doc`` holds a metric estimate the report cannot draw, and what it holds; or None.

    Every ``plans.PLAN.METRIC`` is ``{"mean", "ci95", "per_seed"}`` and every
    ``vs_baseline.PLAN.METRIC`` ``{"diff", "ci95", "pct"}``, of numbers or nulls; a plan's
    ``warnings`` is a list.  (A hand-edited or truncated file otherwise ended in an internal
    error deep in the plotting.)
    """
    tables = [("plans", doc["plans"], ("mean", "per_seed", "ci95"))]
    if isinstance(doc.get("vs_baseline"), dict):
        tables.append(("vs_baseline", doc["vs_baseline"], ("diff", "pct", "ci95")))
    for top, plans, keys in tables:
        for plan, metrics in plans.items():
            if not isinstance(metrics, dict):
                return f"{top}.{plan}: = {metrics!r} is not a table of metrics"
            for metric, est in metrics.items():
                where = f"{top}.{plan}.{metric}"
                if metric == "warnings":
                    if not isinstance(est, list):
                        return f"{where}: = {est!r} is not a list"
                    continue
                if not isinstance(est, dict):
                    return f"{where}: = {est!r} is not a table such as {{\"{keys[0]}\": 1.5}}"
                for key in keys:
                    value = est.get(key)
                    values = value if key in ("per_seed", "ci95") and isinstance(value, list) \
                        else [value]
                    if not all(_is_number(v) for v in values):
                        return f"{where}.{key}: = {value!r} is not a number"
                if "ci95" in est and not (isinstance(est["ci95"], list) and len(est["ci95"]) == 2):
                    return f"{where}.ci95: = {est['ci95']!r} is not a pair [low, high]"
    return None


def _calibration_doc(path: Path) -> dict[str, Any]:
    """A results document from ``calibration.json`` alone.

    It has no plans; the whole file goes under ``calibration``.
    """
    try:
        cal = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        msg = f"{path}: is not valid JSON ({exc})"
        raise ReportError(msg) from None
    if not isinstance(cal, dict) or not isinstance(cal.get("summary"), dict):
        msg = f"{path}: summary: missing; expected the calibration.json of 'trafficsim calibrate'"
        raise ReportError(msg)
    return {"scenario": cal.get("scenario", ""), "seeds": cal.get("seeds", []), "plans": {},
            "vs_baseline": {}, "health": {}, "calibration": cal}


def _optimise_doc(path: Path) -> dict[str, Any]:
    """A results document from ``optimise.json``.

    Its validation table becomes the plans (start, Webster, actuated, optimised … on the
    validation seeds); the whole file goes under ``optimise``.
    """
    try:
        opt = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not UTF-8
        msg = f"{path}: is not valid JSON ({exc})"
        raise ReportError(msg) from None
    val = opt.get("validation") or {}
    plans = {p: {m: e for m, e in row.items() if isinstance(e, dict)}
             for p, row in (val.get("plans") or {}).items()}
    health = {p: {"validation": {"warnings": row.get("warnings", [])}}
              for p, row in (val.get("plans") or {}).items()}
    return {"scenario": opt.get("scenario", ""), "scenario_file": opt.get("scenario_file", ""),
            "window": opt.get("window", {}), "seeds": val.get("seeds", opt.get("seeds", [])),
            "plans": plans, "vs_baseline": {}, "health": health, "optimise": opt}


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
Block = Figure | str
SectionFn = Callable[[ResultsFolder], list[Block]]
SECTIONS: list[tuple[float, str, SectionFn]] = []


def section(title: str, order: float) -> Callable[[SectionFn], SectionFn]:
    """Register a report section (sections appear by ``order``; the built-in ones use 10–90).

    The function gets the :class:`ResultsFolder` and returns its blocks: figures and HTML
    fragments (already escaped).  An empty list leaves the section out, so a section can check
    for the files it needs (e.g. the optimiser's history) and stay silent otherwise.
    """

    def deco(fn: SectionFn) -> SectionFn:
        if any(t == title for _, t, _ in SECTIONS):
            msg = f"report section '{title}' is already registered"
            raise ValueError(msg)
        SECTIONS.append((order, title, fn))
        SECTIONS.sort(key=lambda s: s[0])
        return fn

    return deco


def all_sections() -> list[tuple[float, str, SectionFn]]:
    """The registered report sections and those the measures and situations declare, in order.

    Measures and situations declare theirs with ``REPORT_TITLE`` and ``report_section``.
    """
    from trafficsim.measures import measure_classes

    own = [(cls.REPORT_ORDER, cls.REPORT_TITLE, cls.report_section)
           for cls in measure_classes() if cls.REPORT_TITLE]
    taken = {t for _, t, _ in SECTIONS}
    extra = [s for s in {t: (o, t, fn) for o, t, fn in own}.values() if s[1] not in taken]
    return sorted([*SECTIONS, *extra], key=lambda s: s[0])


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x):,.{digits}f}"


def _digits(metric: str) -> int:
    return 2 if metric in ("mean_stops", "co2_kg", "nox_kg") else 1


@section("Comparison", 10)
def _comparison(f: ResultsFolder) -> list[Block]:
    doc = f.doc
    plans = f.plans
    if not plans:  # a folder of `calibrate` alone: nothing compared
        return []
    vs = doc.get("vs_baseline", {})
    others = [p for p in plans if p in vs]
    head = "".join(f"<th>{html.escape(p)}<br><small>mean [95% CI]</small></th>" for p in plans)
    head += "".join(f"<th>Δ {html.escape(p)} vs baseline<br><small>paired diff [95% CI], %"
                    "</small></th>" for p in others)
    metrics = list(doc["plans"][plans[0]]) if plans else []
    body = []
    for m in metrics:
        k = _digits(m)
        cells = []
        for p in plans:
            e = doc["plans"][p].get(m) or {}
            lo, hi = e.get("ci95", [None, None])
            cells.append(f"<td>{_fmt(e.get('mean'), k)} <small>[{_fmt(lo, k)}, {_fmt(hi, k)}]"
                         "</small></td>")
        for p in others:
            d = vs[p].get(m) or {}
            diff, (lo, hi) = d.get("diff"), d.get("ci95", [None, None])
            cls = ""
            if diff is not None and lo is not None and hi is not None and (lo > 0 or hi < 0):
                good = is_improvement(m, diff)
                cls = {True: ' class="better"', False: ' class="worse"', None: ""}[good]
            sign = "+" if diff is not None and diff > 0 else ""
            cells.append(f"<td{cls}>{sign}{_fmt(diff, k)} <small>[{_fmt(lo, k)}, {_fmt(hi, k)}]"
                         f" {_fmt(d.get('pct'))}%</small></td>")
        body.append(f"<tr><th>{html.escape(m)}</th>{''.join(cells)}</tr>")
    table = (f'<table class="num"><thead><tr><th>metric</th>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table>"
             '<p class="note">95% Student-t intervals over seeds; differences are paired on '
             'common seeds (same demand draws). <span class="better">green</span>: significantly '
             'better, <span class="worse">red</span>: significantly worse (the interval excludes '
             "0); metrics without a direction (a lane's share, uses of a bay) are not coloured."
             "</p>")
    return [table, plots.metric_bars(doc)]


@section("Signal optimisation", 15)
def _optimisation(f: ResultsFolder) -> list[Block]:
    path = f.dir / OPTIMISE_JSON
    opt = f.doc.get("optimise")
    if opt is None and path.is_file():
        opt = json.loads(path.read_text(encoding="utf-8"))
    if not opt or not opt.get("history"):
        return []
    best = opt.get("best") or {}
    rows = []
    for ref, d in ((opt.get("validation") or {}).get("optimised_vs") or {}).items():
        e = d.get("mean_delay_s") or {}
        lo, hi = e.get("ci95", [None, None])
        rows.append(f"<tr><th>{html.escape(ref)}</th><td>{_fmt(e.get('diff'))} "
                    f"<small>[{_fmt(lo)}, {_fmt(hi)}] {_fmt(e.get('pct'))}%</small></td></tr>")
    table = ('<table class="num"><thead><tr><th>optimised vs</th><th>Δ mean delay [s]<br>'
             "<small>paired diff [95% CI], %</small></th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>") if rows else ""
    return [f"<p>{html.escape(str(opt.get('method', '')))}: {opt.get('evaluations', 0)} plans "
            f"evaluated ({opt.get('cut_evaluations', 0)} cut early), stopped: "
            f"{html.escape(str(opt.get('stopped', '')))}; best objective "
            f"{_fmt(best.get('objective'))} ({html.escape(str(opt.get('objective', '')))}) at "
            f"evaluation {best.get('eval', '–')}.</p>",
            plots.optimiser_convergence(opt), table,
            '<p class="note">Search on the search seeds; the validation re-runs each plan on '
            "seeds the search never saw. <code>signal_plan.add.xml</code> in the folder holds "
            "the optimised programs.</p>"]


@section("Calibration against counts", 12)
def _calibration(f: ResultsFolder) -> list[Block]:
    cal = f.doc.get("calibration")
    if cal is None and (f.dir / CALIBRATION_JSON).is_file():
        cal = json.loads((f.dir / CALIBRATION_JSON).read_text(encoding="utf-8"))
    if not cal or not cal.get("location_hours"):
        return []
    s = cal["summary"]
    verdict = "accepted" if s.get("accepted") else "<b>not accepted</b>"
    head = (f"<p>Route flows fitted by <code>{html.escape(str(cal.get('method', '')))}</code>; "
            f"simulated counts are the mean over seeds {html.escape(str(cal.get('seeds')))} of "
            f"SUMO runs. GEH &lt; 5 on {100 * s['geh_lt5_share']:.0f}% of "
            f"{s.get('location_hours')} location-hours at {s['locations']} locations: "
            f"{verdict} ({html.escape(str(cal.get('criterion', '')))}). R² {_fmt(s.get('r2'), 3)}, "
            f"RMSE {_fmt(s.get('rmse_pct'))}%, {_fmt(s.get('vehicles'), 0)} vehicles per run "
            f"(fitted {_fmt(s.get('vehicles_fitted'), 0)}).</p>")
    worst = sorted(cal["location_hours"], key=lambda h: -h["geh"])[:10]
    rows = "".join(f"<tr><th>{html.escape(h['location'])}</th><td>{html.escape(h['hour'])}</td>"
                   f"<td>{_fmt(h['observed_veh_h'], 0)}</td><td>{_fmt(h['simulated_veh_h'], 0)}"
                   f"</td><td>{_fmt(h['geh'], 2)}</td></tr>" for h in worst)
    table = ('<table class="num"><thead><tr><th>worst locations</th><th>hour</th>'
             "<th>observed [veh/h]</th><th>simulated [veh/h]</th><th>GEH</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>")
    flags = "".join(f"<li><b>{html.escape(fl['location'])}</b>: {html.escape(fl['reason'])}</li>"
                    for fl in cal.get("flagged", []))
    blocks: list[Block] = [head, plots.calibration_fit(cal), table]
    if flags:
        blocks.append(f"<p>Counts no route flows can reproduce:</p><ul>{flags}</ul>")
    return blocks


@section("Time-of-day plans", 16)
def _periods(f: ResultsFolder) -> list[Block]:
    """A ``--periods`` run: periods, timings, the programs SUMO ran, the switches in the series.

    Each period's timing diagram, which program each light ran when (SUMO's own log) and the
    whole-day validation series with the switches marked.
    """
    from dataclasses import replace as _replace

    from trafficsim.netgeom import read_net
    from trafficsim.signals import read_plan_file

    opt = f.doc.get("optimise") or {}
    p = opt.get("periods")
    if not isinstance(p, dict) or not p.get("per_period"):
        return []
    def cycles(r: dict[str, Any]) -> str:
        plan = (r.get("best") or {}).get("plan") or {}
        return ", ".join(sorted({_fmt(v.get("cycle_s"), 0) for v in plan.values()}))

    rows = "".join(
        f"<tr><th>{html.escape(str(r['program_id']))}</th><td>{html.escape(str(r['clock']))}"
        f"</td><td>{_fmt((r.get('best') or {}).get('objective'), 2)}</td><td>"
        f"{_fmt(r.get('single_objective'), 2)}</td><td>"
        f"{html.escape(cycles(r))}</td></tr>" for r in p["per_period"])
    vs = ((opt.get("validation") or {}).get("day_plan_vs") or {})
    cmp = "".join(
        f"<tr><th>{html.escape(ref)}</th><td>{_fmt(d['mean_delay_s'].get('diff'))} <small>"
        f"[{_fmt(d['mean_delay_s']['ci95'][0])}, {_fmt(d['mean_delay_s']['ci95'][1])}] "
        f"{_fmt(d['mean_delay_s'].get('pct'))}%</small></td></tr>" for ref, d in vs.items())
    blocks: list[Block] = [
        f"<p>{len(p['per_period'])} periods ({html.escape(str(p.get('rule', '')))}); switched "
        f"by a WAUT, procedure {html.escape(str(p.get('procedure', '')))}.</p>",
        '<table class="num"><thead><tr><th>program</th><th>period</th><th>objective</th>'
        "<th>single plan<br><small>same evaluation</small></th>"
        f"<th>cycle [s]</th></tr></thead><tbody>{rows}</tbody></table>"]
    if cmp:
        blocks.append('<table class="num"><thead><tr><th>day plan vs</th><th>Δ mean delay '
                      "[s] (whole day)<br><small>paired diff [95% CI], %</small></th></tr>"
                      f"</thead><tbody>{cmp}</tbody></table>")
    net = f.dir / "single" / "work" / "cases" / "baseline" / "net.net.xml"
    plan_file = f.dir / "signal_plan.add.xml"
    if net.is_file() and plan_file.is_file():
        geo = read_net(net)
        progs, _ = read_plan_file(plan_file)
        for r in p["per_period"]:
            mine = {q.tls_id: q for q in progs if q.program_id == r["program_id"]}
            if mine:
                fig = plots.signal_timing(_replace(geo, programs=mine))
                fig.suptitle(f"{r['program_id']}: {r['clock']}", fontsize=10)
                blocks.append(fig)
    window = opt.get("window") or {}
    if p.get("switch_log") and window:
        blocks.append(plots.day_plan_timeline(p["switch_log"], float(window["begin_s"]),
                                              float(window["end_s"]),
                                              p.get("breakpoints_s", [])))
    series = _rows(f.dir / "validation" / "timeseries.csv")
    if series:
        marks = [(float(t), f"→ tod{i + 1}") for i, t in enumerate(p.get("breakpoints_s", []))]
        blocks.append(plots.time_series(series, marks=marks))
    return blocks


@section("Signalised junctions: level of service", 20)
def _los(f: ResultsFolder) -> list[Block]:
    if not f.junctions:
        return []
    plans = [p for p in f.plans if any(r["plan"] == p for r in f.junctions)]
    keys = list(dict.fromkeys((r["junction"], r["approach"]) for r in f.junctions))

    def mean_delay(plan: str, junction: str, approach: str) -> float:
        vals = [float(r["mean_delay_s"]) for r in f.junctions
                if r["plan"] == plan and r["junction"] == junction and r["approach"] == approach
                and r["mean_delay_s"] not in ("", "nan")]
        vals = [v for v in vals if math.isfinite(v)]
        return sum(vals) / len(vals) if vals else math.nan

    def rows(approach_filter: Callable[[str], bool]) -> str:
        out = []
        for j, a in keys:
            if not approach_filter(a):
                continue
            cells = []
            for p in plans:
                d = mean_delay(p, j, a)
                los = level_of_service(d)
                cells.append(f'<td>{_fmt(d)}</td><td class="los los{los}">{los}</td>')
            label = html.escape(j if a == "ALL" else f"{j} ← {a}")
            out.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
        return "".join(out)

    head = "".join(f'<th colspan="2">{html.escape(p)}</th>' for p in plans)
    sub = "<th>delay [s]</th><th>LOS</th>" * len(plans)
    table = (f'<table class="num"><thead><tr><th rowspan="2">junction</th>{head}</tr>'
             f"<tr>{sub}</tr></thead><tbody>{rows(lambda a: a == 'ALL')}</tbody></table>"
             "<details><summary>per approach</summary>"
             f'<table class="num"><thead><tr><th rowspan="2">approach</th>{head}</tr>'
             f"<tr>{sub}</tr></thead><tbody>{rows(lambda a: a != 'ALL')}</tbody></table>"
             "</details>"
             '<p class="note">Control delay = time loss per vehicle on the approach, mean over '
             "seeds; the junction is the volume-weighted mean of its approaches. HCM signalised "
             "LOS: A ≤ 10 s, B ≤ 20, C ≤ 35, D ≤ 55, E ≤ 80, F above.</p>")
    return [table]


@section("Over time", 30)
def _over_time(f: ResultsFolder) -> list[Block]:
    return [plots.time_series(f.series)] if f.series else []


@section("On the network", 40)
def _network(f: ResultsFolder) -> list[Block]:
    net = f.net(f.plans[0]) if f.plans else None
    if net is None or not f.edges:
        return []
    return [plots.edge_heatmap(net, f.edges, "mean_speed_m_s"),
            plots.edge_heatmap(net, f.edges, "mean_delay_s")]


@section("Signal timing", 50)
def _signals(f: ResultsFolder) -> list[Block]:
    blocks: list[Block] = []
    seen: list[Any] = []
    for plan in f.plans:
        net = f.net(plan)
        if net is None:
            continue
        if any((f.dir / "cases" / plan).glob("seed_*/controllers.json")):
            # its programs only list the stages a controller switches between (max-pressure)
            blocks.append(f'<p class="note">plan {html.escape(plan)}: signals driven by an '
                          "adaptive controller (max-pressure) through TraCI; no fixed timing to "
                          "draw (the time–space diagram shows what they did).</p>")
            continue
        # the plan's own programs: a signal_plan measure loads them as additional elements
        geo = with_additional_programs(read_net(net), f.dir / "cases" / plan / "measures.add.xml")
        programs = geo.programs
        if not programs or programs in seen:
            continue  # plans that keep the same programs share one picture
        seen.append(programs)
        fig = plots.signal_timing(geo, f.corridors())
        fig.suptitle(f"plan {plan}" if len(f.plans) > 1 else "", fontsize=10)
        blocks.append(fig)
    return blocks


@section("Time–space diagrams", 60)
def _time_space(f: ResultsFolder) -> list[Block]:
    blocks: list[Block] = []
    for plan, d in f.trajectory_runs().items():
        blocks.append(f"<h3>{html.escape(plan)} <small>(seed {d.name.split('_')[-1]})</small>"
                      "</h3>")
        blocks.append(plots.time_space_case(d))
    if not blocks and f.plans and "optimise" not in f.doc:
        blocks.append('<p class="note">No trajectories in this folder: run '
                      "<code>trafficsim compare SCENARIO --out DIR --trajectories</code> to "
                      "record them (first seed of each plan, corridor edges only).</p>")
    return blocks


@section("Run health", 80)
def _health(f: ResultsFolder) -> list[Block]:
    items = []
    for plan, by_seed in f.doc.get("health", {}).items():
        for seed, h in by_seed.items():
            items += [f"<li>plan <b>{html.escape(plan)}</b>, seed {html.escape(seed)}: "
                      f"{html.escape(w)}</li>" for w in h.get("warnings", [])]
    if not items:
        return ['<p class="ok">Every run was clean: no teleports, gridlock, collisions or '
                "vehicles left out.</p>"]
    return [f'<ul class="warn">{"".join(items)}</ul>']


@section("Provenance", 90)
def _provenance(f: ResultsFolder) -> list[Block]:
    from trafficsim import __version__

    doc = f.doc
    w = doc.get("window", {})
    window = (f"{clock(w['begin_s'])}–{clock(w['end_s'])} ({w['begin_s']:g}–{w['end_s']:g} s)"
              if w else "–")
    rows = [
        ("scenario", doc.get("scenario", "")),
        ("scenario file", doc.get("scenario_file", "")),
        ("scenario SHA-256", doc.get("scenario_sha256", "not recorded")),
        ("window", window),
        ("seeds", ", ".join(map(str, f.seeds))),
        ("plans", ", ".join(f.plans)),
        ("SUMO version", doc.get("sumo_version", "")),
        ("trafficsim version (results)", doc.get("trafficsim_version", "")),
        ("trafficsim version (report)", __version__),
        ("report written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("results folder", str(f.dir.resolve())),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td>"
                   "</tr>" for k, v in rows)
    driven = sorted({d.parent.parent.name for d in f.dir.glob("cases/*/seed_*/controllers.json")})
    # max-pressure plans: their signals are switched through TraCI, which sumo -c cannot repeat
    except_ = (f" (except plans {html.escape(', '.join(driven))}, whose signals trafficsim drives "
               "through TraCI: <code>trafficsim compare</code> repeats them; see their "
               "<code>controllers.json</code>)" if driven else "")
    return [f'<table class="prov">{body}</table>'
            '<p class="note">Every run can be repeated bit for bit: <code>sumo -c case.sumocfg'
            f"</code> in <code>cases/PLAN/seed_N/</code> of the results folder{except_}.</p>"]


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em}thead th{background:#f4f4f4}
table.num td{text-align:right;white-space:nowrap}tbody th{text-align:left;font-weight:600}
td.better,span.better{background:#e3f4e3}td.worse,span.worse{background:#fbe3e3}
td.los{text-align:center;font-weight:700}.losA,.losB{background:#e3f4e3}.losC,.losD{background:#fff6d5}
.losE,.losF{background:#fbe3e3}img{max-width:100%;height:auto;display:block;margin:1em 0}
.note{color:#555;font-size:.85em}.warn{color:#a40000}.ok{color:#1a7a1a}
table.prov th{text-align:left;background:#f4f4f4}small{color:#666}
"""


def _img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(plots.to_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(folder: ResultsFolder) -> str:
    """The report of a results folder as one HTML document."""
    doc = folder.doc
    w = doc.get("window", {})
    window = f"{clock(w['begin_s'])}–{clock(w['end_s'])}" if w else ""
    title = f"trafficsim report: {doc.get('scenario', folder.dir.name)}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(window)} · plans: {html.escape(', '.join(folder.plans))} · "
             f"seeds: {html.escape(', '.join(map(str, folder.seeds)))} · SUMO "
             f"{html.escape(str(doc.get('sumo_version', '')))}</p>"]
    for _, name, fn in all_sections():
        blocks = fn(folder)
        if not blocks:
            continue
        parts.append(f"<h2>{html.escape(name)}</h2>")
        for b in blocks:
            parts.append(_img(b, name) if isinstance(b, Figure) else b)
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def write_report(path: str | Path) -> Path:
    """Write ``report.html`` into a results folder and return its path.

    Raises
    ------
    ReportError
        When the folder is not a results folder.
    """
    folder = load_folder(path)
    out = folder.dir / REPORT_NAME
    out.write_text(render_html(folder), encoding="utf-8")
    return out

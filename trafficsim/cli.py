"""Command line: ``trafficsim run | compare | validate | report | regress | sweep-clearance | import-osm``.

Exit codes: 0 success; 1 SUMO failed or timed out, or a file could not be written during the
run; 2 bad scenario or arguments (``--out`` is checked before any work);
3 with ``--strict`` when a run reported teleports, gridlock or vehicles left out;
4 when ``regress`` found a metric outside its tolerance band.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trafficsim import outdir
from trafficsim.errors import Issue, ScenarioError, SumoError, UsageError


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(" ", "").split(",")]
    except ValueError:
        msg = f"'{text}' is not a list of seeds; expected integers such as 1,2,3"
        raise argparse.ArgumentTypeError(msg) from None
    if not seeds or any(not 0 <= s < 2**31 for s in seeds) or len(set(seeds)) != len(seeds):
        msg = f"'{text}': expected distinct integers 0..{2**31 - 1} (SUMO's --seed) such as 1,2,3"
        raise argparse.ArgumentTypeError(msg)
    return seeds


def _parser() -> argparse.ArgumentParser:
    from trafficsim import __version__

    p = argparse.ArgumentParser(
        prog="trafficsim",
        description="Test traffic-management plans in SUMO and compare them over seeds.")
    p.add_argument("--version", action="version", version=f"trafficsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("scenario", type=Path, help="scenario .toml or SUMO .sumocfg")
        sp.add_argument("--seeds", type=_seeds, help="comma-separated seeds, e.g. 1,2,3")
        sp.add_argument("--out", type=_out_dir, help="keep cases and write metrics.json and tables here")
        sp.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        sp.add_argument("--end", type=_end, help="override the simulation end [s]")
        sp.add_argument("--workers", type=_workers, help="parallel SUMO processes (default: cores)")
        sp.add_argument("--scheduler", help="run on a Dask cluster: the scheduler's address, e.g. "
                                            "tcp://10.0.0.5:8786 (workers must see --out)")
        sp.add_argument("--quiet", action="store_true", help="no progress output")
        sp.add_argument("--strict", action="store_true",
                        help="exit 3 when a run had teleports, gridlock or vehicles left out")
        sp.add_argument("--trajectories", action="store_true",
                        help="record corridor trajectories and signal switches (first seed of "
                             "each plan) for time-space diagrams")
        sp.add_argument("--corridor", type=_edges,
                        help="edges of the corridor to record, in driving order (implies "
                             "--trajectories; default: found from the network)")

    run = sub.add_parser("run", help="simulate one plan over seeds")
    common(run)
    run.add_argument("--plan", default="baseline", help="plan name (default: baseline)")
    cmp_ = sub.add_parser("compare", help="run every plan and compare it with the baseline")
    common(cmp_)
    cmp_.add_argument("--plans", help="comma-separated subset of plans (baseline always runs)")
    for sp in (run, cmp_):
        sp.add_argument("--resume", action="store_true",
                        help="reuse the runs an interrupted run in --out finished with the same "
                             "inputs (scenario files, seeds, window, options, versions)")
    val = sub.add_parser("validate", help="check scenario files without simulating")
    val.add_argument("scenarios", type=Path, nargs="+")
    rep = sub.add_parser("report", help="write DIR/report.html from a folder written by --out")
    rep.add_argument("dir", type=Path, help="results folder (compare/run --out DIR)")
    reg = sub.add_parser("regress", help="re-run scenarios and check their metrics against a "
                                         "baseline (exit 4 when one leaves its band)")
    reg.add_argument("scenarios", type=Path, nargs="+")
    reg.add_argument("--baseline", type=Path, required=True, help="baseline file (JSON)")
    reg.add_argument("--update", action="store_true", help="record the baseline instead")
    reg.add_argument("--seeds", type=_seeds, help="seeds (default: the baseline's, paired)")
    reg.add_argument("--end", type=_end, help="override the simulation end [s]")
    reg.add_argument("--metrics", help="comma-separated metrics to check (default: the "
                                       "contract metrics and the measure-specific metrics "
                                       "each plan's baseline recorded)")
    reg.add_argument("--rel-tol", type=_rel_tol, default=None,
                     help="accepted relative change (default 0.02)")
    reg.add_argument("--confidence", type=_confidence, default=None,
                     help="confidence level of the noise allowance (default 0.95)")
    reg.add_argument("--workers", type=_workers, help="parallel SUMO processes (default: cores)")
    reg.add_argument("--quiet", action="store_true", help="no progress output")
    sw = sub.add_parser("sweep-clearance",
                        help="delay and conflicts caused by an incident against its clearance time")
    common(sw)
    sw.add_argument("--minutes", type=_minutes, required=True,
                    help="clearance times [min], e.g. 0,5,10,20,30 (0 = no crash is always added)")
    sw.add_argument("--incident", help="incident id (needed when the scenario has several)")
    _optimise_parser(sub)
    osm = sub.add_parser("import-osm", help="import an OpenStreetMap file: a SUMO network and a "
                                            "starter scenario")
    osm.add_argument("osm", type=Path, metavar="FILE.osm", help="OpenStreetMap XML file")
    osm.add_argument("--bbox", help="keep only roads within W,S,E,N (degrees), e.g. "
                                    "6.10,49.59,6.14,49.62")
    osm.add_argument("--keep", help="comma-separated OSM highway classes to keep, e.g. "
                                    "primary,secondary,tertiary,residential (default: every "
                                    "road open to cars; _link roads come with their class)")
    osm.add_argument("--out", type=_out_dir, required=True,
                     help="folder for network.net.xml, scenario.toml and import.json")
    osm.add_argument("--json", action="store_true", help="print import.json on stdout")
    _calibrate_parser(sub)
    return p


def _calibrate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cal = sub.add_parser("calibrate", help="fit the demand to traffic counts and check the fit "
                                           "in SUMO (GEH per location-hour)")
    cal.add_argument("scenario", type=Path, help="scenario .toml (network, window, mix, plans)")
    cal.add_argument("--counts", type=Path, required=True,
                     help="counts CSV: location,begin,end,count[,vclass]")
    cal.add_argument("--out", type=_out_dir, required=True,
                     help="writes calibrated.toml, route_flows.csv and calibration.json here")
    cal.add_argument("--travel-times", type=Path,
                     help="travel-time targets CSV: from_edge,to_edge,begin,end,seconds")
    cal.add_argument("--method", choices=("lp", "routesampler", "routesampler_minveh"),
                     default="lp", help="route-flow fit: our linear program (default) or SUMO's "
                                        "routeSampler (_minveh: --minimize-vehicles 0.5)")
    cal.add_argument("--seeds", type=_seeds, help="seeds of the check runs (default: the "
                                                  "scenario's)")
    cal.add_argument("--workers", type=_workers, help="parallel SUMO processes (default: cores)")
    cal.add_argument("--json", action="store_true", help="print calibration.json on stdout")
    cal.add_argument("--quiet", action="store_true", help="no progress output")


def _out_dir(text: str) -> Path:
    """``--out``: a folder; an empty value is refused.

    (``Path("")`` is the current folder, which would fill with cases and tables unasked.)
    """
    if not text.strip():
        msg = f"{text!r} is empty; expected a folder for the results, e.g. --out results"
        raise argparse.ArgumentTypeError(msg)
    return Path(text)


def _workers(text: str) -> int:
    """``--workers``: a positive number of parallel SUMO processes."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"'{text}': expected a positive whole number of parallel SUMO processes"
        raise argparse.ArgumentTypeError(msg)
    return n


def _number(text: str, ok: Callable[[float], bool], expected: str) -> float:
    """An option's number, refused (exit 2, saying what was ``expected``) unless ``ok``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not ok(value):  # (nan fails every comparison, so it never passes)
        raise argparse.ArgumentTypeError(f"'{text}': expected {expected}")
    return value


def _rel_tol(text: str) -> float:
    """``--rel-tol``: an accepted relative change, a finite number >= 0."""
    return _number(text, lambda v: 0 <= v < math.inf,
                   "the accepted relative change, a number >= 0 such as 0.02")


def _confidence(text: str) -> float:
    """``--confidence``: a confidence level strictly between 0 and 1."""
    return _number(text, lambda v: 0 < v < 1, "a confidence level between 0 and 1 such as 0.95")


#: Largest ``--end`` accepted: 100 days. [s]
MAX_END_S = 100 * 86400.0


def _end(text: str) -> float:
    """``--end``: the end of the simulation, seconds or a clock time ``HH:MM[:SS]`` [s]."""
    from trafficsim.spec import parse_time

    try:
        value = float(text)
    except ValueError:
        value = parse_time(text) or math.nan  # "08:30", as scenario files write times
    if not 0 < value <= MAX_END_S:  # also refuses nan and inf
        msg = (f"'{text}': expected the end time as seconds, a number in (0, {MAX_END_S:.0f}], "
               "or a clock time such as 08:30")
        raise argparse.ArgumentTypeError(msg)
    return value


def _edges(text: str) -> list[str]:
    edges = [e for e in text.replace(" ", "").split(",") if e]
    if not edges:
        msg = f"'{text}': expected comma-separated edge ids such as W_J1,J1_J2"
        raise argparse.ArgumentTypeError(msg)
    return edges


def _minutes(text: str) -> list[float]:
    try:
        values = [float(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        msg = f"'{text}' is not a list of minutes; expected numbers such as 0,5,10,20,30"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or any(not 0 <= v <= 1440 for v in values):
        msg = f"'{text}': expected clearance times between 0 and 1440 minutes"
        raise argparse.ArgumentTypeError(msg)
    return values


def _optimise_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from trafficsim.optimise import METHODS, OBJECTIVES

    op = sub.add_parser("optimise", aliases=["optimize"],
                        help="tune fixed-time signal plans and validate them on unseen seeds")
    op.add_argument("scenario", type=Path, help="scenario .toml or SUMO .sumocfg")
    op.add_argument("--budget", type=int, default=40,
                    help="candidate plans to simulate (starting plan and Webster included)")
    op.add_argument("--objective", default="mean_delay_s", choices=OBJECTIVES)
    op.add_argument("--method", default="differential_evolution", choices=METHODS)
    op.add_argument("--seeds", type=_seeds, help="search seeds (default: the scenario's first 3)")
    op.add_argument("--validate-seeds", type=_seeds,
                    help="unseen validation seeds (default: 101..105)")
    op.add_argument("--workers", type=_workers, help="parallel SUMO processes (default: cores)")
    op.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    op.add_argument("--out", type=_out_dir, help="output directory (default: optimise_NAME)")
    op.add_argument("--resume", action="store_true", help="continue the run recorded in --out")
    op.add_argument("--end", type=_end, help="override the simulation end [s]")
    op.add_argument("--rng-seed", type=int, default=0, help="seed of the search itself")
    op.add_argument("--stop-weight-s", type=float, default=15.0,
                    help="seconds of delay one stop weighs in performance_index_s")
    op.add_argument("--no-cut", action="store_true", help="never cut a candidate short")
    op.add_argument("--tune-actuated", action="store_true",
                    help="also tune actuated control (min/max green, max gap) and coordinated "
                         "actuated control on the best fixed-time plan, max(10, budget/4) more "
                         "evaluations each")
    op.add_argument("--refine-share", type=float, default=0.4,
                    help="share of the budget kept for the pattern search around the best plan "
                         "after the global search (0: none)")
    op.add_argument("--design", action="store_true",
                    help="also choose each light's phasing (two-stage, leading left, lead-lag, "
                         "split, left overlap) before timing it; implies --tune-actuated on "
                         "the designed phases; writes programID ts_design")
    op.add_argument("--design-share", type=float, default=0.5,
                    help="with --design: share of the budget the phasing choice may use")
    op.add_argument("--design-lanes", action="store_true",
                    help="also re-mark approaches with heavy left turns (lane_use: an own "
                         "left lane, a left pocket; waiting_area where the network's programs "
                         "protect the left), each tried with the light's phasings re-designed; "
                         "implies --design; writes network.net.xml, signal_plan.add.xml for "
                         "it and design.toml (the winning plan as measures)")
    op.add_argument("--lanes-share", type=float, default=0.3,
                    help="with --design-lanes: share of the budget the lane search may use "
                         "(at least one batch: the first approach's candidates once)")
    op.add_argument("--plan", default="baseline",
                    help="tune the signals for this plan's measures (e.g. a tidal lane); its own "
                         "signals are the starting plan (default: baseline)")
    op.add_argument("--no-validate", action="store_true", help="skip the validation runs")
    op.add_argument("--periods", metavar="auto|HH:MM-HH:MM,...",
                    help="time-of-day plans: one plan per period, listed in time order "
                         "(auto: found from the demand profile, tidal lane switches forced), "
                         "switched by a WAUT in one "
                         "signal_plan.add.xml; validated over the whole day against the best "
                         "single plan; --budget is per period")
    op.add_argument("--quiet", action="store_true", help="no progress output")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trafficsim`` command."""
    from trafficsim.sumo import Stopped, stopping_on_signals

    args = _parser().parse_args(argv)
    # SIGINT / SIGTERM kill the running SUMO children at once and end here, without a traceback
    # and without metrics.json (which is written last, whole, only by a finished run)
    with stopping_on_signals():
        try:
            return _dispatch(args)
        except ScenarioError as exc:
            print(error_text(exc), file=sys.stderr)
            return 2
        except (outdir.OutDirError, UsageError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except SumoError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except Stopped as exc:
            print("terminated" if exc.signum == signal.SIGTERM else "interrupted",
                  file=sys.stderr)
            return 128 + exc.signum
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except OSError as exc:  # the machine's side: disk full, a folder removed during the run, …
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            return 1
        except Exception as exc:
            # Last resort, so that a user never gets a traceback; the fuzz tests require that it
            # never fires (every bad input has its own message above or where it is found).
            if os.environ.get("TRAFFICSIM_DEBUG") == "1":
                raise
            print(f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in "
                  "trafficsim, please report it with the command and input files "
                  "(TRAFFICSIM_DEBUG=1 shows the traceback)", file=sys.stderr)
            return 1


def _option(issue: Issue) -> str | None:
    """The command-line flag an issue is about (``--budget``, ``--scheduler``), or None."""
    for name in (str(issue.file), issue.field):
        if name.startswith("--"):
            return name.split()[0]
    return None


def error_text(exc: ScenarioError) -> str:
    """What the user reads of a refused input (exit 2).

    Each bad flag as ``error: invalid option --FLAG: …``, then the scenario's problems under
    ``error: invalid scenario``.  A flag's line ends with the folder it is about (``--resume``:
    the ``--out`` folder) but does not name the scenario file, which is not where the mistake
    is.
    """
    lines, rest = [], []
    for issue in exc.issues:
        flag = _option(issue)
        if flag is None:
            rest.append(str(issue))
            continue
        where = ("" if str(issue.file).startswith("--")
                 or Path(issue.file).suffix in (".toml", ".sumocfg") else f" ({issue.file})")
        lines.append(f"error: invalid option {flag}: {issue.message}{where}")
    if rest:
        lines += ["error: invalid scenario", *rest]
    return "\n".join(lines)


def _dispatch(args: argparse.Namespace) -> int:
    out = getattr(args, "out", None)
    if out is not None and (msg := outdir.out_dir_issue(out)) is not None:
        raise UsageError(f"--out {out}: {msg}")
    if args.command == "validate":
        return _validate(args.scenarios)
    if args.command == "report":
        return _report(args.dir)
    if args.command == "regress":
        return _regress(args)
    if args.command == "sweep-clearance":
        return _sweep_clearance(args)
    if args.command in ("optimise", "optimize"):
        return _optimise(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "import-osm":
        return _import_osm(args)
    return _simulate(args)


def _calibrate(args: argparse.Namespace) -> int:
    from trafficsim.calibrate import calibrate
    from trafficsim.counts import CountsError

    for flag, path in (("--counts", args.counts), ("--travel-times", args.travel_times)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: file not found; expected a CSV file")
    try:
        doc = calibrate(args.scenario, args.counts, args.out, travel_times=args.travel_times,
                        seeds=args.seeds, workers=args.workers, method=args.method,
                        progress=not args.quiet)
    except CountsError as exc:  # (the counts or the travel times: the error says which)
        print(f"error: invalid {exc.what}\n{exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(doc, indent=2, allow_nan=False))
        return 0
    print(format_calibration(doc))
    print(f"\nwrote {args.out / 'calibrated.toml'}, {args.out / 'route_flows.csv'} and "
          f"{args.out / 'calibration.json'}")
    return 0


def format_calibration(doc: dict[str, Any]) -> str:
    """The summary of a ``calibration.json`` as text: fit, criterion, flags, worst hours."""
    s = doc["summary"]
    verdict = "accepted" if s["accepted"] else "NOT accepted"
    lines = [f"calibration ({doc['method']}): GEH < 5 on {s['geh_lt5_share']:.0%} of "
             f"{s['location_hours']} location-hours at {s['locations']} locations — {verdict} "
             f"({doc['criterion']})",
             f"  R² {_fmt(s['r2'], 3)}, RMSE {_fmt(s['rmse_pct'])} %, vehicles {s['vehicles']:g} "
             f"per run (fitted {s['vehicles_fitted']:g})"]
    worst = sorted(doc["location_hours"], key=lambda h: -h["geh"])[:5]
    if worst and worst[0]["geh"] >= 5:
        lines.append("  worst location-hours:")
        lines += [f"    {h['location']} {h['hour']}: observed {h['observed_veh_h']:g}, "
                  f"simulated {h['simulated_veh_h']:g} veh/h, GEH {h['geh']:.1f}"
                  for h in worst if h["geh"] >= 5]
    for f in doc["flagged"]:
        lines.append(f"  flagged {f['location']}: {f['reason']}")
    for t in doc.get("travel_times", []):
        lines.append(f"  travel time {t['from_edge']} → {t['to_edge']} {t['begin']}–{t['end']}: "
                     f"observed {t['observed_s']:g} s, simulated {_fmt(t['simulated_s'])} s")
    return "\n".join(lines)


def _import_osm(args: argparse.Namespace) -> int:
    from trafficsim import osm

    try:
        bbox = osm.parse_bbox(args.bbox) if args.bbox is not None else None
        keep = osm.parse_keep(args.keep) if args.keep is not None else None
        summary = osm.import_osm(args.osm, args.out, bbox, keep)
    except osm.OsmError as exc:
        raise UsageError(str(exc)) from None
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in args.osm.stem) or "imported"
    scenario = osm.write_starter(args.out, summary, name)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    print(summary.format())
    print(f"\nwrote {args.out / osm.NET_FILE}, {scenario} (placeholder demand: edit it) and "
          f"{args.out / osm.JSON_FILE}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from trafficsim.compare import compare, simulate
    from trafficsim.scenario import load_scenario

    sc = load_scenario(args.scenario, end_s=args.end)
    kw = {"seeds": args.seeds, "out": args.out, "workers": args.workers,
          "scheduler": args.scheduler, "progress": not args.quiet,
          "trajectories": args.corridor or args.trajectories, "resume": args.resume}
    if args.command == "run":
        result = simulate(sc, args.plan, **kw)
    else:
        plans = None if args.plans is None else [p for p in args.plans.split(",") if p.strip()]
        if plans == []:  # ("--plans ''" from an empty shell variable must not mean all plans)
            raise UsageError(f"--plans {args.plans!r} names no plan; expected a comma-separated "
                             f"list of plans of {args.scenario} (or leave --plans out for all)")
        result = compare(sc, plans=plans, **kw)
    warnings = result.warnings()
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(format_comparison(result))
        if args.out:
            print(f"\nwrote {args.out / 'metrics.json'} and the run directories under "
                  f"{args.out / 'cases'}")
    return 3 if args.strict and warnings else 0


def _sweep_clearance(args: argparse.Namespace) -> int:
    from trafficsim.scenario import load_scenario
    from trafficsim.sweep import clearance_sweep

    sc = load_scenario(args.scenario, end_s=args.end)
    sweep = clearance_sweep(sc, args.minutes, incident=args.incident, seeds=args.seeds,
                            out=args.out, workers=args.workers, progress=not args.quiet,
                            scheduler=args.scheduler)
    warnings = sweep.comparison.warnings()
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(sweep.to_dict(), indent=2, allow_nan=False))
    else:
        print(sweep.format())
        if args.out:
            print(f"\nwrote {args.out / 'clearance_sweep.json'}, {args.out / 'clearance_sweep.png'}"
                  f" and the runs under {args.out / 'cases'}")
    return 3 if args.strict and warnings else 0


def _optimise(args: argparse.Namespace) -> int:
    from trafficsim.optimise import OptimiseSettings, optimise
    from trafficsim.scenario import load_scenario

    sc = load_scenario(args.scenario, end_s=args.end)
    out = args.out or Path(f"optimise_{sc.name}")
    settings = OptimiseSettings(
        budget=args.budget, objective=args.objective, method=args.method,
        seeds=tuple(args.seeds) if args.seeds else None,
        validate_seeds=tuple(args.validate_seeds) if args.validate_seeds else None,
        rng_seed=args.rng_seed, stop_weight_s=args.stop_weight_s, early_cut=not args.no_cut,
        validate=not args.no_validate, tune_actuated=args.tune_actuated,
        refine_share=args.refine_share, design=args.design or args.design_lanes,
        design_share=args.design_share, design_lanes=args.design_lanes,
        lanes_share=args.lanes_share, plan=args.plan)
    if args.periods is not None:
        return _optimise_periods(args, sc, out, settings)
    if args.resume and not (out / "journal.jsonl").is_file():
        # (a typo in --out would otherwise silently start a long search from nothing)
        print(f"note: {out} holds no journal to resume; starting a new search", file=sys.stderr)
    elif args.resume:
        n = _journal_entries(out / "journal.jsonl")
        print(f"resuming {out}: {n} evaluations in its journal.jsonl are answered from there, "
              "not run again", file=sys.stderr)
    result = optimise(sc, out=out, settings=settings, workers=args.workers,
                      scheduler=args.scheduler, resume=args.resume, progress=not args.quiet)
    print(format_optimisation(result.doc))
    print(f"\nwrote {out / 'signal_plan.add.xml'} and {out / 'optimise.json'}")
    if args.design_lanes:
        print(f"wrote {out / 'design.toml'} (the plan as measures, to paste into the scenario) "
              f"and {out / 'network.net.xml'} (its network, for {out / 'signal_plan.add.xml'})")
    warnings = [w for p in result.doc.get("validation", {}).get("plans", {}).values()
                for w in p.get("warnings", [])]
    for w in warnings[:10]:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _journal_entries(path: Path) -> int:
    """Complete evaluations in a journal (a line a kill cut short is not one)."""
    n = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                n += line.endswith("\n") and isinstance(json.loads(line), dict)
            except ValueError:
                continue
    return n


def _optimise_periods(args: argparse.Namespace, sc: Any, out: Path, settings: Any) -> int:
    from trafficsim.optimise.day import optimise_periods

    result = optimise_periods(sc, args.periods, out=out, settings=settings,
                              workers=args.workers, scheduler=args.scheduler,
                              resume=args.resume, progress=not args.quiet)
    print(format_periods(result.doc))
    print(f"\nwrote {out / 'signal_plan.add.xml'} (day plan), {out / 'single.add.xml'} and "
          f"{out / 'optimise.json'}")
    return 0


def format_periods(doc: dict[str, Any]) -> str:
    """Plain-text summary of a ``--periods`` run: the periods, their winners, the validation."""
    p = doc["periods"]
    lines = [f"{doc['scenario']}: {len(p['per_period'])} periods ({p['rule']}), "
             f"switched by WAUT procedure {p['procedure']}"]
    for r in p["per_period"]:
        plan = r["best"]["plan"]
        cycles = sorted({round(v["cycle_s"]) for v in plan.values()})
        lines.append(f"  {r['program_id']:<5} {r['clock']:<13} objective "
                     f"{_fmt(r['best']['objective'], 2):>8}  cycle "
                     f"{'/'.join(map(str, cycles))} s  ({r['evaluations']} plans)")
    lines.append(f"  single plan (whole window): objective {_fmt(p['single']['objective'], 2)}")
    if not p["switch_check"]["ok"]:
        lines += [f"  switch problem: {m}" for m in p["switch_check"]["problems"]]
    v = doc.get("validation")
    if v:
        lines += ["", f"whole-day validation on unseen seeds {','.join(map(str, v['seeds']))}:"]
        for name, row in v["plans"].items():
            d = row["mean_delay_s"]
            lines.append(f"  {name:<10} mean delay {_fmt(d['mean'], 2):>8} s "
                         f"[{_fmt(d['ci95'][0], 2)}, {_fmt(d['ci95'][1], 2)}]")
        lines.append("day plan vs (paired; mean delay):")
        for ref, row in v["day_plan_vs"].items():
            d = row["mean_delay_s"]
            lines.append(f"  {ref:<10} {d['diff']:+8.2f} s [{_fmt(d['ci95'][0], 2)}, "
                         f"{_fmt(d['ci95'][1], 2)}]  {_fmt(d['pct'], 1)}%")
    return "\n".join(lines)


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:,.{digits}f}"


def format_comparison(result: object) -> str:
    """A plain-text table: each metric's mean [95% CI] per plan and the paired difference."""
    from trafficsim.compare import Comparison, better
    from trafficsim.scenario import BASELINE

    assert isinstance(result, Comparison)
    sc = result.scenario
    seeds = ",".join(map(str, result.seeds))
    lines = [f"{sc.name}  {sc.window}  seeds {seeds}  SUMO {result.sumo_version}", ""]
    # (a run of one plan other than the baseline has nothing to be paired with)
    others = [p for p in result.plans if p != BASELINE and BASELINE in result.plans]
    head = f"{'metric':<22}" + "".join(f"{p:>28}" for p in result.plans)
    head += "".join(f"{'Δ ' + p + ' vs baseline':>40}" for p in others)
    lines += [head, "-" * len(head)]
    for m in result.metric_names:
        row = f"{m:<22}"
        for p in result.plans:
            e = result.estimate(p, m)
            row += f"{_fmt(e.mean):>12} [{_fmt(e.ci95[0])}, {_fmt(e.ci95[1])}]".rjust(28)
        for p in others:
            d = result.difference(p, m)
            verdict = better(m, d.diff) if d.significant else None
            mark = {True: " better", False: " worse", None: ""}[verdict]
            if math.isfinite(d.diff):
                cell = f"{d.diff:+,.1f} [{_fmt(d.ci95[0])}, {_fmt(d.ci95[1])}] {_fmt(d.pct)}%{mark}"
            else:  # the metric exists in one of the two plans only
                cell = "–"
            row += cell.rjust(40)
        lines.append(row)
    lines += ["", "95% Student-t intervals over seeds; differences are paired on common seeds "
                  "(same demand draws); 'better'/'worse' where the interval excludes 0 (metrics "
                  "without a direction, such as a lane's share, are not marked).", ""]
    lines += _los_lines(result)
    return "\n".join(lines)


def _los_lines(result: object) -> list[str]:
    """Signalised junctions: control delay averaged over seeds and HCM LOS, per plan."""
    from trafficsim.compare import Comparison
    from trafficsim.metrics import level_of_service

    assert isinstance(result, Comparison)
    junctions = sorted({str(j["junction"]) for r in result.runs for j in r.junctions})
    if not junctions:
        return []
    lines = ["Signalised junctions: control delay [s] and HCM level of service",
             f"{'junction':<14}" + "".join(f"{p:>20}" for p in result.plans)]
    for jn in junctions:
        row = f"{jn:<14}"
        for p in result.plans:
            vals = [float(j["mean_delay_s"]) for s in result.seeds
                    for j in result.run(p, s).junctions
                    if j["junction"] == jn and j["approach"] == "ALL"]
            d = sum(vals) / len(vals) if vals else math.nan
            row += f"{_fmt(d)} ({level_of_service(d)})".rjust(20)
        lines.append(row)
    return lines


def format_optimisation(doc: dict[str, Any]) -> str:
    """Plain-text summary: the search, the best plan, the validation table."""
    lines = [f"{doc['scenario']}: {doc['method']} on {doc['objective']}, "
             f"{doc['evaluations']} plans evaluated ({doc['cut_evaluations']} cut short), "
             f"seeds {','.join(map(str, doc['seeds']))}, stopped: {doc['stopped']}",
             f"search objective: start {_fmt(doc['start']['objective'], 2)}, "
             f"Webster {_fmt(doc['webster']['objective'], 2)}, "
             f"best {_fmt(doc['best']['objective'], 2)} (evaluation {doc['best']['eval']}, "
             f"{doc['best']['role']})", ""]
    if doc["best"]["role"] in ("actuated", "coordinated"):
        lines.append(f"  ({'SUMO actuated' if doc['best']['role'] == 'actuated' else 'coordinated actuated'}"
                     " control: nominal greens, phases in SUMO's order)")
    for tls, p in doc["best"]["plan"].items():
        greens = "/".join(_fmt(g, 0) for g in p["greens_s"])
        lines.append(f"  {tls:<12} cycle {_fmt(p['cycle_s'], 0):>4} s  greens {greens} s  "
                     f"offset {_fmt(p['offset_s'], 0)} s")
    if doc.get("design"):
        lines += ["", *_design_lines(doc["design"])]
    v = doc.get("validation")
    if v:
        seeds = ",".join(map(str, v["seeds"]))
        lines += ["", f"validation on unseen seeds {seeds} (mean [95% CI]):",
                  f"{'plan':<14}{'objective':>28}{'mean_delay_s':>28}"]
        for name, row in v["plans"].items():
            o, d = row["objective"], row["mean_delay_s"]
            lines.append(f"{name:<14}{_fmt(o['mean'], 2):>10} [{_fmt(o['ci95'][0], 2)}, "
                         f"{_fmt(o['ci95'][1], 2)}]".ljust(42)
                         + f"{_fmt(d['mean'], 2):>10} [{_fmt(d['ci95'][0], 2)}, "
                           f"{_fmt(d['ci95'][1], 2)}]")
        lines += ["", "optimised vs (paired on the same seeds; mean delay):"]
        for ref, row in v["optimised_vs"].items():
            d = row["mean_delay_s"]
            if d["diff"] == 0 and d["ci95"][0] == d["ci95"][1] == 0:
                continue  # the optimised plan itself (the best of its type)
            lines.append(f"  {ref:<14} {d['diff']:+8.2f} s [{_fmt(d['ci95'][0], 2)}, "
                         f"{_fmt(d['ci95'][1], 2)}]  {_fmt(d['pct'], 1)}%")
    return "\n".join(lines)


def _design_lines(d: dict[str, Any]) -> list[str]:
    """Per light: the phasing that won and the objective of each alternative tried."""
    lines = [f"phase design (winner: {d['winner_control']} control on the designed phases):"]
    for tls, kind in d["choice"].items():
        tried = d["tried"].get(tls, {})
        alts = ", ".join(f"{k} {_fmt(v['objective'], 2)}{' (cut)' if v.get('cut') else ''}"
                         if v.get("objective") is not None else f"{k} unsafe"
                         for k, v in tried.items() if k != kind)
        why = d["not_designed"].get(tls)
        lines.append(f"  {tls:<12} {kind}" + (f"  (vs {alts})" if alts else "")
                     + (f"  (kept: {why})" if why else ""))
    lanes = d.get("lanes")
    if lanes:
        lines.append("lane use (objective with the light's best phasing; the bar to beat):")
        for c in lanes["candidates"]:
            lines.append(f"  {c['approach']:<12} {c['name']:<20} {_fmt(c.get('objective'), 2)}"
                         f" (bar {_fmt(c.get('bar'), 2)})  {c.get('decision', '')}")
        if not lanes["candidates"]:
            lines.append("  no approach's turning volumes call for a re-marking")
    return lines


def _report(folder: Path) -> int:
    from trafficsim.report import ReportError, write_report

    try:
        path = write_report(folder)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a read-only results folder
        print(f"error: {folder}: cannot write the report ({exc.strerror or exc}); expected a "
              "results folder you may write into", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _regress(args: argparse.Namespace) -> int:
    from trafficsim import regression
    from trafficsim.metrics import METRICS, metric_info

    # default (None): the contract metrics and each plan's recorded measure metrics
    metrics = tuple(m for m in args.metrics.split(",") if m) if args.metrics else None
    unknown = [m for m in metrics or () if metric_info(m) is None]
    if unknown or metrics == ():
        # an unknown name would be "missing on both sides" and pass: a check that checks nothing
        raise UsageError(f"--metrics {args.metrics}: {', '.join(unknown) or 'nothing'} is not a "
                         "metric; expected names such as " + ", ".join(METRICS))
    if args.update and (msg := outdir.writable_file_issue(args.baseline)) is not None:
        raise UsageError(f"--baseline {args.baseline}: {msg}")  # before the runs, not after
    rel_tol = regression.REL_TOL if args.rel_tol is None else args.rel_tol
    confidence = regression.CONFIDENCE if args.confidence is None else args.confidence
    report = regression.regress(args.scenarios, args.baseline, update=args.update,
                                seeds=args.seeds, end_s=args.end, metrics=metrics,
                                rel_tol=rel_tol, confidence=confidence, workers=args.workers,
                                progress=not args.quiet)
    regression.print_report(report, args.baseline)
    return 0 if report.ok else 4


def _validate(paths: Sequence[Path]) -> int:
    from trafficsim.build import prepare_network
    from trafficsim.plausibility import plausibility_warnings
    from trafficsim.scenario import load_scenario

    failed = 0
    for path in paths:
        try:
            sc = load_scenario(path)
            with tempfile.TemporaryDirectory(prefix="trafficsim-validate-") as tmp:
                _, index = prepare_network(sc, Path(tmp))
        except ScenarioError as exc:
            failed += 1
            n = len(exc.issues)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            for issue in exc.issues:
                print(f"  {issue}", file=sys.stderr)
            continue
        except SumoError as exc:
            failed += 1
            print(f"{path}: the network could not be built: {exc}", file=sys.stderr)
            continue
        plans = ", ".join(sc.plans)
        print(f"{path}: OK ({sc.window}, plans: {plans})")
        for w in plausibility_warnings(sc, index):  # allowed, so exit 0, but likely a slip
            print(f"  warning: {w}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

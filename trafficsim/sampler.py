"""SUMO's ``routeSampler.py`` as the other way to fit route flows to counts (for comparison).

It gets the same candidate routes and counts as our linear program
(:func:`trafficsim.routeflows.fit_route_flows`); its vehicles are turned back into vehicles per
route and time bin, so both methods go through the same route flows, draws and measurements.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from trafficsim.counts import Count, by_vclass
from trafficsim.measures import NetIndex
from trafficsim.routeflows import Fit, Flag, RouteFlow, bins, settle


def _intervals(counts: Sequence[Count]) -> dict[tuple[float, float], list[Count]]:
    out: dict[tuple[float, float], list[Count]] = {}
    for c in counts:
        out.setdefault((c.begin_s, c.end_s), []).append(c)
    return out


def write_inputs(counts: Sequence[Count], cands: Sequence[tuple[str, ...]], work: Path
                 ) -> tuple[Path, Path, Path]:
    """Candidate routes, edge counts (``entered``) and turn counts (``count``) as SUMO data."""
    routes = work / "candidates.rou.xml"
    routes.write_text("<routes>\n" + "".join(
        f'  <route id="c{i}" edges="{" ".join(r)}"/>\n' for i, r in enumerate(cands))
        + "</routes>\n", encoding="utf-8")
    edges = ["<data>"]
    turns = ["<data>"]
    for i, ((b, e), group) in enumerate(sorted(_intervals(counts).items())):
        head = f'  <interval id="i{i}" begin="{b:g}" end="{e:g}">'
        edges.append(head)
        turns.append(head)
        for c in group:
            if c.location.is_turn:
                turns.append(f"    <edgeRelation from={quoteattr(c.location.edges[0])} "
                             f'to={quoteattr(c.location.edges[1])} count="{c.count:g}"/>')
            else:
                edges.append(f'    <edge id={quoteattr(c.location.edges[0])} '
                             f'entered="{c.count:g}"/>')
        edges.append("  </interval>")
        turns.append("  </interval>")
    edge_file, turn_file = work / "counts.edgedata.xml", work / "counts.turns.xml"
    edge_file.write_text("\n".join([*edges, "</data>\n"]), encoding="utf-8")
    turn_file.write_text("\n".join([*turns, "</data>\n"]), encoding="utf-8")
    return routes, edge_file, turn_file


def read_sampled(path: Path) -> list[tuple[tuple[str, ...], float]]:
    """(route edges, departure [s]) of every vehicle routeSampler wrote."""
    named: dict[str, tuple[str, ...]] = {}
    out = []
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag == "route" and el.get("id"):
            named[el.get("id", "")] = tuple(el.get("edges", "").split())
        elif el.tag == "vehicle":
            child = el.find("route")
            edges = tuple(child.get("edges", "").split()) if child is not None \
                else named.get(el.get("route", ""), ())
            out.append((edges, float(el.get("depart", "0"))))
    return out


def fit_with_route_sampler(counts: Sequence[Count], net: NetIndex,
                           cands: Sequence[tuple[str, ...]], work: Path, *, seed: int = 1,
                           optimize: str = "full", minimize_vehicles: float | None = None
                           ) -> Fit:
    """Fit route flows with ``routeSampler.py`` (per vehicle kind, like our fit).

    Parameters
    ----------
    counts
        The observed counts.
    net
        The network (for departure shifts and flags).
    cands
        Candidate routes.
    work
        Folder for routeSampler's input and output files.
    seed
        routeSampler's random seed.
    optimize
        Its ``--optimize`` level (``full``: a linear program after sampling).
    minimize_vehicles
        Its ``--minimize-vehicles`` factor in [0, 1) (prefer routes through several count
        locations); None: its default.
    """
    from trafficsim.sumo import run_python_tool

    work.mkdir(parents=True, exist_ok=True)
    index = {r: i for i, r in enumerate(cands)}
    fitted = [0.0] * len(counts)
    flows: list[RouteFlow] = []
    flags: list[Flag] = []
    for vclass, idx in by_vclass(counts):
        sub = [counts[i] for i in idx]
        gdir = work / f"routesampler_{vclass or 'all'}"
        gdir.mkdir(exist_ok=True)
        routes, edge_file, turn_file = write_inputs(sub, cands, gdir)
        out = gdir / "sampled.rou.xml"
        args = ["-r", str(routes), "-d", str(edge_file), "-o", str(out), "--seed", str(seed),
                "--optimize", optimize]
        if minimize_vehicles is not None:
            args += ["--minimize-vehicles", f"{minimize_vehicles:g}"]
        if any(c.location.is_turn for c in sub):
            args += ["-t", str(turn_file)]
        run_python_tool("routeSampler.py", args, cwd=gdir, what="fitting counts (routeSampler)")
        bounds = bins(sub)
        nb = len(bounds) - 1
        vehicles: dict[int, np.ndarray] = {}
        for edges, depart in read_sampled(out):
            r = index.get(edges)
            b = int(np.searchsorted(bounds, depart, "right")) - 1
            if r is None or not 0 <= b < nb:
                continue
            vehicles.setdefault(r, np.zeros(nb))[b] += 1.0
        f, fl, fg = settle(sub, cands, vehicles, net, vclass)
        flows += f
        flags += fg
        for i, v in zip(idx, fl, strict=True):
            fitted[i] = v
    method = "routesampler" if minimize_vehicles is None else "routesampler_minveh"
    return Fit(tuple(flows), tuple(fitted), tuple(flags), len(cands), method=method)

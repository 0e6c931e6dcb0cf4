"""Networks: generated corridors and grids, imported ``.net.xml``, and patches from measures.

Generated networks are written as SUMO plain XML and compiled by SUMO's own ``netconvert`` /
``netgenerate``, so that junction geometry, connections and default signal programs are SUMO's.
"""

from __future__ import annotations

import functools
import itertools
import shutil
import string
from pathlib import Path
from xml.sax.saxutils import quoteattr

from trafficsim.measures import NetIndex
from trafficsim.scenario import CorridorSpec, GridSpec, NetFileSpec, NetworkSpec
from trafficsim.sumo import run_tool

# Options shared by every generated network: no U-turns at signals (they would get green with
# the through movement), fixed-time programs as the do-nothing baseline.
_COMMON = ["--no-turnarounds", "true", "--tls.default-type", "static", "--no-warnings", "true"]


def build_network(spec: NetworkSpec, out_dir: Path) -> Path:
    """Write the network of ``spec`` to ``out_dir/net.net.xml`` and return that path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    net = out_dir / "net.net.xml"
    if isinstance(spec, NetFileSpec):
        shutil.copyfile(spec.path, net)
    elif isinstance(spec, CorridorSpec):
        nodes, edges = corridor_plain_xml(spec)
        (out_dir / "net.nod.xml").write_text(nodes, encoding="utf-8")
        (out_dir / "net.edg.xml").write_text(edges, encoding="utf-8")
        run_tool("netconvert", ["-n", "net.nod.xml", "-e", "net.edg.xml", "-o", net.name,
                                "--tls.cycle.time", f"{spec.cycle_s:g}", *_COMMON],
                 cwd=out_dir, what="building the corridor network")
    elif isinstance(spec, GridSpec):
        inner = [f"{_col(c)}{r}" for c in range(spec.cols) for r in range(spec.rows)]
        args = ["--grid", "--grid.x-number", str(spec.cols), "--grid.y-number", str(spec.rows),
                "--grid.length", f"{spec.spacing_m:g}",
                "--grid.attach-length", f"{spec.fringe_length_m:g}",
                "--default.lanenumber", str(spec.lanes),
                "--default.speed", f"{spec.speed_kmh / 3.6:.4f}",
                "--tls.cycle.time", f"{spec.cycle_s:g}", "-o", net.name, *_COMMON]
        if spec.signalised:
            args += ["--tls.set", ",".join(inner)]
        run_tool("netgenerate", args, cwd=out_dir, what="building the grid network")
    else:  # pragma: no cover - exhaustive over NetworkSpec
        raise TypeError(spec)
    return net


def patch_network(base: Path, edge_patches: list[str], out: Path) -> Path:
    """Apply plain-XML ``<edge>`` patches to a network with ``netconvert``; return ``out``."""
    patch = out.with_name("patch.edg.xml")
    patch.write_text("<edges>\n  " + "\n  ".join(edge_patches) + "\n</edges>\n", encoding="utf-8")
    run_tool("netconvert", ["-s", str(base), "-e", patch.name, "-o", out.name,
                            "--no-warnings", "true"],
             cwd=out.parent, what="applying the plan's network changes")
    return out


def _col(i: int) -> str:
    """netgenerate's column label: A, B, …, Z, then AA? (grids here stay below 26 columns)."""
    return string.ascii_uppercase[i]


def corridor_plain_xml(spec: CorridorSpec) -> tuple[str, str]:
    """Plain-XML nodes and edges of an arterial corridor.

    The main road runs west (``W``) to east (``E``) through ``J1..Jn``; each ``Ji`` has side
    streets to ``Ni`` (north) and ``Si`` (south) when ``side_streets`` is set.
    """
    n = spec.intersections
    xs = [spec.approach_length_m + i * spec.spacing_m for i in range(n)]
    east_x = xs[-1] + spec.approach_length_m
    nodes = [("W", 0.0, 0.0, "priority"), ("E", east_x, 0.0, "priority")]
    nodes += [(f"J{i + 1}", x, 0.0, "traffic_light") for i, x in enumerate(xs)]
    main = ["W", *[f"J{i + 1}" for i in range(n)], "E"]
    v_main = spec.speed_kmh / 3.6
    v_side = spec.side_speed_kmh / 3.6
    edges = []
    for a, b in itertools.pairwise(main):
        edges += [(a, b, spec.lanes, v_main, "arterial"), (b, a, spec.lanes, v_main, "arterial")]
    if spec.side_streets:
        for i, x in enumerate(xs):
            j = f"J{i + 1}"
            for side, y in (("N", spec.side_length_m), ("S", -spec.side_length_m)):
                s = f"{side}{i + 1}"
                nodes.append((s, x, y, "priority"))
                edges += [(s, j, spec.side_lanes, v_side, "side"),
                          (j, s, spec.side_lanes, v_side, "side")]
    nod = "\n".join(f'  <node id="{i}" x="{x:.2f}" y="{y:.2f}" type="{t}"/>' for i, x, y, t in nodes)
    edg = "\n".join(
        f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="{k}" speed="{v:.4f}" '
        f'type={quoteattr(kind)}/>' for a, b, k, v, kind in edges)
    return f"<nodes>\n{nod}\n</nodes>\n", f"<edges>\n{edg}\n</edges>\n"


@functools.lru_cache(maxsize=32)
def _index(path: str, mtime_ns: int) -> NetIndex:
    import sumolib

    net = sumolib.net.readNet(path, withInternal=False)
    edges = {e.getID(): e.getLaneNumber() for e in net.getEdges() if e.getFunction() != "internal"}
    return NetIndex(
        edges=edges,
        junctions=frozenset(n.getID() for n in net.getNodes()),
        signals=frozenset(t.getID() for t in net.getTrafficLights()),
        edge_length_m={e.getID(): e.getLength() for e in net.getEdges()},
        out_edges={n.getID(): tuple(e.getID() for e in n.getOutgoing()) for n in net.getNodes()},
        in_edges={n.getID(): tuple(e.getID() for e in n.getIncoming()) for n in net.getNodes()},
        signal_approaches={
            t.getID(): tuple(sorted({c[0].getEdge().getID() for c in t.getConnections()}))
            for t in net.getTrafficLights()},
    )


def net_index(path: Path) -> NetIndex:
    """Edges, lanes, junctions and signals of a ``.net.xml`` (cached per file version)."""
    return _index(str(path), path.stat().st_mtime_ns)

"""Networks: generated corridors and grids, imported ``.net.xml``, and patches from measures.

Generated networks are written as SUMO plain XML and compiled by SUMO's own ``netconvert`` /
``netgenerate``, so that junction geometry, connections and default signal programs are SUMO's.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import shutil
import string
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

from trafficsim.measures import NetIndex
from trafficsim.scenario import CorridorSpec, GridSpec, NetFileSpec, NetworkSpec
from trafficsim.sumo import run_tool, sumo_version

# Options shared by every generated network: no U-turns at signals (they would get green with
# the through movement), fixed-time programs as the do-nothing baseline.
_COMMON = ["--no-turnarounds", "true", "--tls.default-type", "static", "--no-warnings", "true"]


def _cache_dir() -> Path | None:
    """Where generated networks are kept between runs; ``TRAFFICSIM_CACHE=off`` disables it."""
    env = os.environ.get("TRAFFICSIM_CACHE")
    if env == "off":
        return None
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "trafficsim"


def build_network(spec: NetworkSpec, out_dir: Path) -> Path:
    """Write the network of ``spec`` to ``out_dir/net.net.xml`` and return that path.

    Generated networks are cached by their full recipe (plain XML, tool arguments, SUMO version):
    ``netconvert`` is deterministic, and skipping it is a noticeable share of a short run.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    net = out_dir / "net.net.xml"
    if isinstance(spec, NetFileSpec):
        shutil.copyfile(spec.path, net)
        return net
    tool, args, files = _recipe(spec, net.name)
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    cache = _cache_dir()
    recipe = repr((tool, args, sorted(files.items()), sumo_version()))
    key = hashlib.sha256(recipe.encode()).hexdigest()[:24]
    cached = cache / "networks" / f"{key}.net.xml" if cache else None
    if cached is not None and cached.is_file():
        shutil.copyfile(cached, net)
        return net
    run_tool(tool, args, cwd=out_dir, what=f"building the network ({tool})")
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(net, tmp)
            tmp.replace(cached)  # atomic: parallel builders never see a half-written file
        except OSError:
            pass  # a read-only home only costs the cache
    return net


def _recipe(spec: CorridorSpec | GridSpec, out_name: str
            ) -> tuple[str, list[str], dict[str, str]]:
    """The tool, its arguments and the plain-XML input files that build a generated network."""
    if isinstance(spec, CorridorSpec):
        nodes, edges = corridor_plain_xml(spec)
        args = ["-n", "net.nod.xml", "-e", "net.edg.xml", "-o", out_name,
                "--tls.cycle.time", f"{spec.cycle_s:g}", *_COMMON]
        return "netconvert", args, {"net.nod.xml": nodes, "net.edg.xml": edges}
    inner = [f"{_col(c)}{r}" for c in range(spec.cols) for r in range(spec.rows)]
    args = ["--grid", "--grid.x-number", str(spec.cols), "--grid.y-number", str(spec.rows),
            "--grid.length", f"{spec.spacing_m:g}",
            "--grid.attach-length", f"{spec.fringe_length_m:g}",
            "--default.lanenumber", str(spec.lanes),
            "--default.speed", f"{spec.speed_kmh / 3.6:.4f}",
            "--tls.cycle.time", f"{spec.cycle_s:g}", "-o", out_name, *_COMMON]
    if spec.signalised:
        args += ["--tls.set", ",".join(inner)]
    return "netgenerate", args, {}


def patch_network(base: Path, edge_patches: list[str], out: Path,
                  connection_patches: list[str] | None = None) -> Path:
    """Apply plain-XML ``<edge>`` (and ``<connection>``) patches with ``netconvert``; return ``out``.

    ``netconvert`` keeps the connections of the base network; new connections (e.g. those of an
    added lane) are added, and signal programs are rebuilt to cover them.
    """
    patch = out.with_name("patch.edg.xml")
    patch.write_text("<edges>\n  " + "\n  ".join(edge_patches) + "\n</edges>\n", encoding="utf-8")
    args = ["-s", str(base.resolve()), "-e", patch.name, "-o", out.name, "--no-warnings", "true"]
    if connection_patches:
        con = out.with_name("patch.con.xml")
        con.write_text("<connections>\n  " + "\n  ".join(connection_patches)
                       + "\n</connections>\n", encoding="utf-8")
        args[4:4] = ["-x", con.name]
    run_tool("netconvert", args, cwd=out.parent, what="applying the plan's network changes")
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
    # A streaming parse of the few elements needed: sumolib.net.readNet builds the whole object
    # graph and costs more than the rest of a small run's overhead together.
    edges: dict[str, int] = {}
    lengths: dict[str, float] = {}
    speeds: dict[str, float] = {}
    out_edges: dict[str, list[str]] = {}
    in_edges: dict[str, list[str]] = {}
    junctions: set[str] = set()
    tls: set[str] = set()
    approaches: dict[str, set[str]] = {}
    links: list[tuple[str, int, str, int]] = []
    current: str | None = None  # the non-internal edge whose lanes are being read
    for event, el in ET.iterparse(path, events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == "edge" and el.get("function") is None:
                current = el.get("id", "")
                edges[current] = 0
                out_edges.setdefault(el.get("from", ""), []).append(current)
                in_edges.setdefault(el.get("to", ""), []).append(current)
            continue
        if tag == "lane" and current is not None:
            edges[current] += 1
            lengths[current] = float(el.get("length", 0.0))
            speeds.setdefault(current, float(el.get("speed", 13.89)))
        elif tag == "edge":
            current = None
            el.clear()
        elif tag == "junction":
            if el.get("type") != "internal":
                junctions.add(el.get("id", ""))
            el.clear()
        elif tag == "tlLogic":
            tls.add(el.get("id", ""))
            el.clear()
        elif tag == "connection":
            if el.get("tl"):
                approaches.setdefault(el.get("tl", ""), set()).add(el.get("from", ""))
            if not el.get("from", ":").startswith(":"):
                links.append((el.get("from", ""), int(el.get("fromLane", 0)), el.get("to", ""),
                              int(el.get("toLane", 0))))
    return NetIndex(
        edges=edges, junctions=frozenset(junctions), signals=frozenset(tls), edge_length_m=lengths,
        out_edges={k: tuple(v) for k, v in out_edges.items()},
        in_edges={k: tuple(v) for k, v in in_edges.items()},
        signal_approaches={t: tuple(sorted(a)) for t, a in approaches.items()},
        edge_speed_m_s=speeds,
        connections=tuple(links),
    )


def net_index(path: Path) -> NetIndex:
    """Edges, lanes, junctions and signals of a ``.net.xml`` (cached per file version)."""
    return _index(str(path), path.stat().st_mtime_ns)

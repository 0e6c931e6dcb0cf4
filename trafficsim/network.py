"""Networks: generated corridors and grids, imported ``.net.xml``, and patches from measures.

Generated networks are written as SUMO plain XML and compiled by SUMO's own ``netconvert`` /
``netgenerate``, so that junction geometry, connections and default signal programs are SUMO's.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import os
import re
import shutil
import string
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from trafficsim.errors import IntegrityError, Issue, ScenarioError
from trafficsim.measures import NetIndex
from trafficsim.netmodel import Version, network_at, network_version, read_network
from trafficsim.scenario import CorridorSpec, GridSpec, NetFileSpec, NetworkSpec, OsmSpec
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
    if isinstance(spec, OsmSpec):
        return _build_osm(spec, out_dir, net)
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


def _build_osm(spec: OsmSpec, out_dir: Path, net: Path) -> Path:
    """Import ``spec``'s OSM file into ``net`` (and ``import.json`` beside it), cached.

    The cache key is the OSM file's content, the import options and the SUMO version: an
    edited file or another bounding box imports again.
    """
    from trafficsim import osm

    cache = _cache_dir()
    cached = None
    if cache is not None and spec.path.is_file():
        recipe = repr((osm.IMPORT_VERSION, osm.file_sha256(spec.path), spec.bbox, spec.keep,
                       sumo_version()))
        key = hashlib.sha256(recipe.encode()).hexdigest()[:24]
        cached = cache / "networks" / f"osm-{key}"
        if (cached / osm.NET_FILE).is_file() and (cached / osm.JSON_FILE).is_file():
            shutil.copyfile(cached / osm.NET_FILE, net)
            shutil.copyfile(cached / osm.JSON_FILE, out_dir / osm.JSON_FILE)
            return net
    work = out_dir / "osm-import"
    try:
        osm.import_osm(spec.path, work, spec.bbox, spec.keep)
    except osm.OsmError as exc:
        field = f"network.{exc.field}" if exc.field in ("bbox", "keep") else "network.osm"
        raise ScenarioError([Issue(spec.path, field, exc.message)]) from None
    shutil.copyfile(work / osm.NET_FILE, net)
    shutil.copyfile(work / osm.JSON_FILE, out_dir / osm.JSON_FILE)
    if cached is not None:
        try:
            tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            for name in (osm.NET_FILE, osm.JSON_FILE):
                shutil.copyfile(work / name, tmp / name)
            tmp.replace(cached)  # atomic: parallel builders never see a half-written entry
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # a read-only home (or a racing twin)
    shutil.rmtree(work, ignore_errors=True)
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
                  connection_patches: list[str] | None = None,
                  waiting: Sequence[WaitingLink] = ()) -> Path:
    """Apply plain-XML ``<edge>`` (and ``<connection>``) patches with ``netconvert``; return ``out``.

    ``netconvert`` keeps the connections, speeds and geometry of the base network and adds the
    new connections (e.g. those of an added lane), but it rebuilds the signal program of every
    junction whose links changed with its own defaults (a 90-s cycle, offset 0): a plan would
    then differ from the baseline in its signal timing too.  A second pass therefore loads the
    base network's programs, every one of them with its offset and programID, extended to the
    new links (:func:`carry_signals`), so that only what the patches name changes.

    ``waiting`` names movements that get a waiting area inside the junction: their programs
    change as :func:`waiting_area_states` says, the only change to the baseline's signals a plan
    network may carry.
    """
    patch = out.with_name("patch.edg.xml")
    patch.write_text("<edges>\n  " + "\n  ".join(edge_patches) + "\n</edges>\n", encoding="utf-8")
    first = out.with_name("patched.net.xml")
    args = ["-s", str(base.resolve()), "-e", patch.name, "-o", first.name, "--no-warnings", "true"]
    if connection_patches:
        con = out.with_name("patch.con.xml")
        con.write_text("<connections>\n  " + "\n  ".join(connection_patches)
                       + "\n</connections>\n", encoding="utf-8")
        args[4:4] = ["-x", con.name]
    run_tool("netconvert", args, cwd=out.parent, what="applying the plan's network changes")
    tll = out.with_name("signals.tll.xml")
    if not carry_signals(base, first, tll, waiting):
        first.replace(out)
        return out
    run_tool("netconvert", ["-s", first.name, "--tllogic-files", tll.name, "-o", out.name,
                            "--no-warnings", "true"],
             cwd=out.parent, what="restoring the baseline's signal programs")
    first.unlink()
    _order_programs(out, [(p.get("id", ""), p.get("programID", "")) for p in read_signals(base)[0]])
    return out


_TL_BLOCK = re.compile(r"[ \t]*<tlLogic\b(?:[^>]*/>|[^>]*>.*?</tlLogic>)[ \t]*\n", re.DOTALL)
_TL_KEY = re.compile(r'<tlLogic\b[^>]*?\bid="([^"]*)"[^>]*?\bprogramID="([^"]*)"')


def _order_programs(net: Path, order: list[tuple[str, str]]) -> None:
    """Put the ``<tlLogic>`` elements of ``net`` in the given (id, programID) order.

    SUMO starts each traffic light on the program it loads last, and ``netconvert`` writes
    programs sorted by programID: an imported network whose active program is not the last
    in that order would otherwise start on another program.
    """
    text = net.read_text(encoding="utf-8")
    blocks = list(_TL_BLOCK.finditer(text))
    if len(blocks) < 2:
        return
    rank = {key: i for i, key in enumerate(order)}

    def key(block: str) -> int:
        m = _TL_KEY.search(block)
        return rank.get((m.group(1), m.group(2)) if m else ("", ""), len(rank))

    ordered = sorted((b.group(0) for b in blocks), key=key)
    if ordered == [b.group(0) for b in blocks]:
        return
    pieces, last = [], 0
    for b in blocks:
        pieces.append(text[last:b.start()])
        last = b.end()
    head = "".join(pieces[:1])
    body = "".join(pieces[1:])
    net.write_text(head + "".join(ordered) + body + text[last:], encoding="utf-8")


LinkKey = tuple[str, int, str, int]  # (from edge, from lane, to edge, to lane)


def read_signals(net: Path) -> tuple[list[ET.Element], dict[str, dict[LinkKey, int]]]:
    """Read a network's signal programs and each traffic light's links.

    Returns every ``<tlLogic>`` of the network (all programs, in file order) and, per traffic
    light, its links: (from edge, from lane, to edge, to lane) → linkIndex (links that enter
    the junction; internal stops are reached through their ``linkIndex2``).  The elements are
    fresh copies: callers may change them.
    """
    network = read_network(net)
    links: dict[str, dict[LinkKey, int]] = {}
    for c in network.connections:
        # (a link from an internal lane is a waiting area's internal stop: its index is the
        # linkIndex2 of the link that enters the junction, not a link of its own)
        if c.tl and not c.from_edge.startswith(":"):
            links.setdefault(c.tl, {})[c.key] = c.link_index
    return [p.element() for p in network.programs], links


def carry_signals(base: Path, patched: Path, out: Path,
                  waiting: Sequence[WaitingLink] = ()) -> bool:
    """Write the base network's signal programs, fitted to the patched network's links.

    The programs go to ``out`` as a ``netconvert`` tlLogic file; return False when the base
    network has no programs.

    A link of both networks keeps its signal in every phase (under its new linkIndex).  A new
    link (e.g. of an added lane) gets the signal of the base link it was split from: the same
    from-edge → to-edge movement from the nearest lane, else the nearest lane of its from-edge.

    The movements of ``waiting`` get their waiting area (:func:`waiting_area_states`): the
    file also sets the ``linkIndex2`` of their links.

    Raises
    ------
    IntegrityError
        When a new link has no base link of the same approach to follow, or a waiting area's
        movement cannot have one.
    """
    programs, old_links = read_signals(base)
    if not programs:
        return False
    _, new_links = read_signals(patched)
    slots = waiting_slots(programs, new_links, waiting)
    parts = []
    for tl in programs:
        tls = tl.get("id", "")
        old, new = old_links.get(tls, {}), new_links.get(tls, {})
        tl = copy.deepcopy(tl)
        tl.tail = None
        if new != old:  # (unchanged links: the program as it is, however long its states)
            _remap(tl, _state_map(tls, old, new))
        for entry, second in slots.get(tls, ()):
            _add_waiting_area(tl, [new[k] for k in entry], second)
        parts.append("    " + ET.tostring(tl, encoding="unicode").strip())
    # (the links' second index: netconvert reads it from the tlLogic file's <connection>s)
    parts += [f'    <connection from="{k[0]}" to="{k[2]}" fromLane="{k[1]}" toLane="{k[3]}" '
              f'tl="{tls}" linkIndex="{new_links[tls][k]}" linkIndex2="{second}"/>'
              for tls, movements in slots.items() for entry, second in movements for k in entry]
    out.write_text("<tlLogics>\n" + "\n".join(parts) + "\n</tlLogics>\n", encoding="utf-8")
    return True


def fit_programs(base: Path, plan: Path, elements: list[str]) -> list[str]:
    """Additional-file elements with every ``<tlLogic>`` fitted to the plan network's links.

    Programs that measures derive from the base network (``signal_plan``) index its links; on a
    plan network with added links each state is remapped as in :func:`carry_signals`, and a
    plan network's waiting areas (links with a ``linkIndex2``) get their signal as there.
    """
    _, old_links = read_signals(base)
    _, new_links = read_signals(plan)
    second_of = _second_indices(base, plan)
    out = []
    for text in elements:
        if "<tlLogic" in text:
            # (an element may come with siblings, e.g. the detectors of its program)
            group = ET.fromstring(f"<group>{text}</group>")
            changed = False
            for tl in group.iter("tlLogic"):
                tls = tl.get("id", "")
                old, new = old_links.get(tls, {}), new_links.get(tls, {})
                if old != new:
                    _remap(tl, _state_map(tls, old, new))
                    changed = True
                for second, entry in second_of.get(tls, {}).items():
                    _add_waiting_area(tl, entry, second)
                    changed = True
            if changed:
                text = "".join(ET.tostring(el, encoding="unicode") for el in group).strip()
        out.append(text)
    return out


WaitingLink = tuple[str, str, str]  # (traffic light, from edge, to edge) of a waiting area


def waiting_area_states(states: Sequence[str], entry: Sequence[int], second: int) -> list[str]:
    """The phase states of a program in which one movement gets a waiting area in the junction.

    A waiting area lets the movement's vehicles advance past the stop line during the stage
    before their own green and wait at a second stop inside the junction (SUMO's internal
    junction stop, whose signal is the link's ``linkIndex2``).  The change to the program:

    * the movement's own green is every phase in which one of its links (``entry``) shows
      ``G`` (a protected green);
    * its *preceding stage* is, walking back from the start of each own green, the intergreen
      phases (any yellow, or no green at all) and the green phase before them;
    * in the preceding stage the entry links show ``g``: vehicles may pass the stop line,
      yielding to whatever SUMO's right of way checks there, up to the internal stop.  (Not
      ``G``: with no phase in which it must yield, ``netconvert`` would drop the internal stop);
    * the new index ``second`` is the internal stop's signal: ``G`` in the movement's own green,
      ``g`` in the clearance after it (the phases in which its links show yellow, and the
      all-red phases that follow), ``r`` otherwise.  Vehicles leave the area only on their
      own green, and those that crossed the stop line late in it clear the junction in the
      clearance time, as they would without the area (the internal stop may lie across the
      cross street's lanes: a car held there would block its next stage).  ``g``: should a
      conflicting stream already have green then (an overlap), they yield to it.

    Nothing else changes: every other link keeps its signal in every phase.

    Parameters
    ----------
    states
        The program's phase states, in order.
    entry
        Signal indices of the movement's links.
    second
        Index of the internal stop's signal (at or beyond the end of the states: the states
        are padded with ``r``).

    Raises
    ------
    ValueError
        When the movement has no protected green, or is green in every phase.
    """
    before = preceding_phases(states, entry)
    own, clearance = _own_and_clearance(states, entry)
    out = []
    for p, state in enumerate(states):
        chars = list(state.ljust(second + 1, "r"))
        chars[second] = "G" if p in own else ("g" if p in clearance else "r")
        if p in before:
            for i in entry:
                chars[i] = "g"
        out.append("".join(chars))
    return out


def preceding_phases(states: Sequence[str], entry: Sequence[int]) -> set[int]:
    """The phases of the stage before a movement's own green (see :func:`waiting_area_states`).

    Raises
    ------
    ValueError
        When the movement has no protected green, or is green in every phase.
    """
    n = len(states)
    own = [any(s[i:i + 1] == "G" for i in entry) for s in states]
    if not any(own):
        msg = ("the movement never has a protected green (G); a waiting area needs its own "
               "stage after a preceding one")
        raise ValueError(msg)
    if all(own):
        msg = "the movement has green in every phase: no stage precedes its green"
        raise ValueError(msg)
    before: set[int] = set()
    for p in range(n):
        if own[p] and not own[p - 1]:
            q = (p - 1) % n
            while not own[q]:
                before.add(q)
                if any(c in "Gg" for c in states[q]) and not any(c in "yY" for c in states[q]):
                    break  # the preceding stage's green: where the walk back ends
                q = (q - 1) % n
    return before


def _own_and_clearance(states: Sequence[str], entry: Sequence[int]
                       ) -> tuple[set[int], set[int]]:
    """The movement's protected-green phases, and the clearance phases after them.

    Clearance: the phases right after its green in which its links show yellow, or no link
    has green (all-red).
    """
    n = len(states)
    own = {p for p, s in enumerate(states) if any(s[i:i + 1] == "G" for i in entry)}
    clearance: set[int] = set()
    for p in own:
        q = (p + 1) % n
        while q not in own and (any(states[q][i:i + 1] in ("y", "Y") for i in entry)
                                or not any(c in "Gg" for c in states[q])):
            clearance.add(q)
            q = (q + 1) % n
    return own, clearance


def waiting_slots(programs: Sequence[ET.Element], links: dict[str, dict[LinkKey, int]],
                  waiting: Sequence[WaitingLink]
                  ) -> dict[str, list[tuple[list[LinkKey], int]]]:
    """Per traffic light, each waiting area's links and the new index of its internal stop.

    The new indices follow the longest program state of the light (and its highest link
    index), one per waiting area in the order given.

    Raises
    ------
    IntegrityError
        When the light does not control the movement.
    """
    out: dict[str, list[tuple[list[LinkKey], int]]] = {}
    for tls, frm, to in waiting:
        tl_links = links.get(tls, {})
        entry = sorted(k for k in tl_links if k[0] == frm and k[2] == to)
        if not entry:
            msg = (f"traffic light '{tls}' controls no link {frm} → {to}: a waiting area "
                   "needs a signalised movement")
            raise IntegrityError(msg)
        width = max([len(ph.get("state", "")) for p in programs if p.get("id") == tls
                     for ph in p.iter("phase")] + [max(tl_links.values()) + 1])
        slots = out.setdefault(tls, [])
        slots.append((entry, width + len(slots)))
    return out


def _add_waiting_area(tl: ET.Element, entry: list[int], second: int) -> None:
    """Give one program a waiting area (:func:`waiting_area_states`), in place."""
    phases = list(tl.iter("phase"))
    try:
        states = waiting_area_states([ph.get("state", "") for ph in phases], entry, second)
    except ValueError as exc:
        msg = f"traffic light '{tl.get('id')}' program '{tl.get('programID')}': {exc}"
        raise IntegrityError(msg) from None
    for ph, state in zip(phases, states, strict=True):
        ph.set("state", state)


def _second_indices(base: Path, plan: Path) -> dict[str, dict[int, list[int]]]:
    """Links the plan network gave a second signal index that the base network lacks.

    Traffic light → second index → the linkIndex of each link it holds (a waiting area).
    """
    had = {(c.tl, c.key) for c in read_network(base).connections if c.link_index2 >= 0}
    out: dict[str, dict[int, list[int]]] = {}
    for c in read_network(plan).connections:
        if c.link_index2 >= 0 and (c.tl, c.key) not in had:
            out.setdefault(c.tl, {}).setdefault(c.link_index2, []).append(c.link_index)
    return out


def _remap(tl: ET.Element, remap: list[int]) -> None:
    """Rewrite each phase's state: index ``k`` shows the base signal at ``remap[k]``."""
    for phase in tl.iter("phase"):
        state = phase.get("state", "")
        phase.set("state", "".join(state[i] if 0 <= i < len(state) else "r" for i in remap))


def state_map(tls: str, old: dict[LinkKey, int], new: dict[LinkKey, int]) -> list[int]:
    """Each linkIndex of a patched network → the base linkIndex whose signal it shows.

    As the network builder fits the base programs (:func:`carry_signals`); see
    :func:`_state_map`.
    """
    return _state_map(tls, old, new)


def _state_map(tls: str, old: dict[LinkKey, int], new: dict[LinkKey, int]) -> list[int]:
    """Map each linkIndex of the patched network to the base linkIndex whose signal it shows.

    Index i of the list is the patched linkIndex; -1 where no link has that index (it stays
    red).
    """
    out = [-1] * (max(new.values(), default=-1) + 1)
    for key, i in new.items():
        if key in old:
            out[i] = old[key]
            continue
        frm, lane, to, to_lane = key
        same_move = [k for k in old if k[0] == frm and k[2] == to]
        candidates = same_move or [k for k in old if k[0] == frm]
        if not candidates:
            msg = (f"traffic light '{tls}': the plan's network has a new link {frm}_{lane} → "
                   f"{to}_{to_lane} from an approach the baseline's program does not control; "
                   "its signal cannot be derived from the baseline")
            raise IntegrityError(msg)
        parent = min(candidates, key=lambda k: (abs(k[1] - lane), abs(k[3] - to_lane), k[1]))
        out[i] = old[parent]
    return out


_VIA = re.compile(r"\{via\|([^|{}]*)\|(\d+)\|([^|{}]*)\|(\d+)\}")
_VIAS = re.compile(r"\{vias\|([^|{}]*)\}")


def resolve_vias(net: Path, elements: list[str]) -> list[str]:
    """Elements with the internal-lane placeholders of the measures replaced by ``net``'s ids.

    ``{via|FROM|LANE|TO|TOLANE}`` (:func:`~trafficsim.measures.base.via_lane`) becomes the id
    of that connection's first internal lane; ``{vias|FROM}``
    (:func:`~trafficsim.measures.base.via_edges`) the ids of the internal edges entered from
    edge ``FROM``, space-separated.

    Raises
    ------
    IntegrityError
        When a ``via`` placeholder names a connection the network does not have.
    """
    if not any("{via" in e for e in elements):
        return elements
    conns = read_network(net).connections
    via = {c.key: c.via for c in conns}
    entered: dict[str, list[str]] = {}
    for c in conns:
        if c.via:
            entered.setdefault(c.from_edge, []).append(c.via.rsplit("_", 1)[0])

    def lane(m: re.Match[str]) -> str:
        key = (m.group(1), int(m.group(2)), m.group(3), int(m.group(4)))
        link = f"{key[0]}_{key[1]} → {key[2]}_{key[3]}"
        if key not in via:
            msg = (f"{net}: a measure refers to the connection {link}, which the plan's network "
                   "does not have (another measure of the plan may have removed it)")
            raise IntegrityError(msg)
        if not via[key]:
            msg = (f"{net}: the connection {link} has no internal lane, which a measure needs "
                   "(the network was built without internal links: rebuild it with netconvert's "
                   "default --no-internal-links false)")
            raise IntegrityError(msg)
        return via[key]

    def edges(m: re.Match[str]) -> str:
        return " ".join(dict.fromkeys(entered.get(m.group(1), ())))

    return [_VIAS.sub(edges, _VIA.sub(lane, e)) if "{via" in e else e for e in elements]


def signal_differences(base: Path, plan: Path, waiting: Sequence[WaitingLink] = ()
                       ) -> list[str]:
    """How the signal programs of ``plan`` differ from those of ``base`` (empty: they agree).

    Every program (traffic light and programID) must be there with the same type, offset and
    phases (durations and the other phase attributes); each link that both networks have must
    show the same signal in every phase, under its linkIndex in each network.  Links that only
    ``plan`` has (an added lane's) are not compared: they carry their own signal.

    ``waiting`` (movements given a waiting area) is the one change allowed: the base programs
    are compared as :func:`waiting_area_states` changes them, and each such movement's links
    must hold the new internal-stop signal under their ``linkIndex2``.  A link with a
    ``linkIndex2`` the base lacks and no waiting area declares is a difference.
    """
    old_programs, old_links = read_signals(base)
    new_programs, new_links = read_signals(plan)
    out, seconds = _expect_waiting(old_programs, old_links, base, plan, waiting)
    new_by_key = {(p.get("id", ""), p.get("programID", "")): p for p in new_programs}
    for old in old_programs:
        key = (old.get("id", ""), old.get("programID", ""))
        name = f"traffic light '{key[0]}' program '{key[1]}'"
        new = new_by_key.pop(key, None)
        if new is None:
            out.append(f"{name} is missing")
            continue
        for attr in ("type", "offset"):
            if old.get(attr, "0") != new.get(attr, "0"):
                out.append(f"{name}: {attr} {old.get(attr)} became {new.get(attr)}")
        old_phases, new_phases = old.findall("phase"), new.findall("phase")
        if len(old_phases) != len(new_phases):
            out.append(f"{name}: {len(old_phases)} phases became {len(new_phases)}")
            continue
        links = [(i, new_links.get(key[0], {}).get(k)) for k, i in old_links.get(key[0], {}).items()]
        links += seconds.get(key[0], [])
        for n, (a, b) in enumerate(zip(old_phases, new_phases, strict=True)):
            changed = sorted(k for k in {*a.attrib, *b.attrib} - {"state"}
                             if a.get(k) != b.get(k))
            out += [f"{name}: phase {n} {k} {a.get(k)} became {b.get(k)}" for k in changed]
            sa, sb = a.get("state", ""), b.get("state", "")
            moved = [i for i, j in links if j is not None and i < len(sa)
                     and (j >= len(sb) or sa[i] != sb[j])]
            if moved:
                out.append(f"{name}: phase {n} state {sa} became {sb} (at base link {moved[0]})")
    out += [f"traffic light '{t}' program '{p}' is not in the baseline" for t, p in new_by_key]
    active_old = {p.get("id", ""): p.get("programID", "") for p in old_programs}
    active_new = {p.get("id", ""): p.get("programID", "") for p in new_programs}
    out += [f"traffic light '{t}' starts on program '{active_new.get(t)}' instead of '{p}'"
            for t, p in active_old.items() if active_new.get(t) != p]
    return out


def _expect_waiting(old_programs: list[ET.Element], old_links: dict[str, dict[LinkKey, int]],
                    base: Path, plan: Path, waiting: Sequence[WaitingLink]
                    ) -> tuple[list[str], dict[str, list[tuple[int, int | None]]]]:
    """Change the base programs (in place) as the waiting areas ask; pair their new indices.

    Returns the differences found on the way and, per traffic light, (index of the internal
    stop's signal in the changed base program, the plan's ``linkIndex2`` of the movement).
    """
    out: list[str] = []
    pairs: dict[str, list[tuple[int, int | None]]] = {}
    try:
        slots = waiting_slots(old_programs, old_links, waiting)
        for tl in old_programs:
            tls = tl.get("id", "")
            for entry, second in slots.get(tls, ()):
                _add_waiting_area(tl, [old_links[tls][k] for k in entry], second)
    except IntegrityError as exc:
        return [str(exc)], {}
    had = {c.key for c in read_network(base).connections if c.link_index2 >= 0}
    declared = {(t, f, to): second for t, movements in slots.items()
                for entry, second in movements for f, _, to, _ in entry}
    seconds: dict[tuple[str, str, str], set[int]] = {m: set() for m in declared}
    for c in read_network(plan).connections:
        move = (c.tl, c.from_edge, c.to_edge)
        if move in declared and c.tl:
            seconds[move].add(c.link_index2)
        elif c.link_index2 >= 0 and c.key not in had:
            out.append(f"link {c.from_edge}_{c.from_lane} → {c.to_edge}_{c.to_lane} has a second "
                       f"signal index ({c.link_index2}) that no waiting area declares")
    for (tls, frm, to), found in seconds.items():
        if len(found) != 1 or min(found) < 0:
            out.append(f"traffic light '{tls}': the waiting area {frm} → {to} needs one "
                       f"linkIndex2 on all its links; the plan's network has {sorted(found)}")
            continue
        pairs.setdefault(tls, []).append((declared[(tls, frm, to)], min(found)))
    return out, pairs


def _col(i: int) -> str:
    """Return the label netgenerate gives grid column ``i``: A, B, …, Z.

    Grids here stay below 26 columns, so a single letter suffices.
    """
    return string.ascii_uppercase[i]


def corridor_plain_xml(spec: CorridorSpec) -> tuple[str, str]:
    """Plain-XML nodes and edges of an arterial corridor.

    The main road runs west (``W``) to east (``E``) through ``J1..Jn``; each ``Ji`` has side
    streets to ``Ni`` (north) and ``Si`` (south) when ``side_streets`` is set.
    """
    n = spec.intersections
    if isinstance(spec.spacing_m, tuple):
        xs = [spec.approach_length_m + sum(spec.spacing_m[:i]) for i in range(n)]
    else:  # (i * spacing, as ever: a running sum could differ in the last bit)
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
def _index(version: Version) -> NetIndex:
    network = network_at(version)
    edges: dict[str, int] = {}
    lengths: dict[str, float] = {}
    speeds: dict[str, float] = {}
    out_edges: dict[str, list[str]] = {}
    in_edges: dict[str, list[str]] = {}
    for e in network.normal_edges():
        edges[e.id] = len(e.lanes)
        if e.lanes:
            # (the leftmost lane's length and the rightmost lane's speed, as ever: lanes of an
            # edge differ in length only on curves, by centimetres)
            lengths[e.id] = e.lanes[-1].length_m
            speeds[e.id] = e.lanes[0].speed_m_s
        out_edges.setdefault(e.from_junction, []).append(e.id)
        in_edges.setdefault(e.to_junction, []).append(e.id)
    approaches: dict[str, set[str]] = {}
    for c in network.connections:
        if c.tl:
            approaches.setdefault(c.tl, set()).add(c.from_edge)
    return NetIndex(
        edges=edges,
        junctions=frozenset(j.id for j in network.junctions.values() if j.type != "internal"),
        signals=frozenset(p.id for p in network.programs), edge_length_m=lengths,
        out_edges={k: tuple(v) for k, v in out_edges.items()},
        in_edges={k: tuple(v) for k, v in in_edges.items()},
        signal_approaches={t: tuple(sorted(a)) for t, a in approaches.items()},
        edge_speed_m_s=speeds,
        connections=tuple(c.key for c in network.connections if not c.from_edge.startswith(":")),
        directions={c.key: c.direction for c in network.connections
                    if not c.from_edge.startswith(":")},
        path=network.path,
    )


def net_index(path: Path) -> NetIndex:
    """Edges, lanes, junctions and signals of a ``.net.xml`` (from the cached network model)."""
    return _index(network_version(path))

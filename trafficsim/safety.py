"""Safety of a signal program: conflicting greens, intergreens, minimum greens, pedestrians.

:func:`program_issues` checks one SUMO program against the network it runs on and returns what
is wrong with it (an empty list: safe):

- **conflicting greens**: two links that conflict (the junction's ``foes``) are never green at
  once, unless one of them shows a lower-case ``g`` and SUMO's ``response`` makes it yield to
  the other (SUMO's right of way then handles the conflict: a permissive left, a right turn
  yielding to a crossing); two links that must each yield to the other are never green at once
  (they would wait for each other: SUMO warns of a "mutual conflict");
- **yellow**: a vehicle link that loses its green shows yellow for at least the ITE change
  interval ``1.0 s + v / (2 · 3.05 m/s²)`` (≥ 3 s), ``v`` its approach speed;
- **all-red**: a link that conflicts with it gets green no earlier than the ITE red clearance
  ``(W + 6 m) / v`` after the yellow ends (``W`` the link's path through the junction); for a
  pedestrian crossing, no earlier than its length / 1.2 m/s after the crossing's green ends.  A
  link that starts with ``g`` and yields to the ending link is exempt (SUMO makes it wait); one
  that turns from ``g`` to ``G`` gains priority, and needs the all-red like a start;
- **minimum greens**: every stage lasts at least its program's minimum green
  (:attr:`trafficsim.signals.Program.min_greens_s`) and every vehicle link that gets green keeps
  it at least ``min_green_s``; a crossing keeps its green at least the 7 s walk;
- **service**: every controlled link gets green at some point of the cycle.

Durations of actuated phases are their ``minDur`` (the shortest the program can run).  A
program whose green phases may be followed by more than one stage (phase skipping, ``next``
with several targets, :func:`trafficsim.phasing.with_skipping`) is checked along every cycle of
distinct stages it can run, each as a program of its own (messages name the path).
Messages name the light, the phase index, the links and
their movements (``from→to``).

Pure module: it reads the network model and never starts SUMO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from trafficsim.netmodel import Network
from trafficsim.phasing import MIN_GREEN_S, WALK_S, JunctionLayout, layout
from trafficsim.signals import Phase, Program

_GREEN = "Gg"
_MOVING = "GgsyY"
_EPS = 1e-6


def _shortest_s(ph: Phase) -> float:
    return ph.min_dur_s if ph.min_dur_s is not None else ph.duration_s


def _green(ch: str) -> bool:
    return ch in "Ggs"


def _gains(before: str, now: str) -> bool:
    """The link gets green, or priority ('g' to 'G': it stops yielding to its foes)."""
    return (_green(now) and not _green(before)) or (before in "gs" and now == "G")


def program_issues(net: Network, program: Program, *,
                   min_green_s: float = MIN_GREEN_S) -> list[str]:
    """What makes ``program`` unsafe on ``net`` (empty: nothing).

    Parameters
    ----------
    net
        The network the program runs on.
    program
        One traffic light's program.
    min_green_s
        Vehicle minimum green [s].
    """
    tls = program.tls_id
    try:
        lay = layout(net, tls)
    except KeyError:
        return [f"{tls}: the network has no link controlled by traffic light '{tls}'"]
    if not program.phases:
        return [f"{tls}: the program has no phase"]
    if short := _short_states(lay, program):
        return short
    paths = _paths(program)
    if paths:
        # (a path that skips a stage leaves its links red: service is the whole program's)
        found = [f"{tls}: {_name(lay, i)} never gets green" for i in lay.controlled
                 if not any(_green(ph.state[i]) for ph in program.phases)]
        for names, path in paths:
            for msg in _issues(lay, path, min_green_s, service=False):
                msg = f"{msg} (stages {names})"
                if msg not in found:
                    found.append(msg)
        return found
    return _issues(lay, program, min_green_s)


def conflict_issues(net: Network, program: Program) -> list[str]:
    """Conflicting greens of ``program`` on ``net``, and states too short for its links.

    What no program may run whatever its transitions: a user's plan file is held to this (the
    network's own programs have 3-s yellows and no all-red, so the intergreen and minimum-green
    checks of :func:`program_issues` would refuse plans SUMO's tools write).
    """
    try:
        lay = layout(net, program.tls_id)
    except KeyError:
        return []  # (a light not in the network is reported by the caller)
    return _short_states(lay, program) or _conflicts(lay, program)


def _short_states(lay: JunctionLayout, program: Program) -> list[str]:
    """Phases with fewer signal states than the light has links (SUMO refuses them)."""
    return [f"{program.tls_id}: phase {k} has {len(ph.state)} signal states for "
            f"{lay.n_links} links" for k, ph in enumerate(program.phases)
            if len(ph.state) < lay.n_links]


def _issues(lay: JunctionLayout, program: Program, min_green_s: float, *,
            service: bool = True) -> list[str]:
    out: list[str] = []
    out += _conflicts(lay, program)
    out += _intergreens(lay, program)
    out += _min_greens(lay, program, min_green_s, service=service)
    return out


def _target(phases: Sequence[Phase], start: int) -> tuple[int, list[int]]:
    """The green phase SUMO reaches from phase ``start``, and the transition phases on the way."""
    n = len(phases)
    chain: list[int] = []
    i = start
    while not phases[i].is_green and len(chain) <= n:
        chain.append(i)
        i = phases[i].next[0] if phases[i].next else (i + 1) % n
    return i, chain


def _paths(program: Program) -> list[tuple[str, Program]]:
    """Each cycle of distinct stages a skipping program can run, as a program of its own.

    Empty when every green has one successor stage (the program runs in its phase order).
    """
    phases = program.phases
    n = len(phases)
    greens = [i for i, p in enumerate(phases) if p.is_green]
    succ: dict[int, dict[int, list[int]]] = {}
    for g in greens:
        for c in phases[g].next or ((g + 1) % n,):
            target, chain = _target(phases, c)
            if target != g and phases[target].is_green:
                succ.setdefault(g, {}).setdefault(target, chain)
    if all(len(v) <= 1 for v in succ.values()):
        return []
    mins = dict(zip((st.green for st in program.stages), program.min_greens_s, strict=False))
    cycles: list[list[int]] = []

    def walk(path: list[int]) -> None:
        for t in succ.get(path[-1], {}):
            if t == path[0] and len(path) > 1:
                cycles.append(list(path))
            elif t not in path and t > path[0]:  # each cycle once, from its lowest green
                walk([*path, t])

    for g in greens:
        walk([g])
    out = []
    for cyc in cycles:
        ph: list[Phase] = []
        for k, g in enumerate(cyc):
            ph.append(replace(phases[g], next=()))
            ph += [replace(phases[t], next=()) for t in succ[g][cyc[(k + 1) % len(cyc)]]]
        path = replace(program, phases=tuple(ph),
                       min_greens_s=tuple(mins.get(g, 0.0) for g in cyc))
        out.append(("→".join(str(greens.index(g)) for g in cyc), path))
    return out


def _name(lay: JunctionLayout, i: int) -> str:
    return f"link {i} ({lay.names.get(i, 'unused')})"


def _conflicts(lay: JunctionLayout, program: Program) -> list[str]:
    out = []
    for k, ph in enumerate(program.phases):
        s = ph.state
        green = [i for i in lay.controlled if _green(s[i])]
        for a, i in enumerate(green):
            for j in green[a + 1:]:
                if lay.yields_to(i, j) and lay.yields_to(j, i):
                    out.append(f"{lay.tls_id}: phase {k}: {_name(lay, i)} '{s[i]}' and "
                               f"{_name(lay, j)} '{s[j]}' are green together and each must "
                               "yield to the other (SUMO's 'mutual conflict': a deadlock)")
                    continue
                if not lay.conflict(i, j):
                    continue
                if (s[i].islower() and lay.yields_to(i, j)) or (
                        s[j].islower() and lay.yields_to(j, i)):
                    continue
                why = ("both have priority ('G')" if s[i].isupper() and s[j].isupper() else
                       "SUMO's right of way does not make the one with 'g' yield")
                out.append(f"{lay.tls_id}: phase {k}: {_name(lay, i)} '{s[i]}' and "
                           f"{_name(lay, j)} '{s[j]}' conflict and are green together; {why}")
    return out


def _intergreens(lay: JunctionLayout, program: Program) -> list[str]:
    phases = program.phases
    n = len(phases)
    crossings = lay.crossing_links
    out = []
    for p in range(n):
        prev, cur = phases[p - 1].state, phases[p].state
        for i in lay.controlled:
            if not (_green(prev[i]) and not _green(cur[i])):
                continue
            is_ped = i in crossings
            # yellow run from phase p on
            yellow = 0.0
            q = p
            if not is_ped:
                while q < p + n and phases[q % n].state[i] in "yY":
                    yellow += _shortest_s(phases[q % n])
                    q += 1
                need_y = lay.yellow_s.get(i, 0.0)
                if yellow < need_y - _EPS:
                    out.append(f"{lay.tls_id}: phase {p}: {_name(lay, i)} gets {yellow:g} s of "
                               f"yellow after its green; ITE needs {need_y:.2f} s")
            need = lay.clearance_s.get(i, 0.0) if is_ped else lay.all_red_s.get(i, 0.0)
            what = "pedestrian clearance" if is_ped else "all-red"
            # time since the crossing's green ended / since the vehicle link's yellow ended
            t = 0.0 if is_ped else -yellow
            for r in range(p, p + n):
                ph = phases[r % n]
                if _green(ph.state[i]):
                    break
                before = phases[(r - 1) % n].state
                early = [j for j in lay.controlled
                         if _gains(before[j], ph.state[j]) and lay.conflict(i, j)
                         # a permissive start: SUMO makes j wait for i's last users
                         and not (ph.state[j].islower() and lay.yields_to(j, i))]
                if early and t < need - _EPS:
                    when = (f"{max(t, 0.0):g} s after {_name(lay, i)} lost its green" if is_ped
                            else f"{t:g} s after {_name(lay, i)} turned red" if t >= 0
                            else f"during the yellow of {_name(lay, i)}")
                    out.append(f"{lay.tls_id}: phase {r % n}: "
                               f"{', '.join(_name(lay, j) for j in early)} "
                               f"{'gets' if len(early) == 1 else 'get'} green {when}; "
                               f"{what} needs {need:.2f} s")
                t += _shortest_s(ph)
    return out


def _green_runs(phases: Sequence[Phase], i: int) -> list[tuple[int, float]]:
    """(first phase, shortest duration [s]) of each run of green phases of link ``i``."""
    n = len(phases)
    runs = []
    for p in range(n):
        if _green(phases[p].state[i]) and not _green(phases[p - 1].state[i]):
            total, q = 0.0, p
            while q < p + n and _green(phases[q % n].state[i]):
                total += _shortest_s(phases[q % n])
                q += 1
            runs.append((p, total))
    return runs


def _min_greens(lay: JunctionLayout, program: Program, min_green_s: float, *,
                service: bool = True) -> list[str]:
    out = []
    phases = program.phases
    for k, (st, need) in enumerate(zip(program.stages, program.min_greens_s, strict=False)):
        got = _shortest_s(phases[st.green])
        if got < need - _EPS:
            out.append(f"{lay.tls_id}: phase {st.green} (stage {k}) lasts {got:g} s, below its "
                       f"minimum green {need:g} s")
    crossings = lay.crossing_links
    for i in lay.controlled:
        if not any(_green(ph.state[i]) for ph in phases):
            if service:
                out.append(f"{lay.tls_id}: {_name(lay, i)} never gets green")
            continue
        if all(_green(ph.state[i]) for ph in phases):
            continue
        need = WALK_S if i in crossings else min_green_s
        what = "walk" if i in crossings else "minimum green"
        for p, got in _green_runs(phases, i):
            if got < need - _EPS:
                out.append(f"{lay.tls_id}: phase {p}: {_name(lay, i)} is green for {got:g} s, "
                           f"below its {what} {need:g} s")
    return out

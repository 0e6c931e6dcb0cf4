"""Phase design and program safety: every generated program on every network we have is safe.

Networks: the sumo-rl models under ../shared/data (skipped when absent), the showcase scenarios'
networks, a district of the LuST city imported with netconvert (10 signals), and a junction with
guessed sidewalks and pedestrian crossings.  A SUMO run of each phasing checks the physics: no
collision, every vehicle arrives.
"""

from __future__ import annotations

import itertools
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trafficsim as ts
from tests.conftest import DATA, SHARED
from trafficsim.errors import ScenarioError
from trafficsim.measures.signal_plan import _ite
from trafficsim.netmodel import Network, read_network
from trafficsim.network import build_network
from trafficsim.phasing import (
    PHASINGS,
    applicable,
    build_program,
    design_plan,
    ite_all_red_s,
    ite_yellow_s,
    layout,
    pedestrian_clearance_s,
    stage_greens,
    with_min_greens,
)
from trafficsim.safety import program_issues
from trafficsim.signals import Phase, Program, WebsterSettings, read_links, webster_plan
from trafficsim.sumo import run_tool

ROOT = Path(__file__).resolve().parents[1]
LUST = SHARED.parent / "lust" / "lust_west.osm"
# a district of 10 signals in the LuST west half (lon/lat box)
LUST_BOX = "6.115603,49.609728,6.123664,49.615111"


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------
def test_ite_intergreens_worked_example() -> None:
    # 50 km/h: yellow 1.0 + 13.89 / (2 · 3.05) = 3.28 s; a 20 m path: all-red (20 + 6) / 13.89
    assert ite_yellow_s(50 / 3.6) == pytest.approx(3.277, abs=1e-3)
    assert ite_all_red_s(20.0, 50 / 3.6) == pytest.approx(1.872, abs=1e-3)
    assert ite_yellow_s(30 / 3.6) == 3.0  # 2.37 s by the formula; 3 s at least
    assert ite_yellow_s(70 / 3.6) == pytest.approx(1.0 + 19.444 / 6.1, abs=1e-3)
    assert pedestrian_clearance_s(12.0) == pytest.approx(10.0)


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------
def _netconvert(dest: Path, name: str, args: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    run_tool("netconvert", [*args, "-o", f"{name}.net.xml", "--no-warnings"], cwd=dest)
    return dest / f"{name}.net.xml"


@pytest.fixture(scope="session")
def nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every network of the test: name → .net.xml."""
    root = tmp_path_factory.mktemp("phasing_nets")
    out: dict[str, Path] = {}
    for toml in sorted((ROOT / "scenarios").glob("*.toml")):
        sc = ts.load_scenario(toml)
        out[f"showcase:{toml.stem}"] = build_network(sc.network, root / toml.stem)
    if SHARED.is_dir():
        for p in sorted(SHARED.glob("*/*.net.xml")):
            out[f"sumo-rl:{p.parent.name}"] = p
    if LUST.is_file():
        out["lust:district"] = _netconvert(root / "lust", "lust", [
            "--osm-files", str(LUST), "--keep-edges.in-geo-boundary", LUST_BOX])
    for ext in ("nod", "edg"):
        shutil.copy(DATA / f"cross.{ext}.xml", root)
    out["crossings"] = _netconvert(root, "crossings", [
        "-n", "cross.nod.xml", "-e", "cross.edg.xml", "--sidewalks.guess", "--crossings.guess"])
    return out


def _lights(net: Network) -> list[str]:
    return sorted({c.tl for c in net.connections if c.tl})


@pytest.mark.sumo
def test_every_phasing_at_every_light_is_safe(nets: dict[str, Path]) -> None:
    """Every phasing (applicable or not: it then degrades), fixed-time, Webster and actuated."""
    n_programs = 0
    lights = 0
    for name, path in nets.items():
        net = read_network(path)
        links = read_links(path)
        for t in _lights(net):
            lights += 1
            lay = layout(net, t)
            assert applicable(lay)[0] == "two_stage"
            for kind in PHASINGS:
                prog = build_program(lay, kind)
                assert program_issues(net, prog) == [], (name, t, kind)
                # the program's stages (trafficsim.signals) are the phasing's stages, and
                # given greens land on them
                n = len(stage_greens(lay, kind))
                assert len(prog.stages) == n, (name, t, kind)
                greens = [10.0 + k for k in range(n)]
                assert build_program(lay, kind, green_s=greens).greens_s == tuple(greens)
                # every controlled link is served
                served = {i for ph in prog.phases for i, c in enumerate(ph.state) if c in "Gg"}
                assert set(lay.controlled) <= served, (name, t, kind)
                # a cycle of the default split is about 90 s unless minimum greens need more
                assert prog.cycle_s >= 89 or len(prog.stages) == 1
                flows = {lk.lane_id: 300.0 for lk in links.get(t, ())}
                from trafficsim.optimise.design import (
                    _actuated_encoding,
                    with_queue_choice,
                    with_queue_switching,
                )
                from trafficsim.signals import SignalPlan

                web, _ = webster_plan(SignalPlan((prog,)), links, flows, WebsterSettings())
                assert program_issues(net, web.programs[0]) == [], (name, t, kind, "webster")
                act = with_min_greens(prog, prog.actuated())
                assert program_issues(net, act) == [], (name, t, kind, "actuated")
                coord = with_min_greens(prog, prog.coordinated_actuated())
                assert program_issues(net, coord) == [], (name, t, kind, "coordinated")
                # --design's actuated tuning: max greens shaped by the Webster greens, at the
                # corners of its box (the lowest minimum and maximum greens, the highest)
                enc = _actuated_encoding(web)
                low = [b[0] for b in enc.bounds]
                for x in ([*low[:3], 1.0, *low[4:]], [b[1] for b in enc.bounds]):
                    shaped = enc.decode(x).programs[0]
                    assert program_issues(net, shaped) == [], (name, t, kind, "shaped", x)
                    queued = with_queue_switching(net, shaped)
                    assert program_issues(net, queued) == [], (name, t, kind, "queues", x)
                # every stage may follow every other: the phasings the light offers, at the
                # lowest corner only (each cycle of stages is checked, about 0.3 s a program;
                # minimum greens and walks matter there)
                if kind in applicable(lay):
                    low_plan = enc.decode([*low[:3], 1.0, *low[4:]])
                    chosen = with_queue_choice(net, low_plan.programs[0])
                    assert program_issues(net, chosen) == [], (name, t, kind, "choice")
                n_programs += 8
    assert "crossings" in nets and lights >= 30
    assert n_programs >= 20 * lights


@pytest.mark.sumo
def test_sumo_loads_every_designed_program_without_a_warning(nets: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """SUMO checks each program against the junction logic when it loads it (e.g. two links
    green together that must each yield to the other: "mutual conflict")."""
    from trafficsim.signals import SignalPlan

    for name, path in nets.items():
        net = read_network(path)
        progs = [build_program(layout(net, t), kind, program_id=f"ts_{kind}")
                 for kind in PHASINGS for t in _lights(net)]
        if not progs:
            continue
        add = SignalPlan(tuple(progs)).write(tmp_path / f"{name.replace(':', '_')}.add.xml")
        run = run_tool("sumo", ["-n", str(path), "-a", str(add), "--end", "1", "--no-step-log"])
        assert run.warnings == (), (name, run.warnings[:3])


@pytest.mark.sumo
def test_network_programs_have_no_conflicting_greens(nets: dict[str, Path]) -> None:
    """The networks' own programs and the existing controls on them never give conflicting
    greens; their intergreens are netconvert's (3 s yellow, no all-red), which ITE finds short."""
    from trafficsim.signals import read_plan

    short = 0
    for name, path in nets.items():
        net = read_network(path)
        plan = read_plan(path)
        for prog in plan.programs + plan.actuated().programs:
            issues = program_issues(net, prog)
            assert not [x for x in issues if "conflict" in x or "never" in x], (name, issues)
            short += any("ITE needs" in x for x in issues)
    assert short > 0


@pytest.mark.sumo
def test_network_programs_with_ite_intergreens_are_safe(nets: dict[str, Path]) -> None:
    """intergreens = "ite": the existing controls on the network's phases pass every check."""
    from trafficsim.signals import read_plan

    n = 0
    for name, path in nets.items():
        net = read_network(path)
        plan = read_plan(path)
        links = read_links(path)
        flows = {lk.lane_id: 300.0 for ls in links.values() for lk in ls}
        web, _ = webster_plan(_ite(net, plan), links, flows)
        for prog in (*_ite(net, plan).programs, *_ite(net, plan.actuated()).programs,
                     *web.programs):
            assert program_issues(net, prog) == [], (name, prog.tls_id)
            n += 1
    assert n > 100


@pytest.mark.sumo
def test_the_design_keeps_the_network_phases_with_safe_transitions(nets: dict[str, Path]) -> None:
    """``--design``'s choice "network" at every light: the network's stages in their order, with
    ITE transitions, so it passes every check (fixed-time, actuated, coordinated) like the
    designed phasings, and stays a candidate of the phasing step."""
    from trafficsim.optimise.design import NETWORK, DesignSpace, network_phases, with_queue_choice
    from trafficsim.signals import read_plan

    n = 0
    for name, path in nets.items():
        net = read_network(path)
        start = read_plan(path)
        links = read_links(path)
        flows = {lk.lane_id: 300.0 for ls in links.values() for lk in ls}
        space = DesignSpace(net, start, links, flows, WebsterSettings())
        assert space.failures == {} and space.kept_unsafe == {}, name
        for own in start.programs:
            t = own.tls_id
            assert space.options[t][0] == NETWORK
            kept = space.program(t, NETWORK)
            assert network_phases(kept, own), (name, t)
            act = with_min_greens(kept, kept.actuated())
            # the queue-chosen next stage: a transition for every pair of the network's stages
            for prog in (kept, act, with_min_greens(kept, kept.coordinated_actuated()),
                         with_queue_choice(net, act)):
                assert program_issues(net, prog) == [], (name, t)
            # the plan of the first incumbent is judged as every other plan of the search
            n += 1
        assert space.generated_issues(space.plan({})) == [], name
    assert n >= 30


@pytest.mark.sumo
def test_layout_of_a_four_leg_junction(nets: dict[str, Path]) -> None:
    net = read_network(nets["crossings"])
    lay = layout(net, "ctrl")
    assert {a.edge: a.bearing_deg for a in lay.approaches} == {
        "WC": 90.0, "EC": 270.0, "NC": 180.0, "SC": 0.0}
    assert sorted(map(sorted, lay.pairs)) == [["EC", "WC"], ["NC", "SC"]]
    turns = {(m.from_edge, m.to_edge): m.turn for m in lay.movements}
    assert turns[("WC", "CE")] == "T" and turns[("WC", "CN")] == "L"
    assert turns[("WC", "CS")] == "R"
    assert len(lay.crossings) == 4
    # a two-stage program: the W–E stage gives the lefts permissive green, the crossings of the
    # N and S legs walk beside it, and the right turns yield to them
    stages = stage_greens(lay, "two_stage")
    assert len(stages) == 2
    prog = build_program(lay, "two_stage")
    first = prog.phases[0].state
    idx = {(m.from_edge, m.to_edge): m.link_indices[0] for m in lay.movements}
    assert first[idx[("WC", "CE")]] == "G" and first[idx[("WC", "CN")]] == "g"
    assert first[idx[("WC", "CS")]] == "g"  # yields to the crossing of the S leg
    walk = [c for c in lay.crossings if first[c.link_indices[0]] == "G"]
    assert len(walk) == 2
    # the stage that starts a crossing lasts at least the 7 s walk
    assert min(prog.min_greens_s) == 7.0
    # transitions: yellow 4 s (3.28 rounded up), then all-red with the next links red-yellow
    trans = [prog.phases[i] for i in prog.stages[0].transitions]
    yellow = next(p for p in trans if "y" in p.state)
    assert yellow.duration_s == 4.0
    assert "u" in trans[-1].state and "G" not in trans[-1].state


@pytest.mark.sumo
def test_protected_left_kinds_need_a_left_lane_of_its_own(nets: dict[str, Path]) -> None:
    # the showcase corridors share the left lane with the through: no leading left there
    art = read_network(nets["showcase:arterial_am_peak"])
    assert applicable(layout(art, "J1")) == ("two_stage", "lead_lag", "split")
    if "sumo-rl:2x2grid" in nets:  # left-turn lanes of their own
        grid = read_network(nets["sumo-rl:2x2grid"])
        assert applicable(layout(grid, "1")) == PHASINGS
        lay = layout(grid, "1")
        lead = build_program(lay, "leading_left")
        lefts = {i for m in lay.movements if m.turn == "L" for i in m.link_indices}
        first = lead.phases[0].state
        assert {i for i, c in enumerate(first) if c == "G"} == lefts & {
            i for i, c in enumerate(first) if c == "G"} != set()
        assert all(first[i] == "r" for m in lay.movements if m.turn == "T"
                   for i in m.link_indices)


# --------------------------------------------------------------------------------------------
# Unsafe programs are reported
# --------------------------------------------------------------------------------------------
@pytest.mark.sumo
def test_conflicting_greens_and_a_short_yellow_are_reported(nets: dict[str, Path]) -> None:
    net = read_network(nets["crossings"])
    lay = layout(net, "ctrl")
    safe = build_program(lay, "split")
    assert program_issues(net, safe) == []
    t_w = next(m for m in lay.movements if (m.from_edge, m.to_edge) == ("WC", "CE"))
    t_n = next(m for m in lay.movements if (m.from_edge, m.to_edge) == ("NC", "CS"))
    i, j = t_w.link_indices[0], t_n.link_indices[0]
    # W–E and N–S through together, both with priority
    state = list(safe.phases[0].state)
    state[i] = state[j] = "G"
    bad = replace(safe, phases=(Phase("".join(state), 30.0), *safe.phases[1:]))
    issues = program_issues(net, bad)
    hit = [x for x in issues if f"link {i} (WC→CE)" in x and f"link {j} (NC→CS)" in x]
    assert len(hit) == 1 and hit[0].startswith("ctrl: phase 0: ")
    assert "conflict and are green together; both have priority" in hit[0]
    # a 1-s yellow
    k = next(k for k, p in enumerate(safe.phases) if "y" in p.state)
    short = replace(safe, phases=tuple(replace(p, duration_s=1.0) if n == k else p
                                       for n, p in enumerate(safe.phases)))
    issues = program_issues(net, short)
    assert any(f"phase {k}:" in x and "gets 1 s of yellow" in x and "3.28 s" in x
               for x in issues)
    # no all-red: a conflicting link starts right after the yellow
    no_red = Program("ctrl", tuple(p for p in safe.phases if "u" not in p.state),
                     min_greens_s=safe.min_greens_s)
    assert any("all-red needs" in x for x in program_issues(net, no_red))
    # a walk of 3 s
    walk = next(n for n, p in enumerate(safe.phases) if p.is_green
                and any(p.state[c] == "G" for c in lay.crossing_links))
    brief = replace(safe, phases=tuple(replace(p, duration_s=3.0) if n == walk else p
                                       for n, p in enumerate(safe.phases)))
    assert any("below its walk 7 s" in x or "minimum green" in x
               for x in program_issues(net, brief))


# --------------------------------------------------------------------------------------------
# The signal_plan measure
# --------------------------------------------------------------------------------------------
def _scenario(tmp_path: Path, measure: str) -> Path:
    sc = tmp_path / "sc.toml"
    sc.write_text((DATA / "small_corridor.toml").read_text().split("[plans.slow]")[0]
                  + "[plans.designed]\n[[plans.designed.measures]]\ntype = \"signal_plan\"\n"
                  + measure)
    return sc


def _issues(tmp_path: Path, measure: str) -> list[str]:
    from trafficsim.build import prepare_network

    with pytest.raises(ScenarioError) as exc:
        sc = ts.load_scenario(_scenario(tmp_path, measure))
        prepare_network(sc, tmp_path / "out")
    return [f"{i.field}: {i.message}" for i in exc.value.issues]


@pytest.mark.sumo
def test_phasing_errors_name_the_field(tmp_path: Path) -> None:
    pre = "plans.designed.measures[0]."
    msgs = _issues(tmp_path, 'phasing = "leading_lft"\n')
    assert msgs[0].startswith(pre + "phasing") and "leading_left" in msgs[0]
    msgs = _issues(tmp_path, 'phasing = 3\n')
    assert msgs[0].startswith(pre + "phasing") and "neither a phasing" in msgs[0]
    msgs = _issues(tmp_path, 'phasing = { J1 = "split", J7 = "two_stage" }\n')
    assert [m for m in msgs if m.startswith(pre + "phasing.J7") and "not in the network" in m]
    msgs = _issues(tmp_path, 'phasing = { J1 = "leading_left" }\n')
    assert msgs[0].startswith(pre + "phasing.J1") and "lane of its own" in msgs[0]
    msgs = _issues(tmp_path, 'phasing = "left_overlap"\n')
    assert msgs[0].startswith(pre + "phasing:") and "J1" in msgs[0]
    msgs = _issues(tmp_path, 'phasing = "split"\ncontrol = "file"\n')
    assert any(m.startswith(pre + "phasing") and "not 'file'" in m for m in msgs)
    msgs = _issues(tmp_path, 'phasing = "split"\ncontrol = "coordinated"\nfile = "x.add.xml"\n')
    assert any(m.startswith(pre + "file") and "designed" in m for m in msgs)
    msgs = _issues(tmp_path, 'control = "fixed"\n')
    assert any(m.startswith(pre + "control") and "phasing" in m for m in msgs)
    msgs = _issues(tmp_path, 'phasing = "split"\nintergreens = "network"\n')
    assert any(m.startswith(pre + "intergreens") and "always" in m for m in msgs)
    msgs = _issues(tmp_path, 'control = "coordinated"\nintergreens = "ite"\n')
    assert any(m.startswith(pre + "intergreens") and "coordinated" in m for m in msgs)


@pytest.mark.sumo
def test_designed_plans_through_the_measure(tmp_path: Path) -> None:
    from trafficsim.build import build_plan, prepare_network

    measure = ('phasing = { J1 = "split", J2 = "lead_lag" }\ncontrol = "webster"\n'
               'flows_veh_h = { W_J1 = 500, N1_J1 = 120 }\n'
               '[plans.fixed]\n[[plans.fixed.measures]]\ntype = "signal_plan"\n'
               'phasing = "two_stage"\ncycle_s = 60\n'
               '[plans.act]\n[[plans.act.measures]]\ntype = "signal_plan"\n'
               'phasing = "split"\ncontrol = "actuated"\n'
               '[plans.ite]\n[[plans.ite.measures]]\ntype = "signal_plan"\n'
               'control = "actuated"\nintergreens = "ite"\n'
               '[plans.coord]\n[[plans.coord.measures]]\ntype = "signal_plan"\n'
               'phasing = "two_stage"\ncontrol = "coordinated"\ncycle_s = 70\n')
    sc = ts.load_scenario(_scenario(tmp_path, measure))
    base, _ = prepare_network(sc, tmp_path / "out")
    net = read_network(base)
    for name in ("designed", "fixed", "act", "ite", "coord"):
        build_plan(sc, sc.plans[name], base, tmp_path / "out")
        add = (tmp_path / "out" / "cases" / name / "measures.add.xml").read_text()
        from trafficsim.signals import read_plan

        plan = read_plan(base, [tmp_path / "out" / "cases" / name / "measures.add.xml"])
        for p in plan.programs:
            assert p.program_id == ("actuated" if name == "ite" else "ts_design")
            assert program_issues(net, replace(p, min_greens_s=())) == [], (name, p.tls_id)
        if name == "fixed":
            assert all(p.cycle_s == 60 for p in plan.programs)
        if name == "act":
            assert 'type="actuated"' in add
        if name == "coord":
            assert 'key="coordinated" value="true"' in add and 'value="70"' in add
        if name == "designed":
            assert len(plan["J1"].stages) == 4 and len(plan["J2"].stages) == 6  # 3 per pair


# --------------------------------------------------------------------------------------------
# SUMO: no collision, everyone arrives
# --------------------------------------------------------------------------------------------
def _routes(net: Network, path: Path, *, persons: bool, probability: float = 0.02) -> None:
    nb: dict[str, set[str]] = {}
    for e in net.normal_edges():
        nb.setdefault(e.from_junction, set()).add(e.to_junction)
        nb.setdefault(e.to_junction, set()).add(e.from_junction)
    fringe = {j for j, s in nb.items() if len(s) == 1}
    road = [e for e in net.normal_edges() if e.lanes[-1].allow != ("pedestrian",)]
    src = [e.id for e in road if e.from_junction in fringe]
    dst = [e.id for e in road if e.to_junction in fringe]
    lines = [f'  <flow id="f{k}" from="{a}" to="{b}" begin="0" end="600" '
             f'probability="{probability}" '
             f'departLane="best"/>'
             for k, (a, b) in enumerate(itertools.product(src, dst))
             if net.edges[a].from_junction != net.edges[b].to_junction]
    if persons:
        lines += [f'  <personFlow id="p{k}" begin="0" end="600" probability="0.01">'
                  f'<personTrip from="{a}" to="{b}"/></personFlow>'
                  for k, (a, b) in enumerate(itertools.product(src, dst))
                  if net.edges[a].from_junction != net.edges[b].to_junction]
    path.write_text("<routes>\n" + "\n".join(lines) + "\n</routes>\n")


def _run(tmp: Path, net_file: Path, kind: str) -> tuple[int, int, int, str]:
    net = read_network(net_file)
    design_plan(net, dict.fromkeys(_lights(net), kind)).write(tmp / f"{kind}.add.xml")
    run_tool("sumo", ["-n", str(net_file), "-r", "r.rou.xml", "-a", f"{kind}.add.xml",
                      "--end", "2400", "--seed", "1", "--collision.action", "warn",
                      "--time-to-teleport", "300", "--statistic-output", f"{kind}.stats.xml",
                      "--no-step-log"], cwd=tmp)
    stats = (tmp / f"{kind}.stats.xml").read_text()

    def num(pat: str) -> int:
        m = re.search(pat, stats)
        assert m is not None, pat
        return int(m.group(1))

    return (num(r'collisions="(\d+)"'), num(r'<vehicles loaded="(\d+)"'),
            num(r'<vehicles [^>]*running="(\d+)"'), stats)


@pytest.mark.sumo
@pytest.mark.parametrize("kind", PHASINGS)
def test_each_phasing_runs_without_collision(tmp_path: Path, kind: str) -> None:
    """The small corridor of the fast tests: 2 signals, ~500 vehicles in 10 minutes."""
    from trafficsim.build import prepare_network

    base, _ = prepare_network(ts.load_scenario(DATA / "small_corridor.toml"), tmp_path / "n")
    _routes(read_network(base), tmp_path / "r.rou.xml", persons=False)
    collisions, loaded, running, stats = _run(tmp_path, base, kind)
    assert loaded > 300
    assert collisions == 0
    assert running == 0  # every vehicle arrived by the end
    assert 'total="0"' in stats  # and none was teleported out of a jam


@pytest.mark.sumo
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["two_stage", "split"])
def test_crossings_with_pedestrians_run_without_collision(nets: dict[str, Path], tmp_path: Path,
                                                         kind: str) -> None:
    net_file = nets["crossings"]
    _routes(read_network(net_file), tmp_path / "r.rou.xml", persons=True)
    collisions, loaded, running, _ = _run(tmp_path, net_file, kind)
    assert loaded > 100 and collisions == 0 and running == 0


# --------------------------------------------------------------------------------------------
# The parser on any table
# --------------------------------------------------------------------------------------------
_VALUES = st.recursive(
    st.sampled_from([*PHASINGS, "fixed", "webster", "actuated", "coordinated", "file", "ite",
                     "network", "J1", "J2", "ctrl", "", "*"])
    | st.integers(-5, 400) | st.floats(allow_nan=True) | st.booleans(),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["J1", "J2", "ctrl", "*", "W_J1", ""]), inner, max_size=3),
    max_leaves=6)


@pytest.mark.sumo
@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.dictionaries(st.sampled_from(["phasing", "control", "cycle_s", "intergreens",
                                              "tls", "flows_veh_h", "min_green_s"]),
                             _VALUES, max_size=5))
def test_signal_plan_parses_any_phasing_table(nets: dict[str, Path], table: dict) -> None:
    """Any table: problems are recorded or the measure checks and builds without raising."""
    from trafficsim.errors import Issue
    from trafficsim.measures import CaseDraft, parse_measure
    from trafficsim.network import net_index
    from trafficsim.spec import Fields

    path = nets["crossings"]
    issues: list[Issue] = []
    m = parse_measure(Fields({"type": "signal_plan", **table}, path, "m", issues))
    if m is None or issues:
        assert issues
        return
    net = net_index(path)
    problems = m.check(net, 0.0, 3600.0)
    if not problems:
        draft = CaseDraft(net=net, begin_s=0.0, end_s=3600.0, net_file=path)
        m.apply(draft)
        assert draft.additional


@pytest.mark.sumo
@pytest.mark.parametrize("kind", ["leading_left", "left_overlap"])
def test_protected_lefts_run_without_collision(nets: dict[str, Path], tmp_path: Path,
                                               kind: str) -> None:
    """sumo-rl's 2×2 grid has left-turn lanes of their own: protected lefts really run.

    (Lighter demand than the corridor's: the default equal greens of six stages give a left
    turn 9 s in 90 s.)"""
    if "sumo-rl:2x2grid" not in nets:
        pytest.skip(f"third-party SUMO models not present at {SHARED}")
    net_file = nets["sumo-rl:2x2grid"]
    net = read_network(net_file)
    assert all(kind in applicable(layout(net, t)) for t in _lights(net))
    _routes(net, tmp_path / "r.rou.xml", persons=False, probability=0.01)
    collisions, loaded, running, stats = _run(tmp_path, net_file, kind)
    assert loaded > 250 and collisions == 0 and running == 0 and 'total="0"' in stats

"""A plan differs from the baseline only by its measures: signal programs, offsets, speeds and
connections that no measure names are the baseline's, in every showcase plan.

Patching a network through ``netconvert`` used to rebuild the signal programs of the patched
junctions with netconvert's defaults (a 90-s cycle): the HOV showcase, whose cycle is 100 s,
ran its HOV plans on 90-s programs.  These tests compare the built plan networks with the
baseline's, traffic light by traffic light, on every showcase, with the showcases' own cycles and
with cycles netconvert would not choose, and on an imported network with hand-made programs.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import build_plan, check_signals, prepare_network
from trafficsim.cli import main
from trafficsim.errors import IntegrityError
from trafficsim.network import build_network
from trafficsim.scenario import CorridorSpec, GridSpec, NetFileSpec
from trafficsim.sumo import run_tool

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHOWCASES = sorted(SCENARIOS.glob("*.toml"))

Key = tuple[str, int, str, int]


@dataclasses.dataclass
class Net:
    """What a test compares: active programs, signal links, edges and connections."""

    active: dict[str, ET.Element]  # tls id → the program SUMO starts on (the last loaded)
    programs: dict[tuple[str, str], ET.Element]  # (tls id, programID) → program
    links: dict[str, dict[Key, int]]  # tls id → link → linkIndex
    speeds: dict[str, tuple[str, ...]]  # edge → its lanes' speeds
    connections: set[Key]


def read(net: Path) -> Net:
    root = ET.parse(net).getroot()
    programs = {(t.get("id", ""), t.get("programID", "")): t for t in root.iter("tlLogic")}
    active = {t.get("id", ""): t for t in root.iter("tlLogic")}
    links: dict[str, dict[Key, int]] = {}
    connections = set()
    for c in root.iter("connection"):
        key = (c.get("from", ""), int(c.get("fromLane", 0)), c.get("to", ""),
               int(c.get("toLane", 0)))
        if not key[0].startswith(":"):
            connections.add(key)
        if c.get("tl"):
            links.setdefault(c.get("tl", ""), {})[key] = int(c.get("linkIndex", -1))
    speeds = {e.get("id", ""): tuple(lane.get("speed", "") for lane in e.iter("lane"))
              for e in root.iter("edge") if e.get("function") is None}
    return Net(active, programs, links, speeds, connections)


def program_problems(tls: str, base: ET.Element, plan: ET.Element, base_links: dict[Key, int],
                     plan_links: dict[Key, int]) -> list[str]:
    """Differences between two programs of one traffic light; a link of both networks must
    show the same signal in every phase (each under its own linkIndex)."""
    out = []
    for attr in ("programID", "type", "offset"):
        if base.get(attr) != plan.get(attr):
            out.append(f"{tls}: {attr} {base.get(attr)} → {plan.get(attr)}")
    a, b = base.findall("phase"), plan.findall("phase")
    if [p.get("duration") for p in a] != [p.get("duration") for p in b]:
        out.append(f"{tls}: durations {[p.get('duration') for p in a]} → "
                   f"{[p.get('duration') for p in b]}")
        return out
    added = len(set(plan_links) - set(base_links))
    removed = len(set(base_links) - set(plan_links))  # a re-marked lane's (lane_use)
    for n, (pa, pb) in enumerate(zip(a, b, strict=True)):
        sa, sb = pa.get("state", ""), pb.get("state", "")
        if len(sb) - len(sa) != added - removed:  # only added/removed links change a state
            out.append(f"{tls} phase {n}: {sa} → {sb} with {added} added link(s)")
        for key, i in base_links.items():
            if key in plan_links and sa[i] != sb[plan_links[key]]:
                out.append(f"{tls} phase {n}: link {key} {sa[i]} → {sb[plan_links[key]]}")
    return out


def integrity_problems(scenario: ts.Scenario, out: Path) -> dict[str, list[str]]:
    """Build every plan of ``scenario`` under ``out``; plan → how it differs from the
    baseline in what its measures do not name.  Also returns the added links per plan under
    the key ``"added:PLAN"`` (to show the test is not vacuous)."""
    base_net, _ = prepare_network(scenario, out)
    base = read(base_net)
    result: dict[str, list[str]] = {}
    for plan in scenario.plans.values():
        draft = build_plan(scenario, plan, base_net, out)
        if any(m.kind == "signal_plan" for m in plan.measures):
            continue
        net = read(out / "cases" / plan.name / "net.net.xml")
        problems = []
        for tls, prog in base.active.items():
            if tls not in net.active:
                problems.append(f"{tls}: no program")
                continue
            problems += program_problems(tls, prog, net.active[tls], base.links.get(tls, {}),
                                         net.links.get(tls, {}))
        # a lane_use measure re-marks its approach: the connections from it are its own
        remarked = {m.group(1) for p in draft.connection_patches
                    if (m := re.search(r'from="([^"]+)"', p))}
        problems += [f"connection {c} lost" for c in base.connections - net.connections
                     if c[0] not in remarked]
        patched = {m.group(1): m.group(0) for p in draft.edge_patches
                   if (m := re.search(r'id="([^"]+)"', p))}
        problems += [f"edge {e}: speeds {v} → {net.speeds.get(e)}" for e, v in base.speeds.items()
                     if e not in patched and net.speeds.get(e) != v]
        result[plan.name] = problems
        result[f"added:{plan.name}"] = [str(k) for t in net.links
                                        for k in set(net.links[t]) - set(base.links.get(t, {}))]
    return result


def with_cycle(scenario: ts.Scenario, cycle_s: float | None) -> ts.Scenario:
    if cycle_s is None:
        return scenario
    assert isinstance(scenario.network, CorridorSpec | GridSpec)
    return dataclasses.replace(scenario, network=dataclasses.replace(scenario.network,
                                                                     cycle_s=cycle_s))


CASES = [pytest.param(path, cycle, id=f"{path.stem}-{cycle or 'own'}")
         for path in SHOWCASES for cycle in (None, 75.0, 110.0)
         if cycle is None or "[network.corridor]" in path.read_text()
         or "[network.grid]" in path.read_text()]


@pytest.mark.parametrize(("path", "cycle_s"), CASES)
def test_every_showcase_plan_runs_the_baselines_signals(path: Path, cycle_s: float | None,
                                                        tmp_path: Path) -> None:
    """Per traffic light, every plan's active program equals the baseline's (phases,
    durations, offset, type; a link of both networks shows the same signal), every base
    connection is kept and edges no measure names keep their speeds."""
    scenario = with_cycle(ts.load_scenario(path), cycle_s)
    result = integrity_problems(scenario, tmp_path)
    assert {p: v for p, v in result.items() if not p.startswith("added:") and v} == {}


def test_the_hov_showcase_keeps_its_100_s_cycle_on_the_added_lane(tmp_path: Path) -> None:
    """The defect as found: hov_arterial (cycle 100 s) ran its HOV plans on 90-s programs.
    The new lane's straight link gets the green of the through lane it was split from."""
    scenario = ts.load_scenario(SCENARIOS / "hov_arterial.toml")
    result = integrity_problems(scenario, tmp_path)
    assert result["hov2_new_lane"] == [] and result["hov2"] == []
    assert result["added:hov2_new_lane"]  # the lane really added links to the junctions
    net = read(tmp_path / "cases/hov2_new_lane/net.net.xml")
    j1 = net.active["J1"]
    assert [p.get("duration") for p in j1.findall("phase")] == ["46", "4", "46", "4"]
    new = net.links["J1"][("W_J1", 3, "J1_J2", 3)]
    through = net.links["J1"][("W_J1", 2, "J1_J2", 2)]
    assert [p.get("state")[new] for p in j1.findall("phase")] == \
        [p.get("state")[through] for p in j1.findall("phase")] == ["G", "y", "r", "r"]


HAND_MADE = """
name = "hand_made"
[simulation]
begin = "07:00"
end = "07:10"
seeds = [1]
[network]
file = "hand.net.xml"
[demand]
bin_minutes = 5
[[demand.flows]]
from = "W"
to = "E"
veh_per_hour = 600
[plans.hov_added]
[[plans.hov_added.measures]]
type = "hov_lane"
edges = ["W_J1", "J1_J2", "J2_E"]
add_lane = true
[plans.hov_kerb]
[[plans.hov_kerb.measures]]
type = "hov_lane"
edges = ["W_J1", "J1_J2", "J2_E"]
lane = 0
[plans.tidal]
[[plans.tidal.measures]]
type = "tidal_lane"
inbound = ["W_J1", "J1_J2", "J2_E"]
inbound_windows = [["07:00", "07:10"]]
"""


def hand_made_net(dest: Path) -> Path:
    """A two-junction corridor whose J1 has hand-made programs: the active one ('0', last in
    the file) with unequal greens and an offset, and an unused 'evening' program before it."""
    spec = CorridorSpec(intersections=2, spacing_m=300, lanes=2, speed_kmh=50,
                        side_streets=True, side_lanes=1, side_length_m=120,
                        side_speed_kmh=40, approach_length_m=300, cycle_s=90)
    text = build_network(spec, dest / "gen").read_text(encoding="utf-8")
    block = re.search(r'    <tlLogic id="J1".*?</tlLogic>\n', text, re.DOTALL).group(0)
    durations = iter(["37", "3", "53", "5"])
    hand = re.sub(r'duration="\d+"', lambda _: f'duration="{next(durations)}"', block)
    hand = hand.replace('offset="0"', 'offset="13"')
    evening = block.replace('programID="0"', 'programID="zz_evening"')
    net = dest / "hand.net.xml"
    net.write_text(text.replace(block, evening + hand), encoding="utf-8")
    return net


def test_hand_made_programs_of_an_imported_net_survive_lane_measures(tmp_path: Path) -> None:
    hand_made_net(tmp_path)
    (tmp_path / "hand.toml").write_text(HAND_MADE, encoding="utf-8")
    scenario = ts.load_scenario(tmp_path / "hand.toml")
    assert isinstance(scenario.network, NetFileSpec)
    result = integrity_problems(scenario, tmp_path / "out")
    assert {p: v for p, v in result.items() if not p.startswith("added:") and v} == {}
    assert result["added:hov_added"] and result["added:tidal"]
    for plan in ("hov_added", "hov_kerb", "tidal"):
        net = read(tmp_path / "out/cases" / plan / "net.net.xml")
        j1 = net.active["J1"]  # SUMO starts on the hand-made program, not 'evening'
        assert (j1.get("programID"), j1.get("offset")) == ("0", "13")
        assert [p.get("duration") for p in j1.findall("phase")] == ["37", "3", "53", "5"]
        assert ("J1", "zz_evening") in net.programs


def test_build_refuses_a_network_with_regenerated_programs(tmp_path: Path) -> None:
    """The check in build: netconvert's own patch (which rebuilds the programs with its
    90-s default) is refused with a clear error, and the CLI exits 1 without a traceback."""
    scenario = ts.load_scenario(SCENARIOS / "hov_arterial.toml")
    base_net, _ = prepare_network(scenario, tmp_path)
    build_plan(scenario, scenario.plans["hov2_new_lane"], base_net, tmp_path)
    plan_dir = tmp_path / "cases/hov2_new_lane"
    run_tool("netconvert", ["-s", str(base_net), "-e", "patch.edg.xml", "-x", "patch.con.xml",
                            "-o", "raw.net.xml"], cwd=plan_dir)
    with pytest.raises(IntegrityError, match=r"(?s)plan 'hov2_new_lane'.*J1.*duration 46 became 41"
                       ) as info:
        check_signals(base_net, plan_dir / "raw.net.xml", "hov2_new_lane")
    assert "\n" in str(info.value)


def test_cli_exits_1_when_a_plan_network_would_change_the_signals(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the carry-over (the old mechanism), `run` refuses the plan: exit 1, no traceback."""
    import trafficsim.network as network

    monkeypatch.setattr(network, "carry_signals", lambda *_: False)
    hand_made_net(tmp_path)
    (tmp_path / "hand.toml").write_text(HAND_MADE, encoding="utf-8")
    code = main(["run", str(tmp_path / "hand.toml"), "--plan", "hov_added", "--seeds", "1",
                 "--quiet", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "plan 'hov_added'" in err and "J1" in err and "Traceback" not in err


def test_a_signal_plan_on_an_added_lane_fits_the_new_links(tmp_path: Path, capsys) -> None:
    """A measure's programs are derived from the base network; with an added lane in the same
    plan they are fitted to its links (SUMO refused them before: 'Mismatching phase size')."""
    hand_made_net(tmp_path)
    combo = HAND_MADE + ('[plans.actuated_hov]\n[[plans.actuated_hov.measures]]\n'
                         'type = "hov_lane"\nedges = ["W_J1", "J1_J2", "J2_E"]\nadd_lane = true\n'
                         '[[plans.actuated_hov.measures]]\ntype = "signal_plan"\n'
                         'control = "actuated"\n')
    (tmp_path / "hand.toml").write_text(combo, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "hand.toml"), "--plan", "actuated_hov", "--seeds", "1",
                 "--quiet", "--json", "--out", str(out)]) == 0
    assert '"actuated_hov"' in capsys.readouterr().out
    net = read(out / "cases/actuated_hov/net.net.xml")
    programs = ET.parse(out / "cases/actuated_hov/measures.add.xml").getroot()
    j1 = next(t for t in programs.iter("tlLogic") if t.get("id") == "J1")
    assert j1.get("type") == "actuated"
    new = net.links["J1"][("W_J1", 2, "J1_J2", 2)]  # the added lane's through link
    through = net.links["J1"][("W_J1", 1, "J1_J2", 1)]
    for phase in j1.iter("phase"):
        assert len(phase.get("state", "")) == len(net.links["J1"])
        assert phase.get("state", "")[new] == phase.get("state", "")[through]

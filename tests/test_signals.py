"""Signal plans: Webster against textbook numbers, tlLogic I/O checked on real SUMO runs."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import build_net
from trafficsim.signals import (
    DayPlan,
    read_edges,
    read_links,
    read_plan,
    read_plan_file,
    stage_flow_ratios,
    webster_cycle_s,
    webster_effective_greens_s,
    webster_program,
)
from trafficsim.sumo import run_tool


def test_webster_textbook_two_phase_example() -> None:
    """S. K. Khanna, C. E. G. Justo and A. Veeraragavan, *Highway Engineering* (Nem Chand & Bros,
    Roorkee), chapter "Traffic Engineering", worked example "design two phase traffic signal by
    Webster's method": normal flows 400 and 250 pcu/h on roads A and B, saturation flows 1250 and
    1000 pcu/h, all-red time for pedestrians 12 s, lost time 2 s per phase.  The book's solution:
    y_A = 0.32, y_B = 0.25, Y = 0.57, L = 2 × 2 + 12 = 16 s, C0 = (1.5 × 16 + 5) / (1 − 0.57)
    = 67.4 s (adopted 67.5 s), G_A = 0.32 / 0.57 × (67.5 − 16) = 28.9 s, G_B = 22.6 s.
    """
    y = [400 / 1250, 250 / 1000]
    assert y == pytest.approx([0.32, 0.25])
    lost_s = 2 * 2 + 12
    assert webster_cycle_s(y, lost_s) == pytest.approx(67.4, abs=0.05)
    g_a, g_b = webster_effective_greens_s(y, 67.5, lost_s)
    assert g_a == pytest.approx(28.9, abs=0.05)
    assert g_b == pytest.approx(22.6, abs=0.05)


def test_webster_exam_example_and_oversaturation() -> None:
    """GATE civil-engineering exam question (two-phase signal, straight-ahead traffic only):
    N–S 1000 veh/h at saturation 2500, E–W 900 at 3000, lost time 12 s per cycle → 77 s."""
    assert webster_cycle_s([1000 / 2500, 900 / 3000], 12) == pytest.approx(76.7, abs=0.05)
    assert webster_cycle_s([0.6, 0.45], 10) == float("inf")  # Y ≥ 1: no cycle suffices


@pytest.fixture
def cross(tmp_path: Path) -> Path:
    return build_net("cross", tmp_path)


def _states(path: Path) -> list[tuple[float, str, str]]:
    return [(float(e.get("time", 0)), e.get("programID", ""), e.get("state", ""))
            for e in ET.parse(path).getroot().iter("tlsState")]


def _run_with_plan(net: Path, plan_text: str, end_s: int,
                   routes: str | None = None) -> list[tuple[float, str, str]]:
    d = net.parent
    (d / "plan.add.xml").write_text(plan_text)
    (d / "save.add.xml").write_text('<additional><timedEvent type="SaveTLSStates" source="ctrl" '
                                    'dest="tls.xml"/></additional>')
    extra = []
    if routes is not None:
        (d / "demand.rou.xml").write_text(routes)
        extra = ["-r", "demand.rou.xml", "--seed", "1"]
    run_tool("sumo", ["-n", net.name, "-a", "plan.add.xml,save.add.xml", "-e", str(end_s),
                      "--no-step-log", "true", *extra], cwd=d)
    return _states(d / "tls.xml")


@pytest.mark.sumo
def test_tls_id_differs_from_junction_and_a_written_plan_becomes_active(cross: Path) -> None:
    plan = read_plan(cross)
    assert plan.tls_ids == ("ctrl",)  # the tlLogic id, not the junction id "C"
    prog = plan["ctrl"]
    assert prog.cycle_s == 90 and prog.greens_s == (42, 42) and prog.intergreens_s == (3, 3)
    links = read_links(cross)["ctrl"]
    assert {lk.from_edge for lk in links} == {"NC", "EC", "SC", "WC"}
    tuned = plan.with_program_id("trafficsim")
    tuned = type(plan)((tuned["ctrl"].with_greens([20, 50], offset_s=10),))
    states = _run_with_plan(cross, tuned.to_additional(), 300)
    assert {p for _, p, _ in states} == {"trafficsim"}
    # phase 0 (N–S green) starts at the offset and then every 76 s, lasting 20 s
    ns_green = [t for t, _, s in states if s == prog.phases[0].state]
    starts = [t for t in ns_green if t - 1 not in ns_green]
    assert starts[:3] == [10.0, 86.0, 162.0]
    assert all(t + 20 not in ns_green and t + 19 in ns_green for t in starts[:3])


@pytest.mark.sumo
def test_day_plan_switches_with_waut(cross: Path) -> None:
    base = read_plan(cross)["ctrl"]
    am = type(read_plan(cross))((base.with_greens([30, 30]),))
    pm = type(read_plan(cross))((base.with_greens([60, 10]),))
    states = _run_with_plan(cross, DayPlan(((0.0, am), (200.0, pm))).to_additional(), 400)
    assert {p for t, p, _ in states if t < 200} == {"tod0"}
    assert {p for t, p, _ in states if t >= 200} == {"tod1"}


@pytest.mark.sumo
def test_webster_program_on_a_network(cross: Path) -> None:
    """Heavier N–S flow gets the longer green; the cycle is Webster's for the lane flow ratios."""
    prog = read_plan(cross)["ctrl"]
    links = read_links(cross)["ctrl"]
    flows = {"NC_0": 900.0, "SC_0": 600.0, "EC_0": 500.0, "WC_0": 300.0}
    ys = stage_flow_ratios(prog, links, flows, 1800.0)
    assert ys == pytest.approx([900 / 1800, 500 / 1800])
    res = webster_program(prog, links, flows)
    assert res.lost_time_s == 6  # the two 3 s yellows
    assert res.cycle_s == round(webster_cycle_s(ys, 6))
    g_ns, g_ew = res.greens_s
    assert g_ns + g_ew + 6 == res.cycle_s
    assert g_ns / g_ew == pytest.approx(ys[0] / ys[1], rel=0.06)
    assert res.program.cycle_s == res.cycle_s


@pytest.mark.sumo
def test_plan_file_round_trip(cross: Path, tmp_path: Path) -> None:
    plan = read_plan(cross).with_program_id("x")
    path = plan.write(tmp_path / "p.add.xml")
    progs, elements = read_plan_file(path)
    assert progs[0] == plan.programs[0]
    assert elements[0].startswith("<tlLogic")
    assert read_plan(cross, [path])["ctrl"].program_id == "x"  # loaded last wins


@pytest.mark.sumo
def test_green_wave_offsets_follow_the_travel_time(tmp_path: Path) -> None:
    """Two signals 250 m apart on a 50 km/h main road: the downstream main-road green starts one
    free-flow travel time after the upstream one (mod the cycle), for the heavier direction."""
    import trafficsim as ts
    from tests.conftest import DATA
    from trafficsim.network import build_network
    from trafficsim.signals import green_wave_offsets, read_edges

    net = build_network(ts.load_scenario(DATA / "small_corridor.toml").network, tmp_path)
    plan = read_plan(net)
    edges = read_edges(net)
    flows = {"W_J1_0": 500.0, "J1_J2_0": 500.0, "E_J2_0": 100.0, "J2_J1_0": 100.0}
    offsets = green_wave_offsets(plan, read_links(net), edges, flows, 90.0)
    tt = edges["J1_J2"].length_m / edges["J1_J2"].speed_m_s
    assert 15 < tt < 20
    # the main road is served by phase 0 at both junctions: its green starts at the offset
    assert (offsets["J2"] - offsets["J1"]) % 90.0 == pytest.approx(tt, abs=1e-6)
    # unwrapped, the same wave holds modulo any cycle: the optimiser's offsets are measured from
    # it, so offset 0 stays on the wave while the search changes the cycle
    from trafficsim.optimise import Encoding
    from trafficsim.signals import two_way_cycles_s

    wave = green_wave_offsets(plan, read_links(net), edges, flows, None)
    assert wave["J2"] - wave["J1"] == pytest.approx(tt, abs=1e-6)
    enc = Encoding(plan, 20.0, 150.0, tuple(wave[p.tls_id] for p in plan.programs))
    j2 = [p.tls_id for p in plan.programs].index("J2")
    for cycle in (40.0, 60.0, 90.0):
        x = np.array([cycle] + [0.5] * (enc.dim - 1))
        x[-1] = 0.0
        p = enc.decode(x)
        assert p.programs[j2].offset_s == round(tt) % cycle
        assert enc.encode(p)[-1] == pytest.approx(0.0, abs=1 / cycle)  # round trip
    # both directions progress when twice the travel time is a multiple of the cycle
    assert two_way_cycles_s(plan, read_links(net), edges, flows, 10.0, 150.0) == [
        float(round(2 * tt / k)) for k in (1, 2, 3)]
    assert two_way_cycles_s(plan, read_links(net), edges, flows, 30.0, 150.0) == [
        float(round(2 * tt))]


@pytest.mark.sumo
def test_coordinated_actuated_keeps_the_force_off_and_returns_unused_side_time(cross: Path) -> None:
    """Main (N–S) green always ends at its fixed-time end; the sparse side street's green gaps
    out early or is skipped, never runs past its end + extension; the side is still served."""
    base = read_plan(cross)["ctrl"]
    fixed = type(read_plan(cross))((base.with_greens([40, 20], offset_s=10),))  # cycle 66
    plan = fixed.coordinated_actuated(read_links(cross), read_edges(cross), extension_s=4,
                                      max_gap_s=3)
    prog = plan["ctrl"]
    assert prog.kind == "actuated" and dict(prog.params)["coordinated"] == "true"
    assert prog.detectors and all(d[1] in ("EC_0", "WC_0") for d in prog.detectors)
    routes = ('<routes><flow id="ns" from="NC" to="CS" begin="0" end="1800" '
              'vehsPerHour="700"/><flow id="we" from="WC" to="CE" begin="0" end="1800" '
              'vehsPerHour="40"/></routes>')
    states = _run_with_plan(cross, plan.to_additional(), 1800, routes)
    main, side = base.phases[0].state, base.phases[2].state
    seq = [(t, s) for t, _, s in states]
    runs = []  # (state, start, duration) of each green
    for (t0, s0), (t1, _s1) in itertools.pairwise([(t, s) for k, (t, s) in enumerate(seq)
                                                   if k == 0 or s != seq[k - 1][1]]):
        runs.append((s0, t0, t1 - t0))
    main_ends = [t + d for s, t, d in runs if s == main and t > 0]
    sides = [d for s, t, d in runs if s == side and t > 0]
    assert main_ends and all((e - 10 - 40) % 66 == 0 for e in main_ends)  # the force-off
    assert sides and max(sides) <= 20 + 4 and min(sides) >= 5
    assert min(sides) < 20  # gapped out: the rest went back to N–S
    skipped = sum(1 for s, t, d in runs if s == main and d > 66)
    assert skipped > 0  # no car waiting at a force-off: N–S kept its green


def test_coordinated_control_never_skips_a_stage_that_serves_a_crossing() -> None:
    """Pedestrians on a crossing have no lane-area detector: their stage must not be skipped."""
    from trafficsim.signals import EdgeInfo, Link, Phase, Program, SignalPlan

    prog = Program("C", (Phase("GGrr", 40), Phase("yyrr", 3), Phase("rrGG", 15),
                         Phase("rryy", 3)))
    edges = {"WC": EdgeInfo("W", "C", 200.0, 13.9), "NC": EdgeInfo("N", "C", 200.0, 13.9)}
    cars = [Link(0, "WC", 0, "CE"), Link(1, "WC", 0, "CE"), Link(2, "NC", 0, "CS")]
    walk = [*cars, Link(3, ":C_w0", 0, ":C_c0")]
    plan = SignalPlan((prog,))
    assert plan.coordinated_actuated({"C": cars}, edges)["C"].detectors == (
        ("C_skip_NC_0", "NC_0", 100.0),)
    skip_free = plan.coordinated_actuated({"C": walk}, edges)["C"]
    assert skip_free.detectors == () and not any(p.next for p in skip_free.phases)

"""Lane use: re-marked lanes carry only their movements in SUMO, a pocket works, bad input is named."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import check_signals, prepare_network
from trafficsim.measures.lane_use import LaneUse
from trafficsim.netmodel import read_network
from trafficsim.network import net_index
from trafficsim.sumo import run_sumo, run_tool

# One signalised junction J1 on a 2+2-lane road; the west approach W_J1 serves today: lane 0
# right (J1_S1) and through, lane 1 through and left (J1_N1).  Two plans re-mark it: a dedicated
# left lane (the other lane through and right), and a 60-m left pocket with two through lanes.
SCENARIO = """
name = "lane_use_small"
[simulation]
begin = "07:00"
end = "07:15"
seeds = [1, 2]
[network.corridor]
intersections = 1
spacing_m = 300
lanes = 2
speed_kmh = 50
side_lanes = 1
side_length_m = 200
approach_length_m = 300
[demand]
bin_minutes = 5
[[demand.flows]]
from = "W"
to = "E"
veh_per_hour = 700
[[demand.flows]]
from = "W"
to = "N1"
veh_per_hour = 200
[[demand.flows]]
from = "W"
to = "S1"
veh_per_hour = 100
[[demand.flows]]
from = "E"
to = "W"
veh_per_hour = 400
[plans.baseline]
[plans.remark]
[[plans.remark.measures]]
type = "lane_use"
edge = "W_J1"
lanes = ["L", "TR"]
[plans.pocket]
[[plans.pocket.measures]]
type = "lane_use"
edge = "W_J1"
lanes = ["L", "T", "TR"]
pocket_m = 60
"""


@pytest.fixture(scope="module")
def lane_use(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    d = tmp_path_factory.mktemp("lane_use")
    (d / "lane_use.toml").write_text(SCENARIO)
    out = d / "out"
    return ts.compare(d / "lane_use.toml", out=out, progress=False, workers=2), out


def lanes_by_next_edge(case: Path, edge: str) -> dict[str, set[str]]:
    """Re-run a case with SUMO's FCD and vehicle routes: lane of ``edge`` → edges driven next.

    The lane is the one each vehicle was on when it left ``edge`` (its last position there).
    """
    run_sumo(case, seed=1, timeout_s=120, extra=["--fcd-output", "fcd.csv"])
    last_lane: dict[str, str] = {}
    with (case.parent / "fcd.csv").open() as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            lane = row.get("vehicle_lane") or ""
            if lane.rsplit("_", 1)[0] == edge:
                last_lane[row["vehicle_id"]] = lane
    nxt: dict[str, str] = {}
    for _, el in ET.iterparse(case.parent / "vehroutes.xml"):
        if el.tag == "vehicle" and (route := el.find("route")) is not None:
            edges = [e for e in route.get("edges", "").split() if not e.startswith(":")]
            if edge in edges[:-1]:
                nxt[el.get("id", "")] = edges[edges.index(edge) + 1]
    out: dict[str, set[str]] = {}
    for vid, lane in last_lane.items():
        if vid in nxt:
            out.setdefault(lane, set()).add(nxt[vid])
    return out


@pytest.mark.sumo
def test_re_marked_lanes_carry_only_their_movements(lane_use) -> None:
    """From SUMO's own trajectories: where each vehicle crossed the stop line, and where it
    went next.  Lists run from the median outwards: ["L", "TR"] is lane 1 left, lane 0 the rest."""
    _, out = lane_use
    base = lanes_by_next_edge(out / "cases/baseline/seed_1/case.sumocfg", "W_J1")
    assert base == {"W_J1_0": {"J1_E", "J1_S1"}, "W_J1_1": {"J1_E", "J1_N1"}}
    remark = lanes_by_next_edge(out / "cases/remark/seed_1/case.sumocfg", "W_J1")
    assert remark == {"W_J1_1": {"J1_N1"}, "W_J1_0": {"J1_E", "J1_S1"}}
    pocket = lanes_by_next_edge(out / "cases/pocket/seed_1/case.sumocfg", "W_J1")
    assert pocket == {"W_J1_2": {"J1_N1"}, "W_J1_1": {"J1_E"}, "W_J1_0": {"J1_E", "J1_S1"}}


@pytest.mark.sumo
def test_the_pocket_is_the_last_stretch_of_the_approach(lane_use) -> None:
    _, out = lane_use
    net = read_network(out / "cases/pocket/net.net.xml")
    pocket, up = net.edges["W_J1"], net.edges["W_J1.up"]
    assert len(pocket.lanes) == 3 and len(up.lanes) == 2
    # (pocket_m counts from the junction's centre: the lanes stop at its outline, and the
    # split leaves a short junction of its own)
    assert 45 < pocket.length_m <= 60
    base = read_network(out / "network/net.net.xml").edges["W_J1"]
    assert up.length_m + pocket.length_m == pytest.approx(base.length_m, abs=10)


@pytest.mark.sumo
def test_plans_keep_the_baselines_signals_and_every_route(lane_use) -> None:
    """The plan networks pass the integrity check (each new link shows the signal of its
    movement), and every vehicle of every plan arrives: no route was cut."""
    result, out = lane_use
    for plan in ("remark", "pocket"):
        check_signals(out / "network/net.net.xml", out / f"cases/{plan}/net.net.xml", plan)
        net = read_network(out / f"cases/{plan}/net.net.xml")
        states = {c.to_edge: c.link_index for c in net.connections if c.from_edge == "W_J1"}
        prog = net.programs[0]
        # the left turn keeps its permissive green, the through its green, in the same phases
        assert [p.state[states["J1_N1"]] for p in prog.phases] == ["g", "y", "r", "r"]
        assert [p.state[states["J1_E"]] for p in prog.phases] == ["G", "y", "r", "r"]
        for seed in result.seeds:
            run = result.run(plan, seed)
            assert run.health.teleports == 0
            assert run.metrics["not_inserted_veh"] == 0


@pytest.mark.sumo
def test_yardsticks_per_movement_and_the_pocket_cuts_the_left_turn_delay(lane_use) -> None:
    result, _ = lane_use
    key = LaneUse(edge="W_J1", lanes=()).label  # (the metric keys' prefix)
    for move in ("J1_E", "J1_N1", "J1_S1"):
        assert result.estimate("baseline", f"{key}_{move}_delay_s").mean > 0
        assert result.estimate("baseline", f"{key}_{move}_queue_veh").mean > 0
    # a pocket gives left-turners their own lane: they no longer wait behind the through queue
    left = result.estimate("pocket", f"{key}_J1_N1_delay_s").mean
    assert left < result.estimate("baseline", f"{key}_J1_N1_delay_s").mean
    # the dedicated left lane carries a fraction of what the through-and-right lane carries
    assert result.estimate("remark", f"{key}_balance_cv").mean > \
        result.estimate("baseline", f"{key}_balance_cv").mean
    assert result.estimate("pocket", f"{key}_pocket_blocked_s").mean >= 0
    from trafficsim.metrics import metric_info

    assert [m for m in result.metric_names if metric_info(m) is None] == []


BAD = [
    ('lanes = ["L", "TR"]', 'lanes = ["L", "T", "TR"]',
     "plans.remark.measures[0].lanes", "has 3 entries; edge 'W_J1' has 2 lanes"),
    ('lanes = ["L", "TR"]', 'lanes = ["L", "T"]',
     "plans.remark.measures[0].lanes", "right movement W_J1 → J1_S1 without a lane"),
    ('lanes = ["L", "TR"]', 'lanes = ["L", "TX"]',
     "plans.remark.measures[0].lanes[1]", "'X' is not a movement"),
    ('lanes = ["L", "TR"]', 'lanes = ["LU", "TR"]',
     "plans.remark.measures[0].lanes[0]", "no u-turn movement leaves 'W_J1'"),
    ('lanes = ["L", "T", "TR"]\npocket_m = 60', 'lanes = ["L", "TR"]\npocket_m = 60',
     "plans.pocket.measures[0].lanes", "(with the pocket: 2 + 1)"),
    ("pocket_m = 60", "pocket_m = 295",
     "plans.pocket.measures[0].pocket_m", "before the pocket"),
    ('edge = "W_J1"\nlanes = ["L", "TR"]', 'edge = "W_J9"\nlanes = ["L", "TR"]',
     "plans.remark.measures[0].edge", "edge 'W_J9' is not in the network"),
    # two measures re-marking one approach would overwrite each other's connection patches
    ('lanes = ["L", "TR"]\n', 'lanes = ["L", "TR"]\n[[plans.remark.measures]]\n'
     'type = "variable_lane"\nedge = "W_J1"\nlane_from_median = 0\n'
     'schedule = [{from = "07:00", to = "07:10", movement = "L"}]\n',
     "plans.remark.measures[1].edge", "measures[0] of this plan already re-marks"),
]


@pytest.mark.sumo
@pytest.mark.parametrize(("old", "new", "field", "text"), BAD)
def test_bad_lane_use_names_the_field(write, old: str, new: str, field: str, text: str) -> None:
    assert old in SCENARIO
    path = write("bad.toml", SCENARIO.replace(old, new))
    with pytest.raises(ts.ScenarioError) as info:
        prepare_network(ts.load_scenario(path), path.parent / "net")
    assert [i.field for i in info.value.issues] == [field]
    assert text in str(info.value)


@pytest.mark.sumo
def test_lane_list_runs_from_the_median_outwards(tmp_path: Path) -> None:
    """The first entry is SUMO's highest lane index (next to the centre line)."""
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    net, _ = prepare_network(ts.load_scenario(path), tmp_path / "net")
    m = LaneUse(edge="W_J1", lanes=("L", "TR"))
    assert sorted(m.links(net_index(net))) == [(0, "J1_E", 0), (0, "J1_S1", 0), (1, "J1_N1", 0)]


@pytest.mark.sumo
def test_sidewalks_are_not_marked_and_keep_their_place(tmp_path: Path) -> None:
    """On a network with sidewalks (lane 0 of every edge), the list names the car lanes only:
    ["L", "TR"] marks lanes 2 and 1, and the sidewalk keeps lane 0."""
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    net, _ = prepare_network(ts.load_scenario(path), tmp_path / "net")
    run_tool("netconvert", ["-s", str(net), "--sidewalks.guess", "true", "-o", "walk.net.xml",
                            "--no-warnings", "true"], cwd=tmp_path)
    walk = tmp_path / "walk.net.xml"
    assert read_network(walk).edges["W_J1"].lanes[0].allow == ("pedestrian",)
    text = SCENARIO.replace("[network.corridor]", "[network]\nfile = \"walk.net.xml\"\n"
                                                  "[ignored.corridor]")
    text = text[:text.index("[ignored.corridor]")] + text[text.index("[demand]"):]
    path.write_text(text)
    scenario = ts.load_scenario(path)
    base, index = prepare_network(scenario, tmp_path / "out")
    m = LaneUse(edge="W_J1", lanes=("L", "TR"))
    assert sorted(m.links(index)) == [(1, "J1_E", 1), (1, "J1_S1", 1), (2, "J1_N1", 1)]
    from trafficsim.build import build_plan

    for plan in ("remark", "pocket"):
        build_plan(scenario, scenario.plans[plan], base, tmp_path / "out")
        net_ = read_network(tmp_path / f"out/cases/{plan}/net.net.xml")
        assert net_.edges["W_J1"].lanes[0].allow == ("pedestrian",)
        car = {(c.from_lane, c.to_edge) for c in net_.connections
               if c.from_edge == "W_J1" and not c.to_edge.startswith(":")}
        top = 2 if plan == "remark" else 3
        assert (top, "J1_N1") in car and all(lane >= 1 for lane, _ in car), (plan, car)
    bad = text.replace('lanes = ["L", "TR"]', 'lanes = ["L", "T", "TR"]')
    path.write_text(bad)
    with pytest.raises(ts.ScenarioError, match="has 2 lanes open to cars"):
        prepare_network(ts.load_scenario(path), tmp_path / "bad")



# A pocket on J1_J2 (the approach to J2) splits it into J1_J2.up and J1_J2: a route file whose
# explicit routes enter J1_J2 from W_J1 would stop SUMO ("no valid route"); one whose routes
# start on J1_J2 still runs.
POCKET_ROUTES = SCENARIO.replace("intersections = 1", "intersections = 2").replace(
    'edge = "W_J1"\nlanes = ["L", "T", "TR"]', 'edge = "J1_J2"\nlanes = ["L", "T", "TR"]').replace(
    "[network.corridor]", '[network]\nroutes = ["r.rou.xml"]\n[network.corridor]')
ROUTES = """<routes>
  <vType id="pc" vClass="passenger"/>
  <flow id="f" type="pc" begin="25200" end="25800" number="40" departLane="best">
    <route edges="EDGES"/>
  </flow>
</routes>
"""


@pytest.mark.sumo
@pytest.mark.parametrize(("edges", "refused"), [("W_J1 J1_J2 J2_E", True), ("J1_J2 J2_E", False)])
def test_pocket_on_an_edge_explicit_routes_enter_is_refused(
        write, edges: str, refused: bool) -> None:
    """Refused naming pocket_m and the route file (it validated, then SUMO stopped the run
    with exit 1); routes that only start on the edge keep running on the split edge."""
    assert POCKET_ROUTES.count("J1_J2") == 1 and "routes = " in POCKET_ROUTES
    write("r.rou.xml", ROUTES.replace("EDGES", edges))
    path = write("s.toml", POCKET_ROUTES)
    if refused:
        with pytest.raises(ts.ScenarioError) as info:
            prepare_network(ts.load_scenario(path), path.parent / "net")
        assert [i.field for i in info.value.issues] == ["plans.pocket.measures[0].pocket_m"]
        assert "r.rou.xml" in str(info.value) and "J1_J2.up" in str(info.value)
        return
    run = ts.simulate(path, plan="pocket", seeds=[1], progress=False, workers=1).run("pocket", 1)
    assert run.metrics["not_inserted_veh"] == 0 and run.metrics["throughput_veh"] >= 40

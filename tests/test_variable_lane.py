"""Variable lane: physical facts on real SUMO runs, checked from SUMO's own vehicle positions."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.sumo import run_sumo, run_tool

# One signalised junction J.  The western approach W_J has three lanes, marked from the median
# outwards L | T | T+R; upstream of it A_W continues lane by lane.  The plan turns the middle
# lane (lane_from_median 1) into a variable lane: left 07:00–07:08 and 07:16–07:25, through
# otherwise, with a 90-s clearance before each switch.
NODES = """<nodes>
  <node id="A" x="-600" y="0" type="priority"/>
  <node id="W" x="-250" y="0" type="priority"/>
  <node id="J" x="0" y="0" type="traffic_light"/>
  <node id="E" x="300" y="0" type="priority"/>
  <node id="N" x="0" y="250" type="priority"/>
  <node id="S" x="0" y="-250" type="priority"/>
</nodes>
"""
EDGES = """<edges>
  <edge id="A_W" from="A" to="W" numLanes="3" speed="13.89"/>
  <edge id="W_J" from="W" to="J" numLanes="3" speed="13.89"/>
  <edge id="J_W" from="J" to="W" numLanes="2" speed="13.89"/>
  <edge id="W_A" from="W" to="A" numLanes="2" speed="13.89"/>
  <edge id="J_E" from="J" to="E" numLanes="2" speed="13.89"/>
  <edge id="E_J" from="E" to="J" numLanes="2" speed="13.89"/>
  <edge id="N_J" from="N" to="J" numLanes="1" speed="11.11"/>
  <edge id="J_N" from="J" to="N" numLanes="2" speed="11.11"/>
  <edge id="S_J" from="S" to="J" numLanes="1" speed="11.11"/>
  <edge id="J_S" from="J" to="S" numLanes="1" speed="11.11"/>
</edges>
"""
CONNECTIONS = """<connections>
  <connection from="W_J" to="J_N" fromLane="2" toLane="1"/>
  <connection from="W_J" to="J_E" fromLane="1" toLane="1"/>
  <connection from="W_J" to="J_E" fromLane="0" toLane="0"/>
  <connection from="W_J" to="J_S" fromLane="0" toLane="0"/>
</connections>
"""
SCENARIO = """
name = "varlane_small"
[simulation]
begin = "07:00"
end = "07:25"
seeds = [1, 2, 3]
[network]
file = "junction.net.xml"
[demand]
bin_minutes = 5
[[demand.flows]]
from = "A_W"
to = "J_E"
veh_per_hour = 650
[[demand.flows]]
from = "A_W"
to = "J_N"
veh_per_hour = 450
[[demand.flows]]
from = "A_W"
to = "J_S"
veh_per_hour = 60
[[demand.flows]]
from = "E_J"
to = "J_W"
veh_per_hour = 350
[[demand.flows]]
from = "N_J"
to = "J_S"
veh_per_hour = 80
[plans.variable]
[[plans.variable.measures]]
type = "variable_lane"
edge = "W_J"
lane_from_median = 1
schedule = [{from = "07:00", to = "07:08", movement = "L"},
            {from = "07:16", to = "07:25", movement = "L"}]
default = "T"
clearance_s = 90
"""
T0 = 7 * 3600
VARIABLE = "W_J_1"
TARGET = {"J_N": "L", "J_E": "T", "J_S": "R"}


def build_junction(dest: Path) -> Path:
    """Compile the junction's plain XML with netconvert (fixed-time signals)."""
    for name, text in (("j.nod.xml", NODES), ("j.edg.xml", EDGES), ("j.con.xml", CONNECTIONS)):
        (dest / name).write_text(text, encoding="utf-8")
    run_tool("netconvert", ["-n", "j.nod.xml", "-e", "j.edg.xml", "-x", "j.con.xml",
                            "-o", "junction.net.xml", "--no-turnarounds", "true",
                            "--tls.default-type", "static"], cwd=dest)
    return dest / "junction.net.xml"


def scheduled(t: float) -> str:
    """What the variable lane serves at time t: L, T or C (clearance, closed to new vehicles)."""
    s = t - T0
    if s < 390:
        return "L"
    if s < 480:
        return "C"
    if s < 870:
        return "T"
    return "C" if s < 960 else "L"


@pytest.fixture(scope="module")
def varlane(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    d = tmp_path_factory.mktemp("varlane")
    build_junction(d)
    (d / "varlane.toml").write_text(SCENARIO)
    out = d / "out"
    return ts.compare(d / "varlane.toml", out=out, progress=False, workers=2), out


@pytest.mark.sumo
def test_the_lane_carries_only_its_scheduled_movement(
        varlane: tuple[ts.Comparison, Path]) -> None:
    """Re-run one case with SUMO's FCD output and follow every vehicle second by second.

    Every vehicle that leaves the variable lane over the stop line makes the movement
    scheduled then (in a clearance: the movement of the period it ends), and nobody moves onto
    the lane while it is closed for a clearance.
    """
    _, out = varlane
    case = out / "cases/variable/seed_1/case.sumocfg"
    run_sumo(case, seed=1, timeout_s=120, extra=["--fcd-output", "fcd.csv"])
    last: dict[str, tuple[float, str]] = {}
    left_by: dict[str, int] = {"L": 0, "T": 0, "R": 0}
    with (case.parent / "fcd.csv").open() as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            t, veh, lane = float(row["timestep_time"]), row["vehicle_id"], row["vehicle_lane"]
            prev_t, prev = last.get(veh, (t, ""))
            if prev == VARIABLE and lane != VARIABLE and not lane.startswith("W_J"):
                # it crossed the stop line from the variable lane in the last second
                movement = (_movement_of(case.parent.parent / "net.net.xml", lane)
                             if lane.startswith(":") else TARGET[lane.rsplit("_", 1)[0]])
                s = scheduled(prev_t)
                expected = s if s != "C" else scheduled(prev_t - 90.0)
                assert movement == expected, (veh, prev_t, lane, s)
                left_by[movement] += 1
            if lane == VARIABLE and prev != VARIABLE:
                assert scheduled(t) != "C", f"{veh} moved onto the lane at {t} in a clearance"
            last[veh] = (t, lane)
    # both movements really used the lane in their periods
    assert left_by["L"] > 40 and left_by["T"] > 20, left_by
    # the re-run rewrote the lane data: the same seed gives the same yardsticks, bit for bit
    result, _ = varlane
    measure = result.scenario.plans["variable"].measures[0]
    again = {**measure.observed_metrics(case.parent), **measure.metrics(case.parent)}
    first = result.run("variable", 1).metrics
    assert len(again) == 11
    assert all(v == first[k] or (math.isnan(v) and math.isnan(first[k]))
               for k, v in again.items())


def _movement_of(net: Path, via: str) -> str:
    from trafficsim.netmodel import read_network

    c = next(c for c in read_network(net).connections if c.via == via)
    return TARGET[c.to_edge]


@pytest.mark.sumo
def test_no_route_is_cut_and_nobody_is_stranded(varlane: tuple[ts.Comparison, Path]) -> None:
    """Every vehicle inserted completes its trip or is still on its way; no teleports; SUMO's
    own lane data agree that no vehicle used a closed link."""
    import xml.etree.ElementTree as ET

    result, _ = varlane
    for seed in result.seeds:
        run = result.run("variable", seed)
        assert run.health.teleports == 0
        assert run.metrics["varlane_W_J_wrong_movement_veh"] == 0
        assert 0.2 < run.metrics["varlane_W_J_lane_share"] < 0.8
        assert run.metrics["not_inserted_veh"] == 0
        # each finished trip ended at its own destination, none was removed, and the switches
        # re-routed nobody (SUMO counts the routing of a trip at insertion as in the baseline)
        dest = {t.get("id"): t.get("to")
                for t in ET.parse(run.case_dir / "routes.rou.xml").getroot().iter("trip")}
        trips = _tripinfo(run.case_dir)
        base = _tripinfo(result.run("baseline", seed).case_dir)
        finished = [t for t in trips.values() if float(t["tripinfo_arrival"]) >= 0]
        assert len(finished) > 0.8 * len(trips)
        for t in finished:
            assert t["tripinfo_arrivalLane"].rsplit("_", 1)[0] == dest[t["tripinfo_id"]]
            assert not t["tripinfo_vaporized"]
            assert t["tripinfo_rerouteNo"] == base[t["tripinfo_id"]]["tripinfo_rerouteNo"]


def _tripinfo(run_dir: Path) -> dict[str, dict[str, str]]:
    with (run_dir / "tripinfo.csv").open() as fh:
        return {r["tripinfo_id"]: r for r in csv.DictReader(fh, delimiter=";")}


@pytest.mark.sumo
def test_left_turns_gain_in_the_left_periods_and_through_traffic_pays(
        varlane: tuple[ts.Comparison, Path]) -> None:
    """With two left lanes instead of one, left-turn delay drops in every seed in both left
    periods, and through traffic (one lane fewer then) waits longer; the baseline is measured
    on the same yardstick."""
    result, _ = varlane
    for seed in result.seeds:
        base, plan = result.run("baseline", seed).metrics, result.run("variable", seed).metrics
        for period in ("0700_0708", "0716_0725"):
            key = f"varlane_W_J_left_delay_{period}_s"
            assert plan[key] < base[key], (seed, key)
        key = "varlane_W_J_through_delay_0700_0708_s"
        assert plan[key] > base[key], (seed, key)
    assert result.estimate("baseline", "varlane_W_J_through_delay_default_s").mean > 0


@pytest.mark.sumo
def test_the_new_link_turns_on_the_left_turn_signal(varlane: tuple[ts.Comparison, Path]) -> None:
    """The variable lane's added left-turn link shows, in every phase, the signal of the
    approach's left turn beside it; the through link it had keeps its own."""
    from trafficsim.network import read_signals

    _, out = varlane
    programs, links = read_signals(out / "cases/variable/net.net.xml")
    j = links["J"]
    new, old_left = j[("W_J", 1, "J_N", 0)], j[("W_J", 2, "J_N", 1)]
    through, own_through = j[("W_J", 0, "J_E", 0)], j[("W_J", 1, "J_E", 1)]
    states = [ph.get("state", "") for ph in programs[0].iter("phase")]
    assert [s[new] for s in states] == [s[old_left] for s in states]
    assert [s[own_through] for s in states] == [s[through] for s in states]
    assert any(s[new] in "Gg" for s in states)


@pytest.mark.sumo
def test_a_placeholder_for_a_missing_link_is_refused(tmp_path: Path) -> None:
    from trafficsim.errors import IntegrityError
    from trafficsim.measures.base import via_edges, via_lane
    from trafficsim.network import resolve_vias

    net = build_junction(tmp_path)
    out = resolve_vias(net, [f'<x id="{via_lane("W_J", 2, "J_N", 1)}" e="{via_edges("W_J")}"/>'])
    assert out[0].startswith('<x id=":J_') and out[0].count(":J_") >= 4
    with pytest.raises(IntegrityError, match="W_J_1 → J_N_0"):
        resolve_vias(net, [via_lane("W_J", 1, "J_N", 0)])


@pytest.mark.sumo
def test_report_draws_the_measured_delays_per_movement_and_period(
        varlane: tuple[ts.Comparison, Path]) -> None:
    """The variable-lane section: one panel per period (two left periods, then the rest), and
    each bar is a metrics.json mean."""
    import json

    from trafficsim.report import all_sections, load_folder

    _, out = varlane
    doc = json.loads((out / "metrics.json").read_text())
    section = next(f for _, t, f in all_sections()
                   if t == "Variable lane: delay per movement and period")
    fig, note = section(load_folder(out))
    assert "same approach and periods" in note
    assert [ax.get_title() for ax in fig.axes] == ["07:00–07:08 [s]", "07:16–07:25 [s]",
                                                   "outside the schedule [s]"]
    for bar in fig.axes[1].patches:
        metric = bar.get_gid()
        assert metric.startswith("varlane_W_J_") and metric.endswith("_delay_0716_0725_s")
    heights = [b.get_height() for b in fig.axes[1].patches
               if b.get_gid() == "varlane_W_J_left_delay_0716_0725_s"]
    assert heights == pytest.approx([doc["plans"][p]["varlane_W_J_left_delay_0716_0725_s"]["mean"]
                                     for p in ("baseline", "variable")])


def test_the_schedule_carves_clearances_only_where_a_movement_is_withdrawn() -> None:
    from trafficsim.measures.variable_lane import Segment, VariableLane

    m = VariableLane(edge="W_J", lane_from_median=1,
                     schedule=((T0, T0 + 480, "L"), (T0 + 960, T0 + 1500, "LT")),
                     default="T", clearance_s=90)
    assert m.timeline(T0, T0 + 1500, "T") == [
        Segment(T0, T0 + 390, "L", "L", 0), Segment(T0 + 390, T0 + 480, "C", "L", 0),
        Segment(T0 + 480, T0 + 960, "T", "T", -1),  # T → LT adds: no clearance
        Segment(T0 + 960, T0 + 1500, "LT", "LT", 1)]
    with pytest.raises(ValueError, match="does not fit"):
        VariableLane(edge="W_J", lane_from_median=1, schedule=((T0 + 100, T0 + 160, "L"),),
                     default="T", clearance_s=90).timeline(T0, T0 + 1500, "T")


def test_every_metric_of_the_runs_is_declared(varlane) -> None:
    from trafficsim.metrics import metric_info

    assert [m for m in varlane[0].metric_names if metric_info(m) is None] == []


LANE = """edge = "W_J"
lane_from_median = 1
schedule = [{from = "07:00", to = "07:08", movement = "L"},
            {from = "07:16", to = "07:25", movement = "L"}]
default = "T"
clearance_s = 90"""
FIELD = "plans.variable.measures[0]."
BAD = [
    ('{from = "07:16", to = "07:25"', '{from = "07:05", to = "07:25"', "schedule[1]",
     "07:05–07:25 overlaps schedule[0] (07:00–07:08)"),
    ('to = "07:08", movement = "L"', 'to = "07:08", movement = "LX"', "schedule[0].movement",
     "'LX' is not a movement; expected letters L (left), T (through) and R (right)"),
    ('default = "T"', 'default = "U"', "default", "'U' is not a movement"),
    ('edge = "W_J"\nlane_from_median = 1', 'edge = "A_W"\nlane_from_median = 1',
     "schedule[0].movement schedule[1].movement",
     "no left movement leaves edge 'A_W' (its movements: T)"),
    ("lane_from_median = 1", "lane_from_median = 3", "lane_from_median",
     "edge 'W_J' has 3 lane(s), counted from the median 0..2"),
    ('edge = "W_J"', 'edge = "W_K"', "edge", "edge 'W_K' is not in the network"),
    ("clearance_s = 90", "clearance_s = 480", "clearance_s",
     "= 480 s does not fit: the 'L' period 07:00–07:08 is not longer than the clearance"),
    ('to = "07:08", movement = "L"', 'to = "07:08", movement = "R"', "schedule[0].movement",
     "the right movement of lane_from_median 1 would cross the through movement of "
     "lane_from_median 2"),
    ('to = "07:08", movement = "L"', 'to = "07:08", movement = "R"', "schedule[0].movement",
     "edge 'J_S' has no lane left for a right stream"),
    (LANE, 'edge = "W_J"\nlane_from_median = 2\ndefault = "TR"\n'
           'schedule = [{from = "07:00", to = "07:08", movement = "T"}]',
     "schedule[0].movement", "right traffic from edge 'W_J' would have no lane 07:00–07:08: "
     "only lane_from_median 2 serves it, and the lane serves 'T' then"),
    (LANE, 'edge = "W_J"\nlane_from_median = 2\nclearance_s = 60\n'
           'schedule = [{from = "07:05", to = "07:15", movement = "R"}]', "clearance_s",
     "right traffic from edge 'W_J' would have no lane 07:04–07:05: only lane_from_median 2 "
     "serves it, and the lane is closed for the clearance then; keep another lane for it "
     "(lane_use) or set clearance_s = 0"),
    ('{from = "07:16", to = "07:25", movement = "L"}', '{from = "07:25", to = "07:16", '
     'movement = "L"}', "schedule[1].to", "is not after from = 07:25"),
]


@pytest.mark.sumo
@pytest.mark.parametrize(("old", "new", "field", "text"), BAD)
def test_bad_variable_lane_names_the_field(tmp_path: Path, old: str, new: str, field: str,
                                           text: str) -> None:
    """``field``: the field(s) named, space-separated."""
    assert old in SCENARIO
    build_junction(tmp_path)
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace(old, new), encoding="utf-8")
    with pytest.raises(ts.ScenarioError) as info:
        prepare_network(ts.load_scenario(path), tmp_path / "net")
    assert {i.field for i in info.value.issues} == {FIELD + f for f in field.split()}
    assert text in str(info.value)

"""Kerb bays and kerb-stop demand: physical facts from SUMO's stop output on real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.outputs import read_stops

# A street with one lane each way past a school gate; parents stop at the gate.  Without a bay
# they stop in the lane (double parking); from 08:05 the plan opens a 3-space bay with a
# 90-second maximum stay (visits before 08:05 still stop in the lane).
SCENARIO = """
name = "gate_small"
[simulation]
begin = "08:00"
end = "08:30"
seeds = [1, 2, 3]
[network.corridor]
intersections = 2
spacing_m = 300
lanes = 1
speed_kmh = 50
side_streets = false
approach_length_m = 200
[demand]
bin_minutes = 5
[[demand.flows]]
from = "W"
to = "E"
veh_per_hour = 400
[[demand.flows]]
from = "E"
to = "W"
veh_per_hour = 200
[[demand.stops]]
id = "school"
from = "W"
to = "E"
edge = "J1_J2"
pos_m = 200
frontage_m = 40
veh_per_hour = 60
dwell = { mean_s = 60, sd_s = 40, min_s = 15, max_s = 600 }
[plans.bay]
[[plans.bay.measures]]
type = "school_bay"
edge = "J1_J2"
pos_m = 200
capacity = 3
max_stay_s = 90
windows = [["08:05", "08:30"]]
"""
WINDOW = (8 * 3600 + 300, 8 * 3600 + 1800)
#: Pulling out of the bay waits for a gap in the traffic: a stay may exceed the maximum by that.
PULL_OUT_S = 20


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    d = tmp_path_factory.mktemp("gate")
    (d / "gate.toml").write_text(SCENARIO)
    out = d / "out"
    return ts.compare(d / "gate.toml", out=out, progress=False, workers=2), out


def bay_stops(out: Path, seed: int) -> dict[str, np.ndarray]:
    stops = read_stops(out / f"cases/bay/seed_{seed}/stops.xml")
    mine = np.array([str(a).startswith("bay_") for a in stops["parkingArea"]], dtype=bool)
    return {k: v[mine] for k, v in stops.items()}


@pytest.mark.sumo
def test_bay_rules_hold_in_sumo_stop_output(gate: tuple[ts.Comparison, Path]) -> None:
    result, out = gate
    for seed in result.seeds:
        s = bay_stops(out, seed)
        assert len(s["id"]) >= 5  # the bay is really used
        # no stay exceeds the maximum, but for the wait for a gap to pull out into traffic
        stay = s["ended"] - s["started"]
        assert np.all(stay <= 90 + PULL_OUT_S), stay
        assert np.mean(stay <= 90 + 1) > 0.8
        # no bay is used outside its windows
        assert np.all((s["started"] >= WINDOW[0]) & (s["started"] < WINDOW[1]))
        # occupancy never exceeds capacity: count stays under way at every stop start
        for t in s["started"]:
            assert np.count_nonzero((s["started"] <= t) & (t < s["ended"])) <= 3
        run = result.run("bay", seed)
        assert run.metrics["bay_peak_occupancy_veh"] <= 3
        assert run.metrics["bay_outside_window_veh"] == 0
        assert run.metrics["bay_longest_stay_s"] == stay.max()
    # the bay fills up at times, so the capacity limit is really exercised
    assert max(result.values("bay", "bay_peak_occupancy_veh")) == 3


@pytest.mark.sumo
def test_without_a_bay_every_stop_blocks_the_travel_lane(gate: tuple[ts.Comparison, Path]
                                                         ) -> None:
    result, out = gate
    stops = read_stops(out / "cases/baseline/seed_1/stops.xml")
    assert len(stops["id"]) > 10
    assert set(stops["parking"]) == {0.0}  # all stood in the lane
    assert set(stops["lane"]) == {"J1_J2_0"}  # the kerb lane
    assert result.values("baseline", "dropoff_bay_share") == [0.0, 0.0, 0.0]
    # the same visits exist in both plans (common random numbers)
    base = (out / "cases/baseline/seed_1/vehicles.csv").read_text()
    assert base == (out / "cases/bay/seed_1/vehicles.csv").read_text()


@pytest.mark.sumo
def test_the_bay_cuts_through_traffic_delay_and_lane_blocking(
        gate: tuple[ts.Comparison, Path]) -> None:
    result, _ = gate
    through = result.difference("bay", "through_delay_s")
    assert through.ci95[1] < 0, through
    blocking = result.difference("bay", "lane_blocking_h")
    assert blocking.ci95[1] < 0, blocking
    assert result.estimate("bay", "dropoff_bay_share").mean > 0.5


BAD = [
    ("capacity = 3", "capacity = 0", "plans.bay.measures[0].capacity", "expected ≥ 1"),
    ('type = "school_bay"\nedge = "J1_J2"', 'type = "school_bay"\nedge = "J1_J7"',
     "plans.bay.measures[0].edge", "edge 'J1_J7' is not in the network"),
    ("max_stay_s = 90", "max_stay_s = 90\nlane = 1", "plans.bay.measures[0].lane",
     "lane 1 does not exist"),
    ('windows = [["08:05", "08:30"]]', 'windows = [["08:05", "08:20"], ["08:15", "08:25"]]',
     "plans.bay.measures[0].windows", "overlap"),
    ('windows = [["08:05", "08:30"]]', 'windows = [["08:05", "08:45"]]',
     "plans.bay.measures[0].windows[0]", "outside the simulation window 08:00–08:30"),
    ("capacity = 3", "capacity = 40", "plans.bay.measures[0].capacity",
     "needs 260 m of kerb"),
    ("max_stay_s = 90", "max_stay_s = 0", "plans.bay.measures[0].max_stay_s", "expected > 0"),
    ('id = "school"\nfrom = "W"\nto = "E"\nedge = "J1_J2"',
     'id = "school"\nfrom = "W"\nto = "E"\nedge = "J9_J2"',
     "demand.stops[0].edge", "edge 'J9_J2' is not in the network"),
    ("pos_m = 200\nfrontage_m = 40", "pos_m = 400\nfrontage_m = 40", "demand.stops[0].pos_m",
     "does not fit edge 'J1_J2'"),
    ("dwell = { mean_s = 60, sd_s = 40, min_s = 15, max_s = 600 }",
     "dwell = { mean_s = 900, sd_s = 40, min_s = 15, max_s = 600 }",
     "demand.stops[0].dwell.mean_s", "lies outside [min_s, max_s]"),
    ("dwell = { mean_s = 60, sd_s = 40, min_s = 15, max_s = 600 }",
     "dwell = { mean = 60 }", "demand.stops[0].dwell.mean_s", "is missing"),
]


@pytest.mark.sumo
@pytest.mark.parametrize(("old", "new", "field", "text"), BAD)
def test_bad_bay_or_stop_demand_names_the_field(write, old: str, new: str, field: str,
                                                text: str) -> None:
    assert old in SCENARIO
    path = write("bad.toml", SCENARIO.replace(old, new))
    with pytest.raises(ts.ScenarioError) as info:
        prepare_network(ts.load_scenario(path), path.parent / "net")
    assert field in [i.field for i in info.value.issues], info.value
    assert text in str(info.value)


@pytest.mark.sumo
def test_plotted_bay_occupancy_stays_within_capacity(gate: tuple[ts.Comparison, Path]) -> None:
    """The bay picture: one line per seed from the occupancy the measure sampled from SUMO's
    stop output; it never exceeds the capacity, reaches it at times, is zero outside the bay's
    window, and its in-window mean is the ``bay_mean_occupancy_veh`` metric."""
    from trafficsim import plots
    from trafficsim.report import all_sections, load_folder

    result, out = gate
    runs = plots.bay_occupancy_runs(out)
    assert list(runs) == ["bay"] and len(runs["bay"]) == len(result.seeds)
    fig = plots.bay_occupancy(runs)
    (ax,) = fig.axes
    seeds = [ln for ln in ax.lines if ln.get_label().startswith("seed_")]
    assert len(seeds) == len(result.seeds)
    cap = next(ln for ln in ax.lines if ln.get_gid() == "capacity").get_ydata()[0]
    assert cap == 3
    top = 0.0
    for line, seed in zip(seeds, result.seeds, strict=True):
        t, occ = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert np.all(occ <= cap) and np.all(occ >= 0)
        top = max(top, occ.max())
        inside = (t >= WINDOW[0]) & (t < WINDOW[1])
        assert np.all(occ[~inside] == 0)
        assert occ[inside].mean() == pytest.approx(
            result.run("bay", seed).metrics["bay_mean_occupancy_veh"])
        # each sample agrees with SUMO's stop output directly
        s = bay_stops(out, seed)
        for ti, o in zip(t, occ, strict=True):
            assert o == np.count_nonzero((s["started"] <= ti) & (ti < s["ended"]))
    assert top == cap
    fn = next(f for _, t, f in all_sections() if t == "Kerb bays: occupancy")
    assert len(fn(load_folder(out))) == 1


def test_occupancy_picture_leaves_out_the_idle_hours_between_windows() -> None:
    from trafficsim.plots import _busy_spans

    t = np.arange(8 * 3600, 16 * 3600, 60.0)
    busy = ((t >= 8 * 3600 + 600) & (t < 9 * 3600)) | ((t >= 15 * 3600) & (t < 15.5 * 3600))
    spans = _busy_spans(t, busy, 1800.0, 60.0)
    assert spans == [(8 * 3600, 9 * 3600 + 450), (15 * 3600 - 450, 16 * 3600)]
    assert _busy_spans(t, np.zeros(len(t), dtype=bool), 1800.0, 60.0) == [(8 * 3600, 16 * 3600)]


@pytest.mark.sumo
def test_two_bays_in_one_plan_keep_their_own_metrics_and_pictures(tmp_path: Path) -> None:
    """A school gate and a clinic gate on one street: each bay's use is counted from SUMO's stop
    output under its own id (``BAYID:key``), never as one bare number, and each gets its row
    of the occupancy picture."""
    from trafficsim import plots

    two = SCENARIO.replace("[plans.bay]", """[[demand.stops]]
id = "clinic"
from = "W"
to = "E"
edge = "J1_J2"
pos_m = 90
frontage_m = 30
veh_per_hour = 30
dwell = { mean_s = 60, sd_s = 30, min_s = 15, max_s = 300 }
[plans.bay]""") + """
[[plans.bay.measures]]
type = "hospital_bay"
edge = "J1_J2"
pos_m = 90
capacity = 2
max_stay_s = 120
windows = [["08:00", "08:30"]]
"""
    (tmp_path / "two.toml").write_text(two)
    result = ts.compare(tmp_path / "two.toml", seeds=[1], out=tmp_path / "out", progress=False)
    m = result.run("bay", 1).metrics
    assert "bay_uses_veh" not in m
    stops = read_stops(tmp_path / "out/cases/bay/seed_1/stops.xml")
    bays = sorted({str(a) for a in stops["parkingArea"] if str(a).startswith("bay_")})
    assert len(bays) == 2
    assert sorted(k.split(":")[0] for k in m if k.endswith(":bay_uses_veh")) == bays
    for bay in bays:
        used = sum(1 for a in stops["parkingArea"] if a == bay)
        assert used > 0 and m[f"{bay}:bay_uses_veh"] == used
    runs = plots.bay_occupancy_runs(tmp_path / "out")
    assert sorted(runs) == [f"bay · {b}" for b in bays]
    assert len(plots.bay_occupancy(runs).axes) == 2


def test_every_metric_of_the_runs_is_declared(gate) -> None:
    """The measure declares each key it reports (unit, which way is better), so the CLI, the
    report and the regression check can judge it."""
    from trafficsim.metrics import metric_info

    assert [m for m in gate[0].metric_names if metric_info(m) is None] == []

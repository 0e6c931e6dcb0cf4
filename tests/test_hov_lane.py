"""HOV lane: physical facts on real SUMO runs, checked from SUMO's own outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.sumo import run_sumo

# A congested two-lane arterial (per direction) with a bus route and carpools.  ``hov`` turns
# the kerb lane into an HOV 2+ lane from 07:05; ``hov_added`` builds a new lane for them.
SCENARIO = """
name = "hov_small"
[simulation]
begin = "07:00"
end = "07:25"
seeds = [1, 2, 3]
[network.corridor]
intersections = 2
spacing_m = 300
lanes = 2
speed_kmh = 50
side_length_m = 120
approach_length_m = 800
[demand]
bin_minutes = 5
bus_occupancy = 50
[demand.mix]
car = 0.95
bus = 0.05
[demand.occupancy]
1 = 0.75
2 = 0.20
3 = 0.05
[[demand.flows]]
from = "W"
to = "E"
veh_per_hour = 1500
[[demand.flows]]
from = "E"
to = "W"
veh_per_hour = 300
[[demand.flows]]
from = "W"
to = "S1"
veh_per_hour = 60
[plans.hov]
[[plans.hov.measures]]
type = "hov_lane"
edges = ["W_J1", "J1_J2", "J2_E"]
lane = 0
min_occupancy = 2
eligible = ["bus"]
windows = [["07:05", "07:25"]]
[plans.hov_added]
[[plans.hov_added.measures]]
type = "hov_lane"
edges = ["W_J1", "J1_J2", "J2_E"]
add_lane = true
windows = [["07:05", "07:25"]]
"""
ROAD = ("W_J1", "J1_J2", "J2_E")
WINDOW = (7 * 3600 + 300, 7 * 3600 + 1500)


@pytest.fixture(scope="module")
def hov(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    d = tmp_path_factory.mktemp("hov")
    (d / "hov.toml").write_text(SCENARIO)
    out = d / "out"
    return ts.compare(d / "hov.toml", out=out, progress=False, workers=2), out


def fcd_rows(case: Path) -> list[dict[str, str]]:
    """Re-run a case with SUMO's FCD output: every vehicle's lane and type at every second."""
    run_sumo(case, seed=1, timeout_s=120, extra=["--fcd-output", "fcd.csv"])
    with (case.parent / "fcd.csv").open() as fh:
        return list(csv.DictReader(fh, delimiter=";"))


@pytest.mark.sumo
def test_no_single_occupant_vehicle_on_the_hov_lane_in_its_hours(
        hov: tuple[ts.Comparison, Path]) -> None:
    result, out = hov
    rows = fcd_rows(out / "cases/hov/seed_1/case.sumocfg")
    hov_lanes = {f"{e}_0" for e in ROAD}
    inside, before = set(), set()
    for r in rows:
        if r["vehicle_lane"] not in hov_lanes:
            continue
        t = float(r["timestep_time"])
        if WINDOW[0] <= t < WINDOW[1]:
            inside.add(r["vehicle_type"])
            assert r["vehicle_type"] in ("car_hov", "bus"), r
        elif t < WINDOW[0] - 120:
            before.add(r["vehicle_type"])
    assert inside == {"car_hov", "bus"}  # carpools and buses do use it
    assert "car" in before  # outside its hours it is a general lane
    # SUMO's lane data agrees (the measure's own violation count), in every seed
    assert result.values("hov", "hov_violations_veh_s") == [0.0, 0.0, 0.0]


@pytest.mark.sumo
def test_carpools_qualify_by_occupancy(hov: tuple[ts.Comparison, Path]) -> None:
    _, out = hov
    run = out / "cases/hov/seed_1"
    with (run / "vehicles.csv").open() as fh:
        occupancy = {r["id"]: int(r["occupancy"]) for r in csv.DictReader(fh, delimiter=";")}
    with (run / "tripinfo.csv").open() as fh:
        vtype = {r["tripinfo_id"]: r["tripinfo_vType"] for r in csv.DictReader(fh, delimiter=";")}
    for vid, t in vtype.items():
        if t in ("car", "car_hov"):
            assert (t == "car_hov") == (occupancy[vid] >= 2), vid


@pytest.mark.sumo
def test_an_added_hov_lane_is_the_innermost_and_kept_clear(
        hov: tuple[ts.Comparison, Path]) -> None:
    _, out = hov
    rows = fcd_rows(out / "cases/hov_added/seed_1/case.sumocfg")
    used: dict[str, int] = {}  # vehicle type → vehicle-seconds on the new lane in its hours
    for r in rows:
        t = float(r["timestep_time"])
        if r["vehicle_lane"] in {f"{e}_2" for e in ROAD} and WINDOW[0] <= t < WINDOW[1]:
            assert r["vehicle_type"] in ("car_hov", "bus"), r
            used[r["vehicle_type"]] = used.get(r["vehicle_type"], 0) + 1
    # kept clear of others, not merely unused: carpools drive on it, on every edge of the road
    assert used.get("car_hov", 0) > 60, used
    on_edges = {r["vehicle_lane"].rsplit("_", 1)[0] for r in rows
                if r["vehicle_lane"] in {f"{e}_2" for e in ROAD}}
    assert on_edges == set(ROAD)


@pytest.mark.sumo
def test_person_delay_and_vehicle_delay_are_both_compared(
        hov: tuple[ts.Comparison, Path]) -> None:
    result, _ = hov
    # A new lane for carpools and buses: people gain significantly, HOVs most of all.
    person = result.difference("hov_added", "person_delay_s")
    assert person.ci95[1] < 0, person
    hov_gain = result.difference("hov_added", "hov_travel_time_s").diff
    assert hov_gain < result.difference("hov_added", "non_hov_travel_time_s").diff
    # Taking a general lane instead: vehicles lose significantly (single-occupant cars queue
    # in one lane), while the HOVs' own travel time does not get worse.
    vehicle = result.difference("hov", "mean_delay_s")
    assert vehicle.ci95[0] > 0, vehicle
    assert result.difference("hov", "non_hov_delay_s").ci95[0] > 0
    assert result.difference("hov", "hov_travel_time_s").diff < 0
    # both yardsticks reach the JSON document with their paired differences
    doc = result.to_dict()
    for plan in ("hov", "hov_added"):
        for m in ("person_delay_s", "mean_delay_s", "person_throughput", "hov_travel_time_s",
                  "non_hov_travel_time_s"):
            assert doc["vs_baseline"][plan][m]["diff"] is not None


BAD = [
    ("lane = 0", "lane = 2", "plans.hov.measures[0].lane",
     "edge 'W_J1' has 2 lane(s), indices 0..1; lane 2 does not exist"),
    ('edges = ["W_J1", "J1_J2", "J2_E"]\nlane = 0', 'edges = ["W_J1", "J1_J3", "J2_E"]\nlane = 0',
     "plans.hov.measures[0].edges[1]", "edge 'J1_J3' is not in the network"),
    ('windows = [["07:05", "07:25"]]\n[plans.hov_added]',
     'windows = [["07:05", "07:30"]]\n[plans.hov_added]',
     "plans.hov.measures[0].windows[0]", "outside the simulation window 07:00–07:25"),
    ('windows = [["07:05", "07:25"]]\n[plans.hov_added]',
     'windows = [["07:05", "07:20"], ["07:15", "07:25"]]\n[plans.hov_added]',
     "plans.hov.measures[0].windows", "overlap"),
    ("min_occupancy = 2", "min_occupancy = 1", "plans.hov.measures[0].min_occupancy",
     "expected ≥ 2"),
    ('eligible = ["bus"]', 'eligible = ["buss"]', "plans.hov.measures[0].eligible[0]",
     "Did you mean 'bus'?"),
    ("add_lane = true", "add_lane = true\nlane = 1", "plans.hov_added.measures[0].lane",
     "cannot be given with add_lane"),
]


@pytest.mark.sumo
@pytest.mark.parametrize(("old", "new", "field", "text"), BAD)
def test_bad_hov_lane_names_the_field(write, old: str, new: str, field: str, text: str) -> None:
    assert old in SCENARIO
    path = write("bad.toml", SCENARIO.replace(old, new))
    with pytest.raises(ts.ScenarioError) as info:
        prepare_network(ts.load_scenario(path), path.parent / "net")
    assert [i.field for i in info.value.issues] == [field]
    assert text in str(info.value)


@pytest.mark.sumo
def test_person_vehicle_plot_draws_the_measured_means(hov: tuple[ts.Comparison, Path]) -> None:
    """The HOV picture and report section: plotted bars are the metrics.json means, and the
    error bars their 95% CIs; person delay and vehicle delay are both there for every plan."""
    import json

    from trafficsim import plots
    from trafficsim.report import all_sections, load_folder

    _, out = hov
    doc = json.loads((out / "metrics.json").read_text())
    plans = list(doc["plans"])
    fig = plots.person_vehicle(doc)
    assert len(fig.axes) == 3
    for ax, (_, pairs) in zip(fig.axes, plots.PERSON_PANELS, strict=True):
        for metric, _label in pairs:
            heights = [b.get_height() for b in ax.patches if b.get_gid() == metric]
            assert heights == pytest.approx([doc["plans"][p][metric]["mean"] for p in plans])
    # the error bars span the CIs (caps sit at the interval ends)
    ax = fig.axes[0]
    caps = sorted(y for line in ax.lines for y in line.get_ydata())
    for p in plans:
        lo, hi = doc["plans"][p]["person_delay_s"]["ci95"]
        assert any(abs(c - lo) < 1e-6 for c in caps) and any(abs(c - hi) < 1e-6 for c in caps)
    fn = next(f for _, t, f in all_sections() if t == "HOV lane: people and vehicles")
    assert len(fn(load_folder(out))) == 2


def test_every_vehicle_kind_has_a_class_and_electric_vans_do_not_qualify() -> None:
    """The HOV check counts every non-qualifying kind on the lane, electric vans included."""
    from trafficsim.measures.hov_lane import KIND_CLASS
    from trafficsim.vtypes import VEHICLE_KINDS

    assert set(KIND_CLASS) == set(VEHICLE_KINDS)
    assert KIND_CLASS["delivery_ev"] == "delivery"


def test_every_metric_of_the_runs_is_declared(hov) -> None:
    """The measure declares each key it reports (unit, which way is better), so the CLI, the
    report and the regression check can judge it."""
    from trafficsim.metrics import metric_info

    assert [m for m in hov[0].metric_names if metric_info(m) is None] == []

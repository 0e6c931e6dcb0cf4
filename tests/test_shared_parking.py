"""Staggered shared parking, checked on real SUMO runs of the showcase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.cli import main
from trafficsim.measures.shared_parking import occupancy_profile
from trafficsim.outputs import read_stops

ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = ROOT / "scenarios" / "shared_parking.toml"
CAPACITY = {"pa_homes": 60, "pa_clinic": 60}


@pytest.fixture(scope="module")
def showcase_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    out = tmp_path_factory.mktemp("parking") / "out"
    return ts.compare(SHOWCASE, seeds=[1], out=out, workers=2, progress=False), out


@pytest.mark.sumo
def test_occupancy_never_exceeds_capacity(showcase_run) -> None:
    """At every moment a car enters a car park (SUMO's stop output), the cars parked there at
    that moment, itself included, fit its capacity; and the car parks do fill up."""
    result, out = showcase_run
    for plan in ("baseline", "shared"):
        stops = read_stops(out / "cases" / plan / "seed_1" / "stops.xml")
        end = result.scenario.end_s
        for lot, cap in CAPACITY.items():
            m = stops["parkingArea"] == lot
            occ = occupancy_profile(stops, lot, stops["started"][m], end)
            assert occ.max() <= cap, (plan, lot)
            assert occ.max() == cap, (plan, lot)  # full at some point: the check has teeth
        run = result.run(plan, 1)
        assert run.metrics["parking_homes_peak_occupancy_pct"] <= 100.0
        assert run.metrics["parking_clinic_peak_occupancy_pct"] <= 100.0
        assert run.health.teleports == 0


@pytest.mark.sumo
def test_sharing_reduces_unserved_demand_on_the_showcase(showcase_run) -> None:
    result, out = showcase_run
    base, shared = result.run("baseline", 1), result.run("shared", 1)
    assert base.metrics["parking_demand_veh"] == shared.metrics["parking_demand_veh"] > 300
    assert base.metrics["parking_unserved_veh"] > 50
    assert shared.metrics["parking_unserved_veh"] < 0.5 * base.metrics["parking_unserved_veh"]
    assert shared.metrics["parking_search_time_s"] < base.metrics["parking_search_time_s"]
    # idle residential spaces are used in the day: the car park is busier on average
    assert (shared.metrics["parking_homes_mean_occupancy_pct"]
            > base.metrics["parking_homes_mean_occupancy_pct"] + 10)
    # in the baseline, clinic users never park at the homes and vice versa
    stops = read_stops(out / "cases" / "baseline" / "seed_1" / "stops.xml")
    for vid, lot in zip(stops["id"], stops["parkingArea"], strict=True):
        own = "pa_homes" if str(vid).startswith("park_residents") else "pa_clinic"
        assert lot in (own, "pa_overflow"), (vid, lot)
    # with sharing, clinic users park at the homes only inside 08:00–18:00
    stops = read_stops(out / "cases" / "shared" / "seed_1" / "stops.xml")
    guests = [(float(t)) for vid, lot, t in zip(stops["id"], stops["parkingArea"],
                                                 stops["started"], strict=True)
              if lot == "pa_homes" and not str(vid).startswith("park_residents")]
    assert guests and all(8 * 3600 <= t < 18 * 3600 for t in guests)


def test_occupancy_profile_counts_open_stops_until_the_end() -> None:
    stops = {"parkingArea": np.array(["a", "a", "b"], dtype=object),
             "started": np.array([10.0, 20.0, 15.0]), "ended": np.array([30.0, -1.0, 40.0])}
    occ = occupancy_profile(stops, "a", np.array([0.0, 10.0, 25.0, 30.0, 99.0]), end_s=100.0)
    assert occ.tolist() == [0, 1, 2, 1, 1]


@pytest.mark.sumo
def test_parking_showcase_validates() -> None:
    assert main(["validate", str(SHOWCASE)]) == 0


def test_bad_parking_input_names_the_field(tmp_path: Path) -> None:
    text = SHOWCASE.read_text()
    bad = (text.replace('car_park = "clinic"\nfrom = "top1B2"', 'car_park = "clinc"\nfrom = "top1B2"')
           .replace("dwell_min = [45, 120]", "dwell_min = [120, 45]")
           .replace('open_to = ["residents"]', 'open_to = ["resident"]')
           .replace("parked_at_begin = 55\nleave_between = [\"07:00\", \"09:00\"]\n",
                    "parked_at_begin = 55\n"))
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(ts.ScenarioError) as exc:
        ts.load_scenario(p)
    text = str(exc.value)
    assert ("parking.groups[1].car_park: = 'clinc' is not a car park; car parks: homes, clinic. "
            "Did you mean 'clinic'?") in text
    assert "parking.groups[2].dwell_min: = [120, 45] is not a range" in text
    assert "parking.groups[0].leave_between: is missing; parked_at_begin > 0 needs" in text
    assert ("plans.shared.measures[1].open_to[0]: = 'resident' is not a parking group; groups: "
            "residents, staff, visitors. Did you mean 'residents'?") in text


@pytest.mark.sumo
def test_parking_references_are_checked_against_the_network(tmp_path: Path) -> None:
    bad = SHOWCASE.read_text().replace('edge = "B1C1"', 'edge = "B1C9"').replace(
        'overflow_edge = "A0B0"', 'overflow_edge = "A0B9"').replace('pos_m = 100\ncapacity = 60\n\n'
                                                                    '[[parking.groups]]',
                                                                    'pos_m = 900\ncapacity = 60\n\n'
                                                                    '[[parking.groups]]')
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(ts.ScenarioError) as exc:
        prepare_network(ts.load_scenario(p), tmp_path / "out")
    text = str(exc.value)
    assert "parking.overflow_edge: edge 'A0B9' is not in the network." in text
    assert "parking.car_parks[0].edge: edge 'B1C9' is not in the network." in text
    assert "parking.car_parks[1].pos_m: = 900 m lies beyond edge 'C2B2'" in text


@pytest.mark.sumo
def test_kerb_drop_offs_and_car_parks_in_one_scenario(tmp_path: Path) -> None:
    """A drop-off kerb in the car-park district: one SUMO stop output serves both, so the
    kerb metrics (counted from it) and the car-park metrics are both there."""
    text = SHOWCASE.read_text().replace("[parking]\n", """[[demand.stops]]
id = "pharmacy"
from = "left0"
to = "right0"
edge = "B0C0"
pos_m = 100
frontage_m = 30
veh_per_hour = 20
dwell = { mean_s = 60, sd_s = 30, min_s = 15, max_s = 300 }

[parking]
""", 1)
    (tmp_path / "both.toml").write_text(text)
    result = ts.compare(tmp_path / "both.toml", plans=["baseline"], seeds=[1],
                        out=tmp_path / "out", progress=False)
    m = result.run("baseline", 1).metrics
    stops = read_stops(tmp_path / "out/cases/baseline/seed_1/stops.xml")
    kerb = [i for i, e in zip(stops["id"], stops["ended"], strict=True)
            if str(i).startswith("pharmacy") and e >= 0]
    assert m["dropoffs_veh"] == len(kerb) > 100  # ~20 an hour for 16 hours
    assert m["parking_homes_peak_occupancy_pct"] > 0


def test_every_metric_of_the_runs_is_declared(showcase_run) -> None:
    """The measure declares each key it reports (unit, which way is better), so the CLI, the
    report and the regression check can judge it."""
    from trafficsim.metrics import metric_info

    assert [m for m in showcase_run[0].metric_names if metric_info(m) is None] == []

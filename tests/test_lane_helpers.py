"""Pure helpers of the lane and kerb measures, and the kerb-stop demand draw."""

from __future__ import annotations

import pytest

from trafficsim.demand import draw_vehicles, free_flow_time_s, lane_stop
from trafficsim.measures import NetIndex, StopVisit
from trafficsim.measures.lanes import bypass_links, complement
from trafficsim.measures.parking_bay import occupancy_series, peak_occupancy
from trafficsim.scenario import DemandSpec, StopDemandSpec

# A → B → C, two lanes each; at B a right turn to D only from lane 0, and D's only entry into
# BC is lane 0.
NET = NetIndex(
    edges={"AB": 2, "BC": 2, "BD": 1, "DB": 1},
    junctions=frozenset({"A", "B", "C", "D"}), signals=frozenset(),
    edge_length_m={"AB": 100.0, "BC": 200.0, "BD": 50.0, "DB": 50.0},
    out_edges={"A": ("AB",), "B": ("BC", "BD"), "D": ("DB",)},
    in_edges={"B": ("AB", "DB"), "C": ("BC",), "D": ("BD",)},
    edge_speed_m_s={"AB": 10.0, "BC": 20.0, "BD": 10.0, "DB": 10.0},
    connections=(("AB", 0, "BC", 0), ("AB", 1, "BC", 1), ("AB", 0, "BD", 0),
                 ("DB", 0, "BC", 0)),
)


def test_bypass_links_keep_every_movement_without_the_restricted_lane() -> None:
    links = bypass_links(NET, {"AB": 0, "BC": 0})
    assert '<connection from="AB" to="BD" fromLane="1" toLane="0"/>' in links  # the right turn
    assert '<connection from="DB" to="BC" fromLane="0" toLane="1"/>' in links  # the entry
    assert '<connection from="AB" to="BC" fromLane="0" toLane="1"/>' in links  # the way out
    assert len(links) == 3


def test_complement_of_windows() -> None:
    assert complement([(10, 20), (30, 40)], 0, 50) == [(0, 10), (20, 30), (40, 50)]
    assert complement([(0, 50)], 0, 50) == []


def test_free_flow_time_follows_the_road() -> None:
    # all of AB at 10 m/s, then 50 m into BC at 20 m/s
    assert free_flow_time_s(NET, "AB", "BC", 50.0) == pytest.approx(10.0 + 2.5)


def test_occupancy_counts_overlapping_stays() -> None:
    import numpy as np

    started, ended = np.array([0.0, 10.0, 20.0]), np.array([30.0, 15.0, 25.0])
    assert peak_occupancy(started, ended) == 2
    assert peak_occupancy(np.array([0.0, 10.0]), np.array([10.0, 20.0])) == 1  # back to back
    assert list(occupancy_series(started, ended, np.array([5.0, 12.0, 22.0]))) == [1, 2, 2]


def test_kerb_stop_draws_are_seeded_and_stay_within_bounds() -> None:
    stop = StopDemandSpec(id="school", origin="AB", destination="BC", edge="BC", pos_m=150.0,
                          veh_per_hour=600.0, profile=(1.0,), dwell_mean_s=60.0,
                          dwell_sd_s=40.0, dwell_min_s=20.0, dwell_max_s=120.0)
    demand = DemandSpec(bin_s=3600.0, flows=(), stops=(stop,))
    a = draw_vehicles(demand, NET, 0.0, 3600.0, seed=3)
    assert a == draw_vehicles(demand, NET, 0.0, 3600.0, seed=3)
    assert a != draw_vehicles(demand, NET, 0.0, 3600.0, seed=4)
    assert 500 < len(a) < 700
    for v in a:
        assert v.stop is not None and 20 <= v.stop.dwell_s <= 120
        assert v.stop.arrive_s == pytest.approx(v.depart_s + 10.0 + 7.5, abs=0.02)
    dwell = [v.stop.dwell_s for v in a if v.stop]
    assert 55 < sum(dwell) / len(dwell) < 70  # the log-normal mean, a little clipped


def test_the_do_nothing_stop_is_in_the_travel_lane() -> None:
    visit = StopVisit(edge="BC", lane=0, pos_m=150.0, frontage_m=30.0, dwell_s=60.0,
                      arrive_s=0.0)
    assert lane_stop(visit) == ('<stop lane="BC_0" startPos="120.00" endPos="150.00" '
                                'duration="60" parking="false" friendlyPos="true"/>')

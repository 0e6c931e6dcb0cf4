"""Pure functions: statistics against textbook values, delay accounting, HCM grades, health."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trafficsim.metrics import kept_out, level_of_service, run_health, run_metrics
from trafficsim.outputs import RunStatistics
from trafficsim.stats import mean_ci, paired_difference


def stats(**kw: float) -> RunStatistics:
    base = {"loaded": 0, "inserted": 0, "running": 0, "waiting": 0, "teleports": 0, "teleports_jam": 0,
                "collisions": 0, "depart_delay_waiting_s": -1.0}
    return RunStatistics(**{**base, **kw})  # type: ignore[arg-type]


def test_mean_ci_matches_student_t_by_hand() -> None:
    # x = 1..5: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776445 (tables)
    e = mean_ci([1, 2, 3, 4, 5])
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert e.mean == 3
    assert e.ci95 == pytest.approx((3 - half, 3 + half), rel=1e-6)


def test_single_seed_has_no_interval() -> None:
    e = mean_ci([4.0])
    assert e.mean == 4.0 and all(math.isnan(x) for x in e.ci95)


def test_pairing_removes_common_seed_noise() -> None:
    base = [100.0, 140.0, 90.0, 160.0]
    plan = [b - 10.0 + d for b, d in zip(base, [0.5, -0.5, 0.2, -0.2], strict=True)]
    d = paired_difference(plan, base)
    assert d.diff == pytest.approx(-10.0)
    assert d.significant and d.ci95[1] < 0
    assert d.pct == pytest.approx(-10.0 / np.mean(base) * 100)
    # unpaired, the same data would not separate the plans
    assert mean_ci(plan).ci95[1] > mean_ci(base).ci95[0]


@pytest.mark.parametrize(("delay", "grade"), [
    (0, "A"), (10, "A"), (10.1, "B"), (20, "B"), (35, "C"), (35.5, "D"), (55, "D"),
    (80, "E"), (80.1, "F"), (300, "F"),
])
def test_hcm_signalised_thresholds(delay: float, grade: str) -> None:
    assert level_of_service(delay) == grade


def test_delay_counts_unfinished_and_never_inserted_vehicles() -> None:
    trips = {
        "id": np.array(["a", "b", "c"], dtype=object),
        "timeLoss": np.array([10.0, 20.0, 100.0]),
        "departDelay": np.array([0.0, 5.0, 0.0]),
        "arrival": np.array([50.0, 60.0, -1.0]),  # c still driving at the end
        "duration": np.array([40.0, 45.0, 200.0]),
        "waitingTime": np.array([0.0, 3.0, 50.0]),
        "waitingCount": np.array([0.0, 1.0, 4.0]),
        "emissions_CO2_abs": np.array([1e6, 2e6, 3e6]),
    }
    vehicles = {  # d wanted to leave at 700 s and never got in before the end at 1000 s
        "id": np.array(["a", "b", "c", "d", "late"], dtype=object),
        "depart_s": np.array([0.0, 10.0, 20.0, 700.0, 1000.0]),
        "occupancy": np.array([1.0, 3.0, 1.0, 2.0, 1.0]),
    }
    m = run_metrics(trips, vehicles, stats(teleports=2), end_s=1000.0)
    delays = np.array([10.0, 25.0, 100.0, 300.0])
    assert m["mean_delay_s"] == pytest.approx(delays.mean())
    assert m["person_delay_s"] == pytest.approx((delays * [1, 3, 1, 2]).sum() / 7)
    assert m["mean_travel_time_s"] == pytest.approx(42.5)  # finished trips only
    assert m["throughput_veh"] == 2
    assert m["unfinished_veh"] == 2  # c running, d never inserted
    assert m["not_inserted_veh"] == 1
    assert m["person_throughput"] == 4
    assert m["co2_kg"] == pytest.approx(6.0)
    assert m["teleports"] == 2
    # a run without the emission device did not measure emissions: absent, not 0
    del trips["emissions_CO2_abs"]
    m = run_metrics(trips, vehicles, stats(teleports=2), end_s=1000.0)
    assert "co2_kg" not in m and "nox_kg" not in m and m["throughput_veh"] == 2


def test_never_inserted_of_imported_demand_use_sumo_statistics() -> None:
    trips = {k: np.zeros(0) for k in ("timeLoss", "departDelay", "arrival", "duration",
                                      "waitingTime", "waitingCount")}
    trips["id"] = np.zeros(0, dtype=object)
    m = run_metrics(trips, {}, stats(waiting=4, depart_delay_waiting_s=30.0), end_s=100.0)
    assert m["mean_delay_s"] == 30.0 and m["unfinished_veh"] == 4


def test_gridlock_is_detected_from_the_summary() -> None:
    t = np.arange(0, 1260, 60.0)
    stuck = {"time": t, "arrived": np.minimum(t, 600.0), "running": np.full(len(t), 80.0),
             "halting": np.full(len(t), 79.0)}
    h = run_health(stats(running=80), stuck, 0)
    assert h.gridlock and not h.ok and "gridlock" in h.warnings[0]
    flowing = {**stuck, "arrived": t.copy()}
    assert not run_health(stats(running=80), flowing, 0).gridlock


def test_metrics_of_several_measures_are_kept_apart_only_when_they_are_per_instance() -> None:
    from trafficsim.compare import merge_measure_metrics

    bays = merge_measure_metrics([("bay_a", {"bay_uses_veh": 3.0, "x": 1.0}),
                                  ("bay_b", {"bay_uses_veh": 5.0})])
    assert bays == {"bay_a:bay_uses_veh": 3.0, "bay_b:bay_uses_veh": 5.0, "x": 1.0}
    freight = merge_measure_metrics([("freight", {"general_delay_s": 7.0}),
                                     ("freight", {"general_delay_s": 7.0})])
    assert freight == {"general_delay_s": 7.0}


def test_only_vehicles_kept_out_long_are_a_blocked_entry() -> None:
    """A city always has vehicles that wanted to leave in the window's last seconds: counted as
    not inserted, but not warned about; one kept out for minutes is."""
    trips = {"id": np.array(["a"], dtype=object), "timeLoss": np.array([5.0]),
             "departDelay": np.array([0.0]), "arrival": np.array([50.0]),
             "duration": np.array([50.0]), "waitingTime": np.array([0.0]),
             "waitingCount": np.array([0.0])}
    flat = {"time": np.array([0.0, 60.0]), "arrived": np.array([0.0, 1.0]),
            "running": np.array([1.0, 0.0]), "halting": np.array([0.0, 0.0])}

    def health(last_depart_s: float):
        vehicles = {"id": np.array(["a", "b"], dtype=object),
                    "depart_s": np.array([0.0, last_depart_s]), "occupancy": np.ones(2)}
        m = run_metrics(trips, vehicles, stats(), end_s=1000.0)
        return m, run_health(stats(), flat, int(m["not_inserted_veh"]),
                             blocked=kept_out(trips, vehicles, stats(), 1000.0))

    m, h = health(988.6)  # 11.4 s before the end, as seen in the LuST city run
    assert m["not_inserted_veh"] == 1 and h.not_inserted == 1 and h.ok
    m, h = health(700.0)
    assert h.warnings == ("1 vehicle(s) never entered the network (1 waited more than 60 s "
                          "for a gap: an entry is blocked)",)


def test_a_network_still_filling_at_the_end_is_reported() -> None:
    """A peak that outlasts the window: the load (running + waiting to enter) keeps growing with
    most vehicles halting, no teleport, no gridlock.  The run is flagged; a network that filled
    and then levelled off, or one that grows but flows freely, is not."""
    t = np.arange(0, 1860, 60.0)
    filling = {"time": t, "arrived": t / 2, "running": 100 + t / 10, "waiting": t / 30,
               "halting": 60 + t / 10}
    h = run_health(stats(running=286), filling, 0)
    assert h.filling and not h.gridlock and not h.ok
    assert h.warnings[0].startswith("the network was still filling up at the end: 220 → 340")
    level = {**filling, "running": np.minimum(100 + t / 10, 190.0), "waiting": np.zeros(len(t)),
             "halting": np.minimum(60 + t / 10, 150.0)}
    assert not run_health(stats(), level, 0).filling
    free = {**filling, "halting": np.zeros(len(t))}
    assert not run_health(stats(), free, 0).filling

"""Physical facts checked on real SUMO runs of small networks."""

from __future__ import annotations

from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import DATA, build_net
from trafficsim.outputs import read_csv

pytestmark = pytest.mark.sumo  # every test here starts SUMO or one of its tools


def test_free_flow_travel_time_matches_length_over_speed(tmp_path: Path) -> None:
    """One vehicle on an empty 1 km link at 50 km/h takes length / speed (within 2%)."""
    net = build_net("link", tmp_path)
    (tmp_path / "one.rou.xml").write_text((DATA / "one_vehicle.rou.xml").read_text())
    sc = tmp_path / "link.toml"
    sc.write_text('[simulation]\nend = 300\nseeds = [1]\n'
                  '[network]\nfile = "link.net.xml"\nroutes = ["one.rou.xml"]\n')
    result = ts.simulate(sc, out=tmp_path / "out", progress=False)
    trips = read_csv(tmp_path / "out/cases/baseline/seed_1/tripinfo.csv")
    from trafficsim.network import net_index

    length_m = net_index(net).edge_length_m["AB"]
    expected_s = length_m / 13.89
    assert trips["duration"][0] == pytest.approx(expected_s, rel=0.02)
    assert result.run("baseline", 1).metrics["mean_travel_time_s"] == pytest.approx(
        expected_s, rel=0.02)
    assert result.run("baseline", 1).metrics["mean_delay_s"] < 0.02 * expected_s
    assert result.run("baseline", 1).metrics["throughput_veh"] == 1


def test_same_seed_gives_identical_metrics(small_corridor: Path, tmp_path: Path) -> None:
    a = ts.simulate(small_corridor, seeds=[7], out=tmp_path / "a", progress=False)
    b = ts.simulate(small_corridor, seeds=[7], out=tmp_path / "b", progress=False)
    assert a.run("baseline", 7).metrics == b.run("baseline", 7).metrics
    trip = "cases/baseline/seed_7/tripinfo.csv"
    assert (tmp_path / "a" / trip).read_bytes() == (tmp_path / "b" / trip).read_bytes()


def test_different_seeds_draw_different_demand(small_corridor: Path) -> None:
    r = ts.simulate(small_corridor, seeds=[1, 2], progress=False)
    assert r.run("baseline", 1).metrics != r.run("baseline", 2).metrics


def test_lifting_a_bottleneck_significantly_reduces_delay(tmp_path: Path) -> None:
    """Doubling a one-lane works zone's 10 km/h limit raises its capacity above the demand."""
    build_net("bottleneck", tmp_path)
    sc = tmp_path / "bottleneck.toml"
    sc.write_text("""
[simulation]
end = 900
seeds = [1, 2, 3, 4]
[network]
file = "bottleneck.net.xml"
[demand]
bin_minutes = 15
[[demand.flows]]
from = "A"
to = "D"
veh_per_hour = 1300
[plans.lift]
[[plans.lift.measures]]
type = "speed_limit"
edges = ["BC"]
speed_kmh = 20
""")
    r = ts.compare(sc, out=tmp_path / "out", progress=False)
    d = r.difference("lift", "mean_delay_s")
    assert d.ci95[1] < 0, d  # significant at 95%
    assert d.pct < -30
    assert r.difference("lift", "throughput_veh").diff > 0
    # the plan's network really carries the new limit
    from trafficsim.network import net_index  # noqa: F401

    xml = (tmp_path / "out/cases/lift/net.net.xml").read_text()
    assert 'id="BC_0" index="0" speed="5.56"' in xml


def test_teleports_are_reported_not_hidden(small_corridor: Path, tmp_path: Path) -> None:
    """With a 5 s jam-teleport time, vehicles waiting at red teleport; every result says so."""
    text = small_corridor.read_text().replace('end = "07:15"',
                                              'end = "07:15"\ntime_to_teleport_s = 5')
    sc = tmp_path / "teleport.toml"
    sc.write_text(text)
    r = ts.simulate(sc, seeds=[1], progress=False)
    run = r.run("baseline", 1)
    assert run.health.teleports > 0
    assert run.metrics["teleports"] == run.health.teleports
    assert any("teleport" in w for w in r.warnings())
    assert r.to_dict()["health"]["baseline"]["1"]["teleports"] == run.health.teleports


def test_a_queue_still_growing_at_the_end_is_reported(small_corridor: Path,
                                                      tmp_path: Path) -> None:
    """1,400 veh/h into one lane that gets about half a 90-s cycle of green is oversaturated for
    the whole 25 minutes: the queue grows to the end without teleport or gridlock, and the run
    says so; the same corridor at 500 veh/h is not flagged."""
    text = small_corridor.read_text().replace('end = "07:15"', 'end = "07:25"').replace(
        "profile = [0.8, 1.0, 0.9]\n", "")
    heavy = tmp_path / "heavy.toml"
    heavy.write_text(text.replace("veh_per_hour = 500", "veh_per_hour = 1400"))
    light = tmp_path / "light.toml"
    light.write_text(text)
    run = ts.simulate(heavy, seeds=[1], progress=False).run("baseline", 1)
    assert run.health.filling and run.health.teleports == 0 and not run.health.gridlock
    assert any("still filling up" in w for w in run.health.warnings)
    assert not ts.simulate(light, seeds=[1], progress=False).run("baseline", 1).health.filling

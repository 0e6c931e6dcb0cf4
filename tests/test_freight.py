"""Freight access rules, checked on real SUMO runs of a small grid."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.cli import main
from trafficsim.spec import parse_time
from trafficsim.sumo import run_sumo

ROOT = Path(__file__).resolve().parents[1]
BANNED = ("B1C1", "C1B1", "B1B2", "B2B1", "C1C2", "C2C1", "B2C2", "C2B2")

# Row 1 of a 4×4 grid carries trucks, diesel vans and electric vans straight through the centre
# block (B1→C1), which is closed to trucks and vans 07:00–07:20 except electric ones.
SMALL = f"""
name = "small_freight"
[simulation]
begin = "06:50"
end = "07:30"
seeds = [3]
[network.grid]
rows = 4
cols = 4
spacing_m = 200
lanes = 1
speed_kmh = 50
cycle_s = 60
[demand]
bin_minutes = 10
[[demand.flows]]
from = "left1"
to = "right1"
veh_per_hour = 250
[[demand.flows]]
id = "freight"
from = "left1"
to = "right1"
veh_per_hour = 200
mix = {{ truck = 0.4, delivery = 0.3, delivery_ev = 0.3 }}
[plans.ban]
[[plans.ban.measures]]
type = "truck_ban"
edges = {list(BANNED)}
windows = [["07:00", "07:20"]]
vehicles = ["truck", "delivery"]
exempt_electric = true
[plans.corridor]
[[plans.corridor.measures]]
type = "truck_corridor"
zone = {list(BANNED)}
corridor = ["B1C1", "C1B1"]
windows = [["07:00", "07:20"]]
"""


def entries(vehroutes: Path) -> list[tuple[str, str, str, float]]:
    """(vehicle, vType, edge, entry time) of every edge each vehicle drove on (final route)."""
    out = []
    for v in ET.parse(vehroutes).getroot().iter("vehicle"):
        route = list(v.iter("route"))[-1]
        edges = route.get("edges").split()
        exits = [float(t) for t in route.get("exitTimes").split()]
        times = [float(v.get("depart")), *exits[:-1]]
        out += [(v.get("id"), v.get("type"), e, t) for e, t in zip(edges, times, strict=True)]
    return out


@pytest.fixture(scope="module")
def freight_run(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("freight")
    (d / "small.toml").write_text(SMALL)
    result = ts.compare(d / "small.toml", out=d / "out", workers=2, progress=False)
    routes = {}
    for plan in ("baseline", "ban", "corridor"):
        cfg = d / "out" / "cases" / plan / "seed_3" / "case.sumocfg"
        # the same run again (same seed, bit for bit) with each vehicle's edges and exit times
        run_sumo(cfg, seed=3, timeout_s=120, extra=["--vehroute-output", "vehroutes.xml",
                                                    "--vehroute-output.exit-times", "true"])
        routes[plan] = entries(cfg.parent / "vehroutes.xml")
    return result, routes


@pytest.mark.sumo
def test_banned_classes_never_enter_banned_edges_in_the_window(freight_run) -> None:
    result, routes = freight_run
    b, e = parse_time("07:00"), parse_time("07:20")

    def inside(plan: str, vtype: str) -> set[str]:
        return {v for v, t, edge, at in routes[plan] if t == vtype and edge in BANNED
                and b <= at < e}

    for vtype in ("truck", "delivery"):
        assert inside("ban", vtype) == set(), vtype
        assert len(inside("baseline", vtype)) >= 3, vtype  # their natural route crosses the block
    assert len(inside("ban", "delivery_ev")) >= 3  # exempt vans still drive through
    # the ban is timed: before 07:00 trucks cross the block as usual
    assert any(t == "truck" and edge in BANNED and at < b for _, t, edge, at in routes["ban"])
    ban = result.run("ban", 3)
    assert ban.metrics["truck_ban_violations_veh"] == 0
    # detours: trucks and diesel vans drive further than without the ban, and further than the
    # exempt vans on the same trips (SUMO routes trips on current travel times, so some vehicles
    # avoid the busy straight route anyway).  Every plan has the per-kind distances; the plan
    # with the rule also has them as top-level metrics.
    base = result.run("baseline", 3)
    km = {p: {k: result.run(p, 3).groups[f"kind:{k}"]["mean_distance_km"]
              for k in ("truck", "delivery", "delivery_ev")} for p in ("baseline", "ban")}
    assert km["ban"]["truck"] > km["baseline"]["truck"]
    assert km["ban"]["delivery"] > km["baseline"]["delivery"]
    assert km["ban"]["delivery_ev"] < km["ban"]["delivery"]
    assert ban.metrics["truck_distance_km"] == pytest.approx(km["ban"]["truck"])
    assert "truck_distance_km" not in base.metrics


@pytest.mark.sumo
def test_trucks_keep_to_the_corridor_inside_the_zone(freight_run) -> None:
    """With a designated corridor (B1–C1) through the closed block, trucks in the window use the
    corridor and no other street of the block; vans are not restricted by a truck corridor."""
    result, routes = freight_run
    b, e = parse_time("07:00"), parse_time("07:20")
    used = {edge for _, t, edge, at in routes["corridor"]
            if t == "truck" and edge in BANNED and b <= at < e}
    assert used == {"B1C1"}
    assert result.run("corridor", 3).metrics["truck_corridor_violations_veh"] == 0


@pytest.mark.sumo
def test_routes_stay_valid_under_the_ban(freight_run) -> None:
    """No teleports, no vehicle stuck in front of a closed street: every freight vehicle that
    set off more than 10 minutes before the end arrived."""
    result, _ = freight_run
    run = result.run("ban", 3)
    assert run.health.teleports == 0 and not run.health.gridlock
    from trafficsim.outputs import read_csv

    trips = read_csv(run.case_dir / "tripinfo.csv")
    early = trips["depart"] < parse_time("07:20")
    freight = [str(t) in ("truck", "delivery", "delivery_ev") for t in trips["vType"]]
    import numpy as np

    m = early & np.array(freight)
    assert m.sum() > 40
    assert (trips["arrival"][m] >= 0).all()


@pytest.mark.sumo
def test_freight_showcase_validates() -> None:
    assert main(["validate", str(ROOT / "scenarios" / "freight_district.toml")]) == 0


def test_bad_freight_input_names_the_field(tmp_path: Path) -> None:
    bad = SMALL.replace('vehicles = ["truck", "delivery"]\nexempt_electric = true',
                        'vehicles = ["truck", "delivery_ev"]\nexempt_electric = true')
    bad += """
[plans.c]
[[plans.c.measures]]
type = "truck_corridor"
zone = ["B1C1", "C1B1"]
corridor = ["B2C2"]
windows = [["07:20", "07:10"]]
"""
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(ts.ScenarioError) as exc:
        ts.load_scenario(p)
    text = str(exc.value)
    assert ("plans.ban.measures[0].vehicles[1]: = 'delivery_ev' is not a freight class; expected "
            "one of: truck, delivery. (electric vans are part of 'delivery'") in text
    assert "plans.ban.measures[0].exempt_electric: = true has no effect" in text
    assert "plans.c.measures[0].corridor[0]: = 'B2C2' is not in the zone" in text
    assert "plans.c.measures[0].windows[0]: = ['07:20', '07:10'] ends before it begins" in text


@pytest.mark.sumo
def test_freight_references_are_checked_against_the_network(tmp_path: Path) -> None:
    bad = SMALL.replace("'C2B2']", "'C2B3']").replace('[["07:00", "07:20"]]',
                                                      '[["07:00", "07:40"]]')
    p = tmp_path / "bad.toml"
    p.write_text(bad)
    with pytest.raises(ts.ScenarioError) as exc:
        prepare_network(ts.load_scenario(p), tmp_path / "out")
    text = str(exc.value)
    assert "plans.ban.measures[0].edges[7]: edge 'C2B3' is not in the network." in text
    assert "plans.ban.measures[0].windows[0]: 07:00–07:40 lies outside the simulation window" in text


def test_every_metric_of_the_runs_is_declared(freight_run) -> None:
    """The measure declares each key it reports (unit, which way is better), so the CLI, the
    report and the regression check can judge it."""
    from trafficsim.metrics import metric_info

    assert [m for m in freight_run[0].metric_names if metric_info(m) is None] == []

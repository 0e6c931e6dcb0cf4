"""Tidal lane: physical facts on real SUMO runs, checked from SUMO's own vehicle positions."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import trafficsim as ts
from trafficsim.build import prepare_network
from trafficsim.sumo import run_sumo

# A two-lane road (one lane each way) with a strong AM imbalance; the plan adds a reversible
# centre lane: inbound 07:00–07:15, then (after a 2-minute clearance) outbound until 07:25.
SCENARIO = """
name = "tidal_small"
[simulation]
begin = "07:00"
end = "07:25"
seeds = [1, 2, 3]
[network.corridor]
intersections = 2
spacing_m = 300
lanes = 1
speed_kmh = 50
side_length_m = 120
approach_length_m = 300
[demand]
bin_minutes = 5
[[demand.flows]]
from = "W"
to = "E"
veh_per_hour = 1100
[[demand.flows]]
from = "E"
to = "W"
veh_per_hour = 300
[[demand.flows]]
from = "N1"
to = "S2"
veh_per_hour = 100
[plans.tidal]
[[plans.tidal.measures]]
type = "tidal_lane"
inbound = ["W_J1", "J1_J2", "J2_E"]
inbound_windows = [["07:00", "07:15"]]
outbound_windows = [["07:15", "07:25"]]
clearance_s = 120
"""
INBOUND = ("W_J1", "J1_J2", "J2_E")
OUTBOUND = ("E_J2", "J2_J1", "J1_W")
T0 = 7 * 3600


@pytest.fixture(scope="module")
def tidal(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Comparison, Path]:
    d = tmp_path_factory.mktemp("tidal")
    (d / "tidal.toml").write_text(SCENARIO)
    out = d / "out"
    return ts.compare(d / "tidal.toml", out=out, progress=False, workers=2), out


def test_schedule_carves_the_clearance_out_of_the_previous_opening() -> None:
    from trafficsim.measures.tidal_lane import TidalLane

    m = TidalLane(inbound=INBOUND, inbound_windows=((T0, T0 + 900),),
                  outbound_windows=((T0 + 900, T0 + 1500),), clearance_s=120)
    assert m.timeline(T0, T0 + 1500) == [(T0, T0 + 780, "inbound"),
                                         (T0 + 780, T0 + 900, "clearance"),
                                         (T0 + 900, T0 + 1500, "outbound")]
    # a closed gap at least as long as the clearance needs no cut
    m = TidalLane(inbound=INBOUND, inbound_windows=((T0, T0 + 600),),
                  outbound_windows=((T0 + 900, T0 + 1500),), clearance_s=120)
    assert [s for *_, s in m.timeline(T0, T0 + 1500)] == ["inbound", "closed", "outbound"]


@pytest.mark.sumo
def test_each_copy_carries_only_its_direction_and_nobody_enters_during_clearance(
        tidal: tuple[ts.Comparison, Path]) -> None:
    """Re-run one case with SUMO's FCD output and check every vehicle at every second."""
    _, out = tidal
    case = out / "cases/tidal/seed_1/case.sumocfg"
    run_sumo(case, seed=1, timeout_s=120, extra=["--fcd-output", "fcd.csv"])
    copy = {f"{e}_1": "inbound" for e in INBOUND} | {f"{e}_1": "outbound" for e in OUTBOUND}

    def state(t: float) -> str:
        if t < T0 + 780:
            return "inbound"
        return "clearance" if t < T0 + 900 else "outbound"

    last_lane: dict[str, str] = {}
    on_copy: dict[str, int] = {"inbound": 0, "outbound": 0}
    with (case.parent / "fcd.csv").open() as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            t, veh, lane = float(row["timestep_time"]), row["vehicle_id"], row["vehicle_lane"]
            if lane in copy:
                d, s = copy[lane], state(t)
                on_copy[d] += 1
                # inside a window the other copy of the strip is empty (no head-on conflict)
                assert s in (d, "clearance") or s not in ("inbound", "outbound"), (t, veh, lane)
                # nobody moves onto a copy that is closed (clearance or other direction)
                if last_lane.get(veh) != lane:
                    assert s == d, f"{veh} entered {lane} at {t} while the lane was {s}"
            last_lane[veh] = lane
    # both copies were really used in their windows
    assert on_copy["inbound"] > 1000 and on_copy["outbound"] > 100


@pytest.mark.sumo
def test_opening_the_lane_to_the_peak_cuts_peak_direction_delay(
        tidal: tuple[ts.Comparison, Path]) -> None:
    result, _ = tidal
    d = result.difference("tidal", "tidal_peak_delay_s")
    assert d.ci95[1] < 0, d  # significant at 95% over 3 seeds
    assert d.pct < -30
    for seed in result.seeds:
        run = result.run("tidal", seed)
        assert run.metrics["tidal_conflict_veh_s"] == 0
        assert run.metrics["tidal_lane_share"] > 0.2
        # switches never cut a route (SUMO would abort on "no connection") nor strand anyone
        assert run.health.teleports == 0
    # the baseline is measured on the same yardstick
    assert result.estimate("baseline", "tidal_peak_delay_s").mean > 0


BAD = [
    ('inbound = ["W_J1", "J1_J2", "J2_E"]', 'inbound = ["W_J1", "J1_J9", "J2_E"]',
     "plans.tidal.measures[0].inbound[1]", "edge 'J1_J9' is not in the network"),
    ('inbound = ["W_J1", "J1_J2", "J2_E"]', 'inbound = ["W_J1", "J2_E"]',
     "plans.tidal.measures[0].inbound[1]", "does not start where 'W_J1' ends"),
    ('outbound_windows = [["07:15", "07:25"]]', 'outbound_windows = [["07:10", "07:25"]]',
     "plans.tidal.measures[0].outbound_windows", "overlaps the inbound window 07:00–07:15"),
    ('outbound_windows = [["07:15", "07:25"]]', 'outbound_windows = [["07:15", "07:40"]]',
     "plans.tidal.measures[0].outbound_windows[0]", "outside the simulation window 07:00–07:25"),
    ("clearance_s = 120", "clearance_s = 1200",
     "plans.tidal.measures[0].clearance_s", "does not fit"),
    ('outbound_windows = [["07:15", "07:25"]]', 'outbound_windows = [["07:25", "07:15"]]',
     "plans.tidal.measures[0].outbound_windows[0]", "ends before it begins"),
]


@pytest.mark.sumo
@pytest.mark.parametrize(("old", "new", "field", "text"), BAD)
def test_bad_tidal_lane_names_the_field(write, old: str, new: str, field: str,
                                        text: str) -> None:
    path = write("bad.toml", SCENARIO.replace(old, new))
    with pytest.raises(ts.ScenarioError) as info:
        prepare_network(ts.load_scenario(path), path.parent / "net")
    assert [i.field for i in info.value.issues] == [field]
    assert text in str(info.value)


@pytest.mark.sumo
def test_direction_plot_draws_the_measured_per_direction_means(
        tidal: tuple[ts.Comparison, Path]) -> None:
    """The tidal picture and report section: the plotted bars are the per-direction means of
    metrics.json, with their CIs, and the counter-peak direction (one lane while the peak has
    two) is the slower one of the tidal plan."""
    import json

    from trafficsim import plots
    from trafficsim.report import all_sections, load_folder

    _, out = tidal
    doc = json.loads((out / "metrics.json").read_text())
    fig = plots.direction_delays(doc)
    for ax, (_, pairs) in zip(fig.axes, plots.DIRECTION_PANELS, strict=True):
        for metric, _label in pairs:
            bars = [b for b in ax.patches if b.get_gid() == metric]
            heights = [b.get_height() for b in bars]
            assert heights == pytest.approx([doc["plans"][p][metric]["mean"]
                                             for p in ("baseline", "tidal")]), metric
    tidal_plan = doc["plans"]["tidal"]
    assert tidal_plan["tidal_counter_delay_s"]["mean"] > 0
    assert tidal_plan["tidal_peak_travel_time_s"]["mean"] > 0
    folder = load_folder(out)
    fn = next(f for _, t, f in all_sections() if t == "Tidal lane: by direction")
    assert len(fn(folder)) == 2
    assert next(f for _, t, f in all_sections() if t == "HOV lane: people and vehicles")(folder) == []
    assert next(f for _, t, f in all_sections() if t == "Kerb bays: occupancy")(folder) == []


def test_every_metric_of_the_runs_is_declared(tidal) -> None:
    """The measure declares each key it reports (unit, which way is better), so the CLI, the
    report and the regression check can judge it."""
    from trafficsim.metrics import metric_info

    assert [m for m in tidal[0].metric_names if metric_info(m) is None] == []

"""Pictures and the HTML report, on a small corridor run with trajectories; the report is opened
in a real headless Chromium."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import trafficsim as ts
from trafficsim import plots
from trafficsim.cli import main
from trafficsim.netgeom import corridor, find_corridors, read_net
from trafficsim.outputs import read_csv, read_tls_states
from trafficsim.report import SECTIONS, load_folder, render_html
from trafficsim.sumo import run_tool


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, small_corridor: Path) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    ts.compare(small_corridor, seeds=[1, 2], out=out, trajectories=True, progress=False,
               workers=2)
    return out


@pytest.fixture(scope="module")
def small_corridor() -> Path:  # module scope (the conftest fixture is per test)
    return Path(__file__).parent / "data" / "small_corridor.toml"


@pytest.mark.sumo
def test_time_series_add_up_to_the_run_metrics(folder: Path) -> None:
    """The 5-minute bins partition the run: demand-weighted bin delays give the run's mean
    delay, and the bins' arrivals its throughput."""
    doc = json.loads((folder / "metrics.json").read_text())
    rows = load_folder(folder).series
    for plan in ("baseline", "slow"):
        for k, seed in enumerate((1, 2)):
            mine = [r for r in rows if r["plan"] == plan and int(r["seed"]) == seed]
            assert [float(r["bin_begin_s"]) for r in mine] == [25200.0, 25500.0, 25800.0]
            n = np.array([float(r["demand_veh"]) for r in mine])
            d = np.array([float(r["mean_delay_s"]) for r in mine])
            arrived = sum(float(r["throughput_veh_h"]) * 300 / 3600 for r in mine)
            m = doc["plans"][plan]
            assert float(np.sum(n * d) / np.sum(n)) == pytest.approx(
                m["mean_delay_s"]["per_seed"][k], rel=1e-6)
            assert arrived == pytest.approx(m["throughput_veh"]["per_seed"][k])
            assert all(float(r["queued_veh"]) <= float(r["running_veh"]) for r in mine)


@pytest.mark.sumo
def test_trajectories_are_recorded_once_and_change_nothing(folder: Path,
                                                           small_corridor: Path) -> None:
    assert (folder / "cases/baseline/seed_1/trajectories.csv.gz").is_file()
    assert not (folder / "cases/baseline/seed_2/trajectories.csv.gz").exists()
    plain = ts.simulate(small_corridor, seeds=[1], progress=False)
    recorded = json.loads((folder / "metrics.json").read_text())["plans"]["baseline"]
    for m, v in plain.run("baseline", 1).metrics.items():
        assert recorded[m]["per_seed"][0] == pytest.approx(v, abs=1e-6), m


@pytest.mark.sumo
def test_no_vehicle_crosses_a_stop_line_on_red(folder: Path) -> None:
    """Trajectories laid out along the corridor, against SUMO's own signal switches: every
    vehicle that drives from one corridor edge into the next does so on green or amber."""
    case = folder / "cases/baseline/seed_1"
    geo = read_net(folder / "cases/baseline/net.net.xml")
    meta = json.loads((case / "corridors.json").read_text())
    chains = meta["corridors"]
    assert meta["window_s"] == [25200, 26100]  # a 15-minute run is recorded whole
    assert ["W_J1", "J1_J2", "J2_E"] in chains and ["E_J2", "J2_J1", "J1_W"] in chains
    lay = corridor(geo, ["W_J1", "J1_J2", "J2_E"])
    assert [tl for _, tl, _ in lay.signals] == ["J1", "J2"]
    traj = read_csv(case / "trajectories.csv.gz")
    recorded = {str(ln).rsplit("_", 1)[0] for ln in traj["lane"]}
    # corridor edges, and lanes inside their junctions
    assert {e for e in recorded if not e.startswith(":")} <= {e for c in chains for e in c}
    x = lay.positions(traj["lane"], traj["pos"])
    inside = np.array([str(ln).startswith(":J1_") for ln in traj["lane"]]) & np.isfinite(x)
    assert inside.any() and np.all(np.abs(x[inside] - lay.signals[0][0]) < 25)
    states = read_tls_states(case / "tls_states.xml")
    start = dict(zip(lay.edges, lay.start_m, strict=True))
    crossings = 0
    by_vehicle: dict[str, list[tuple[float, str]]] = {}
    for t, vid, lane in zip(traj["time"], traj["id"], traj["lane"], strict=True):
        by_vehicle.setdefault(str(vid), []).append((float(t), str(lane).rsplit("_", 1)[0]))
    for samples in by_vehicle.values():
        for k, (_t0, e0) in enumerate(samples[:-1]):
            t1, e1 = samples[k + 1]
            nxt = next((e for _, e in samples[k + 1:] if not e.startswith(":")), None)
            if e0 not in start or e1 == e0 or nxt not in start or start[nxt] <= start[e0]:
                continue
            # the first step past the stop line: SUMO switches signals before vehicles move
            stop_line, tl, links = next(s for s in lay.signals if s[0] > start[e0])
            assert stop_line < start[nxt]
            state = [s for t, i, s in states if i == tl and t <= t1][-1]
            assert state[links[0]] in "Ggy", (tl, t1, state)
            crossings += 1
    assert crossings > 100  # most of the ~130 through vehicles cross both stop lines


@pytest.mark.sumo
def test_signal_timing_follows_sumos_offset_rule(folder: Path, tmp_path: Path) -> None:
    """The phase the timing diagram puts at time t (offset applied) is the phase SUMO shows."""
    net = (folder / "cases/baseline/net.net.xml").read_text()
    net = net.replace('<tlLogic id="J2" type="static" programID="0" offset="0">',
                      '<tlLogic id="J2" type="static" programID="0" offset="17">')
    (tmp_path / "net.net.xml").write_text(net)
    shutil.copy(folder / "cases/baseline/seed_1/trajectories.add.xml", tmp_path)
    run_tool("sumo", ["-n", "net.net.xml", "-a", "trajectories.add.xml", "-b", "25200",
                      "-e", "25500"], cwd=tmp_path)
    programs = read_net(tmp_path / "net.net.xml").programs
    assert programs["J2"].offset_s == 17
    switches = re.findall(r'time="([\d.]+)" id="(\w+)" programID="\w+" phase="(\d+)"',
                          (tmp_path / "tls_states.xml").read_text())
    assert len(switches) > 20
    for t, tl, phase in switches:
        for dt in (0.0, 1.0):  # at the switch and a second later
            assert programs[tl].phase_at(float(t) + dt) == int(phase), (tl, t)
    fig = plots.signal_timing(tmp_path / "net.net.xml", [["W_J1", "J1_J2", "J2_E"]])
    assert len(fig.axes[0].patches) + len(fig.axes[0].collections) > 0


@pytest.mark.sumo
def test_corridor_found_on_a_generated_grid(tmp_path: Path) -> None:
    run_tool("netgenerate", ["--grid", "--grid.number", "3", "--grid.attach-length", "100",
                             "--tls.set", "A0,A1,A2,B0,B1,B2,C0,C1,C2", "-o", "g.net.xml",
                             "--no-turnarounds", "true"], cwd=tmp_path)
    chains = find_corridors(read_net(tmp_path / "g.net.xml"))
    assert len(chains) == 2
    lay = corridor(read_net(tmp_path / "g.net.xml"), chains[0])
    assert len(lay.signals) == 3  # a whole row or column of the grid
    assert chains[1] == tuple(e for e in chains[1])
    assert lay.length_m > 2 * 100


@pytest.mark.sumo
def test_figures(folder: Path) -> None:
    f = load_folder(folder)
    bars = plots.metric_bars(f.doc, metrics=("mean_delay_s", "throughput_veh"))
    assert len([a for a in bars.axes if a.get_visible()]) == 2
    series = plots.time_series(f.series)
    assert len(series.axes) == 3 and len(series.axes[0].lines) == 2  # one line per plan
    heat = plots.edge_heatmap(f.net("baseline"), f.edges)
    assert len([a for a in heat.axes if a.get_title() in ("baseline", "slow")]) == 2
    tsd = plots.time_space_case(folder / "cases/slow/seed_1")
    assert "W_J1 → J2_E" in tsd.axes[0].get_title()
    png = plots.to_png(series)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.sumo
def test_report_renders_in_chromium(folder: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(folder)]) == 0
    report = folder / "report.html"
    assert str(report) in capsys.readouterr().out
    html = report.read_text()
    imgs = re.findall(r'<img alt="[^"]*" src="([^"]{0,40})', html)
    assert len(imgs) >= 7 and all(s.startswith("data:image/png;base64,") for s in imgs)
    # self-contained: nothing to fetch
    assert not re.search(r'(src|href)="(https?:|//|file:)', html) and "<link" not in html
    for text in ("Comparison", "level of service", "Time–space", "Provenance",
                 json.loads((folder / "metrics.json").read_text())["scenario_sha256"],
                 "SUMO version", "1.28.0"):
        assert text in html, text
    assert report.stat().st_size < 5_000_000

    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's 'chromium')")
        pytest.skip("chromium not installed")
    # a copy of the report with a probe that records every image's decoded size after load
    probe = ("<script>window.addEventListener('load',()=>{const p=document.createElement('pre');"
             "p.id='probe';p.textContent=JSON.stringify([...document.images].map(i=>"
             "[i.complete,i.naturalWidth,i.naturalHeight]));document.body.appendChild(p);});"
             "</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    sizes = json.loads(found.group(1))
    assert len(sizes) == len(imgs)
    assert all(done and w > 100 and h > 100 for done, w, h in sizes), sizes
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, "--window-size=1200,2000", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=120, check=True)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    assert float(np.std(pixels)) > 0.05  # not a blank page


@pytest.mark.sumo
def test_report_sections_are_an_extension_point(folder: Path) -> None:
    from trafficsim.report import section

    @section("Test section", 95)
    def _extra(f):
        return ["<p id='extra'>hello</p>"] if f.plans else []

    try:
        assert "<p id='extra'>hello</p>" in render_html(load_folder(folder))
        with pytest.raises(ValueError, match="already registered"):
            section("Test section", 96)(_extra)
    finally:
        SECTIONS[:] = [s for s in SECTIONS if s[1] != "Test section"]


def test_report_of_a_folder_without_results(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no metrics.json" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
    assert math.isfinite(1.0)


@pytest.mark.parametrize(("estimate", "says"), [
    ('{"mean": "NaN"}', "plans.b.mean_delay_s.mean: = 'NaN' is not a number"),
    ("7", "plans.b.mean_delay_s: = 7 is not a table"),
    ('{"mean": 5, "ci95": [1]}', "plans.b.mean_delay_s.ci95: = [1] is not a pair"),
    ('{"mean": 5, "per_seed": [5, "x"]}', "plans.b.mean_delay_s.per_seed: = [5, 'x']"),
])
def test_a_malformed_estimate_in_metrics_json_is_named_not_an_internal_error(
        tmp_path: Path, capsys, estimate: str, says: str) -> None:
    """A hand-edited metrics.json with a string, a bare number or a one-sided interval ended in
    an internal error inside matplotlib or numpy; nulls (metrics without a value) still draw."""
    ok = ('{"mean_delay_s": {"mean": 5, "ci95": [null, null], "per_seed": [5]}, '
          '"mean_stops": {"mean": null, "ci95": [null, null], "per_seed": [null]}}')
    doc = f'{{"scenario": "x", "plans": {{"baseline": {ok}, "b": {{"mean_delay_s": {estimate}}}}}}}'
    (tmp_path / "metrics.json").write_text(doc)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "internal error" not in err
    (tmp_path / "metrics.json").write_text(doc.replace(estimate, ok.split(", \"mean_stops")[0]
                                                       .split(": ", 1)[1]))
    assert main(["report", str(tmp_path)]) == 0 and (tmp_path / "report.html").is_file()

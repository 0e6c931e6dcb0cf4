"""Bad scenario files give one clear error per problem: file, field path, bad value, what is allowed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import DATA
from tests.mutate import dumps
from trafficsim.build import prepare_network
from trafficsim.cli import main

GOOD = (DATA / "small_corridor.toml").read_text()


def load_text(write, text: str) -> ts.ScenarioError:
    path = write("bad.toml", text)
    with pytest.raises(ts.ScenarioError) as info:
        sc = ts.load_scenario(path)
        prepare_network(sc, path.parent / "net")
    return info.value


def fields(err: ts.ScenarioError) -> list[str]:
    return [i.field for i in err.issues]


def test_good_scenario_loads() -> None:
    sc = ts.load_scenario(DATA / "small_corridor.toml")
    assert list(sc.plans) == ["baseline", "slow"]
    assert sc.begin_s == 7 * 3600 and sc.end_s == 7 * 3600 + 900
    assert sc.demand is not None and sc.demand.flows[0].profile == (0.8, 1.0, 0.9)


def test_missing_field(write) -> None:
    err = load_text(write, GOOD.replace("spacing_m = 250\n", ""))
    assert fields(err) == ["network.corridor.spacing_m"]
    assert "bad.toml: network.corridor.spacing_m: is missing" in str(err)


def test_wrong_type(write) -> None:
    err = load_text(write, GOOD.replace("lanes = 1", 'lanes = "two"'))
    assert fields(err) == ["network.corridor.lanes"]
    assert "'two' is a string; expected an integer" in str(err)


def test_unknown_measure_suggests_the_nearest(write) -> None:
    err = load_text(write, GOOD.replace('type = "speed_limit"', 'type = "speedlimit"'))
    assert fields(err) == ["plans.slow.measures[0].type"]
    assert "Did you mean 'speed_limit'?" in str(err)


@pytest.mark.sumo
def test_unknown_edge_id_is_found_against_the_network(write) -> None:
    err = load_text(write, GOOD.replace('"J1_J2"', '"J1_J9"'))
    assert fields(err) == ["plans.slow.measures[0].edges[1]"]
    assert "edge 'J1_J9' is not in the network. Did you mean 'J1_J2'?" in str(err)


def test_negative_flow(write) -> None:
    err = load_text(write, GOOD.replace("veh_per_hour = 500", "veh_per_hour = -500"))
    assert fields(err) == ["demand.flows[0].veh_per_hour"]
    assert "-500.0 is out of range; expected ≥ 0.0 veh/h" in str(err)


def test_typo_in_key_is_flagged_with_suggestion(write) -> None:
    err = load_text(write, GOOD.replace("spacing_m = 250", "spacing_m = 250\nspaceing_m = 3"))
    assert fields(err) == ["network.corridor.spaceing_m"]
    assert "Did you mean 'spacing_m'?" in str(err)


def test_profile_length_must_cover_the_window(write) -> None:
    err = load_text(write, GOOD.replace("profile = [0.8, 1.0, 0.9]", "profile = [0.8, 1.0]"))
    assert fields(err) == ["demand.flows[0].profile"]
    assert "needs 3" in str(err)


@pytest.mark.sumo
def test_unknown_origin(write) -> None:
    err = load_text(write, GOOD.replace('from = "N1"', 'from = "N7"'))
    assert fields(err) == ["demand.flows[1].from"]
    assert "'N7' is neither a junction nor an edge" in str(err)


def test_every_error_is_listed(write) -> None:
    bad = (GOOD.replace("lanes = 1", "lanes = 0")
           .replace("veh_per_hour = 500", "veh_per_hour = -1")
           .replace('type = "speed_limit"', 'type = "nope"'))
    err = load_text(write, bad)
    assert len(err.issues) == 3


def test_invalid_toml(write) -> None:
    err = load_text(write, "name = \n")
    assert "is not valid TOML" in str(err)


def test_a_byte_order_mark_is_read_past(write) -> None:
    """Windows editors save UTF-8 with a byte-order mark; tomllib alone refused the file as
    'not valid TOML' at line 1, column 1."""
    sc = ts.load_scenario(write("bom.toml", "\ufeff" + GOOD))
    assert list(sc.plans) == ["baseline", "slow"]


def test_broken_sumocfg_path(write) -> None:
    cfg = write("model.sumocfg", '<configuration><input><net-file value="nowhere.net.xml"/>'
                                 '<route-files value="r.rou.xml"/></input>'
                                 '<time><end value="100"/></time></configuration>')
    with pytest.raises(ts.ScenarioError) as info:
        ts.load_scenario(cfg)
    text = str(info.value)
    assert "model.sumocfg: input.net-file: = 'nowhere.net.xml': file not found" in text
    assert "input.route-files" in text


@pytest.mark.sumo
def test_cli_validate_lists_errors_without_traceback(write, capsys) -> None:
    bad = write("bad.toml", GOOD.replace('"J1_J2"', '"J1_J9"').replace("lanes = 1", "lanes = 1.5"))
    good = DATA / "small_corridor.toml"
    code = main(["validate", str(good), str(bad)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "small_corridor.toml: OK" in out
    assert "bad.toml: 1 error" in err and "network.corridor.lanes" in err
    assert "Traceback" not in err


def test_cli_reports_unknown_plan(capsys) -> None:
    code = main(["run", str(DATA / "small_corridor.toml"), "--plan", "slwo", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid scenario\n") and "Did you mean 'slow'?" in err


@pytest.mark.parametrize(("argv", "says"), [
    (["run", "--end", "06:00"], "error: invalid option --end: = 06:00 is not after the "
                                "scenario's begin = 07:00"),
    (["optimise", "--budget", "2"], "error: invalid option --budget: = 2; expected at least 3"),
    (["optimise", "--seeds", "1,2", "--validate-seeds", "2,3"],
     "error: invalid option --validate-seeds: seeds [2] are also search seeds"),
])
def test_a_bad_flag_is_reported_as_the_flag_not_as_the_scenario(capsys, tmp_path, argv,
                                                                 says) -> None:
    """A flag's error names the flag; the scenario file, which is fine, is not blamed."""
    code = main([*argv, str(DATA / "small_corridor.toml"), "--out", str(tmp_path / "o"),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(says) and "invalid scenario" not in err
    assert "small_corridor.toml" not in err


def test_end_override_shortens_profiles() -> None:
    sc = ts.load_scenario(DATA / "small_corridor.toml", end_s=7 * 3600 + 600)
    assert sc.end_s == 7 * 3600 + 600
    assert sc.demand is not None and sc.demand.flows[0].profile == (0.8, 1.0)


@pytest.mark.sumo
def test_clip_windows_cuts_measure_windows_to_a_shortened_run(tmp_path) -> None:
    """A quick look at a long scenario: the tidal lane's evening window is dropped and its
    morning one cut at the new end, so the shortened scenario passes the network checks that
    refuse it unclipped."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "tidal_corridor.toml"
    end = 7 * 3600 + 900
    with pytest.raises(ts.ScenarioError, match="lies outside the simulation window"):
        prepare_network(ts.load_scenario(path, end_s=end), tmp_path / "a")
    sc = ts.load_scenario(path, end_s=end, clip_windows=True)
    (m,) = sc.plans["tidal"].measures
    assert m.inbound_windows == ((7 * 3600, end),) and m.outbound_windows == ()
    prepare_network(sc, tmp_path / "b")


@pytest.mark.sumo
def test_end_shorter_than_a_window_is_refused_only_for_the_plans_that_run(tmp_path) -> None:
    """``--end 07:15`` cuts the tidal plan's windows: refused when the tidal plan runs (compare
    of all plans, ``optimise --plan tidal``, which names the plan the user gave, not the
    baseline that holds its measures), not when only the baseline runs (``compare --plans
    baseline``, ``optimise`` of the baseline)."""
    from trafficsim.optimise.settings import on_plan
    from trafficsim.scenario import check_references

    path = Path(__file__).resolve().parents[1] / "scenarios" / "tidal_corridor.toml"
    sc = ts.load_scenario(path, end_s=7 * 3600 + 900)
    _, index = prepare_network(sc, tmp_path / "a", plans=["baseline"])
    assert check_references(on_plan(sc, "baseline"), index) == []
    fields = [i.field for i in check_references(sc, index)]
    assert fields == ["plans.tidal.measures[0].inbound_windows[0]",
                      "plans.tidal.measures[0].outbound_windows[0]"]
    assert [i.field for i in check_references(on_plan(sc, "tidal"), index)] == fields


# --------------------------------------------------------------------------------------------
# No traceback on any input (issue 10 §2): each input that used to end in one
# --------------------------------------------------------------------------------------------
SHOWCASES = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def _items(doc: dict) -> list[tuple[str, dict]]:
    """(dotted path, table) of every table in a list of tables: measures, incidents, car parks,
    parking groups, flows and kerb stops."""
    out = []
    for key in ("incidents",):
        out += [(f"{key}[{i}]", t) for i, t in enumerate(doc.get(key, []))]
    for key in ("car_parks", "groups"):
        out += [(f"parking.{key}[{i}]", t) for i, t in enumerate(doc.get("parking", {}).get(key, []))]
    for key in ("flows", "stops"):
        out += [(f"demand.{key}[{i}]", t) for i, t in enumerate(doc.get("demand", {}).get(key, []))]
    for name, plan in doc.get("plans", {}).items():
        out += [(f"plans.{name}.measures[{i}]", t) for i, t in enumerate(plan.get("measures", []))]
    return out


def _field_cases() -> list[tuple[Path, str, str]]:
    cases = []
    for path in SHOWCASES:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        for where, table in _items(doc):
            cases += [(path, where, key) for key in table if key != "type"]
    return cases


FIELD_CASES = _field_cases()


def _mutant(path: Path, where: str, edit) -> dict:
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    for w, table in _items(doc):
        if w == where:
            edit(table)
    return doc


@pytest.mark.parametrize("how", ["removed", "renamed"])
def test_a_removed_or_renamed_field_is_reported_never_raised(tmp_path, how) -> None:
    """Every field of every measure, incident, car park, parking group, flow and kerb stop of
    every showcase, removed or renamed: the load succeeds (the field was optional) or raises a
    ScenarioError; never another exception (the missing-value placeholder used to reach the
    measures' constructors: "'object' object is not iterable")."""
    assert len(FIELD_CASES) > 100  # the showcases hold that many fields
    (tmp_path / "networks").symlink_to(SHOWCASES[0].parent / "networks")
    reported = 0
    for path, where, key in FIELD_CASES:
        def edit(t: dict, key: str = key) -> None:
            value = t.pop(key)
            if how == "renamed":
                t[key + "_x"] = value
        out = tmp_path / path.name
        out.write_text(dumps(_mutant(path, where, edit)), encoding="utf-8")
        try:
            ts.load_scenario(out)
        except ts.ScenarioError as exc:
            reported += 1
            named = [i.field for i in exc.issues]
            # Removed, the error may name a field that needs it instead (exempt_electric needs
            # vehicles; a plan's incident_clearance names the incident's id).
            if how == "renamed":
                assert f"{where}.{key}_x" in named, (path.name, where, key, named)
            else:
                assert named, (path.name, where, key)
    assert reported >= len(FIELD_CASES) // 3  # many fields are required


def test_a_required_measure_field_is_reported_with_the_others(write) -> None:
    """Two measures lack a required field and a third has a bad value: all three problems are
    listed (the load does not stop at the first missing value)."""
    text = GOOD.replace('edges = ["W_J1", "J1_J2", "J2_E"]\n', "") + (
        '\n[[plans.slow.measures]]\ntype = "hov_lane"\n'
        '\n[[plans.slow.measures]]\ntype = "speed_limit"\nedges = ["J1_J2"]\nspeed_kmh = -3\n')
    err = load_text(write, text)
    named = fields(err)
    assert "plans.slow.measures[0].edges" in named
    assert any(f.startswith("plans.slow.measures[1].") for f in named)
    assert "plans.slow.measures[2].speed_kmh" in named


def test_a_file_that_is_not_utf8(write, capsys) -> None:
    path = write("bad.toml", GOOD)
    path.write_bytes(GOOD.encode().replace(b"lanes = 1", b"lanes = \xff\xfe1"))
    with pytest.raises(ts.ScenarioError) as info:
        ts.load_scenario(path)
    (issue,) = info.value.issues
    line = GOOD[:GOOD.index("lanes = 1")].count("\n") + 1
    assert issue.message.startswith(f"is not UTF-8 text: byte 0xff on line {line}")
    assert main(["validate", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def with_net_file(name: str, key: str = "file") -> str:
    """The small corridor scenario with ``[network] KEY = NAME`` instead of its corridor."""
    return (GOOD.split("[network.corridor]")[0] + f'[network]\n{key} = "{name}"\n\n[demand]'
            + GOOD.split("[demand]", 1)[1])


@pytest.mark.parametrize("content, expected", [
    ("this is not XML\n", "is not valid XML"),
    ("\x00\x01\x02garbage", "is not valid XML"),
    ("<routes/>\n", "is XML with root element <routes>; expected <net>"),
])
def test_a_network_file_that_is_not_a_network(write, content, expected) -> None:
    write("x.net.xml", content)
    err = load_text(write, with_net_file("x.net.xml"))
    assert fields(err) == ["network.file"]
    assert expected in str(err)


def test_a_network_damaged_after_its_root(write, tmp_path) -> None:
    """A cheap root check passes; the full read finds the damage: still a ScenarioError."""
    write("x.net.xml", '<net version="1.20">\n<edge id="a" from="1" to="2">\n<lane id="a_0" '
                       'length="oops"/></edge></net>\n')
    sc = ts.load_scenario(write("ok.toml", with_net_file("x.net.xml")))
    with pytest.raises(ts.ScenarioError, match=r"x\.net\.xml: is not a readable SUMO network"):
        prepare_network(sc, tmp_path / "net")


def test_route_and_sumocfg_files_that_are_not_xml(write) -> None:
    write("r.rou.xml", "not xml at all")
    write("c.sumocfg", "\xff\xfe binary")
    text = GOOD.replace("[network.corridor]", '[network]\nroutes = ["r.rou.xml"]\n'
                                              "[network.corridor]")
    err = load_text(write, text)
    assert fields(err) == ["network.routes[0]"] and "is not valid XML" in str(err)
    err = load_text(write, with_net_file("c.sumocfg", key="sumocfg"))
    assert "network.sumocfg" in fields(err) and "is not valid XML" in str(err)


@pytest.mark.parametrize("command", [["run"], ["compare"], ["optimise", "--budget", "3"],
                                     ["sweep-clearance", "--minutes", "0,5"]])
def test_out_that_cannot_be_a_folder(tmp_path, capsys, command) -> None:
    """``--out`` naming an existing file, or a folder below a file: exit 2 with the reason,
    before any work (no SUMO run, nothing written)."""
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    scenario = str(DATA / "small_corridor.toml")
    for out, reason in ((a_file, "exists and is not a folder"),
                        (a_file / "sub", f"cannot be created: {a_file} is a file")):
        code = main([command[0], scenario, *command[1:], "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"error: --out {out}: {reason}" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


@pytest.mark.sumo
def test_a_results_folder_that_fails_mid_run_and_a_report_that_cannot_be_written(
        tmp_path, capsys) -> None:
    """Run-time failures of the file system end in one line naming the file: exit 1 for the
    run, exit 2 for ``report`` on a folder whose report.html cannot be written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "cases").write_text("a file where the run puts its case folders")
    scenario = str(DATA / "small_corridor.toml")
    code = main(["run", scenario, "--seeds", "1", "--end", str(7 * 3600 + 300), "--out", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"error: {out / 'cases'}" in err and "Not a directory" in err

    (out / "cases").unlink()
    assert main(["run", scenario, "--seeds", "1", "--end", str(7 * 3600 + 300), "--out", str(out),
                 "--quiet"]) == 0
    (out / "report.html").mkdir()
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report" in err and "Traceback" not in err


@pytest.mark.parametrize("doc", ["[]", "{}", '{"plans": [1]}', "\xff"])
def test_report_on_a_damaged_metrics_file(tmp_path, capsys, doc) -> None:
    (tmp_path / "metrics.json").write_bytes(doc.encode("latin-1"))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "metrics.json" in err and "Traceback" not in err


@pytest.mark.parametrize("end", ["nan", "inf", "-5", "1e300", "soon"])
def test_end_must_be_a_finite_time(capsys, end) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(DATA / "small_corridor.toml"), f"--end={end}"])
    assert info.value.code == 2
    assert "expected the end time as seconds" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(write, value) -> None:
    err = load_text(write, GOOD.replace("veh_per_hour = 500", f"veh_per_hour = {value}")
                    .replace("profile = [0.8, 1.0, 0.9]", f"profile = [0.8, {value}, 0.9]"))
    assert set(fields(err)) == {"demand.flows[0].veh_per_hour", "demand.flows[0].profile"}


def test_the_last_resort_guard(monkeypatch, capsys) -> None:
    """An unexpected exception (a bug) prints one line and exits 1; TRAFFICSIM_DEBUG=1 lets it
    through with its traceback.  The fuzz tests require that the guard never fires."""
    import trafficsim.cli as cli

    def boom(_paths):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_validate", boom)
    monkeypatch.delenv("TRAFFICSIM_DEBUG", raising=False)
    assert main(["validate", "x.toml"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (RuntimeError: a bug)" in err
    monkeypatch.setenv("TRAFFICSIM_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        main(["validate", "x.toml"])


# --------------------------------------------------------------------------------------------
# Warnings on allowed but absurd values
# --------------------------------------------------------------------------------------------
@pytest.mark.sumo
def test_validate_warns_on_absurd_values(write, capsys) -> None:
    """450 where 0.45 was meant, 10,000 seeds, a 2-s timeout: valid (exit 0) but each named as
    a warning with file and field."""
    seeds = ", ".join(map(str, range(10_000)))
    text = (GOOD.replace("profile = [0.8, 1.0, 0.9]", "profile = [0.8, 450, 0.9]")
            .replace("veh_per_hour = 500", "veh_per_hour = 50")
            .replace("seeds = [1, 2, 3]", f"seeds = [{seeds}]\ntimeout_s = 2"))
    path = write("absurd.toml", text)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "absurd.toml: OK" in out
    warnings = [line.strip() for line in err.splitlines()]
    assert all(w.startswith(f"warning: {path}: ") for w in warnings), warnings
    named = {w.split(": ")[2] for w in warnings}
    assert named == {"simulation.seeds", "simulation.timeout_s", "demand.flows[0].profile",
                     "demand.flows[0]"}, warnings
    assert any("by 450" in w and "(22,500 veh/h)" in w for w in warnings)
    assert any("× what its" in w for w in warnings)  # demand against the entry road's lanes


@pytest.mark.sumo
def test_validate_warns_on_a_window_of_days(write, capsys) -> None:
    text = GOOD.replace('end = "07:15"', "end = 1_000_000").replace(
        "profile = [0.8, 1.0, 0.9]", "profile = 1.0")
    assert 'end = "07:15"' in GOOD
    assert main(["validate", str(write("long.toml", text))]) == 0
    assert "simulation.end: makes a window of 11.3 days" in capsys.readouterr().err


@pytest.mark.sumo
def test_showcases_validate_without_warnings(capsys) -> None:
    """No false alarms: the showcase scenarios are plausible."""
    assert main(["validate", *map(str, SHOWCASES)]) == 0
    out, err = capsys.readouterr()
    assert out.count(": OK") == len(SHOWCASES) and err == ""


@pytest.mark.parametrize("end", ["1_000_000_000_000", "1e308", "-1", "nan"])
def test_an_end_beyond_any_window_is_one_error(write, end) -> None:
    """An end of 10^12 s used to build a profile of 10^11 bins (MemoryError); now it is one
    error, without the follow-on ones (end before begin, profile lengths)."""
    err = load_text(write, GOOD.replace('end = "07:15"', f"end = {end}"))
    assert fields(err) == ["simulation.end"]
    assert "is not a time" in str(err)


def test_a_sumocfg_naming_files_that_are_not_xml(write) -> None:
    write("n.net.xml", "garbage")
    write("r.rou.xml", "vehicles: 3")
    write("a.add.xml", "\x00")
    cfg = write("model.sumocfg", '<configuration><input><net-file value="n.net.xml"/>'
                                 '<route-files value="r.rou.xml"/>'
                                 '<additional-files value="a.add.xml"/></input>'
                                 '<time><end value="100"/></time></configuration>')
    with pytest.raises(ts.ScenarioError) as info:
        ts.load_scenario(cfg)
    assert {i.field: "is not valid XML" in i.message for i in info.value.issues} == {
        "input.net-file": True, "input.route-files": True, "input.additional-files": True}


@pytest.mark.parametrize("doc, field", [
    ("[1]", "format"),
    ('{"format": "trafficsim-baseline/1", "scenarios": []}', "scenarios"),
    ('{"format": "trafficsim-baseline/1", "scenarios": {"small_corridor": 5}}',
     "scenarios.small_corridor"),
    ('{"format": "trafficsim-baseline/1", "scenarios": {"small_corridor": {"seeds": "1"}}}',
     "scenarios.small_corridor.seeds"),
    ('{"format": "trafficsim-baseline/1", "scenarios": {"small_corridor": {"plans": '
     '{"baseline": {"mean_delay_s": ["a"]}}}}}', "scenarios.small_corridor.plans.baseline."
                                                 "mean_delay_s"),
])
def test_a_damaged_regression_baseline(tmp_path, capsys, doc, field) -> None:
    """A baseline file edited by hand: exit 2 naming the field, before any run."""
    base = tmp_path / "baseline.json"
    base.write_text(doc)
    assert main(["regress", str(DATA / "small_corridor.toml"), "--baseline", str(base),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"baseline.json: {field}: " in err and "Traceback" not in err


def test_names_that_cannot_be_folders(write) -> None:
    """A plan's runs go to cases/PLAN and optimise writes to optimise_NAME: a name with a path
    separator would write outside the results folder."""
    text = ('name = "../x"\n' + GOOD.replace('name = "small_corridor"\n', "")
            .replace("[plans.slow]", '[plans."a/b"]').replace("plans.slow.", 'plans."a/b".'))
    err = load_text(write, text)
    assert fields(err) == ["name", "plans.a/b"]
    assert all("is not usable as a folder name" in i.message for i in err.issues)


def test_a_flow_beyond_any_road_is_an_error(write) -> None:
    """450 × 500 veh/h: 225,000 veh/h would build millions of vehicles (numpy's Poisson draw
    failed outright on 10^18); an error, not a warning."""
    err = load_text(write, GOOD.replace("profile = [0.8, 1.0, 0.9]", "profile = [0.8, 450, 0.9]"))
    assert fields(err) == ["demand.flows[0].profile"]
    assert "peaks at 500 × 450 = 225,000 veh/h; expected at most 100,000" in str(err)


@pytest.mark.parametrize("key", ["time_to_teleport_s", "timeout_s"])
def test_run_settings_beyond_any_run(write, key) -> None:
    """time_to_teleport_s = 1e308 passed validate, then SUMO refused it ("exceeds the time value
    range"); both run settings are bounded by 100 days."""
    err = load_text(write, GOOD.replace("seeds = [1, 2, 3]", f"seeds = [1, 2, 3]\n{key} = 1e308"))
    assert fields(err) == [f"simulation.{key}"]
    assert "is out of range; expected ≤ 8640000" in str(err)


def test_nesting_too_deep_for_the_toml_reader(write) -> None:
    """tomllib recurses per nesting level: 100,000 nested arrays were a RecursionError."""
    with pytest.raises(ts.ScenarioError, match="nests arrays or tables too deeply"):
        ts.load_scenario(write("deep.toml", "x = " + "[" * 100_000 + "]" * 100_000 + "\n"))


def test_spacing_list_needs_one_gap_per_pair_of_lights(write) -> None:
    err = load_text(write, GOOD.replace("spacing_m = 250", "spacing_m = [250, 300]"))
    assert fields(err) == ["network.corridor.spacing_m"]
    assert "has 2 values; expected 1 (one gap per pair of neighbouring intersections" in str(err)


def test_spacing_list_items_are_checked_one_by_one(write) -> None:
    text = GOOD.replace("intersections = 2\nspacing_m = 250",
                        'intersections = 4\nspacing_m = [250, 20, "far"]')
    err = load_text(write, text)
    assert fields(err) == ["network.corridor.spacing_m[1]", "network.corridor.spacing_m[2]"]
    assert "spacing_m[1]: = 20 is out of range; expected 50–5000 m" in str(err)
    assert "spacing_m[2]: = 'far' is not a finite number; expected a gap in m" in str(err)


def test_a_folder_given_as_the_scenario_is_named_as_a_folder(tmp_path: Path, capsys) -> None:
    """``trafficsim validate DIR`` said 'file not found' for a folder that exists."""
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "is a folder; expected a .toml scenario or a SUMO .sumocfg file" in err.out + err.err
    assert "file not found" not in err.out + err.err


@pytest.mark.parametrize(("measure", "field", "says"), [
    ('control = "actuated"\ntls = []', "tls", "leave tls out for every light"),
    ('control = "webster"\nflows_veh_h = {}', "flows_veh_h", "the counted flow of each approach"),
])
def test_an_empty_list_of_lights_or_flows_is_refused(write, measure, field, says) -> None:
    """``tls = []`` ran every light under the new control (left out, tls means all), and
    ``flows_veh_h = {}`` ran Webster on no counts at all; both exited 0."""
    err = load_text(write, GOOD + f'\n[[plans.sp.measures]]\ntype = "signal_plan"\n{measure}\n')
    assert fields(err) == [f"plans.sp.measures[0].{field}"]
    assert "is empty" in str(err) and says in str(err)


@pytest.mark.parametrize(("measure", "says"), [
    ('type = "truck_ban"\nedges = ["J1_J2"]\nwindows = []', "leave it out for the whole"),
    ('type = "hov_lane"\nedges = ["W_J1", "J1_J2"]\nlane = 0\nwindows = []',
     "leave it out for the whole"),
    ('type = "parking_bay"\nedge = "J1_J2"\npos_m = 150\ncapacity = 3\nwindows = []',
     "at least one window"),
])
def test_an_empty_list_of_windows_is_refused(write, measure, says) -> None:
    """``windows = []`` exited 0: a truck ban or HOV lane then held all day (as if left out),
    a kerb bay was never open."""
    err = load_text(write, GOOD + f"\n[[plans.w.measures]]\n{measure}\n")
    assert fields(err) == ["plans.w.measures[0].windows"]
    assert "is empty" in str(err) and says in str(err)


def test_a_tidal_lane_may_serve_one_direction_only() -> None:
    """(Its empty windows of the other direction are not an error.)"""
    from trafficsim.measures.tidal_lane import TidalLane
    from trafficsim.spec import Fields

    issues: list[ts.Issue] = []
    TidalLane.parse(Fields({"type": "tidal_lane", "inbound": ["W_J1"],
                            "inbound_windows": [["07:00", "07:10"]], "outbound_windows": []},
                           Path("x.toml"), "plans.t.measures[0]", issues))
    assert not [i for i in issues if "windows" in i.field]

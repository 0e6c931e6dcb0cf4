"""The one ``.sumocfg`` reader and writer, checked against what SUMO does with the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import build_net
from trafficsim.sumo import run_tool
from trafficsim.sumocfg import SumocfgError, read_sumocfg, write_sumocfg


def test_grouped_and_flat_forms_read_alike(tmp_path: Path) -> None:
    (tmp_path / "grouped.sumocfg").write_text(
        '<configuration><input><net-file value="n.net.xml"/>'
        '<route-files value="a.rou.xml, sub/b.rou.xml"/></input>'
        '<time><end value="3600"/></time></configuration>', encoding="utf-8")
    (tmp_path / "flat.sumocfg").write_text(
        '<configuration><net-file value="n.net.xml"/><route-files value="a.rou.xml;sub/b.rou.xml"/>'
        '<end value="3600"/></configuration>', encoding="utf-8")
    grouped = read_sumocfg(tmp_path / "grouped.sumocfg")
    assert grouped == read_sumocfg(tmp_path / "flat.sumocfg")
    root = tmp_path.resolve()
    assert grouped == {"net-file": str(root / "n.net.xml"),
                       "route-files": f"{root / 'a.rou.xml'},{root / 'sub/b.rou.xml'}",
                       "end": "3600"}
    assert read_sumocfg(tmp_path / "flat.sumocfg", resolve=False)["route-files"] == \
        "a.rou.xml;sub/b.rou.xml"


def test_written_values_come_back_quoted_right(tmp_path: Path) -> None:
    options = {"net-file": 'my "net" & <co>.net.xml', "device.fcd.explicit": "a,b,c'd",
               "seed": "7", "begin": ""}
    path = write_sumocfg(tmp_path / "c.sumocfg", options)
    assert read_sumocfg(path, resolve=False) == {k: v for k, v in options.items() if v}
    with pytest.raises(SumocfgError, match="not a SUMO option name"):
        write_sumocfg(tmp_path / "x.sumocfg", {"bad name": "1"})


@pytest.mark.sumo
def test_sumo_runs_a_written_config_from_elsewhere_and_writes_where_the_reader_says(
        tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    net = build_net("cross", model)
    cfg = write_sumocfg(model / "sub.sumocfg", {
        "net-file": net.name, "end": "30", "summary-output": "out/summary.xml",
        "no-step-log": "true"})
    (model / "out").mkdir()
    run_tool("sumo", ["-c", str(cfg)], cwd=tmp_path)  # run from another folder
    summary = Path(read_sumocfg(cfg)["summary-output"])
    assert summary == model / "out" / "summary.xml"
    text = summary.read_text(encoding="utf-8")
    # SUMO ran the window the config gave: its last step starts at end - 1 s
    assert 'time="29.00"' in text and 'time="30.00"' not in text


def test_unreadable_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sumocfg"
    bad.write_text("<configuration><input>", encoding="utf-8")
    with pytest.raises(SumocfgError, match=r"bad\.sumocfg: is not valid XML"):
        read_sumocfg(bad)
    with pytest.raises(SumocfgError, match=r"none\.sumocfg: cannot be read"):
        read_sumocfg(tmp_path / "none.sumocfg")

"""Counts files and the GEH statistic, without SUMO: a network index built by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trafficsim.counts import CountsError, detector_edges, geh, hourly, read_counts
from trafficsim.measures import NetIndex
from trafficsim.routeflows import fit_route_flows

# a -> b -> c in a row (junctions J0..J3), with a side street s joining b's end
NET = NetIndex(
    edges={"a": 1, "b": 1, "c": 1, "s": 1},
    junctions=frozenset({"J0", "J1", "J2", "J3", "S"}),
    signals=frozenset(),
    edge_length_m={"a": 100.0, "b": 100.0, "c": 100.0, "s": 100.0},
    out_edges={"J0": ("a",), "J1": ("b",), "J2": ("c",), "S": ("s",)},
    in_edges={"J1": ("a",), "J2": ("b", "s"), "J3": ("c",)},
    edge_speed_m_s={"a": 10.0, "b": 10.0, "c": 10.0, "s": 10.0},
    connections=(("a", 0, "b", 0), ("b", 0, "c", 0), ("s", 0, "c", 0)),
    directions={("a", 0, "b", 0): "s", ("b", 0, "c", 0): "s", ("s", 0, "c", 0): "r"},
)
BEGIN, END = 7 * 3600.0, 8 * 3600.0


def test_geh_textbook_values() -> None:
    # GEH = sqrt(2 (M - C)^2 / (M + C)): count 1000, model 1150 -> sqrt(45000 / 2150)
    assert geh(1000, 1150) == pytest.approx(math.sqrt(45000 / 2150))
    assert geh(1000, 1150) == pytest.approx(4.575, abs=1e-3)
    assert geh(100, 150) == pytest.approx(math.sqrt(20))  # 4.47: within the criterion
    assert geh(100, 200) > 5  # 8.16: outside
    assert geh(0, 0) == 0.0
    assert geh(80, 120) == geh(120, 80)  # symmetric in model and count


def test_hourly_sums_quarter_hours() -> None:
    rows = [(BEGIN + 900 * k, BEGIN + 900 * (k + 1), 10.0 + k) for k in range(6)]
    h = hourly(rows, BEGIN)
    assert h[0] == (10 + 11 + 12 + 13, 1.0)
    assert h[1] == (14 + 15, 0.5)  # half an hour counted: scaled to veh/h by the caller


def test_reads_edges_turns_detectors_and_clock_or_seconds(tmp_path: Path) -> None:
    add = tmp_path / "det.add.xml"
    add.write_text('<additional><inductionLoop id="loop1" lane="c_0" pos="10" period="60" '
                   'file="x.xml"/></additional>')
    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count,vclass\n"
                 "a,07:00,07:15,10,\n"
                 "b>c,25200,26100,8,car\n"
                 "loop1,07:00,07:30,20,\n")
    counts = read_counts(f, NET, BEGIN, END, detectors=detector_edges([add]))
    assert [c.location.edges for c in counts] == [("a",), ("b", "c"), ("c",)]
    assert counts[1].begin_s == BEGIN and counts[1].vclass == "car"
    assert counts[2].end_s == BEGIN + 1800


@pytest.mark.parametrize(("row", "column", "words"), [
    ("nosuch,07:00,07:15,3", "location", "neither an edge"),
    ("a>c,07:00,07:15,3", "location", "no connection leads from edge 'a' to edge 'c'"),
    ("a,07:00,07:15,-4", "count", "expected a number ≥ 0"),
    ("a,07:00,07:15,many", "count", "expected a number ≥ 0"),
    ("a,07:15,07:10,4", "end", "is not after begin"),
    ("a,06:45,07:15,4", "begin", "outside the scenario window 07:00–08:00"),
    ("a,07:45,08:15,4", "end", "outside the scenario window"),
    ("a,07:00,07:15,4,lorry", "vclass", "is not a vehicle kind"),
    ("a,07:00,07:15,1e12,", "count", "expected at most 100,000 veh/h"),
])
def test_each_error_names_file_line_and_column(tmp_path: Path, row: str, column: str,
                                               words: str) -> None:
    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count,vclass\nb,07:00,07:15,5,\n"
                 + (row if row.count(",") == 4 else row + ",") + "\n")
    with pytest.raises(CountsError) as exc:
        read_counts(f, NET, BEGIN, END)
    (issue,) = exc.value.issues
    assert issue.file == f
    assert issue.field == f"line 3, column '{column}'"
    assert words in issue.message


def test_overlapping_intervals_name_both_lines(tmp_path: Path) -> None:
    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count\na,07:00,07:30,5\nb,07:00,07:30,5\na,07:15,07:45,5\n")
    with pytest.raises(CountsError) as exc:
        read_counts(f, NET, BEGIN, END)
    (issue,) = exc.value.issues
    assert issue.field == "line 4, column 'begin'"
    assert "overlaps 07:00–07:30 on line 2" in issue.message


def test_bad_header_is_one_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "counts.csv"
    f.write_text("where,begin,end,count\na,07:00,07:15,5\n")
    with pytest.raises(CountsError, match=r"line 1: header lacks column\(s\) location"):
        read_counts(f, NET, BEGIN, END)


def test_one_vehicle_through_several_counts_is_one_vehicle(tmp_path: Path) -> None:
    # 30 vehicles a -> b -> c pass three count points; 10 more join from s onto c
    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count\na,07:00,08:00,30\nb,07:00,08:00,30\n"
                 "c,07:00,08:00,40\nb>c,07:00,08:00,30\n")
    fit = fit_route_flows(read_counts(f, NET, BEGIN, END), NET)
    total = sum(fl.veh_per_hour * (fl.end_s - fl.begin_s) / 3600 for fl in fit.flows)
    assert total == pytest.approx(40)  # not 30 + 30 + 40 + 30
    assert fit.fitted == pytest.approx((30, 30, 40, 30))
    assert not fit.flags


def test_counts_no_route_flow_can_meet_are_flagged_with_a_reason(tmp_path: Path) -> None:
    # more vehicles on b than ever entered on a (b is only reached from a)
    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count\na,07:00,08:00,20\nb,07:00,08:00,120\n")
    fit = fit_route_flows(read_counts(f, NET, BEGIN, END), NET)
    flagged = {fl.location: fl.reason for fl in fit.flags}
    assert set(flagged) <= {"a", "b"} and flagged
    reason = " ".join(flagged.values())
    assert "consistent" in reason and ("counts at a" in reason or "counts at b" in reason)


def test_route_flow_file_must_be_a_connected_route(tmp_path: Path) -> None:
    from trafficsim.routeflows import read_route_flows

    f = tmp_path / "route_flows.csv"
    f.write_text("id,begin,end,veh_per_hour,vclass,edges\nr1,25200,26100,100,,a c\n"
                 "r2,25200,26100,-5,,a b c\n")
    with pytest.raises(CountsError) as exc:
        read_route_flows(f, NET)
    fields = [i.field for i in exc.value.issues]
    assert fields == ["line 2, column 'edges'", "line 3, column 'veh_per_hour'"]
    assert "no connection leads from 'a' to 'c'" in exc.value.issues[0].message


def test_route_flows_lie_in_the_window(tmp_path: Path) -> None:
    """Checked against a window, each row outside it is an error naming its line and column;
    with ``past_end`` (a run shortened by --end) only the end may lie beyond it."""
    from trafficsim.routeflows import read_route_flows

    f = tmp_path / "route_flows.csv"
    f.write_text("id,begin,end,veh_per_hour,vclass,edges\nok,07:00,08:00,100,,a b c\n"
                 "early,06:00,07:30,100,,a b c\nlate,07:30,08:15,100,,a b c\n"
                 "after,08:00,08:30,100,,a b c\n")
    assert len(read_route_flows(f, NET)) == 4  # (no window: not checked)
    with pytest.raises(CountsError) as exc:
        read_route_flows(f, NET, (BEGIN, END))
    assert [(i.field, i.message) for i in exc.value.issues] == [
        ("line 3, column 'begin'", "interval 06:00–07:30 lies outside the scenario window "
                                   "07:00–08:00; expected begin and end within it"),
        ("line 4, column 'end'", "interval 07:30–08:15 lies outside the scenario window "
                                 "07:00–08:00; expected begin and end within it"),
        ("line 5, column 'begin'", "interval 08:00–08:30 lies outside the scenario window "
                                   "07:00–08:00; expected begin and end within it")]
    with pytest.raises(CountsError) as exc:
        read_route_flows(f, NET, (BEGIN, END), past_end=True)
    assert [i.field for i in exc.value.issues] == ["line 3, column 'begin'",
                                                   "line 5, column 'begin'"]


def test_a_cached_fit_is_the_fresh_fit_bit_for_bit(tmp_path: Path) -> None:
    from trafficsim.routeflows import read_route_flows, write_route_flows

    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count\na,07:00,07:15,7\nc,07:00,07:15,13\n"
                 "a,07:15,07:30,11\nc,07:15,07:30,12\n")
    fit = fit_route_flows(read_counts(f, NET, BEGIN, END), NET)
    write_route_flows(fit.flows, tmp_path / "rf.csv")
    assert read_route_flows(tmp_path / "rf.csv", NET) == fit.flows
    # departures are shifted earlier by the free-flow time to the count locations
    assert {fl.begin_s for fl in fit.flows} - {BEGIN, BEGIN + 900}


def test_a_field_too_long_for_csv_names_its_line(tmp_path: Path) -> None:
    """The csv module refuses fields over 131,072 characters: an error, not a traceback."""
    from trafficsim.routeflows import read_route_flows

    f = tmp_path / "counts.csv"
    f.write_text("location,begin,end,count\na,07:00,07:15,5\n" + "x" * 200_000 + ",07:00,07:15,5\n")
    with pytest.raises(CountsError) as exc:
        read_counts(f, NET, BEGIN, END)
    (issue,) = exc.value.issues
    assert issue.file == f and issue.field == "line 3" and "cannot be read as CSV" in issue.message
    g = tmp_path / "route_flows.csv"
    g.write_text("id,begin,end,veh_per_hour,vclass,edges\nr1,25200,26100,100,,"
                 + "a " * 100_000 + "\n")
    with pytest.raises(CountsError, match="line 2: cannot be read as CSV"):
        read_route_flows(g, NET)


def test_route_flow_ids_are_unique(tmp_path: Path) -> None:
    """Two route flows of one id would give SUMO two vehicles of one id: refused up front."""
    from trafficsim.routeflows import read_route_flows

    f = tmp_path / "route_flows.csv"
    f.write_text("id,begin,end,veh_per_hour,vclass,edges\nr1,25200,26100,100,,a b c\n"
                 "r1,26100,27000,50,,a b c\n")
    with pytest.raises(CountsError) as exc:
        read_route_flows(f, NET)
    (issue,) = exc.value.issues
    assert issue.field == "line 3, column 'id'" and "used on line 2 too" in issue.message

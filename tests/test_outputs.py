"""Reading SUMO outputs: ids stay text."""

from __future__ import annotations

from pathlib import Path

from trafficsim.metrics import edge_table
from trafficsim.outputs import read_csv


def test_numeric_edge_ids_stay_text_and_meet_their_queues(tmp_path: Path) -> None:
    """netgenerate's random networks (and route files) have numeric ids: edge '-19' read as
    -19.0 matched no queue detector nor junction approach, so the junction tables were empty."""
    (tmp_path / "edgedata.csv").write_text(
        "interval_begin;interval_end;interval_id;edge_id;edge_entered;edge_departed;"
        "edge_timeLoss;edge_speed\n0.00;1800.00;edges;-19;40;6;1244.59;5.54\n"
        "0.00;1800.00;edges;9;10;0;100.0;7.0\n")
    (tmp_path / "queues.csv").write_text(
        "interval_begin;interval_end;interval_id;interval_maxJamLengthInMeters;"
        "interval_meanMaxJamLengthInMeters\n0.00;1800.00;q_-19_0;27.54;2.34\n"
        "0.00;1800.00;q_9_1;12.0;1.5\n")
    edges = read_csv(tmp_path / "edgedata.csv")
    assert list(edges["id"]) == ["-19", "9"]
    rows = {r["edge"]: r for r in edge_table(edges, read_csv(tmp_path / "queues.csv"))}
    assert set(rows) == {"-19", "9"}
    assert rows["-19"]["max_queue_m"] == 27.54 and rows["9"]["max_queue_m"] == 12.0
    assert rows["-19"]["volume_veh"] == 46.0  # numbers stay numbers

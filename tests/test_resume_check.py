"""``optimise --resume`` continues a journal only with the inputs that made it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA, build_net
from trafficsim.cli import main

pytestmark = pytest.mark.sumo  # every test here runs SUMO or netconvert


@pytest.fixture
def finished(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A scenario, the folder of a small finished optimisation of it, and the command."""
    build_net("cross", tmp_path)
    sc = tmp_path / "cross.toml"
    sc.write_text((DATA / "cross.toml").read_text())
    out = tmp_path / "opt"
    cmd = ["optimise", str(sc), "--budget", "4", "--seeds", "1", "--no-validate", "--workers",
           "1", "--quiet", "--out", str(out)]
    assert main(cmd) == 0
    return sc, out, cmd


def test_resume_refuses_other_inputs(finished: tuple[Path, Path, list[str]], capsys) -> None:
    sc, out, cmd = finished
    journal = (out / "journal.jsonl").read_text()
    capsys.readouterr()
    # unchanged: resumes (everything is in the journal, nothing is run again)
    assert main([*cmd, "--resume"]) == 0
    assert (out / "journal.jsonl").read_text() == journal
    # one demand value changed: the journal's results belong to another model
    text = sc.read_text()
    sc.write_text(text.replace("veh_per_hour = 650", "veh_per_hour = 700"))
    capsys.readouterr()
    assert main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume: refusing to resume: the scenario or a file it names (SHA-256) changed" in err
    assert "Traceback" not in err
    assert (out / "journal.jsonl").read_text() == journal  # untouched
    # the network file the scenario names is part of its inputs too
    sc.write_text(text)
    net = sc.parent / "cross.net.xml"
    net.write_text(net.read_text() + "\n<!-- edited -->\n")
    assert main([*cmd, "--resume"]) == 2
    assert "SHA-256) changed" in capsys.readouterr().err


def test_resume_follows_a_moved_search(finished: tuple[Path, Path, list[str]],
                                       tmp_path: Path) -> None:
    """A scenario and its search folder copied elsewhere resume there (they were refused
    because the recorded scenario path differed); nothing is run again."""
    import shutil

    sc, out, cmd = finished
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in sc.parent.iterdir():
        if f.is_file():
            shutil.copy(f, moved / f.name)
    shutil.copytree(out, moved / "opt")
    journal = (out / "journal.jsonl").read_text()
    cmd2 = [str(moved / sc.name) if a == str(sc) else str(moved / "opt") if a == str(out)
            else a for a in cmd]
    assert main([*cmd2, "--resume"]) == 0
    assert (moved / "opt" / "journal.jsonl").read_text() == journal


@pytest.mark.parametrize(("key", "words"), [("sumo_version", "the SUMO version changed"),
                                            ("trafficsim_version",
                                             "the trafficsim version changed")])
def test_resume_refuses_another_version(finished: tuple[Path, Path, list[str]], key: str,
                                        words: str, capsys) -> None:
    _, out, cmd = finished
    state_file = out / "optimise-state.json"
    state = json.loads(state_file.read_text())
    was = state[key]
    state_file.write_text(json.dumps(state | {key: "0.0.1"}))
    capsys.readouterr()
    assert main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"{words}: 0.0.1 → {was}" in err and "Traceback" not in err
    # a state file from before versions were recorded cannot vouch for its journal either
    del state[key]
    state_file.write_text(json.dumps(state))
    assert main([*cmd, "--resume"]) == 2
    assert "was not recorded" in capsys.readouterr().err


@pytest.mark.parametrize("damage", [b"\xff\xfe not utf-8", b"[1, 2, 3]", b'{"n": "x"}'])
def test_resume_refuses_a_journal_damaged_in_the_middle(
        finished: tuple[Path, Path, list[str]], damage: bytes, capsys) -> None:
    """Damage before the last line is not a kill's cut: nothing is dropped or rewritten, the
    message names the file and line (exit 2, no traceback)."""
    _, out, cmd = finished
    path = out / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3
    damaged = b"".join([lines[0], damage + b"\n", *lines[1:]])
    path.write_bytes(damaged)
    capsys.readouterr()
    assert main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "journal.jsonl" in err and "line 2 is not a journal entry" in err
    assert "Traceback" not in err and "internal error" not in err
    assert path.read_bytes() == damaged  # every evaluation is still there


def test_resume_drops_only_a_last_line_cut_short(finished: tuple[Path, Path, list[str]]) -> None:
    """A kill can cut the last line: that evaluation reruns, the others are kept."""
    _, out, cmd = finished
    path = out / "journal.jsonl"
    whole = path.read_bytes()
    lines = whole.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    assert main([*cmd, "--resume"]) == 0
    assert path.read_bytes().splitlines()[:-1] == whole.splitlines()[:-1]
    assert len(path.read_bytes().splitlines()) == len(lines)

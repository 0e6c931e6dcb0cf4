"""Property: ``trafficsim validate`` answers every input with exit 0 or 2 and a message, in bounded
time, and never with a traceback (issue 10 §2).

Inputs: random bytes, random TOML documents, and showcase files (``scenarios/*.toml``) mutated by
``tests/mutate.py`` (a key deleted or renamed, a value's type changed, a value replaced by a
random or extreme one, the file truncated, garbage bytes inserted, …).  ``validate`` runs
in-process for speed, plus a few runs of the real command.  It builds each valid mutant's network
with netconvert (cached in a temporary folder, not the user's cache).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mutate import dumps, mutate, mutate_bytes, random_document
from trafficsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHOWCASES = sorted((ROOT / "scenarios").glob("*.toml"))
ORIGINALS = {p.name: p.read_bytes() for p in SHOWCASES}
#: One validate call may build a network (netconvert, about a second); more is a hang.
MAX_CALL_S = 15.0

FUZZ = settings(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory):
    """A folder beside which mutants find the showcases' network files, and a private network
    cache (mutated corridor recipes would otherwise pile up in the user's)."""
    work = tmp_path_factory.mktemp("fuzz")
    (work / "networks").symlink_to(ROOT / "scenarios" / "networks")
    old = os.environ.get("TRAFFICSIM_CACHE")
    os.environ["TRAFFICSIM_CACHE"] = str(work / "cache")
    yield work
    if old is None:
        del os.environ["TRAFFICSIM_CACHE"]
    else:
        os.environ["TRAFFICSIM_CACHE"] = old


def validate(path: Path) -> tuple[int, str]:
    """``trafficsim validate PATH`` in-process: exit code and everything it printed; an escaping
    exception is returned as exit code -1 with its traceback."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(["validate", str(path)])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else -1
        except Exception:
            return -1, out.getvalue() + traceback.format_exc()
    return code, out.getvalue()


def check(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path``, validate it and assert the property; return the exit code."""
    path.write_bytes(data)
    t0 = time.perf_counter()
    code, text = validate(path)
    elapsed = time.perf_counter() - t0
    shown = data[:2000].decode("utf-8", "replace")
    assert "Traceback" not in text, f"{text}\n--- input:\n{shown}"
    assert "internal error" not in text, f"the CLI's last-resort guard fired:\n{text}\n{shown}"
    assert code in (0, 2), f"exit {code}\n{text}\n--- input:\n{shown}"
    assert elapsed < MAX_CALL_S, f"validate took {elapsed:.1f} s"
    if code == 2:  # an error names the file
        assert f"{path}:" in text, text
    return code


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=600))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    assert check(workdir / "bytes.toml", data) == 2  # never a valid scenario


@settings(FUZZ, max_examples=80)
@given(rng=st.randoms(use_true_random=False))
def test_random_toml_documents(workdir: Path, rng: random.Random) -> None:
    check(workdir / "doc.toml", dumps(random_document(rng)).encode("utf-8"))


@settings(FUZZ, max_examples=400)
@given(name=st.sampled_from(sorted(ORIGINALS)), rng=st.randoms(use_true_random=False))
def test_mutated_showcases(workdir: Path, name: str, rng: random.Random) -> None:
    data, _kind = mutate(rng, ORIGINALS[name])
    check(workdir / name, data)


def test_showcases_themselves_are_valid(workdir: Path) -> None:
    """The fuzz starts from files that pass: every mutant's exit 2 is the mutation's doing."""
    for p in SHOWCASES:
        assert check(workdir / p.name, ORIGINALS[p.name]) == 0


@pytest.mark.parametrize("seed", [3, 11])
def test_the_command_itself(workdir: Path, tmp_path: Path, seed: int) -> None:
    """The installed entry point (a fresh interpreter) on a not-UTF-8 file and on a mutant."""
    (tmp_path / "networks").symlink_to(ROOT / "scenarios" / "networks")
    rng = random.Random(seed)
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(ORIGINALS["hov_arterial.toml"][:300] + b"\xc3\x28\xff" + bytes(range(40)))
    mutant = tmp_path / "mutant.toml"
    mutant.write_bytes(mutate(rng, ORIGINALS["incident_corridor.toml"])[0])
    proc = subprocess.run([sys.executable, "-m", "trafficsim.cli", "validate", str(garbage),
                           str(mutant)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr  # the garbage file at least is refused
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{garbage}: is not UTF-8 text: byte 0xc3" in proc.stderr


SUMOCFG = (f'<configuration>\n  <input>\n    <net-file value="{ROOT}/scenarios/networks/'
           f'expressway.net.xml"/>\n    <route-files value="{ROOT}/tests/data/one_vehicle.rou.xml"/>'
           '\n  </input>\n  <time>\n    <begin value="0"/>\n    <end value="600"/>\n  </time>\n'
           '</configuration>\n').encode()


@settings(FUZZ, max_examples=60)
@given(rng=st.randoms(use_true_random=False))
def test_damaged_sumocfg(workdir: Path, rng: random.Random) -> None:
    """An imported SUMO configuration, damaged (truncated, garbage, flipped bytes, a line
    dropped or repeated, times replaced by junk)."""
    data, _ = mutate_bytes(rng, SUMOCFG)
    if rng.random() < 0.3:
        junk = rng.choice(["-5", "nan", "inf", "abc", "", "1e400", "07:00:00", "99:99"])
        data = data.replace(b'value="600"', f'value="{junk}"'.encode())
    check(workdir / "model.sumocfg", data)


def test_the_sumocfg_itself_is_valid(workdir: Path) -> None:
    assert check(workdir / "model.sumocfg", SUMOCFG) == 0

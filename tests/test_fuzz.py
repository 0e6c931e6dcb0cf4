"""Property: ``trafficsim validate`` answers every input with exit 0 or 2 and a message, in bounded
time, and never with a traceback (issue 10 §2).

Inputs: random bytes, random TOML documents, and showcase files (``scenarios/*.toml``) mutated by
``tests/mutate.py`` (a key deleted or renamed, a value's type changed, a value replaced by a
random or extreme one, the file truncated, garbage bytes inserted, …).  ``validate`` runs
in-process for speed, plus a few runs of the real command.  It builds each valid mutant's network
with netconvert (cached in a temporary folder, not the user's cache).

One level down, every showcase measure with fields nudged (another edge, a scaled number, …) must
parse, check its references and build its SUMO elements without raising, and incident and
parking tables of any content must parse.
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


@pytest.mark.sumo
@settings(FUZZ, max_examples=400)
@given(name=st.sampled_from(sorted(ORIGINALS)), rng=st.randoms(use_true_random=False))
def test_mutated_showcases(workdir: Path, name: str, rng: random.Random) -> None:
    data, _kind = mutate(rng, ORIGINALS[name])
    check(workdir / name, data)


@pytest.mark.sumo
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


# --------------------------------------------------------------------------------------------
# Every measure's parser and reference check, on random tables
# --------------------------------------------------------------------------------------------
#: Field names the measures, incidents and car parks read (and a few they do not).
KEYS = ("add_lane", "arrivals_per_hour", "capacity", "car_park", "clearance_min", "clearance_s",
        "control", "corridor", "edge", "edges", "eligible", "exempt_electric", "extension_s",
        "file", "flows_veh_h", "from", "id", "inbound", "inbound_windows", "incident", "lane",
        "lanes", "leave_between", "length_m", "lost_time_s", "max_gap_s", "max_green_s",
        "max_stay_s", "min_green_s", "min_occupancy", "open_to", "otherwise", "outbound",
        "outbound_windows", "parked_at_begin", "pos_m", "profile", "queue_edges",
        "saturation_flow_veh_h", "skip_empty_side", "speed_kmh", "start", "tls", "to",
        "ttc_threshold_s", "vehicles", "when_full", "windows", "zone", "bogus")
WORDS = st.sampled_from(["07:00", "07:05", "25:00", "J1", "J1_J2", "W_J1", "J2_E", "W", "E",
                         "actuated", "webster", "file", "coordinated", "truck", "delivery", "bus",
                         "crash", "homes", "residents", "reroute", ""])
TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=6) | WORDS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WORDS, inner, max_size=3),
    max_leaves=8)


def _measure_templates() -> list[tuple[str, int, dict]]:
    """(showcase, index, table) of every measure table of the showcases."""
    import tomllib

    out = []
    for p in SHOWCASES:
        doc = tomllib.loads(ORIGINALS[p.name].decode("utf-8"))
        for plan in doc.get("plans", {}).values():
            out += [(p.name, i, t) for i, t in enumerate(plan.get("measures", []))]
    return out


TEMPLATES = _measure_templates()


@pytest.fixture(scope="module")
def showcase_nets(workdir: Path) -> dict:
    """Each showcase's network index and window."""
    from trafficsim.build import prepare_network
    from trafficsim.scenario import load_scenario

    out = {}
    for p in SHOWCASES:
        sc = load_scenario(p)
        path, index = prepare_network(sc, workdir / "nets" / p.stem)
        out[p.name] = (index, sc.begin_s, sc.end_s, path)
    return out


def _nudge(rng: random.Random, value: object, edges: list[str]) -> object:
    """A nearby value of the same type: another edge, a scaled number, a list cut or reordered."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return type(value)(value * rng.choice([0, -1, 0.5, 2, 10, 1000]))
    if isinstance(value, str):
        return rng.choice([*edges[:50], value + "x", ""])
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return rng.choice([value[::-1], value[:i] + value[i + 1:], [*value, value[i]],
                           [*value[:i], _nudge(rng, value[i], edges), *value[i + 1:]]])
    return value


@settings(FUZZ, max_examples=300)
@given(pick=st.integers(0, 10**6), rng=st.randoms(use_true_random=False))
def test_every_showcase_measure_nudged_parses_and_checks(showcase_nets, pick: int,
                                                        rng: random.Random) -> None:
    """A showcase measure with one to three fields nudged (another edge id, a scaled number, a
    list cut or reordered) or replaced by any TOML value: parsing records problems or returns
    a measure; a measure parsed without problems checks its references against its own
    network, and one that passes adds its SUMO elements to a case, without raising."""
    from trafficsim.errors import Issue
    from trafficsim.measures import CaseDraft, Measure, parse_measure
    from trafficsim.spec import Fields

    name, _i, template = TEMPLATES[pick % len(TEMPLATES)]
    net, begin, end, net_file = showcase_nets[name]
    table = dict(template)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([k for k in table if k != "type"] or ["type"])
        table[key] = (_nudge(rng, table[key], sorted(net.edges)) if rng.random() < 0.8
                      else rng.choice([0, -1, "", [], {}, 1e9, "07:00", [["07:00", "08:00"]]]))
    issues: list[Issue] = []
    m = parse_measure(Fields(table, ROOT / "scenarios" / name, "m", issues))
    assert m is None or isinstance(m, Measure)
    assert m is not None or issues  # left out only with a reason
    if m is not None and not issues:
        problems = m.check(net, begin, end)
        for fld, msg in problems:
            assert isinstance(fld, str) and isinstance(msg, str) and msg
        if not problems:  # valid against its network: it must also build its SUMO elements
            m.apply(CaseDraft(net=net, begin_s=begin, end_s=end, net_file=net_file))


@settings(FUZZ, max_examples=200)
@given(incidents=st.lists(st.dictionaries(st.sampled_from(KEYS), TOML_VALUES, max_size=8),
                          max_size=2),
       parking=st.dictionaries(st.sampled_from(["overflow_edge", "bin_minutes", "car_parks",
                                                "groups", "bogus"]),
                               TOML_VALUES | st.lists(st.dictionaries(
                                   st.sampled_from(KEYS), TOML_VALUES, max_size=8), max_size=2),
                               max_size=4))
def test_incidents_and_parking_parse_any_table(incidents: list, parking: dict) -> None:
    from trafficsim.errors import Issue
    from trafficsim.measures.incident import parse_incidents
    from trafficsim.measures.shared_parking import parse_parking
    from trafficsim.spec import Fields

    issues: list[Issue] = []
    top = Fields({"incidents": incidents, "parking": parking}, ROOT / "x.toml", "", issues)
    parse_incidents(top)
    parse_parking(top)
    assert all(isinstance(i, Issue) for i in issues)

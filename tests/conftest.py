"""Shared fixtures: small real SUMO networks built by netconvert at test time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trafficsim.sumo import run_tool

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sumo-rl"


#: sumo-rl's two-way single intersection (under :data:`SHARED`): one light ``t``, four stages
#: (north-south through and left, east-west through and left), a left-turn lane per approach.
SINGLE_INTERSECTION = "2way-single-intersection/single-intersection.net.xml"


def single_intersection_case(dest: Path, shared: Path, scenario: str) -> Path:
    """DEST/net.net.xml (sumo-rl's single intersection) and DEST/sc.toml holding ``scenario``
    (which names ``file = "net.net.xml"``); returns the scenario file."""
    net = shared / SINGLE_INTERSECTION
    if not net.is_file():
        pytest.skip(f"{net} not present")
    shutil.copy(net, dest / "net.net.xml")
    sc = dest / "sc.toml"
    sc.write_text(scenario, encoding="utf-8")
    return sc


def switch_states(path: Path, tls: str | None = None) -> list[tuple[float, str]]:
    """(time [s], state) of every switch SUMO's ``SaveTLSSwitchStates`` recorded in ``path``
    (of the light ``tls``; None: of every light)."""
    from trafficsim.outputs import read_tls_states

    return [(t, state) for t, light, state in read_tls_states(path) if tls in (None, light)]


def build_net(name: str, dest: Path) -> Path:
    """Compile tests/data/NAME.{nod,edg}.xml into DEST/NAME.net.xml with netconvert."""
    for ext in ("nod", "edg"):
        shutil.copy(DATA / f"{name}.{ext}.xml", dest)
    run_tool("netconvert", ["-n", f"{name}.nod.xml", "-e", f"{name}.edg.xml",
                            "-o", f"{name}.net.xml", "--no-turnarounds"], cwd=dest)
    return dest / f"{name}.net.xml"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file into the test's directory and return its path."""

    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return _write


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"third-party SUMO models not present at {SHARED} (see shared/data/README.md)")
    return SHARED.resolve()


@pytest.fixture
def small_corridor() -> Path:
    return DATA / "small_corridor.toml"


@pytest.fixture(autouse=True)
def _sumo_marker_is_honest(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A test that starts SUMO or one of its tools in this process must carry the ``sumo``
    marker, so that ``-m "not sumo"`` really runs without SUMO (tests that start the CLI as a
    subprocess are marked by hand)."""
    import trafficsim.sumo as sumo

    if request.node.get_closest_marker("sumo") is not None:
        yield
        return
    spawn = sumo._spawn

    def guarded(cmd, **kw):
        pytest.fail(f"{request.node.nodeid} starts {Path(cmd[0]).name} but is not marked "
                    "@pytest.mark.sumo")
        return spawn(cmd, **kw)

    monkeypatch.setattr(sumo, "_spawn", guarded)
    yield

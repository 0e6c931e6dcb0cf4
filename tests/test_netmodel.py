"""The network model: one streaming read of a ``.net.xml``, checked against SUMO's own facts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import build_net
from trafficsim.netmodel import NetworkError, read_network


@pytest.fixture
def cross(tmp_path: Path) -> Path:
    """One signalised 4-leg crossing (junction C, traffic light 'ctrl'), one lane per arm."""
    return build_net("cross", tmp_path)


def _link(net, frm: str, to: str) -> int:  # type: ignore[no-untyped-def]
    (c,) = [c for c in net.connections if (c.from_edge, c.to_edge) == (frm, to)]
    return c.link_index


@pytest.mark.sumo
def test_crossing_movements_are_mutual_foes_and_left_turns_yield(cross: Path) -> None:
    net = read_network(cross)
    c = net.junctions["C"]
    n = len(c.requests)
    assert n == 12  # 4 arms × (left, straight, right); no U-turns
    # conflict is mutual: SUMO writes each pair from both sides
    for i in range(n):
        for j in c.foes(i):
            assert i in c.foes(j), (i, j)
    we, ns = _link(net, "WC", "CE"), _link(net, "NC", "CS")
    assert ns in c.foes(we) and we in c.foes(ns)  # the two through movements cross
    # a permissive left turn gives way to the oncoming through movement, not the reverse
    left, oncoming = _link(net, "WC", "CN"), _link(net, "EC", "CW")
    assert oncoming in c.yields_to(left) and left not in c.yields_to(oncoming)
    # node C was at (0, 0); netconvert shifts the network by its netOffset
    dx, dy = map(float, net.location["netOffset"].split(","))
    assert c.type == "traffic_light" and (c.x, c.y) == (dx, dy)
    assert set(c.inc_lanes) == {"WC_0", "EC_0", "NC_0", "SC_0"}


@pytest.mark.sumo
def test_links_cover_each_program_state(cross: Path) -> None:
    net = read_network(cross)
    (prog,) = net.programs
    assert prog.id == "ctrl" and prog.type == "static"
    indices = sorted(c.link_index for c in net.tl_links("ctrl"))
    for ph in prog.phases:
        assert indices == list(range(len(ph.state)))
    assert sum(ph.duration_s for ph in prog.phases) == 90.0  # netconvert's default cycle


@pytest.mark.sumo
def test_lanes_agree_with_sumolib(cross: Path) -> None:
    sumolib = pytest.importorskip("sumolib")
    ref = sumolib.net.readNet(str(cross), withInternal=True)
    net = read_network(cross)
    lanes = [ln for e in net.edges.values() for ln in e.lanes]
    assert len(lanes) == sum(len(e.getLanes()) for e in ref.getEdges(withInternal=True))
    for ln in lanes:
        r = ref.getLane(ln.id)
        assert ln.length_m == pytest.approx(r.getLength(), abs=1e-9)
        assert ln.speed_m_s == pytest.approx(r.getSpeed(), abs=1e-9)
        assert [c for p in ln.shape for c in p] == pytest.approx([c for p in r.getShape() for c in p])
    assert {e.id for e in net.normal_edges()} == {e.getID() for e in ref.getEdges() if not e.getFunction()}


def test_every_program_in_file_order(shared_data: Path) -> None:
    path = shared_data / "4x4-Lucas" / "4x4.net.xml"
    text = path.read_text(encoding="utf-8")
    written = re.findall(r'<tlLogic id="([^"]*)"[^>]*programID="([^"]*)"', text)
    assert len(written) == 17  # one traffic light has two programs
    assert [(p.id, p.program_id) for p in read_network(path).programs] == written


@pytest.mark.sumo
def test_cached_per_file_version(cross: Path) -> None:
    first = read_network(cross)
    assert read_network(cross) is first  # parsed once
    # a rewritten file (a plan's patched network) is read again
    text = cross.read_text(encoding="utf-8").replace('speed="13.89"', 'speed="3.21"', 1)
    cross.write_text(text, encoding="utf-8")
    st = cross.stat()
    os.utime(cross, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = read_network(cross)
    assert second is not first
    assert [ln.speed_m_s for e in second.edges.values() for ln in e.lanes].count(3.21) == 1


def test_unreadable_network_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge id='a'>", encoding="utf-8")
    with pytest.raises(NetworkError, match=r"bad\.net\.xml: not well-formed XML"):
        read_network(bad)
    with pytest.raises(NetworkError, match=r"missing\.net\.xml: cannot be read"):
        read_network(tmp_path / "missing.net.xml")


@pytest.mark.sumo
def test_every_reader_shares_one_parse(cross: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trafficsim.netmodel as nm
    from trafficsim.measures.incident import lane_shapes
    from trafficsim.netgeom import read_net
    from trafficsim.network import net_index, read_signals
    from trafficsim.signals import read_edges, read_links, read_plan

    parses: list[Path] = []
    real = nm._parse
    monkeypatch.setattr(nm, "_parse", lambda p: parses.append(p) or real(p))
    index, geo = net_index(cross), read_net(cross)
    links, edges, plan = read_links(cross), read_edges(cross), read_plan(cross)
    programs, tl_links = read_signals(cross)
    shapes = lane_shapes(cross, ["WC"])
    assert parses == [cross.resolve()]
    # and they agree with each other
    assert index.signals == set(geo.programs) == set(links) == {p.tls_id for p in plan.programs}
    assert sorted(tl_links["ctrl"].values()) == [lk.index for lk in links["ctrl"]]
    assert len(programs) == 1 and programs[0].get("id") == "ctrl"
    assert edges["WC"].length_m == geo.edges["WC"].length_m == index.edge_length_m["WC"]
    assert len(shapes) == 1 and shapes[0].shape == (len(geo.edges["WC"].lanes[0].shape), 2)


@pytest.mark.sumo
def test_gzipped_network_reads_the_same(cross: Path) -> None:
    import gzip

    gz = cross.with_name("cross.net.xml.gz")
    gz.write_bytes(gzip.compress(cross.read_bytes()))
    a, b = read_network(cross), read_network(gz)
    assert (a.edges, a.connections, a.junctions, a.programs) == \
        (b.edges, b.connections, b.junctions, b.programs)

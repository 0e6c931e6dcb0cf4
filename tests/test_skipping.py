"""Actuated programs that skip stages without demand (:func:`trafficsim.phasing.with_skipping`).

The network is sumo-rl's two-way single intersection (``shared/data/sumo-rl``): each approach
has a left-turn lane of its own, so ``leading_left`` gives each opposing pair a protected-left
stage before its through stage.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import single_intersection_case, switch_states
from trafficsim.netmodel import read_network
from trafficsim.phasing import applicable, build_program, layout, with_min_greens, with_skipping
from trafficsim.safety import program_issues

SCENARIO = """
name = "skipping"
[simulation]
end = 900
seeds = [1]
[network]
file = "net.net.xml"
[demand]
bin_minutes = 15
[[demand.flows]]
from = "w"
to = "e"
veh_per_hour = 500
[[demand.flows]]
from = "e"
to = "w"
veh_per_hour = 300
[[demand.flows]]
from = "n"
to = "s"
veh_per_hour = 200
[[demand.flows]]
from = "s"
to = "n"
veh_per_hour = 200
[[demand.flows]]
from = "w"
to = "n"
veh_per_hour = 120

[plans.fixed_sequence]
[[plans.fixed_sequence.measures]]
type = "signal_plan"
phasing = "leading_left"
control = "actuated"

[plans.skipping]
[[plans.skipping.measures]]
type = "signal_plan"
phasing = "leading_left"
control = "actuated"
skip_stages = true
"""


@pytest.fixture
def net_file(shared_data: Path, tmp_path: Path) -> Path:
    """The network in the test's folder, beside the scenario (sc.toml) that runs on it."""
    single_intersection_case(tmp_path, shared_data, SCENARIO)
    return tmp_path / "net.net.xml"


@pytest.mark.sumo
def test_every_phasing_with_skipping_is_safe_on_every_path(net_file: Path) -> None:
    """Every stage can follow every other through a transition of its own, and every cycle of
    stages the program can run passes the safety check; a direct transition without its
    all-red is caught, with the path named."""
    net = read_network(net_file)
    lay = layout(net, "t")
    for kind in applicable(lay):
        prog = build_program(lay, kind)
        act = with_skipping(lay, with_min_greens(prog, prog.actuated()))
        n = len(prog.stages)
        greens = [i for i, ph in enumerate(act.phases) if ph.is_green]
        assert len(greens) == n
        if n < 3:
            assert act == with_min_greens(prog, prog.actuated())
            continue
        assert all(len(act.phases[g].next) == n - 1 for g in greens), kind
        assert program_issues(net, act) == [], kind
    act = with_skipping(lay, build_program(lay, "leading_left").actuated())
    direct = next(i for i, ph in enumerate(act.phases)
                  if "all-red" in ph.name and " to " in ph.name)
    cut = replace(act, phases=tuple(replace(ph, duration_s=0.0) if i == direct else ph
                                    for i, ph in enumerate(act.phases)))
    issues = program_issues(net, cut)
    assert any("all-red needs" in m and "(stages " in m for m in issues), issues


@pytest.mark.sumo
def test_a_left_stage_nobody_waits_at_is_skipped(net_file: Path, tmp_path: Path) -> None:
    """SUMO's switch log: with a fixed sequence both protected-left stages run every cycle;
    with skipping, the north-south left stage (no left-turn demand) never shows, the west's
    (120 veh/h) still does, and delay falls."""
    r = ts.compare(net_file.with_name("sc.toml"), out=tmp_path / "out", progress=False,
                   trajectories=["w_t", "t_e"])
    lay = layout(read_network(net_file), "t")
    lefts = {i for m in lay.movements if m.turn == "L" for i in m.link_indices}

    def left_stages(plan: str) -> dict[str, int]:
        """Left-only green states shown → how often they started."""
        states = switch_states(tmp_path / f"out/cases/{plan}/seed_1/tls_states.xml")
        out: dict[str, int] = {}
        for _, s in states:
            if any(c in "yu" for c in s):
                continue  # a transition
            green = {i for i, c in enumerate(s) if c in "Gg" and i in dict(lay.names)}
            if green and green <= lefts | lay.crossing_links and green & lefts:
                out[s] = out.get(s, 0) + 1
        return out

    fixed, skipping = left_stages("fixed_sequence"), left_stages("skipping")
    assert len(fixed) == 2 and min(fixed.values()) >= 5
    west = [s for s in fixed if any(
        s[i] in "Gg" for m in lay.movements if m.from_edge.startswith("w") and m.turn == "L"
        for i in m.link_indices)]
    assert len(west) == 1
    assert set(skipping) == set(west)
    delay = {p: r.run(p, 1).metrics["mean_delay_s"] for p in ("fixed_sequence", "skipping")}
    assert delay["skipping"] < delay["fixed_sequence"]


def test_the_design_search_tunes_skipping_on_designed_stages_only(net_file: Path) -> None:
    """``--design``'s actuated tuning has a last coordinate, skipping, when a light runs three
    or more designed stages; the network's own phases keep their fixed sequence."""
    from trafficsim.optimise.design import DesignSpace, SkippingEncoding, _actuated_encoding
    from trafficsim.signals import WebsterSettings, read_links, read_plan

    links = read_links(net_file)
    space = DesignSpace(read_network(net_file), read_plan(net_file), links,
                        {lk.lane_id: 300.0 for lk in links["t"]}, WebsterSettings())
    enc = _actuated_encoding(space.plan({"t": "leading_left"}), space)
    assert isinstance(enc, SkippingEncoding)
    assert list(enc.default()) == [5.0, 50.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    plain = enc.decode([5.0, 50.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    skipping = enc.decode([5.0, 50.0, 3.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    # a light that skips switches by gaps even where queue switching or choice is on
    assert enc.decode([5.0, 50.0, 3.0, 0.0, 0.0, 1.0, 0.0, 1.0]) == skipping
    assert enc.decode([5.0, 50.0, 3.0, 0.0, 0.0, 0.0, 1.0, 1.0]) == skipping
    assert not any(len(ph.next) > 1 for ph in plain["t"].phases)
    assert sum(len(ph.next) == 3 for ph in skipping["t"].phases) == 4
    assert space.generated_issues(skipping) == []
    assert not isinstance(_actuated_encoding(space.plan({}), space), SkippingEncoding)


def test_skip_stages_without_designed_phases_names_the_field(net_file: Path,
                                                             tmp_path: Path) -> None:
    from trafficsim.errors import ScenarioError

    text = SCENARIO.split("[plans.fixed_sequence]")[0] + (
        '[plans.p]\n[[plans.p.measures]]\ntype = "signal_plan"\ncontrol = "actuated"\n'
        'skip_stages = true\n')
    (tmp_path / "sc.toml").write_text(text)
    with pytest.raises(ScenarioError) as err:
        ts.load_scenario(tmp_path / "sc.toml")
    assert "plans.p.measures[0].skip_stages" in str(err.value)
    assert "phasing" in str(err.value)

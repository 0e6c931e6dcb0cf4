"""Actuated control shaped by demand (``--design``'s actuated tuning, real SUMO).

:class:`trafficsim.optimise.design.DemandActuatedEncoding`: each stage's maximum green follows
its Webster green (the measured demand), and SUMO's ``jam-threshold`` stops a queue that cannot
leave from holding its green.  The network is sumo-rl's two-way single intersection
(``shared/data/sumo-rl``): one light ``t``, stages west-east through, west-east left,
north-south through, north-south left.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import trafficsim as ts
from tests.conftest import single_intersection_case, switch_states
from trafficsim.netmodel import read_network
from trafficsim.optimise.design import DemandActuatedEncoding, DesignSpace, _actuated_encoding
from trafficsim.safety import program_issues
from trafficsim.signals import Program, SignalPlan, WebsterSettings, read_links, read_plan

HEADER = """
name = "demand_actuated"
[simulation]
end = {end}
seeds = [1]
[network]
file = "net.net.xml"
[demand]
bin_minutes = 5
"""


def _flows(pairs: dict[tuple[str, str], float]) -> str:
    return "".join(f'[[demand.flows]]\nfrom = "{a}"\nto = "{b}"\nveh_per_hour = {v:g}\n'
                   for (a, b), v in pairs.items())


def _plan(name: str, file: str) -> str:
    return (f'[plans.{name}]\n[[plans.{name}.measures]]\ntype = "signal_plan"\n'
            f'file = "{file}"\n')


def green_runs(path: Path, program: Program) -> dict[int, list[float]]:
    """Stage → durations of its greens SUMO really ran [s] (the last, unfinished one left out)."""
    greens = {program.phases[st.green].state: k for k, st in enumerate(program.stages)}
    switches = switch_states(path, program.tls_id)
    out: dict[int, list[float]] = {}
    for (t, state), (t_next, _) in pairwise(switches):
        if state in greens:
            out.setdefault(greens[state], []).append(t_next - t)
    return out


def _stage(program: Program, link: int) -> int:
    """The stage that gives ``link`` green."""
    return next(k for k, st in enumerate(program.stages)
                if program.phases[st.green].state[link] in "Gg")


@pytest.mark.sumo
def test_max_greens_follow_the_webster_shares_and_hold_in_sumo(shared_data: Path,
                                                               tmp_path: Path) -> None:
    """Shape 1: each stage's maxDur is the max green × its Webster green / the mean green; under
    demand that never gaps out, SUMO runs the west-east through stage (three times the
    north-south flow) to its longer maxDur and the north-south one to its shorter one."""
    demand = {("w", "e"): 1800, ("e", "w"): 1800, ("n", "s"): 1800, ("s", "n"): 1800}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=900) + _flows(demand)
                                  + _plan("shaped", "shaped.add.xml"))
    net_file = tmp_path / "net.net.xml"
    links = read_links(net_file)
    # the demand the design measured: west-east three times north-south, few left turns
    flows = {lk.lane_id: 60.0 if lk.lane_id.endswith("_1") else
             600.0 if lk.lane_id[0] in "we" else 200.0 for lk in links["t"]}
    space = DesignSpace(read_network(net_file), read_plan(net_file), links, flows,
                        WebsterSettings())
    base = space.plan({})
    enc = _actuated_encoding(base)
    assert isinstance(enc, DemandActuatedEncoding)
    web = base["t"].greens_s
    mean = sum(web) / len(web)
    plan = enc.decode([5.0, 40.0, 3.0, 1.0, 0.0])
    prog = plan["t"]
    maxs = [prog.phases[st.green].max_dur_s for st in prog.stages]
    mins = [prog.phases[st.green].min_dur_s for st in prog.stages]
    assert maxs == [min(max(round(40 * g / mean), lo), 120) for g, lo in zip(web, mins,
                                                                              strict=True)]
    we, ns = (_stage(prog, 10), _stage(prog, 1))  # links w_t→t_e and n_t→t_s
    assert maxs[we] >= 2 * maxs[ns] > 0
    # shape 0 is one max green for every stage (SUMO's practice)
    flat = enc.decode([5.0, 40.0, 3.0, 0.0, 0.0])["t"]
    assert {flat.phases[st.green].max_dur_s for st in flat.stages} == {40.0}
    assert program_issues(space.net, prog) == []

    plan.write(tmp_path / "shaped.add.xml")
    ts.compare(sc, out=tmp_path / "out", progress=False, trajectories=["w_t", "t_e"])
    runs = green_runs(tmp_path / "out/cases/shaped/seed_1/tls_states.xml", prog)
    for k in (we, ns):
        assert len(runs[k]) >= 3
        assert all(abs(d - maxs[k]) <= 1.0 for d in runs[k][1:]), (k, maxs[k], runs[k])


@pytest.mark.sumo
def test_a_jammed_queue_does_not_hold_the_green(shared_data: Path, tmp_path: Path) -> None:
    """West-east traffic whose exit (t_e) a crash blocks stands still before the stop line:
    SUMO's point detectors see no vehicle pass, so its green gaps out at minDur every cycle
    (before the crash it runs 12-26 s), with or without the jam threshold the tuning may set.
    (So SUMO's ``jam-threshold`` only matters where a vehicle stands on the loop itself.)"""
    demand = {("w", "e"): 900, ("n", "s"): 400, ("s", "n"): 400}
    crash = ('[[incidents]]\nid = "crash"\nedge = "t_e"\nlanes = [0, 1]\npos_m = 40\n'
             'start = "00:02"\nclearance_min = 10\n')
    sc = single_intersection_case(
        tmp_path, shared_data, HEADER.format(end=780) + _flows(demand) + crash
        + _plan("holding", "holding.add.xml") + _plan("jam", "jam.add.xml"))
    net_file = tmp_path / "net.net.xml"
    start = read_plan(net_file)["t"]
    enc = DemandActuatedEncoding(SignalPlan((start,)))
    holding = enc.decode([5.0, 40.0, 3.0, 0.0, 0.0])
    jam = enc.decode([5.0, 40.0, 3.0, 0.0, 5.0])
    assert dict(jam["t"].params)["jam-threshold"] == "5"
    assert "jam-threshold" not in dict(holding["t"].params)
    holding.write(tmp_path / "holding.add.xml")
    jam.write(tmp_path / "jam.add.xml")
    ts.compare(sc, out=tmp_path / "out", progress=False, trajectories=["w_t", "t_e"])
    prog = holding["t"]
    we = _stage(prog, 10)  # link w_t→t_e
    greens = {prog.phases[st.green].state: k for k, st in enumerate(prog.stages)}

    def west_east_greens(plan: str, t0: float, t1: float) -> list[float]:
        sw = switch_states(tmp_path / f"out/cases/{plan}/seed_1/tls_states.xml", "t")
        return [b - a for (a, s), (b, _) in pairwise(sw)
                if greens.get(s) == we and t0 <= a <= t1]

    for plan in ("holding", "jam"):
        before = west_east_greens(plan, 0, 120)
        blocked = west_east_greens(plan, 150, 700)  # the queue reaches the stop line first
        assert max(before) >= 12.0, before
        assert len(blocked) >= 8 and max(blocked) <= 10.0, (plan, blocked)


def _waits(path: Path, prefix: str) -> list[float]:
    """Waiting times [s] of the vehicles whose id starts with ``prefix`` (SUMO's tripinfo)."""
    import csv

    with path.open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    return [float(r["tripinfo_waitingTime"]) for r in rows
            if r["tripinfo_id"].startswith(prefix) and r.get("tripinfo_arrival", "-1") != "-1"]


@pytest.mark.sumo
def test_queue_switching_serves_a_waiting_side_street_at_once(shared_data: Path,
                                                              tmp_path: Path) -> None:
    """Two-stage actuated control with queue switching: a north-south vehicle that finds the
    west-east green with nobody on it waits at most that green's minimum and the intergreen;
    with steady west-east traffic (900 veh/h) the north-south vehicles wait less than under
    SUMO's gap control, which holds the green while west-east vehicles keep coming."""
    from trafficsim.optimise.design import stage_actuated, with_queue_switching

    flows = {("w", "e"): 900, ("e", "w"): 300, ("n", "s"): 100}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=900) + _flows(flows)
                                  + _plan("gaps", "gaps.add.xml")
                                  + _plan("queues", "queues.add.xml"))
    net_file = tmp_path / "net.net.xml"
    net = read_network(net_file)
    links = read_links(net_file)
    space = DesignSpace(net, read_plan(net_file), links,
                        {lk.lane_id: 300.0 for lk in links["t"]}, WebsterSettings())
    two = space.program("t", "two_stage")
    gaps = stage_actuated(two, [7.0] * 2, [50.0] * 2, {"max-gap": "3"})
    queues = with_queue_switching(net, gaps)
    assert program_issues(net, queues) == []
    ends = [ph.early_target for ph in queues.phases if ph.early_target]
    assert len(ends) == 2 and all(" > " in c and "a:t_q_" in c for c in ends)
    assert {d for d, _, _ in queues.detectors} == {f"t_q_{lk.lane_id}" for lk in links["t"]}
    SignalPlan((gaps,)).write(tmp_path / "gaps.add.xml")
    SignalPlan((queues,)).write(tmp_path / "queues.add.xml")
    ts.compare(sc, out=tmp_path / "out", progress=False)
    side = {p: _waits(tmp_path / f"out/cases/{p}/seed_1/tripinfo.csv", "n_s")
            for p in ("gaps", "queues")}
    main = {p: _waits(tmp_path / f"out/cases/{p}/seed_1/tripinfo.csv", "w_e")
            for p in ("gaps", "queues")}
    assert len(side["queues"]) >= 15 and len(main["queues"]) >= 150
    mean = {p: sum(v) / len(v) for p, v in side.items()}
    assert mean["queues"] < 0.75 * mean["gaps"], mean
    # the main street is not starved: its vehicles wait no longer than a cycle on average
    assert sum(main["queues"]) / len(main["queues"]) < 30.0

    # alone, a side-street vehicle waits for the main green's minimum and the intergreen only
    sc2 = single_intersection_case(tmp_path, shared_data, HEADER.format(end=600)
                                   + _flows({("n", "s"): 40})
                                   + _plan("queues", "queues.add.xml"))
    ts.compare(sc2, out=tmp_path / "out2", progress=False)
    k = _stage(queues, 1)  # the north-south stage
    bound = queues.phases[queues.stages[1 - k].green].min_dur_s + queues.intergreens_s[1 - k]
    alone = _waits(tmp_path / "out2/cases/queues/seed_1/tripinfo.csv", "n_s")
    assert len(alone) >= 4 and max(alone) <= bound + 1.0, (alone, bound)


def _queue_choice_plans(tmp_path: Path, end: str = "queue", **plans: float) -> Program:
    """Write each plan NAME.add.xml: the network's four stages with ITE transitions, actuated
    (minDur 7 s, maxDur 40 s, max-gap 3 s) with the queue-chosen next stage, greens ending by
    ``end``, and a max wait of the given value [s]; a value of 0 writes the fixed sequence with
    queue switching instead."""
    from trafficsim.optimise.design import stage_actuated, with_queue_choice, with_queue_switching

    net_file = tmp_path / "net.net.xml"
    net = read_network(net_file)
    links = read_links(net_file)
    space = DesignSpace(net, read_plan(net_file), links,
                        {lk.lane_id: 300.0 for lk in links["t"]}, WebsterSettings())
    four = space.plan({})["t"]
    assert len(four.stages) == 4
    act = stage_actuated(four, [7.0] * 4, [40.0] * 4, {"max-gap": "3"})
    out = act
    for name, wait in plans.items():
        prog = (with_queue_choice(net, act, max_wait_s=wait, end=end) if wait
                else with_queue_switching(net, act))
        assert program_issues(net, prog) == [], name
        SignalPlan((prog,)).write(tmp_path / f"{name}.add.xml")
        out = prog
    return out


@pytest.mark.sumo
def test_queue_choice_serves_the_stage_that_has_the_queue_next(shared_data: Path,
                                                               tmp_path: Path) -> None:
    """Only north-south through (stage 1) and west-north left turns (stage 4) have vehicles:
    with the queue-chosen next stage the light goes from stage 1 straight to stage 4 and back,
    never through the empty north-south left (2) and west-east through (3) stages, which the
    fixed sequence serves for their minimum green every cycle; the left turns wait less."""
    flows = {("n", "s"): 600, ("w", "n"): 30}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=600) + _flows(flows)
                                  + _plan("sequence", "sequence.add.xml")
                                  + _plan("choice", "choice.add.xml"))
    prog = _queue_choice_plans(tmp_path, sequence=0.0, choice=120.0)
    # every green may go to each other stage (its own transition) or rest
    assert all(len(prog.phases[st.green].next) == 4 for st in prog.stages)
    ts.compare(sc, out=tmp_path / "out", progress=False, trajectories=["w_t"])
    greens = {prog.phases[st.green].state: k for k, st in enumerate(prog.stages)}
    ns, left = _stage(prog, 1), _stage(prog, 11)  # links n_t→t_s and w_t→t_n
    served = {}
    for plan in ("sequence", "choice"):
        sw = switch_states(tmp_path / f"out/cases/{plan}/seed_1/tls_states.xml", "t")
        served[plan] = [greens[s] for _, s in sw if s in greens]
    assert set(served["sequence"]) == {0, 1, 2, 3}
    assert set(served["choice"]) == {ns, left}, served["choice"]
    assert served["choice"].count(left) >= 3
    waits = {p: _waits(tmp_path / f"out/cases/{p}/seed_1/tripinfo.csv", "w_n")
             for p in ("sequence", "choice")}
    assert len(waits["choice"]) >= 3
    assert sum(waits["choice"]) / len(waits["choice"]) < sum(waits["sequence"]) / len(
        waits["sequence"]), waits


@pytest.mark.sumo
def test_queue_choice_serves_a_starved_stage_within_its_bound(shared_data: Path,
                                                              tmp_path: Path) -> None:
    """Heavy through traffic on both streets (stages 1 and 3, two occupied lanes each) always
    outnumbers a lone west-north left turner (stage 4, one lane): by queues alone the light
    alternates 1 and 3 and the left turner waits until SUMO teleports it; with a max wait of
    60 s it is served within 60 s + a minimum green + an intergreen."""
    flows = {("n", "s"): 900, ("s", "n"): 900, ("w", "e"): 900, ("e", "w"): 900,
             ("w", "n"): 20}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=600) + _flows(flows)
                                  + _plan("bounded", "bounded.add.xml")
                                  + _plan("unbounded", "unbounded.add.xml"))
    prog = _queue_choice_plans(tmp_path, unbounded=1e6, bounded=60.0)
    ts.compare(sc, out=tmp_path / "out", progress=False)
    bound = 60.0 + 7.0 + max(prog.intergreens_s) + 1.0
    bounded = _waits(tmp_path / "out/cases/bounded/seed_1/tripinfo.csv", "w_n")
    unbounded = _waits(tmp_path / "out/cases/unbounded/seed_1/tripinfo.csv", "w_n")
    assert len(bounded) >= 2 and max(bounded) <= bound, (bounded, bound)
    assert not unbounded or max(unbounded) > 2 * bound, unbounded


@pytest.mark.sumo
def test_queue_choice_ending_on_gaps_holds_a_busy_green(shared_data: Path,
                                                        tmp_path: Path) -> None:
    """Under heavy through traffic on both streets, greens that end when the other stages hold
    more occupied lanes end at their minimum every time (each street always has a queue), so
    the light spends its time in intergreens; ending a green when its own lanes gap out (3 s)
    holds it while its queue discharges: fewer, longer greens and more vehicles through.  The
    left turner is still served within the max wait."""
    flows = {("n", "s"): 900, ("s", "n"): 900, ("w", "e"): 900, ("e", "w"): 900,
             ("w", "n"): 20}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=600) + _flows(flows)
                                  + _plan("queues", "queues.add.xml")
                                  + _plan("gaps", "gaps.add.xml"))
    _queue_choice_plans(tmp_path, queues=60.0)
    prog = _queue_choice_plans(tmp_path, end="gap", gaps=60.0)
    assert any(d.startswith("t_g_") for d, _, _ in prog.detectors)
    ts.compare(sc, out=tmp_path / "out", progress=False, trajectories=["w_t"])
    greens = {prog.phases[st.green].state for st in prog.stages}
    n_greens, through = {}, {}
    for plan in ("queues", "gaps"):
        sw = switch_states(tmp_path / f"out/cases/{plan}/seed_1/tls_states.xml", "t")
        n_greens[plan] = sum(s in greens for _, s in sw)
        through[plan] = len(_waits(tmp_path / f"out/cases/{plan}/seed_1/tripinfo.csv", ""))
    assert n_greens["gaps"] < 0.5 * n_greens["queues"], n_greens
    assert through["gaps"] > through["queues"], through
    bound = 60.0 + 7.0 + max(prog.intergreens_s) + 1.0
    lefts = _waits(tmp_path / "out/cases/gaps/seed_1/tripinfo.csv", "w_n")
    assert lefts and max(lefts) <= bound, (lefts, bound)


@pytest.mark.sumo
def test_queue_choice_reads_each_detector_once_with_the_same_result(shared_data: Path,
                                                                    tmp_path: Path) -> None:
    """A written queue-choice program reads each of its detectors once per switching decision
    into a variable (SUMO ``<assignment>``) instead of at every ``a:DET`` of its conditions,
    and computes the parts its conditions share (queue counts, starvation) once too: every
    vehicle's trip and every signal switch are the same as with everything written out in
    place, and the program reads back as it was built."""
    import xml.etree.ElementTree as ET

    from trafficsim.signals import parse_program

    flows = {("n", "s"): 900, ("s", "n"): 600, ("w", "e"): 900, ("e", "w"): 300,
             ("w", "n"): 60, ("s", "w"): 60}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=600) + _flows(flows)
                                  + _plan("once", "once.add.xml")
                                  + _plan("in_place", "in_place.add.xml"))
    prog = _queue_choice_plans(tmp_path, end="gap", once=60.0)
    assert prog.assignments and all(v.startswith("qc") for v, _, _ in prog.assignments)
    in_place = prog.inlined().to_xml(read_detectors_once=False)
    assert "qc" not in in_place
    (tmp_path / "in_place.add.xml").write_text(f"<additional>\n{in_place}\n</additional>\n")
    once = (tmp_path / "once.add.xml").read_text()
    n_read = len({d for d, _, _ in prog.detectors})
    assert once.count("<assignment ") == n_read + len(prog.assignments)
    assert "<assignment " not in in_place
    assert "a:t_" not in once.split("</tlLogic>")[0].split("<assignment ")[0]
    tl = ET.parse(tmp_path / "once.add.xml").getroot().find("tlLogic")
    assert tl is not None
    back = parse_program(tl)
    assert back.phases == prog.phases and back.assignments == prog.assignments
    ts.compare(sc, out=tmp_path / "out", progress=False, trajectories=["w_t"])
    case = tmp_path / "out/cases"
    trips = {p: (case / p / "seed_1/tripinfo.csv").read_text() for p in ("once", "in_place")}
    assert trips["once"] == trips["in_place"] and trips["once"].count("\n") > 200
    states = {p: switch_states(case / p / "seed_1/tls_states.xml", "t")
              for p in ("once", "in_place")}
    assert states["once"] == states["in_place"] and len(states["once"]) > 20


@pytest.mark.sumo
def test_a_queue_choice_plan_file_tuned_again_keeps_its_detectors(shared_data: Path,
                                                                  tmp_path: Path) -> None:
    """``optimise --plan`` on a plan that loads a written queue-choice file (as
    ``optimise --design`` writes it): the programs read back keep the lane-area detectors their
    conditions read, so the optimiser's candidates run (no detector declared twice) and its
    ``start.add.xml`` loads with a bare ``sumo`` and runs exactly the trips of the file it was
    read from (before: SUMO refused it, unknown detector)."""
    from trafficsim.optimise import OptimiseSettings, optimise
    from trafficsim.sumo import run_tool

    flows = {("n", "s"): 600, ("w", "e"): 600, ("w", "n"): 90, ("s", "w"): 90}
    sc = single_intersection_case(tmp_path, shared_data, HEADER.format(end=300) + _flows(flows)
                                  + _plan("qc", "qc.add.xml"))
    _queue_choice_plans(tmp_path, end="gap", qc=60.0)
    out = tmp_path / "opt"
    optimise(sc, out=out, settings=OptimiseSettings(
        budget=3, seeds=(1,), validate=False, compare_sumo_webster=False, plan="qc"),
        workers=1, progress=False)
    ts.compare(sc, out=tmp_path / "cmp", plans=["qc"], progress=False)  # (for its routes)
    routes = tmp_path / "cmp/cases/qc/seed_1/routes.rou.xml"
    trips = {}
    for name, add in (("file", tmp_path / "qc.add.xml"), ("start", out / "start.add.xml")):
        run_tool("sumo", ["-n", "net.net.xml", "-a", str(add), "-r", str(routes),
                          "-e", "300", "--seed", "1",
                          "--no-step-log", "true", "--tripinfo-output", f"{name}.xml"],
                 cwd=tmp_path)
        text = (tmp_path / f"{name}.xml").read_text()
        trips[name] = text[text.index("<tripinfos"):]
    assert trips["start"] == trips["file"] and trips["file"].count("<tripinfo ") > 50

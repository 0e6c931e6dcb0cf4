"""Warnings about values that are allowed but almost certainly not meant.

A scenario may be valid and still absurd: a profile multiplier of 450 where 0.45 was meant, a
flow many times what its entry road can carry, 10,000 seeds, a window of a week.  SUMO would run
it (for hours, or into gridlock) and the figures would mean little.  ``trafficsim validate``
prints these as warnings (exit 0); they name the file and field like errors do.
"""

from __future__ import annotations

from collections import defaultdict

from trafficsim.errors import Issue
from trafficsim.measures import NetIndex
from trafficsim.scenario import Scenario, net_endpoint
from trafficsim.spec import clock

#: Saturation flow of one lane, the most a lane discharges in practice (HCM base). [veh/h]
LANE_CAPACITY_VEH_H = 1900.0
#: Demand entering an edge above this many times its capacity is flagged. [-]
OVER_CAPACITY = 3.0
#: A profile multiplier above this is flagged (when the flow is large too): profiles scale the
#: peak ``veh_per_hour``. [-]
MAX_MULTIPLIER = 10.0
#: More seeds than this are flagged: each seed is one full SUMO run per plan.
MAX_SEEDS = 200
#: A simulation window longer than this is flagged. [s]
MAX_WINDOW_S = 2 * 86400.0
#: A run time limit below this is flagged: SUMO needs about a second just to load. [s]
MIN_TIMEOUT_S = 10.0
#: More vehicles than this over the window are flagged (demand drawing and SUMO take hours).
MAX_VEHICLES = 1_000_000


def plausibility_warnings(sc: Scenario, net: NetIndex | None = None) -> list[Issue]:
    """Allowed but implausible values of a scenario, each naming its file and field.

    Parameters
    ----------
    sc
        A loaded (valid) scenario.
    net
        Its network; without it, demand is not compared with road capacity.
    """
    out = _run_settings(sc)
    if sc.demand is not None:
        out += _demand(sc, net)
    return out


def _run_settings(sc: Scenario) -> list[Issue]:
    src = sc.source
    out = []
    if len(sc.seeds) > MAX_SEEDS:
        out.append(Issue(src, "simulation.seeds",
                         f"lists {len(sc.seeds):,} seeds; each is a full SUMO run of every plan "
                         f"(expected at most {MAX_SEEDS}; 5–30 usually give tight 95% intervals)"))
    length = sc.end_s - sc.begin_s
    if length > MAX_WINDOW_S:
        out.append(Issue(src, "simulation.end",
                         f"makes a window of {length / 86400:.1f} days ({sc.window}); expected "
                         f"at most {MAX_WINDOW_S / 86400:g} days (end is a time of day in "
                         "seconds or \"HH:MM\")"))
    if sc.timeout_s < MIN_TIMEOUT_S:
        out.append(Issue(src, "simulation.timeout_s",
                         f"= {sc.timeout_s:g} s is shorter than SUMO takes to start; expected at "
                         f"least {MIN_TIMEOUT_S:g} s (it is a wall-clock limit per run)"))
    return out


def _demand(sc: Scenario, net: NetIndex | None) -> list[Issue]:
    assert sc.demand is not None
    src, dem = sc.source, sc.demand
    out = []
    vehicles = 0.0
    # Demand per entry edge and bin, to compare with what the edge can carry. [veh/h]
    entering: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    rows = [(f"demand.flows[{i}]", fl.origin, fl.veh_per_hour, fl.profile)
            for i, fl in enumerate(dem.flows)]
    rows += [(f"demand.stops[{i}]", st.origin, st.veh_per_hour, st.profile)
             for i, st in enumerate(dem.stops)]
    for fld, origin, vph, profile in rows:
        peak = max(profile, default=0.0)
        vehicles += vph * sum(profile) * dem.bin_s / 3600.0
        # A large multiplier with a small rate is a profile written in veh/h (rate 1): fine.
        if peak > MAX_MULTIPLIER and vph * peak > OVER_CAPACITY * LANE_CAPACITY_VEH_H:
            b = profile.index(peak)
            out.append(Issue(src, f"{fld}.profile",
                             f"multiplies veh_per_hour = {vph:g} by {peak:g} in the bin from "
                             f"{clock(sc.begin_s + b * dem.bin_s)} ({vph * peak:,.0f} veh/h); "
                             f"profile values are multipliers of the peak flow, expected at most "
                             f"{MAX_MULTIPLIER:g} (usually ≤ 1)"))
        edge = net_endpoint(net, origin, outgoing=True)[0] if net is not None else None
        if edge is not None:
            for b, mult in enumerate(profile):
                entering[edge][b] += vph * mult
    if vehicles > MAX_VEHICLES:
        out.append(Issue(src, "demand",
                         f"generates about {vehicles:,.0f} vehicles over {sc.window}; expected "
                         f"at most {MAX_VEHICLES:,} (check veh_per_hour and the profiles)"))
    if net is not None:
        out += _over_capacity(sc, net, entering, rows)
    return out


def _over_capacity(sc: Scenario, net: NetIndex, entering: dict[str, dict[int, float]],
                   rows: list[tuple[str, str, float, tuple[float, ...]]]) -> list[Issue]:
    """Entry edges asked to take more than :data:`OVER_CAPACITY` times what their lanes carry."""
    assert sc.demand is not None
    out = []
    for edge, per_bin in entering.items():
        b, flow = max(per_bin.items(), key=lambda kv: kv[1])
        lanes = net.edges.get(edge, 1)
        capacity = lanes * LANE_CAPACITY_VEH_H
        if flow <= OVER_CAPACITY * capacity:
            continue
        fields = [fld for fld, origin, _, _ in rows
                  if net_endpoint(net, origin, outgoing=True)[0] == edge]
        where = fields[0] if len(fields) == 1 else "demand"
        also = "" if len(fields) == 1 else f" (from {', '.join(fields)})"
        out.append(Issue(sc.source, where,
                         f"sends {flow:,.0f} veh/h{also} into edge '{edge}' in the bin from "
                         f"{clock(sc.begin_s + b * sc.demand.bin_s)}: {flow / capacity:.0f}× "
                         f"what its {lanes} lane(s) carry (about {capacity:,.0f} veh/h); "
                         f"expected at most {OVER_CAPACITY:g}× (the surplus queues outside the "
                         "network until the run ends)"))
    return out

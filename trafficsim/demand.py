"""Demand: time-varying OD flows drawn into individual vehicles, with vehicle mix and occupancy.

The draws depend only on the scenario and the seed, never on the plan, so every plan of a
comparison sees exactly the same vehicles (common random numbers).  Each flow has its own random
stream (seeded by ``[seed, flow index]``), so adding a flow leaves the others' draws unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from trafficsim.measures import NetIndex
from trafficsim.scenario import DemandSpec, net_endpoint

# SUMO vehicle class and default attributes of each vehicle kind of the scenario format.
VTYPES: dict[str, dict[str, str]] = {
    "car": {"vClass": "passenger", "personCapacity": "9"},
    "bus": {"vClass": "bus", "personCapacity": "300"},
    "truck": {"vClass": "truck"},
    "delivery": {"vClass": "delivery"},
    # A new-energy delivery van: same class (and permissions) as a van, battery-electric HBEFA4
    # emission class, so no exhaust CO2 or NOx.
    "delivery_ev": {"vClass": "delivery", "emissionClass": "HBEFA4/LCV_BEV_N1-II"},
}


@dataclass(frozen=True)
class Vehicle:
    """One drawn vehicle.

    Attributes
    ----------
    id
        ``FLOW.k``.
    kind
        ``car``, ``bus``, ``truck``, ``delivery`` or ``delivery_ev`` (electric van).
    depart_s
        Desired departure time. [s]
    origin, destination
        First and last edge.
    occupancy
        Persons on board. [persons]
    """

    id: str
    kind: str
    depart_s: float
    origin: str
    destination: str
    occupancy: int


def draw_vehicles(demand: DemandSpec, net: NetIndex, begin_s: float, end_s: float,
                  seed: int) -> list[Vehicle]:
    """Draw the vehicles of one seed: Poisson arrivals per profile bin, kinds and occupancy.

    Returns
    -------
    list of Vehicle
        Sorted by departure time (as SUMO requires of a route file).
    """
    vehicles: list[Vehicle] = []
    occ_values = np.array([k for k, _ in demand.occupancy])
    occ_p = np.array([p for _, p in demand.occupancy])
    for fi, flow in enumerate(demand.flows):
        rng = np.random.default_rng([seed, fi])
        origin, _ = net_endpoint(net, flow.origin, outgoing=True)
        dest, _ = net_endpoint(net, flow.destination, outgoing=False)
        if origin is None or dest is None:  # check_references reports these
            continue
        mix = flow.mix or demand.mix
        kinds = [k for k, _ in mix]
        kind_p = np.array([p for _, p in mix])
        k = 0
        for b, mult in enumerate(flow.profile):
            t0 = begin_s + b * demand.bin_s
            t1 = min(t0 + demand.bin_s, end_s)
            if t1 <= t0:
                break
            n = int(rng.poisson(flow.veh_per_hour * mult * (t1 - t0) / 3600.0))
            departs = np.sort(rng.uniform(t0, t1, n))
            drawn_kinds = rng.choice(len(kinds), size=n, p=kind_p)
            occ = rng.choice(occ_values, size=n, p=occ_p)
            for t, ki, o in zip(departs, drawn_kinds, occ, strict=True):
                kind = kinds[ki]
                persons = int(o) if kind == "car" else (demand.bus_occupancy if kind == "bus" else 1)
                vehicles.append(Vehicle(f"{flow.id}.{k}", kind, round(float(t), 2), origin, dest,
                                        persons))
                k += 1
    vehicles.sort(key=lambda v: (v.depart_s, v.id))
    return vehicles


def write_routes(vehicles: Sequence[Vehicle], path: Path,
                 vtype_attrs: Mapping[str, Mapping[str, str]] | None = None,
                 vtypes: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
                 retype: Sequence[Callable[[str, int], str | None]] = ()) -> None:
    """Write vehicle types and trips as a SUMO route file (SUMO routes each trip on insertion).

    Parameters
    ----------
    vtype_attrs
        vType id → attributes overriding its defaults.
    vtypes
        Extra vType id → (base kind, attributes), e.g. ``car_hov`` based on ``car``.
    retype
        Rules ``(kind, occupancy) → vType id or None``; the first that answers wins.
    """
    types = {kind: dict(attrs) for kind, attrs in VTYPES.items()}
    for tid, (base, attrs) in (vtypes or {}).items():
        types[tid] = {**VTYPES[base], **attrs}
    lines = ["<routes>"]
    for tid, attrs in types.items():
        merged = {**attrs, **(vtype_attrs or {}).get(tid, {})}
        a = " ".join(f"{k}={quoteattr(v)}" for k, v in merged.items())
        lines.append(f'  <vType id="{tid}" {a}/>')

    def vtype(v: Vehicle) -> str:
        for rule in retype:
            if (t := rule(v.kind, v.occupancy)) is not None:
                return t
        return v.kind

    lines += [
        f'  <trip id="{v.id}" type="{vtype(v)}" depart="{v.depart_s:.2f}" from="{v.origin}" '
        f'to="{v.destination}" departLane="best" departSpeed="max" personNumber="{v.occupancy}"/>'
        for v in vehicles
    ]
    lines.append("</routes>\n")
    path.write_text("\n".join(lines), encoding="utf-8")


def write_vehicle_table(vehicles: Sequence[Vehicle], path: Path) -> None:
    """Write id, kind, departure and occupancy of each vehicle (read back for person delay)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["id", "kind", "depart_s", "occupancy"])
        w.writerows((v.id, v.kind, f"{v.depart_s:.2f}", v.occupancy) for v in vehicles)

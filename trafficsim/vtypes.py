"""The scenario format's vehicle kinds and the SUMO vehicle types they become.

A bottom-layer table (no imports from the package): the demand writes these vTypes, measures
reason about the kinds' classes (an HOV lane's eligible classes, a truck ban's banned types).
"""

from __future__ import annotations

#: Vehicle kinds of ``[demand.mix]`` (and the vType ids the demand writes).
VEHICLE_KINDS = ("car", "bus", "truck", "delivery", "delivery_ev")

#: SUMO vehicle class and default attributes of each kind.
VTYPES: dict[str, dict[str, str]] = {
    "car": {"vClass": "passenger", "personCapacity": "9"},
    "bus": {"vClass": "bus", "personCapacity": "300"},
    "truck": {"vClass": "truck"},
    "delivery": {"vClass": "delivery"},
    # A new-energy delivery van: same class (and permissions) as a van, battery-electric HBEFA4
    # emission class, so no exhaust CO2 or NOx.
    "delivery_ev": {"vClass": "delivery", "emissionClass": "HBEFA4/LCV_BEV_N1-II"},
}

#: Kind → SUMO vehicle class.
KIND_CLASS: dict[str, str] = {kind: attrs["vClass"] for kind, attrs in VTYPES.items()}

"""Occupancy over the day of the shared-parking showcase's car parks, per plan (mean over seeds).

    trafficsim compare scenarios/shared_parking.toml --out parking_out
    python benchmarks/parking_occupancy.py parking_out            # → parking_out/occupancy.png

Reads SUMO's stop output of every run (``cases/PLAN/seed_N/stops.xml``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from trafficsim.measures.shared_parking import area, occupancy_profile
from trafficsim.outputs import read_stops
from trafficsim.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="--out directory of a compare run")
    args = ap.parse_args()
    doc = json.loads((args.out / "metrics.json").read_text())
    sc = load_scenario(doc["scenario_file"])
    assert sc.parking is not None, "not a parking scenario"
    times = np.arange(sc.begin_s, sc.end_s, 300.0)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lots = sc.parking.car_parks
    fig, axes = plt.subplots(1, len(lots), figsize=(5 * len(lots), 3.8), sharey=True)
    for ax, lot in zip(np.atleast_1d(axes), lots, strict=True):
        for plan in doc["plans"]:
            runs = sorted((args.out / "cases" / plan).glob("seed_*/stops.xml"))
            occ = np.mean([occupancy_profile(read_stops(r), area(lot.id), times, sc.end_s)
                           for r in runs], axis=0)
            ax.plot(times / 3600.0, 100.0 * occ / lot.capacity, label=plan)
        ax.set_title(f"{lot.id} ({lot.capacity} spaces)")
        ax.set_xlabel("time of day [h]")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("occupancy [% of spaces]")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    fig.savefig(args.out / "occupancy.png", dpi=120)
    print(f"wrote {args.out / 'occupancy.png'}")


if __name__ == "__main__":
    main()

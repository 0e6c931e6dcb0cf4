"""Overhead of `trafficsim run` against the bare `sumo` command on the very same case files.

Usage: python benchmarks/run_vs_sumo.py [SCENARIO] [--repeat N]

`trafficsim run` builds the network and demand, runs SUMO, reads the outputs and computes metrics;
the bare command only runs SUMO on the case directory that run left behind.  Both are timed as
whole processes, alternately, and the median of N repetitions is compared.  Target: ratio ≤ 1.10.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sumo
import sumolib

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    env = {**os.environ, "SUMO_HOME": sumo.SUMO_HOME}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios/arterial_am_peak.toml"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    trafficsim = [sys.executable, "-m", "trafficsim.cli"]
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        for _ in range(args.repeat):
            shutil.rmtree(out, ignore_errors=True)
            ours.append(timed([*trafficsim, "run", args.scenario, "--seeds", "1", "--out",
                               str(out), "--quiet"]))
            case = out / "cases" / "baseline" / "seed_1"
            bare.append(timed([sumolib.checkBinary("sumo"), "-c", "case.sumocfg"], cwd=case))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"scenario            {Path(args.scenario).name}")
    print(f"trafficsim run      {o:7.2f} s  (median of {args.repeat})")
    print(f"bare sumo -c        {b:7.2f} s  (same case files)")
    print(f"ratio               {o / b:7.3f}  (target ≤ 1.10)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Without .pyc caching every run recompiles the package (~0.05 s here); user installs cache.
        print("note                PYTHONDONTWRITEBYTECODE is set: imports are compiled each run")


if __name__ == "__main__":
    main()

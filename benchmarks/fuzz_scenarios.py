"""Fuzz ``trafficsim validate`` with mutated showcase scenarios; count exit codes and tracebacks.

Usage: python benchmarks/fuzz_scenarios.py [--n 1200] [--seed 0] [--show 5] [--json FILE]

Each mutant is one showcase file (``scenarios/*.toml``, in turn) with 1–3 document mutations
(a key deleted or renamed, a value's type changed, a value replaced by a random or extreme one)
or damaged bytes (truncated, garbage inserted, bytes flipped, a line dropped or repeated); see
``tests/mutate.py``.  ``validate`` runs in-process (``trafficsim.cli.main``) with its output
captured.  Target: every exit code in {0, 2}, no traceback, no "internal error" (the CLI's
last-resort guard), each call within a few seconds.

Generated networks are cached in a temporary folder (not the user's cache), so the mutated
corridor and grid recipes do not pile up there.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mutate import mutate  # noqa: E402


def validate_in_process(path: Path) -> tuple[int, str]:
    """Exit code and captured output of ``trafficsim validate PATH`` (-1 when main raised)."""
    from trafficsim.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(["validate", str(path)])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # counted: this is what the fuzz looks for
            return -1, out.getvalue() + traceback.format_exc()
    return code, out.getvalue()


def _cause(text: str) -> str:
    """The exception type on the last line of a traceback (or what the guard printed)."""
    if "internal error (" in text:
        return text.split("internal error (", 1)[1].split(":", 1)[0]
    last = [line for line in text.strip().splitlines() if line and not line.startswith(" ")]
    return last[-1].split(":", 1)[0] if last else "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1200, help="mutants to try")
    ap.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    ap.add_argument("--show", type=int, default=5, help="failures to print in full")
    ap.add_argument("--json", type=Path, help="also write the counts to this file")
    args = ap.parse_args()

    showcases = sorted((ROOT / "scenarios").glob("*.toml"))
    originals = {p: p.read_bytes() for p in showcases}
    rng = random.Random(args.seed)
    codes: collections.Counter[int] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    failures: list[tuple[str, str, str]] = []
    slowest = (0.0, "")
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trafficsim-fuzz-") as tmp:
        work = Path(tmp)
        os.environ["TRAFFICSIM_CACHE"] = str(work / "cache")
        (work / "networks").symlink_to(ROOT / "scenarios" / "networks")
        for i in range(args.n):
            src = showcases[i % len(showcases)]
            data, kind = mutate(rng, originals[src])
            kinds[kind.split("+")[0]] += 1
            path = work / src.name
            path.write_bytes(data)
            t0 = time.perf_counter()
            code, text = validate_in_process(path)
            dt = time.perf_counter() - t0
            slowest = max(slowest, (dt, f"{src.name} #{i} ({kind})"))
            codes[code] += 1
            if code not in (0, 2) or "Traceback" in text or "internal error" in text:
                failures.append((f"{src.name} #{i} ({kind})", text, data.decode("utf-8", "replace")))
    total = time.perf_counter() - t_all

    tracebacks = sum("Traceback" in t or "internal error" in t for _, t, _ in failures)
    print(f"mutants: {args.n} (seed {args.seed}) from {len(showcases)} showcase files "
          f"in {total:.0f} s")
    print("mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
    print(f"tracebacks: {tracebacks}")
    causes = collections.Counter(_cause(text) for _, text, _ in failures)
    if causes:
        print("causes: " + ", ".join(f"{k} {v}" for k, v in causes.most_common()))
    print(f"slowest call: {slowest[0]:.1f} s ({slowest[1]})")
    if args.json:
        args.json.write_text(json.dumps({
            "mutants": args.n, "seed": args.seed, "showcases": [p.name for p in showcases],
            "seconds": round(total, 1), "mutations": dict(sorted(kinds.items())),
            "exit_codes": {str(k): v for k, v in sorted(codes.items())},
            "tracebacks": tracebacks, "causes": dict(causes),
            "slowest_call_s": round(slowest[0], 2)}, indent=2) + "\n", encoding="utf-8")
    for name, text, _doc in failures[: args.show]:
        print(f"\n--- {name}\n{text[-3000:]}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

"""Print pip constraints that pin every direct dependency to its lowest allowed version.

Reads pyproject.toml: the runtime dependencies and the extras named on the command line (default
``test``), following self-references such as ``trafficsim[dask]``.  ``pkg>=X`` becomes ``pkg==X``,
``pkg==X`` stays; so ``pip install -c THIS -e '.[test]'`` installs the oldest versions the project
claims to support, and the fast tests show whether the claim holds.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*(.*)$")


def requirements(project: dict, extras: list[str]) -> list[str]:
    """The project's runtime requirements plus those of ``extras``, self-references expanded."""
    name = project["name"]
    optional = project.get("optional-dependencies", {})
    out, todo, seen = list(project["dependencies"]), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in optional[extra]:
            pkg, sub, _ = _REQ.match(req).groups()
            if pkg == name:
                todo += [s.strip() for s in sub.strip("[]").split(",")]
            else:
                out.append(req)
    return out


def lowest_pins(reqs: list[str]) -> list[str]:
    """``pkg==lowest`` for each requirement with a lower bound (extras stripped: pip forbids them)."""
    pins = {}
    for req in reqs:
        pkg, _, spec = _REQ.match(req).groups()
        bound = re.search(r"(>=|==)\s*([0-9][^,;\s]*)", spec)
        if bound:
            pins[pkg.lower()] = f"{pkg}=={bound.group(2)}"
    return sorted(pins.values())


if __name__ == "__main__":
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    print("\n".join(lowest_pins(requirements(project, sys.argv[1:] or ["test"]))))

"""The one place that starts SUMO and its tools.

Binaries come from the ``eclipse-sumo`` wheel (found with :func:`sumolib.checkBinary`); the child
gets ``SUMO_HOME`` pointing into the wheel so that SUMO validates its XML inputs, and the user never
has to set it.  Every run has a wall-clock timeout; SUMO's own error text is surfaced in
:class:`~trafficsim.errors.SumoError`.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trafficsim.errors import SumoError, SumoTimeout

# SUMO prints this for every CSV output; it is noise, not a warning about the model.
_NOISE = ("Column based formats are still experimental",)


@functools.cache
def sumo_home() -> str:
    """``SUMO_HOME`` of the installed ``eclipse-sumo`` wheel."""
    import sumo

    return str(sumo.SUMO_HOME)


@functools.cache
def binary(name: str) -> str:
    """Absolute path of a SUMO executable (``sumo``, ``netconvert``, ``netgenerate``, …)."""
    # The wheel's own bin/ first: importing sumolib (for checkBinary) costs ~0.1 s per process.
    path = Path(sumo_home()) / "bin" / name
    if not path.is_file():
        import sumolib

        os.environ.setdefault("SUMO_HOME", sumo_home())
        path = Path(sumolib.checkBinary(name))
    if not path.is_file():
        msg = f"SUMO executable '{name}' not found; install the 'eclipse-sumo' package"
        raise SumoError(msg)
    return str(path)


@functools.cache
def sumo_version() -> str:
    """Version of the SUMO in use, e.g. ``"1.28.0"``."""
    from importlib import metadata  # lazily: it costs ~20 ms to import

    try:
        return metadata.version("eclipse-sumo")
    except metadata.PackageNotFoundError:
        out = subprocess.run([binary("sumo"), "--version"], capture_output=True, text=True,
                             env=_env(), check=False).stdout
        return out.split("\n", 1)[0].rsplit(" ", 1)[-1]


def _env() -> dict[str, str]:
    return {**os.environ, "SUMO_HOME": sumo_home()}


@dataclass(frozen=True)
class ToolRun:
    """What a finished SUMO process left behind.

    Attributes
    ----------
    wall_s
        Wall-clock duration. [s]
    warnings
        SUMO's warning lines (without the CSV-format notice).
    """

    wall_s: float
    warnings: tuple[str, ...]


def run_tool(name: str, args: Sequence[str], *, cwd: Path | None = None,
             timeout_s: float = 900.0, what: str = "") -> ToolRun:
    """Run a SUMO executable to completion.

    Parameters
    ----------
    name
        Executable name (``sumo``, ``netconvert``, ``netgenerate``).
    args
        Its arguments.
    cwd
        Working directory (relative paths in configurations resolve against their own file).
    timeout_s
        Wall-clock limit; the process group is killed when it is exceeded. [s]
    what
        Words naming the run in error messages.

    Raises
    ------
    SumoTimeout
        The limit was exceeded.
    SumoError
        The process failed; the message carries SUMO's error lines.
    """
    cmd = [binary(name), *args]
    label = what or name
    t0 = time.perf_counter()
    # Own process group: a timeout kills SUMO and anything it started.
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        msg = f"{label}: {name} exceeded its time limit of {timeout_s:g} s and was stopped"
        raise SumoTimeout(msg) from None
    wall = time.perf_counter() - t0
    text = (err or "") + (out or "")
    lines = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    if proc.returncode != 0:
        errors = [ln for ln in lines if ln.startswith(("Error", "Quitting"))] or lines[-10:]
        detail = "\n  ".join(errors) or f"exit code {proc.returncode}"
        msg = f"{label}: {name} failed (exit code {proc.returncode}):\n  {detail}"
        raise SumoError(msg)
    warnings = tuple(ln for ln in lines if ln.startswith("Warning"))
    return ToolRun(wall_s=wall, warnings=warnings)


def run_sumo(config: Path, *, seed: int, timeout_s: float, extra: Sequence[str] = (),
             what: str = "") -> ToolRun:
    """Run ``sumo -c config --seed seed`` in the configuration's directory."""
    args = ["-c", config.name, "--seed", str(seed), *extra]
    return run_tool("sumo", args, cwd=config.parent, timeout_s=timeout_s, what=what)

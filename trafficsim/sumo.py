"""The one place that starts SUMO and its tools.

Binaries come from the ``eclipse-sumo`` wheel (found with :func:`sumolib.checkBinary`); the child
gets ``SUMO_HOME`` pointing into the wheel so that SUMO validates its XML inputs, and the user never
has to set it.  Every run has a wall-clock timeout; SUMO's own error text is surfaced in
:class:`~trafficsim.errors.SumoError`.  A run may be stepped through TraCI on its own port
(:func:`run_sumo_monitored`): to stop it early, or to let controllers of
:mod:`trafficsim.control` drive its signals (max-pressure).

Every child (``sumo``, ``netconvert``, ``duarouter``, a Python tool) is started by
:func:`_spawn`: in its own process group, so that a timeout or an interruption kills it with
anything it started, and with Linux's parent-death signal, so that it dies with this process
however this process ends (``kill -9`` included).  The parent-death signal fires when the *thread*
that started the child ends: every function here waits for its child before it returns, and the
thread pools of :mod:`trafficsim.parallel` keep their threads until the pool shuts down, so no
child outlives the thread that started it.  :func:`stopping_on_signals` turns SIGINT and SIGTERM
into a clean stop: the running children are killed at once and :class:`Stopped` is raised.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from trafficsim.control import ControlError, Controller, make_controllers, next_step_s
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
    env = {**os.environ, "SUMO_HOME": sumo_home()}
    # The wheel ships PROJ's database but its PROJ does not find it unaided: netconvert then
    # prints "Cannot find proj.db" on every OSM import (the projection itself is unchanged).
    proj = Path(sumo_home()) / "data" / "proj"
    if "PROJ_LIB" not in env and (proj / "proj.db").is_file():
        env["PROJ_LIB"] = str(proj)
    return env


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
    proc = _spawn(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        msg = f"{label}: {name} exceeded its time limit of {timeout_s:g} s and was stopped"
        raise SumoTimeout(msg) from None
    finally:
        _reap(proc)  # kills the process group on a timeout or an interruption
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


@dataclass(frozen=True)
class MonitoredRun:
    """A SUMO run watched through TraCI: finished, or stopped early by its caller.

    Attributes
    ----------
    wall_s
        Wall-clock duration. [s]
    stopped_at_s
        Simulation time at which the caller stopped the run (None: it ran to its end). [s]
    delay_lower_bound_veh_s
        The last lower bound on the total delay of the run's vehicles (see
        :func:`run_sumo_monitored`). [veh·s]
    """

    wall_s: float
    stopped_at_s: float | None
    delay_lower_bound_veh_s: float


def run_sumo_monitored(config: Path, *, seed: int, timeout_s: float, end_s: float,
                       check_every_s: float, stop: Callable[[float, float], bool] | None,
                       what: str = "", controllers: Sequence[Controller] = ()) -> MonitoredRun:
    """Run ``sumo -c config`` stepping through TraCI, and stop it when ``stop(t, D)`` says so.

    Every ``check_every_s`` of simulated time, ``D`` is a lower bound on the total delay
    (time loss + departure delay) that the run's vehicles will have at the end [veh·s]: the
    delay of arrived vehicles, the delay so far of running vehicles, and the wait so far of
    vehicles not yet inserted.  Delays only grow, so ``D`` never overestimates the final total.
    ``stop`` None: never stop (and no bound is computed).

    ``controllers`` (:mod:`trafficsim.control`) drive signals during the run: each is started at
    the first step and called again at the first step at or after the time it asks for.

    A run that is not stopped and has no controller writes exactly the outputs a plain
    ``sumo -c`` run writes.
    """
    import sumolib
    import traci

    label = what or str(config)
    err_path = config.parent / "sumo-stderr.txt"  # a file, not a pipe: a full pipe blocks SUMO
    t0 = time.perf_counter()

    def sumo_errors() -> str:
        text = err_path.read_text(encoding="utf-8", errors="replace")
        lines = [ln for ln in text.splitlines() if ln.startswith(("Error", "Quitting"))]
        return "\n  ".join(lines or text.strip().splitlines()[-10:])

    for attempt in range(3):  # a free port can be taken by another process before SUMO binds it
        port = sumolib.miscutils.getFreeSocketPort()
        cmd = [binary("sumo"), "-c", config.name, "--seed", str(seed), "--remote-port", str(port)]
        with err_path.open("w", encoding="utf-8") as err_file:
            # dies with this process too: a SUMO waiting for its TraCI client would otherwise
            # wait forever once the client is gone (kill -9)
            proc = _spawn(cmd, cwd=config.parent, stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            conn = _connect(port, proc)
            break
        except Exception as exc:  # SUMO failed to start: report its own error text
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            _reap(proc)
            errors = sumo_errors()
            if attempt < 2 and ("socket" in errors.lower() or "port" in errors.lower()):
                continue
            msg = f"{label}: sumo could not be started under TraCI: {exc}\n  {errors}"
            raise SumoError(msg) from None
        except BaseException:  # interrupted while connecting
            _reap(proc)
            raise
    bound = 0.0
    stopped = None
    try:
        t = float(conn.simulation.getTime())
        begin_s = t
        dt = float(conn.simulation.getDeltaT()) if controllers else 1.0
        due = [next_step_s(t, c.start(conn, t), dt) for c in controllers]
        next_check = t + check_every_s if stop is not None else math.inf
        while t < end_s - 1e-9:
            if time.perf_counter() - t0 > timeout_s:
                msg = f"{label}: sumo exceeded its time limit of {timeout_s:g} s and was stopped"
                raise SumoTimeout(msg)
            t = float(min(next_check, end_s, *due))
            conn.simulationStep(t)
            if t >= end_s:
                break
            for i, c in enumerate(controllers):
                if due[i] <= t + 1e-9:
                    due[i] = next_step_s(t, c.step(conn, t), dt)
            if stop is None or t < next_check - 1e-9:
                continue
            next_check = t + check_every_s
            arrived = _arrived_delay(conn)
            bound = max(bound, arrived)
            # Per-vehicle queries cost a round trip each: make them only when even the most
            # each vehicle in the network or waiting to enter could have lost (the whole time
            # so far) would be enough to stop the run.
            waiting = conn.simulation.getPendingVehicles()
            most = arrived + (conn.vehicle.getIDCount() + len(waiting)) * (t - begin_s)
            if not stop(t, most):
                continue
            running = sum(conn.vehicle.getTimeLoss(v) + conn.vehicle.getDepartDelay(v)
                          for v in conn.vehicle.getIDList())
            pending = sum(conn.vehicle.getDepartDelay(v) for v in waiting)
            bound = arrived + running + pending
            if stop(t, bound):
                stopped = t
                break
    except traci.exceptions.FatalTraCIError as exc:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        msg = f"{label}: sumo failed under TraCI: {exc}\n  {sumo_errors()}"
        raise SumoError(msg) from None
    except ControlError as exc:
        _reap(proc)
        raise SumoError(f"{label}: {exc}") from None
    except BaseException:  # a timeout or an interruption: stop SUMO now, not at its end
        _reap(proc)
        raise
    finally:
        with contextlib.suppress(Exception):  # SUMO may already have closed it at its end
            conn.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        _reap(proc)
    return MonitoredRun(time.perf_counter() - t0, stopped, bound)


def _arrived_delay(conn: Any) -> float:
    """Total delay (time loss + departure delay) of the vehicles arrived so far [veh·s].

    A lower bound: SUMO's means carry two decimals, taken off so that rounding cannot lift it.
    """
    stat = "device.tripinfo.vehicleTripStatistics."
    n = float(conn.simulation.getParameter("", stat + "count"))
    arrived = n * (float(conn.simulation.getParameter("", stat + "timeLoss")) - 0.005)
    arrived += float(conn.simulation.getParameter("", stat + "totalDepartDelay")) - 0.005
    return max(arrived, 0.0)


def run_sumo_controlled(config: Path, *, seed: int, timeout_s: float, end_s: float,
                        controllers: Sequence[Mapping[str, Any]], what: str = "") -> MonitoredRun:
    """Run ``sumo -c config`` with signals driven by controllers described by JSON specs.

    The specs are a case's ``controllers.json`` entries (:func:`trafficsim.control.make_controllers`).
    """
    try:
        ctrl = make_controllers(controllers)
    except ControlError as exc:
        raise SumoError(f"{what or config}: {exc}") from None
    return run_sumo_monitored(config, seed=seed, timeout_s=timeout_s, end_s=end_s,
                              check_every_s=math.inf, stop=None, what=what, controllers=ctrl)


def _connect(port: int, proc: subprocess.Popen[str], timeout_s: float = 60.0) -> Any:
    """A TraCI connection to the SUMO just started, retried quietly until it listens.

    (``traci.connect`` prints every retry on stdout, and silencing it by swapping ``sys.stdout``
    is not safe when several threads start runs.)
    """
    from traci.connection import Connection
    from traci.exceptions import TraCIException

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return Connection("localhost", port, proc, None, True, None)
        except OSError as exc:
            if proc.poll() is not None:
                msg = "TraCI server already finished"
                raise TraCIException(msg) from exc
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# Child processes: each in its own process group, dying with this process
# --------------------------------------------------------------------------------------------
class Stopped(KeyboardInterrupt):
    """Raised when this process was asked to stop (SIGINT, SIGTERM); its SUMO children are killed.

    A :class:`KeyboardInterrupt`, so that ``except Exception`` never swallows it.

    Attributes
    ----------
    signum
        The signal that asked for the stop.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# pid → running child.  Touched by worker threads and by the signal handler, which runs between
# two bytecodes of the main thread: single dict operations only (atomic under the GIL), no lock
# (the handler could interrupt the main thread while it holds one).
_children: dict[int, subprocess.Popen[str]] = {}
_stop_signal: int | None = None  # set once this process is stopping: no child may start


def _spawn(cmd: Sequence[str], *, cwd: Path | None, stdout: int | IO[str],
           stderr: int | IO[str]) -> subprocess.Popen[str]:
    """Start a child in its own session that dies with this process; :func:`_reap` it after."""
    if _stop_signal is not None:
        raise Stopped(_stop_signal)
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=_env(), stdout=stdout, stderr=stderr,
                            text=True, start_new_session=True,
                            preexec_fn=functools.partial(_die_with_parent, os.getpid()))
    _children[proc.pid] = proc
    # Registered, then checked: a stop that began meanwhile either saw this child in
    # _children (and killed it) or is seen here.
    if _stop_signal is not None:
        _reap(proc)
        raise Stopped(_stop_signal)
    return proc


def _reap(proc: subprocess.Popen[str]) -> None:
    """Wait for a child, killing its process group first if it still runs (idempotent)."""
    if proc.returncode is None and proc.poll() is None:
        _kill_group(proc)
        proc.wait()
    _children.pop(proc.pid, None)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    # Only a child not yet waited for: until then its pid, hence its group id, cannot be reused.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def stopping() -> bool:
    """Whether this process was asked to stop (its SUMO children are being killed).

    A run that fails meanwhile failed because of the stop, not of its own.
    """
    return _stop_signal is not None


def kill_children() -> None:
    """Kill every running child's process group, now (e.g. before this process exits)."""
    for proc in list(_children.values()):
        _kill_group(proc)


# Resolved in the parent: the child runs _die_with_parent between fork and exec, where loading
# a library or importing a module could deadlock on a lock another thread held at the fork.
_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        _prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent(parent: int) -> None:
    """In the child before exec: ask Linux to kill it when its parent dies (no-op elsewhere)."""
    if _prctl is not None:
        pr_set_pdeathsig = 1
        _prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """While active, SIGINT and SIGTERM kill the running SUMO children and raise :class:`Stopped`.

    Without it, SIGTERM ends this process at once (its children die with it through the
    parent-death signal), and Ctrl-C raises :class:`KeyboardInterrupt` in the main thread only:
    a thread pool would then wait for every running SUMO to finish before the program ends.
    Further signals during the stop kill children again but raise nothing, so the clean-up is
    not interrupted.  Only the main thread can install handlers; elsewhere this does nothing.
    """
    global _stop_signal
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        global _stop_signal
        first = _stop_signal is None
        _stop_signal = signum  # before the kill: no child may start once the snapshot is taken
        kill_children()
        if first:
            raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _stop_signal = None


def run_python_tool(script: str, args: Sequence[str], *, cwd: Path | None = None,
                    timeout_s: float = 900.0, what: str = "") -> str:
    """Run a Python script of the wheel's ``tools/`` directory and return its standard output.

    For example ``tlsCycleAdaptation.py``; it runs in a child interpreter.

    The script runs as its own process with ``SUMO_HOME`` set, so nothing is added to this
    process's ``sys.path``.
    """
    path = Path(sumo_home()) / "tools" / script
    if not path.is_file():
        msg = f"SUMO tool '{script}' not found under {path.parent}"
        raise SumoError(msg)
    label = what or script
    proc = _spawn([sys.executable, str(path), *args], cwd=cwd, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        msg = f"{label}: {script} exceeded its time limit of {timeout_s:g} s"
        raise SumoTimeout(msg) from None
    finally:
        _reap(proc)
    if proc.returncode != 0:
        tail = "\n  ".join((err or out).strip().splitlines()[-10:])
        msg = f"{label}: {script} failed (exit code {proc.returncode}):\n  {tail}"
        raise SumoError(msg)
    return out

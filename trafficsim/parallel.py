"""Executors for independent simulations, and a progress display that suits terminals and CI logs.

One SUMO per process: every run is its own ``sumo`` child process, so locally a pool of threads
sized to the cores drives them (the GIL is released while a thread waits for its SUMO).  Threads
rather than worker processes because they need no pickling and no ``if __name__ == "__main__"``
guard, so the API works the same from a script, a notebook or ``python -``; reading a run's outputs
takes milliseconds against seconds of simulation.  Any :class:`concurrent.futures.Executor` can be
passed instead, e.g. a process pool or a Dask ``client.get_executor(pure=False)``.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from trafficsim.errors import Issue, ScenarioError, SumoError, UsageError

T = TypeVar("T")
R = TypeVar("R")


class SerialExecutor(Executor):
    """Runs each task at submission, in this process (debugging, single-core machines).

    A task's error is kept in its future; an interruption (Ctrl-C, SIGTERM) is not an error of
    the task and propagates at once, so the remaining tasks are not run.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` now and return its finished future (result or error)."""
        fut: Future[R] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def local_executor(workers: int | None, n_tasks: int) -> Iterator[Executor]:
    """Threads driving ``workers`` SUMO processes at once (default: the cores); serial for one."""
    n = max(1, min(workers or cpu_count(), n_tasks))
    if n == 1:
        yield SerialExecutor()
        return
    # A thread lives until the pool shuts down, so it outlives every SUMO it starts (a SUMO dies
    # with the thread that started it: see trafficsim.sumo).
    pool = ThreadPoolExecutor(n, thread_name_prefix="trafficsim-run")
    try:
        yield pool
    except KeyboardInterrupt:
        # Ctrl-C in a script or notebook: stop the running SUMOs rather than wait for their
        # end (the command line's signal handler has already done so)
        from trafficsim.sumo import kill_children

        kill_children()
        raise
    finally:
        # after an interruption the queued runs are dropped, not started
        pool.shutdown(wait=True, cancel_futures=True)


class Progress:
    """Progress of a batch: a tqdm bar on a terminal, one plain line per task in logs (CI)."""

    def __init__(self, total: int, desc: str, *, enabled: bool = True, initial: int = 0,
                 unit: str = "run") -> None:
        self.total = total
        self.done = initial
        self.initial = initial  # already done before this process started (a resumed run)
        self.t0 = time.perf_counter()
        self.enabled = enabled and total > 0
        self.bar = None
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                            initial=initial)

    def step(self, label: str) -> None:
        """Count one finished task: advance the bar, or print a line with elapsed time and ETA."""
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(self.done - self.initial, 1) * max(self.total - self.done, 0)
        width = len(str(self.total))
        print(f"[{self.done:>{width}}/{self.total}] {label}  elapsed {elapsed:5.0f} s  "
              f"eta {eta:5.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Close the tqdm bar, if one is drawn."""
        if self.bar is not None:
            self.bar.close()


#: How long the scheduler may take to answer, and to have a first worker. [s]
CONNECT_TIMEOUT_S = 30.0
WORKER_WAIT_S = 60.0
#: How long the first contact with ``--scheduler`` may take (:func:`probe_scheduler`). [s]
PROBE_TIMEOUT_S = 10.0

_START_ONE = ("start one with `dask scheduler` and pass the address it prints, e.g. "
              "tcp://10.0.0.5:8786")


def probe_scheduler(address: str, timeout_s: float | None = None) -> None:
    """Check that a Dask scheduler answers at a ``tcp://`` address within ``timeout_s``.

    Dask's own client retries a refused port for the whole of its timeout (about 50 s seen)
    and can wait minutes on a server that accepts the connection but does not speak its
    protocol (a web server).  This first contact is bounded: a TCP connection, then Dask's
    ``identity`` request, both within ``timeout_s`` [s] (default :data:`PROBE_TIMEOUT_S`).
    Other protocols (``tls://``, …) are
    left to the client.

    Raises
    ------
    UsageError
        Naming ``--scheduler``: nothing listens there, or what answers is not a scheduler.
    """
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port, unparse_host_port

    try:
        scheme, loc = parse_address(address)
        host, port = parse_host_port(loc, 8786)
    except ValueError as exc:
        msg = f"--scheduler {address}: not an address ({exc}); {_START_ONE}"
        raise UsageError(msg) from None
    if scheme != "tcp":
        return
    timeout_s = PROBE_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:  # refused, unknown host, no route, timed out
        why = exc.strerror or str(exc) or type(exc).__name__
        msg = f"--scheduler {address}: no Dask scheduler answered ({why}); {_START_ONE}"
        raise UsageError(msg) from None
    left = max(deadline - time.monotonic(), 1.0)
    # (in a thread of its own: asyncio.run cannot start inside a notebook's running loop)
    with ThreadPoolExecutor(1, thread_name_prefix="trafficsim-probe") as pool:
        reply = pool.submit(_identity, "tcp://" + unparse_host_port(host, port), left).result()
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        what = (f"no answer within {timeout_s:g} s" if reply is None
                else f"it answered as {reply.get('type')!r}" if isinstance(reply, dict)
                else f"it did not speak Dask's protocol: {reply}")
        msg = (f"--scheduler {address}: no Dask scheduler answered ({what}; something listens "
               f"at {host}:{port}, but not a Dask scheduler); {_START_ONE}")
        raise UsageError(msg)


def _identity(address: str, timeout_s: float) -> object:
    """Dask's ``identity`` reply of the server at ``address``.

    None when none came within ``timeout_s`` [s]; the error's text when the exchange failed.
    """
    import asyncio

    from distributed.comm.core import connect

    async def ask() -> object:
        comm = await connect(address, timeout=timeout_s)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        return asyncio.run(asyncio.wait_for(ask(), timeout_s))
    except TimeoutError:
        return None
    except Exception as exc:  # refused the handshake, sent bytes Dask cannot decode, …
        return f"{type(exc).__name__}: {exc}"[:200]


@contextmanager
def dask_executor(address: str, *, shared: Path | None = None,
                  inputs: Sequence[Path] = ()) -> Iterator[Executor]:
    """An executor on a Dask distributed cluster (``tcp://host:8786``).

    Workers need trafficsim and ``eclipse-sumo`` installed and must see the output directory
    and the scenario's files at the same paths as this process (a shared file system): a case
    is a folder of files that the worker's SUMO reads and writes.  ``pure=False``: every
    submission runs, as each is a new simulation.

    Parameters
    ----------
    address
        The scheduler's address.
    shared
        A folder every worker must see (the output directory); checked before any work is
        submitted, so that a worker on another file system gives a clear error instead of
        failed runs.
    inputs
        Scenario files the cases name (network, routes, additional files), checked the same way.

    Raises
    ------
    ScenarioError
        Dask is not installed: it is the optional extra ``trafficsim[dask]``.
    UsageError
        No scheduler answers at ``address`` (within :data:`PROBE_TIMEOUT_S` for ``tcp://``),
        no worker joins it, or a worker cannot see ``shared`` or one of ``inputs``.
    SumoError
        Workers died running a task (Dask's ``KilledWorker``).
    """
    try:  # optional: only `--scheduler` needs Dask, so the base install stays lean
        from distributed import Client, KilledWorker
    except ImportError:
        raise ScenarioError([Issue("--scheduler", "", (
            f"a Dask scheduler ({address}) needs Dask, which is not installed; "
            "install the extra: pip install 'trafficsim[dask]'"))]) from None

    probe_scheduler(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:  # any failure to connect means a bad address:
        # OSError/TimeoutError when nothing answers; something that is not Dask at the address
        # has raised MemoryError and protocol errors from decoding its bytes
        msg = f"--scheduler {address}: no Dask scheduler answered ({exc}); {_START_ONE}"
        raise UsageError(msg) from None
    try:
        _wait_for_workers(client, address)
        if shared is not None:
            check_workers_see(client, address, shared, inputs)
        yield client.get_executor(pure=False)
    except KilledWorker as exc:  # Dask gave up on a task after its workers died repeatedly
        msg = (f"--scheduler {address}: the workers running {exc.task} died (out of memory? a "
               "city-scale SUMO run needs a few hundred MB; see the workers' logs)")
        raise SumoError(msg) from None
    finally:
        client.close()


def _wait_for_workers(client: Any, address: str) -> None:
    """Wait for a first worker: tasks sent to a scheduler without workers would wait forever."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        msg = (f"--scheduler {address}: no worker joined the scheduler within "
               f"{WORKER_WAIT_S:g} s; start workers with `dask worker {address} --nthreads 1` "
               "on machines that have trafficsim and see the output folder")
        raise UsageError(msg) from None


def check_workers_see(client: Any, address: str, shared: Path,
                      inputs: Sequence[Path] = ()) -> None:
    """Check that every worker of ``client`` sees ``shared`` (and ``inputs``) at the same paths.

    A probe file with a random token is written into ``shared``; each worker must read it back
    with the same token (a folder of the same name on another machine would not hold it).

    Raises
    ------
    UsageError
        Naming the first worker that cannot see a path, and what to do.
    """
    token = uuid.uuid4().hex
    shared.mkdir(parents=True, exist_ok=True)
    probe = shared.resolve() / f".trafficsim-probe-{token}"
    probe.write_text(token, encoding="utf-8")
    try:
        seen = client.run(missing_paths, str(probe), token, [str(p) for p in inputs],
                          on_error="return")
    finally:
        probe.unlink(missing_ok=True)
    for worker, missing in sorted(seen.items()):
        if isinstance(missing, BaseException):  # e.g. trafficsim is not installed there
            msg = (f"--scheduler {address}: worker {worker} could not run trafficsim's check "
                   f"({type(missing).__name__}: {missing}); workers need trafficsim and "
                   "eclipse-sumo installed")
            raise UsageError(msg)
        if missing:
            what = ("the output folder " + str(shared.resolve())
                    if missing[0] == str(probe) else missing[0])
            msg = (f"--scheduler {address}: worker {worker} cannot see {what}; every worker must "
                   "see the output folder (--out) and the scenario's files at the same paths "
                   "as this machine (a shared file system such as NFS, mounted alike), so "
                   "pass an --out on that file system")
            raise UsageError(msg)


def missing_paths(probe: str, token: str, inputs: Sequence[str]) -> list[str]:
    """The paths this machine cannot see: ``probe`` (unless it holds ``token``), then ``inputs``.

    Runs on each Dask worker (see :func:`check_workers_see`).
    """
    missing = []
    try:
        if Path(probe).read_text(encoding="utf-8") != token:
            missing.append(probe)
    except OSError:
        missing.append(probe)
    return missing + [p for p in inputs if not Path(p).exists()]


def map_tasks(fn: Callable[[T], R], tasks: Sequence[T], executor: Executor,
              labels: Sequence[str], *, desc: str = "runs", progress: bool = True) -> list[R]:
    """Run ``fn`` over ``tasks`` on ``executor``; results in task order.

    The first failure cancels the tasks not yet started and is re-raised.
    """
    bar = Progress(len(tasks), desc, enabled=progress)
    results: list[Any] = [None] * len(tasks)
    if isinstance(executor, SerialExecutor):
        # it runs each task at submission: submitting them all first would report every run at
        # once after the last (with ETAs of the whole batch), and run the rest after a failure
        try:
            for i, t in enumerate(tasks):
                results[i] = executor.submit(fn, t).result()
                bar.step(labels[i])
        finally:
            bar.close()
        return results
    futures = {executor.submit(fn, t): i for i, t in enumerate(tasks)}
    try:
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            bar.step(labels[i])
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    finally:
        bar.close()
    return results

"""One trafficsim run per output folder at a time.

Two runs writing into one ``--out`` folder would each finish "successfully" and leave one run's
tables beside both runs' case folders.  A run therefore holds an exclusive ``flock`` on
``DIR/.trafficsim.lock`` while it writes there, and a second run is refused at once with the
first one's pid.  The lock belongs to the open file, so the operating system releases it however
the holder ends (``kill -9`` included): a stale lock file never blocks anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

LOCK_FILE = ".trafficsim.lock"


class OutDirError(RuntimeError):
    """The output folder cannot be used: another run holds it, or it cannot be created."""


# folder → (lock file descriptor, owning thread, depth): a run that calls another on the same
# folder (a clearance sweep runs a comparison there) re-enters its own lock.
_held: dict[Path, tuple[int, int, int]] = {}
_guard = threading.Lock()


@contextlib.contextmanager
def out_dir_lock(out: str | Path | None) -> Iterator[None]:
    """Hold ``out`` (created if needed) for this run; nothing to hold when it is None.

    Raises
    ------
    OutDirError
        Another process or thread holds the folder, or it cannot be created or written.
    """
    if out is None:
        yield
        return
    folder = Path(out).resolve()
    me = threading.get_ident()
    with _guard:
        fd, owner, depth = _held.get(folder, (-1, me, 0))
        if owner != me:
            msg = f"{out} is in use by another trafficsim run (pid {os.getpid()}, another thread)"
            raise OutDirError(msg)
        if depth == 0:
            fd = _acquire(folder, out)
        _held[folder] = (fd, me, depth + 1)
    try:
        yield
    finally:
        with _guard:
            fd, owner, depth = _held.pop(folder)
            if depth > 1:
                _held[folder] = (fd, owner, depth - 1)
            else:
                _release(folder, fd)


def _acquire(folder: Path, shown: str | Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        msg = f"{shown}: --out names an existing file; expected a folder"
        raise OutDirError(msg) from None
    except OSError as exc:
        msg = f"{shown}: the output folder cannot be created ({exc.strerror})"
        raise OutDirError(msg) from None
    path = folder / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            msg = f"{shown}: the output folder is not writable ({exc.strerror})"
            raise OutDirError(msg) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            msg = (f"{shown} is in use by another trafficsim run (pid {pid}); wait for it to "
                   "finish or choose another --out")
            raise OutDirError(msg) from None
        # The previous holder removes the file when it is done: if it did so after we opened
        # it, we hold a lock on a deleted file that nobody else will see.  Lock the one there.
        try:
            current = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _release(folder: Path, fd: int) -> None:
    # removed while still locked, so the next run never finds a file we are about to leave
    with contextlib.suppress(OSError):
        (folder / LOCK_FILE).unlink()
    os.close(fd)


def writable_file_issue(path: Path) -> str | None:
    """Why a file cannot be (re)written at ``path`` (None when it can)."""
    p = path.absolute()
    if p.exists():
        if not p.is_file():
            return "exists and is not a file; expected a JSON file to write"
        return None if os.access(p, os.W_OK) else "is not writable"
    if not p.parent.is_dir():
        return f"cannot be created: {p.parent} is not an existing folder"
    return None if os.access(p.parent, os.W_OK | os.X_OK) else f"{p.parent} is not writable"


def out_dir_issue(path: Path) -> str | None:
    """Why results cannot be written to the folder ``path`` (None when they can).

    Checked before any work, so that a long run does not fail at its end; the folder itself is
    created only by the run (a bad scenario leaves nothing behind).
    """
    p = path.absolute()
    if p.exists():
        if not p.is_dir():
            return "exists and is not a folder; expected a folder for the results (new or existing)"
        if not os.access(p, os.W_OK | os.X_OK):
            return "is not writable; expected a folder you may write into"
        if (why := _mkdir_issue(p)) is not None:
            return f"is not writable ({why}); expected a folder you may write into"
        return None
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent} is not writable"
    if (why := _mkdir_issue(parent)) is not None:
        return f"cannot be created in {parent} ({why}); expected a folder you may write into"
    return None


def _mkdir_issue(folder: Path) -> str | None:
    """Why no folder can be made in ``folder`` (None when one can), found by making one.

    ``os.access`` answers from the permission bits: for root it says yes to ``/proc`` or
    ``/sys``, where creating anything fails.  A probe folder, removed at once, asks the kernel.
    """
    try:
        Path(tempfile.mkdtemp(prefix=".trafficsim-probe-", dir=folder)).rmdir()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


P = ParamSpec("P")
R = TypeVar("R")


def holding_out(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: hold the folder given as ``fn``'s keyword argument ``out`` while ``fn`` runs."""

    @functools.wraps(fn)
    def held(*args: P.args, **kwargs: P.kwargs) -> R:
        out = kwargs.get("out")
        with out_dir_lock(out if isinstance(out, str | Path) else None):
            return fn(*args, **kwargs)

    return held

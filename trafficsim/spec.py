"""Reading untyped tables (parsed TOML) into typed values, collecting every problem found.

A :class:`Fields` wraps one table and its dotted path in the file.  Each accessor checks the type
and range of one key; a problem is recorded (never raised) and a placeholder returned, so that one
pass over a file reports all of its errors.  ``done()`` flags keys nobody asked for, which catches
typos such as ``spacing_n`` with a suggestion.

A required key that is absent (or, for times, unreadable) yields the placeholder :data:`MISSING`.
Its problem is already recorded.  It is falsy, so the parsers' ``value or default`` idiom gives
the default; any other use (``float(x)``, ``for e in x``, ``f"{x}"``, ``x < 3``, ``x.strip()``, …)
raises :class:`MissingValue`: a parser that needs the value stops there, and :func:`guarded` (per
measure, incident, car park, …) or the loader turns the abort into the collected problems.  So a
missing value never reaches a constructor as if it were data, and never surfaces as a
``TypeError`` far from its cause.
"""

from __future__ import annotations

import builtins
import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from trafficsim.errors import Issue, suggest

T = TypeVar("T")


class MissingValue(Exception):
    """A parser used the placeholder of a value that is missing; its problem is already recorded."""


class _Missing:
    """The placeholder returned for an absent required key.

    It is falsy, and every other use raises :class:`MissingValue` (``is MISSING`` and
    ``x or default`` are the safe operations).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False

    def _use(self, *args: object, **kwargs: object) -> NoReturn:
        raise MissingValue

    __iter__ = __len__ = __contains__ = __getitem__ = _use
    __float__ = __int__ = __index__ = __complex__ = __round__ = _use
    __str__ = __format__ = __bytes__ = __fspath__ = _use
    __lt__ = __le__ = __gt__ = __ge__ = _use
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _use
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __neg__ = _use

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):  # protocol probes (copy, pickle, …) expect AttributeError
            raise AttributeError(name)
        raise MissingValue


MISSING: Any = _Missing()
_MISSING = MISSING


def guarded(f: Fields, parse: Callable[[Fields], T]) -> T | None:
    """``parse(f)``, or None when it stopped at a missing value (whose problem is recorded).

    Lets a list of items (measures, incidents, car parks) report every item's problems even when
    one item lacks a field its constructor needs.
    """
    try:
        return parse(f)
    except MissingValue:
        return None


#: Latest time accepted anywhere (100 days): beyond it a value is a slip, and a window that long
#: would need millions of demand bins. [s]
MAX_TIME_S = 100 * 86400.0
#: Most vehicles per hour one flow may ask for at its peak (peak rate × profile multiplier).
#: Several times a motorway: beyond it the draw would build millions of vehicles. [veh/h]
MAX_FLOW_VEH_H = 100_000.0
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _type_name(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


#: A field name of a table.  (Inside :class:`Fields`, whose readers are named after the
#: types they read, ``str`` and ``bool`` in annotations mean those methods: hence ``builtins``.)
Key = str


class Fields:
    """Typed, validated access to one table of a scenario file.

    Parameters
    ----------
    table
        The parsed table.
    file
        The file it came from (for messages).
    path
        Dotted path of the table inside the file ("" for the top level).
    issues
        Shared list that collects every problem.
    """

    def __init__(
        self, table: Mapping[str, Any], file: Path | str, path: str, issues: list[Issue]
    ) -> None:
        self.table = table
        self.file = file
        self.path = path
        self.issues = issues
        self._seen: set[str] = set()

    # -- bookkeeping -------------------------------------------------------------------------
    def field(self, key: str | int) -> str:
        """Dotted path of a key (or list index) of this table."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | int, message: str) -> None:
        """Record a problem with ``key``."""
        self.issues.append(Issue(self.file, self.field(key), message))

    def has(self, key: str) -> bool:
        """True when the key is present (and marks it as known)."""
        self._seen.add(key)
        return key in self.table

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        if key in self.table:
            return self.table[key]
        if default is _MISSING:
            self.error(key, "is missing (required)")
        return default

    def done(self) -> None:
        """Flag every key of the table that no accessor asked for."""
        for key in self.table:
            if key not in self._seen:
                hint = suggest(key, self._seen)
                known = ", ".join(sorted(self._seen)) or "none"
                self.error(key, f"unknown field; allowed here: {known}.{hint}")

    # -- scalar accessors --------------------------------------------------------------------
    def str(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        """Read a string field.

        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        A value of another type is recorded and ``default`` (else ``""``) returned; a string
        not among ``choices`` (when given) is recorded, with a close match suggested, and
        returned as it is.
        """
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        if not isinstance(value, str):
            self.error(key, f"= {value!r} is {_type_name(value)}; expected a string")
            return default if default is not _MISSING else ""
        if choices and value not in choices:
            self.error(
                key,
                f"= {value!r} is not allowed; expected one of: {', '.join(choices)}."
                + suggest(value, choices),
            )
        return value

    def bool(self, key: Key, default: Any = _MISSING) -> Any:
        """Read a true/false field.

        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        A value of another type is recorded and ``default`` (else False) returned.
        """
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        if not isinstance(value, bool):
            self.error(key, f"= {value!r} is {_type_name(value)}; expected true or false")
            return default if default is not _MISSING else False
        return value

    def int(self, key: Key, default: Any = _MISSING, *, lo: builtins.int | None = None,
            hi: builtins.int | None = None) -> Any:
        """Read an integer field, within ``lo`` ≤ value ≤ ``hi`` when those are given.

        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        A value of another type (booleans included) is recorded and ``default`` (else ``lo``
        or 0) returned; a value out of range is recorded and clamped to the range.
        """
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"= {value!r} is {_type_name(value)}; expected an integer")
            return default if default is not _MISSING else (lo or 0)
        return self._range(key, value, lo, hi)

    def float(self, key: Key, default: Any = _MISSING, *, lo: builtins.float | None = None,
              hi: builtins.float | None = None, lo_open: builtins.bool = False,
              unit: builtins.str = "") -> Any:
        """Read a number field (an integer is accepted and returned as a float).

        The range is ``lo`` ≤ value ≤ ``hi`` (``lo`` < value with ``lo_open``), each bound
        when given; ``unit`` is appended to numbers in messages (e.g. ``" s"``).
        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        A value that is not a finite number is recorded and ``default`` (else ``lo`` or 0.0)
        returned; a value out of range is recorded and clamped to the range.
        """
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(key, f"= {value!r} is {_type_name(value)}; expected a number{unit}")
            return default if default is not _MISSING else (lo or 0.0)
        if not math.isfinite(value):  # TOML has nan and inf; no quantity here is either
            self.error(key, f"= {value!r} is not a finite number; expected a number{unit}")
            return default if default is not _MISSING else (lo or 0.0)
        return self._range(key, float(value), lo, hi, lo_open=lo_open, unit=unit)

    def _range(self, key: Key, value: Any, lo: Any, hi: Any, *,
               lo_open: builtins.bool = False, unit: builtins.str = "") -> Any:
        if lo is not None and (value <= lo if lo_open else value < lo):
            op = ">" if lo_open else "≥"
            self.error(key, f"= {value!r} is out of range; expected {op} {lo}{unit}")
            return max(value, lo)
        if hi is not None and value > hi:
            self.error(key, f"= {value!r} is out of range; expected ≤ {hi}{unit}")
            return min(value, hi)
        return value

    def time(self, key: Key, default: Any = _MISSING) -> Any:
        """A time of day: seconds [s] or a clock string ``"07:30"``; returns seconds [s]."""
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        seconds = parse_time(value)
        if seconds is None:
            self.error(key, f"= {value!r} is not a time; expected seconds (e.g. 25200, at "
                            f"most {MAX_TIME_S:.0f}) or a clock time such as \"07:00\"")
            # the default, or the placeholder: checks that need this time are skipped
            return default
        return seconds

    # -- containers ----------------------------------------------------------------------------
    def table_(self, key: Key, *, required: builtins.bool = False) -> Fields | None:
        """Return a sub-table as :class:`Fields` sharing this table's issue list.

        None when the key is absent (recorded when ``required``) or is not a table (recorded).
        """
        value = self._get(key, _MISSING if required else None)
        if value is None or value is _MISSING:  # a missing required table is already reported
            return None
        if not isinstance(value, dict):
            self.error(key, f"is {_type_name(value)}; expected a table")
            return None
        return Fields(value, self.file, self.field(key), self.issues)

    def list(self, key: Key, default: Any = _MISSING) -> Any:
        """Read a list field as it is (items unchecked).

        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        A value of another type is recorded and an empty list returned.
        """
        value = self._get(key, default)
        if value is default and key not in self.table:
            return value
        if not isinstance(value, list):
            self.error(key, f"= {value!r} is {_type_name(value)}; expected a list")
            return []
        return value

    def items(self, key: Key) -> Iterator[tuple[builtins.int, Any, builtins.str]]:
        """Yield (index, item, field path) for each element of a list-valued key."""
        for i, item in enumerate(self.list(key, [])):
            yield i, item, f"{self.field(key)}[{i}]"

    def str_list(self, key: Key, default: Any = _MISSING) -> Any:
        """Read a list of strings; return them as a tuple.

        Absent key: returns ``default``; with no default the key is required, the problem is
        recorded and the :data:`MISSING` placeholder returned.
        Items that are not strings are recorded against ``key[i]`` and left out.
        """
        values = self.list(key, default)
        if values is default and key not in self.table:
            return values
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.issues.append(Issue(self.file, f"{self.field(key)}[{i}]",
                                         f"= {v!r} is {_type_name(v)}; expected a string"))
            else:
                out.append(v)
        return tuple(out)


def read_windows(f: Fields, key: str, *, required: bool = True, allow_empty: bool = False
                 ) -> tuple[tuple[float, float], ...]:
    """Time windows ``[["07:00", "09:00"], ["16:30", "19:30"]]`` → sorted ((begin, end), …) [s].

    Each window must end after it begins and windows must not overlap; problems are recorded
    against ``key[i]``.  Checking windows against the simulation window needs the scenario, so
    measures do that in ``check`` with :func:`window_issues`.  An empty list is a problem unless
    ``allow_empty``: where the key may be left out it would silently mean the whole
    simulation (the default), elsewhere a measure that is never in force.
    """
    raw = f.list(key, None if not required else _MISSING)
    if raw is None or raw is _MISSING:  # a missing required list is already reported
        return ()
    if isinstance(raw, list) and not raw and not allow_empty:
        hint = "" if required else "; leave it out for the whole simulation"
        f.error(key, f'is empty; expected at least one window such as [["07:00", "09:00"]]{hint}')
        return ()
    out: list[tuple[float, float]] = []
    for i, w in enumerate(raw):
        if (not isinstance(w, list) or len(w) != 2
                or parse_time(w[0]) is None or parse_time(w[1]) is None):
            f.error(f"{key}[{i}]", f"= {w!r} is not a time window; expected [begin, end] such as "
                                   '["07:00", "09:00"] or [25200, 32400]')
            continue
        b, e = parse_time(w[0]), parse_time(w[1])
        assert b is not None and e is not None
        if e <= b:
            f.error(f"{key}[{i}]", f"= {w!r} ends before it begins")
            continue
        out.append((b, e))
    out.sort()
    for (b0, e0), (b1, e1) in itertools.pairwise(out):
        if b1 < e0:
            f.error(key, f"windows {clock(b0)}–{clock(e0)} and {clock(b1)}–{clock(e1)} overlap")
    return tuple(out)


def window_issues(windows: tuple[tuple[float, float], ...], begin_s: float, end_s: float,
                  key: str = "windows") -> list[tuple[str, str]]:
    """(field, message) for each window that reaches outside the simulation window."""
    return [(f"{key}[{i}]",
             f"{clock(b)}–{clock(e)} lies outside the simulation window "
             f"{clock(begin_s)}–{clock(end_s)}")
            for i, (b, e) in enumerate(windows) if b < begin_s or e > end_s]


def flow_issue(f: Fields, key: str, veh_per_hour: Any, profile: tuple[float, ...]) -> None:
    """Record a problem when a flow's peak exceeds :data:`MAX_FLOW_VEH_H` [veh/h].

    The peak is the rate [veh/h] × the largest profile multiplier; values that are not
    numbers were reported already and are skipped here.
    """
    if not isinstance(veh_per_hour, float | int) or not profile:
        return
    peak = veh_per_hour * max(profile)
    if peak > MAX_FLOW_VEH_H:
        f.error(key, f"peaks at {veh_per_hour:g} × {max(profile):g} = {peak:,.0f} veh/h; "
                     f"expected at most {MAX_FLOW_VEH_H:,.0f} veh/h (profile values multiply "
                     "the peak rate)")


def parse_time(value: object) -> float | None:
    """Seconds [s] from a number or an ``"HH:MM[:SS]"`` string; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value <= MAX_TIME_S else None  # also refuses nan
    if isinstance(value, str):
        m = _CLOCK.match(value.strip())
        if m:
            h, mnt, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if mnt < 60 and s < 60:
                return float(h * 3600 + mnt * 60 + s)
    return None


def clock(seconds: float) -> str:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) for a time of day [s]."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")

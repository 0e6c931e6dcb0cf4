"""The measure registry: measure types by the name used in scenario files."""

from __future__ import annotations

from typing import TypeVar

from trafficsim.errors import suggest
from trafficsim.measures.base import Measure
from trafficsim.spec import Fields, guarded

MEASURES: dict[str, type[Measure]] = {}

M = TypeVar("M", bound=type[Measure])


def register(cls: M) -> M:
    """Class decorator: make a measure available under its ``kind``; duplicates are an error."""
    if cls.kind in MEASURES:
        msg = f"measure type '{cls.kind}' is registered twice ({MEASURES[cls.kind]} and {cls})"
        raise ValueError(msg)
    MEASURES[cls.kind] = cls
    return cls


def parse_measure(f: Fields) -> Measure | None:
    """Read one measure table, dispatching on its ``type`` field."""
    kind = f.str("type")
    if not isinstance(kind, str) or not kind:
        return None
    cls = MEASURES.get(kind)
    if cls is None:
        known = ", ".join(sorted(MEASURES))
        f.error("type", f"= {kind!r} is not a known measure; expected one of: {known}."
                        + suggest(kind, MEASURES))
        return None
    # A measure that stops at a missing required field is left out; its problem is recorded.
    measure = guarded(f, cls.parse)
    f.done()
    return measure

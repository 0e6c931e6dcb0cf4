"""The registries: measure types by the name used in scenario files, situations by their table.

Measures and situations register themselves with :func:`register` when their module is
imported.  :func:`discover` imports every module of the ``trafficsim.measures`` package and
every module or class that an installed distribution declares in the entry-point group
``trafficsim.measures``, so another package adds a measure without touching trafficsim::

    [project.entry-points."trafficsim.measures"]
    bus_gate = "my_package.bus_gate"          # a module whose classes use @register
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points
from typing import TypeVar

from trafficsim.errors import suggest
from trafficsim.measures.base import Measure, MetricInfo, Situation, match_metric
from trafficsim.spec import Fields, guarded

#: The entry-point group through which other packages add measures and situations.
ENTRY_POINT_GROUP = "trafficsim.measures"

MEASURES: dict[str, type[Measure]] = {}
#: Situation kinds by the scenario table they read (``"incidents"``, ``"parking"``, …).
SITUATIONS: dict[str, type[Situation]] = {}

M = TypeVar("M", bound=type[Measure] | type[Situation])

_discovered = False


def register(cls: M) -> M:
    """Class decorator: make a measure available under its ``kind``.

    A :class:`Situation` is registered under its ``table``; two classes under one name are an
    error.
    """
    if issubclass(cls, Situation):
        registry: dict[str, type] = SITUATIONS
        name, what = cls.table, "situation table"
    else:
        registry, name, what = MEASURES, cls.kind, "measure type"
    if name in registry and registry[name] is not cls:
        msg = f"{what} '{name}' is registered twice ({registry[name]} and {cls})"
        raise ValueError(msg)
    registry[name] = cls
    return cls


def discover(*, refresh: bool = False) -> None:
    """Import the built-in measure modules and the ones installed packages declare (once).

    The built-ins are found by scanning this package, so a stale editable install (whose
    metadata predates a new module) still finds them; entry points add the others.  A plugin
    that fails to import is reported on stderr and left out, so one broken package does not
    stop every run.  ``refresh`` looks at the entry points again (a package installed or put on
    ``sys.path`` since).
    """
    global _discovered
    if _discovered and not refresh:
        return
    _discovered = True
    import trafficsim.measures as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value.split(":")[0].startswith(f"{pkg.__name__}."):
            continue  # a built-in: imported above
        try:
            obj = ep.load()
        except Exception as exc:
            print(f"trafficsim: measure plugin '{ep.name}' ({ep.value}) could not be loaded "
                  f"and is left out: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if isinstance(obj, type) and issubclass(obj, Measure | Situation):
            register(obj)


def measure_classes() -> list[type[Measure] | type[Situation]]:
    """Every registered measure and situation class (after :func:`discover`)."""
    discover()
    classes: list[type[Measure] | type[Situation]] = [*SITUATIONS.values(), *MEASURES.values()]
    return list(dict.fromkeys(classes))


def declared_metric(key: str) -> MetricInfo | None:
    """The declaration of a metric key by any measure or situation, or None.

    Exact keys are looked up first, then patterns (``"{id}_max_queue_m"``).
    """
    classes = measure_classes()
    for cls in classes:
        if key in cls.METRICS:
            return cls.METRICS[key]
    for cls in classes:
        if (info := match_metric(cls.METRICS, key)) is not None:
            return info
    return None


def parse_measure(f: Fields) -> Measure | None:
    """Read one measure table, dispatching on its ``type`` field."""
    discover()
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

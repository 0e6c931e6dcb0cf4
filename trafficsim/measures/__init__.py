"""Traffic-management measures and scenario-wide situations, one module each.

Every module of this package is imported at start (:func:`~trafficsim.measures.registry.discover`)
and registers its classes by the name scenario files use; installed packages add theirs through
the entry-point group ``trafficsim.measures``.  Nothing outside this package names a measure.
"""

from trafficsim.measures.base import CaseDraft, Measure, MetricInfo, NetIndex, Situation, StopVisit
from trafficsim.measures.registry import (
    MEASURES,
    SITUATIONS,
    discover,
    measure_classes,
    parse_measure,
    register,
)

discover()

__all__ = ["MEASURES", "SITUATIONS", "CaseDraft", "Measure", "MetricInfo", "NetIndex",
           "Situation", "StopVisit", "discover", "measure_classes", "parse_measure", "register"]

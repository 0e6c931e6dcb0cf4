"""Traffic-management measures, one module each, registered by the name scenario files use."""

from trafficsim.measures import freight as _freight  # noqa: F401  (registers)
from trafficsim.measures import hov_lane as _hov_lane  # noqa: F401
from trafficsim.measures import incident as _incident  # noqa: F401  (registers)
from trafficsim.measures import parking_bay as _parking_bay  # noqa: F401
from trafficsim.measures import shared_parking as _shared_parking  # noqa: F401  (registers)
from trafficsim.measures import signal_plan as _signal_plan  # noqa: F401  (registers)
from trafficsim.measures import speed_limit as _speed_limit  # noqa: F401  (registers)
from trafficsim.measures import tidal_lane as _tidal_lane  # noqa: F401
from trafficsim.measures.base import CaseDraft, Measure, NetIndex, StopVisit
from trafficsim.measures.registry import MEASURES, parse_measure, register

__all__ = ["MEASURES", "CaseDraft", "Measure", "NetIndex", "StopVisit", "parse_measure", "register"]

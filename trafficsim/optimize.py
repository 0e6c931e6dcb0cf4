"""Deprecated alias of :mod:`trafficsim.optimise` (one spelling: ``optimise``).

``from trafficsim.optimize import optimise`` keeps working, with a :class:`DeprecationWarning`;
import from :mod:`trafficsim.optimise` instead.
"""

import warnings

from trafficsim.optimise import *  # noqa: F403
from trafficsim.optimise import __all__  # noqa: F401

warnings.warn("trafficsim.optimize is deprecated; import trafficsim.optimise instead",
              DeprecationWarning, stacklevel=2)

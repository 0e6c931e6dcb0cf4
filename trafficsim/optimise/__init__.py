"""Signal-plan optimisation: SciPy search over cycle, splits and offsets on common random numbers.

The decision vector (:class:`~trafficsim.optimise.encoding.Encoding`) is bounded: a common
cycle, per traffic light its stage splits as proportions of the time above the minimum greens
(stick-breaking, so greens always respect the minimum greens and add up to the cycle), and per
traffic light but the first an offset as a fraction of the cycle.  Yellow and all-red times and
the phase structure stay the network's.

Every candidate plan runs on the same K search seeds (common random numbers), built and run as
``compare`` builds and runs plans (:mod:`~trafficsim.optimise.evaluation`); the winner is then
validated on seeds the search never used, against the starting plan, Webster and SUMO's
``actuated`` control, with paired confidence intervals (:mod:`~trafficsim.optimise.validation`).

Modules: :mod:`~trafficsim.optimise.encoding` (decision vectors), :mod:`~trafficsim.optimise.evaluation`
(one candidate on the seeds, the early cut), :mod:`~trafficsim.optimise.journal` (the typed,
append-only record that ``--resume`` replays), :mod:`~trafficsim.optimise.search` (the search
state and the global methods), :mod:`~trafficsim.optimise.pattern` (pattern searches),
:mod:`~trafficsim.optimise.validation` and :mod:`~trafficsim.optimise.run` (:func:`optimise`).
"""

from trafficsim.optimise.encoding import ActuatedEncoding, CoordinatedEncoding, Encoding, plan_key
from trafficsim.optimise.evaluation import EvalResult, EvalTask, evaluate, objective_value
from trafficsim.optimise.journal import Journal, JournalEntry
from trafficsim.optimise.pattern import neighbours
from trafficsim.optimise.run import OptimiseResult, optimise
from trafficsim.optimise.settings import METHODS, OBJECTIVES, OptimiseSettings

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "ActuatedEncoding",
    "CoordinatedEncoding",
    "Encoding",
    "EvalResult",
    "EvalTask",
    "Journal",
    "JournalEntry",
    "OptimiseResult",
    "OptimiseSettings",
    "evaluate",
    "neighbours",
    "objective_value",
    "optimise",
    "plan_key",
]

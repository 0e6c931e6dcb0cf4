"""trafficsim: test city traffic-management measures in Eclipse SUMO, with honest statistics.

The notebook API mirrors the command line::

    import trafficsim as ts
    sc = ts.load_scenario("scenarios/arterial_am_peak.toml")
    result = ts.compare(sc, seeds=[1, 2, 3])
    result.estimate("baseline", "mean_delay_s")
"""

__version__ = "0.1.0"

from trafficsim.compare import Comparison, RunResult, compare, simulate
from trafficsim.errors import ScenarioError, SumoError, SumoTimeout
from trafficsim.scenario import Scenario, load_scenario
from trafficsim.sweep import ClearanceSweep, clearance_sweep

__all__ = [
    "ClearanceSweep",
    "Comparison",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SumoError",
    "SumoTimeout",
    "__version__",
    "clearance_sweep",
    "compare",
    "load_scenario",
    "simulate",
]

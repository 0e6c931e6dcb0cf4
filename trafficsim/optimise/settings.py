"""What an optimisation run is asked to do: :class:`OptimiseSettings` and their check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from trafficsim.errors import Issue, ScenarioError
from trafficsim.scenario import BASELINE, PlanSpec, Scenario
from trafficsim.signals import DayPlan, SignalPlan, WebsterSettings

OBJECTIVES = ("mean_delay_s", "person_delay_s", "performance_index_s", "throughput_veh")
METHODS = ("differential_evolution", "dual_annealing", "direct", "nelder_mead")
DEFAULT_STOP_WEIGHT_S = 15.0
#: Journal roles of fixed-time plans (the others: tuned ``actuated`` and ``coordinated`` control);
#: ``design`` is the phasing choice of ``--design``, ``lanes`` the lane search of ``--design-lanes``
FIXED_ROLES = ("start", "webster", "design", "lanes", "candidate", "refine", "offered")
#: WAUT switching of time-of-day plans (see :mod:`~trafficsim.optimise.day`): the procedure, with
#: ``synchron="true"``, and the WAUT's id
WAUT_PROCEDURE = "GSP"
WAUT_ID = "trafficsim_tod"


@dataclass(frozen=True)
class Warmup:
    """A period's evaluation after a warm-up (``--periods``): what runs before the period.

    The simulation starts before the period with the earlier periods' chosen programs, switched
    by the WAUT the final day plan uses, and switches to the candidate at ``score_from_s``; only
    the vehicles that want to depart from ``score_from_s`` on are scored, so the candidate is
    judged on the queues the day really hands it.

    Attributes
    ----------
    score_from_s
        The period's begin: the candidate's switch time and the first departure scored. [s]
    plans
        (start [s], plan) of the programs running in the warm-up, ascending; the first starts
        at the simulation's begin.
    """

    score_from_s: float
    plans: tuple[tuple[float, SignalPlan], ...] = ()

    def additional(self, candidate: SignalPlan) -> str:
        """The additional file of one evaluation: the warm-up's programs, then ``candidate``."""
        day = DayPlan((*self.plans, (self.score_from_s, candidate)))
        return day.to_additional(WAUT_ID, procedure=WAUT_PROCEDURE, synchron=True)


@dataclass
class OptimiseSettings:
    """Options of :func:`~trafficsim.optimise.optimise`.

    Attributes
    ----------
    budget
        Plans simulated by the fixed-time search, the starting plan and Webster included.
    objective, method
        One of :data:`OBJECTIVES` (minimised; throughput maximised) and of :data:`METHODS`.
    seeds, validate_seeds
        Search seeds (default: the scenario's first three) and unseen validation seeds
        (default: five from 101 on).
    rng_seed
        Seed of the search itself.
    stop_weight_s
        Delay one stop weighs in ``performance_index_s``. [s]
    early_cut
        Stop evaluations that can no longer be accepted (never changes a decision).
    check_every_s
        Simulated time between the TraCI monitor's checks of a cut candidate. [s]
    min_cycle_s, max_cycle_s
        Bounds of the common cycle. [s]
    webster
        Webster's settings (saturation flow, lost time, cycle bounds).
    tune_actuated
        Also tune actuated and coordinated actuated control (budget/4 plans each, at least 10).
    refine_share
        Share of the budget kept for the pattern search around the best plan.
    validate, compare_sumo_webster
        Run the validation on unseen seeds; run SUMO's ``tlsCycleAdaptation.py`` too.
    design
        Also choose each light's phasing (:mod:`~trafficsim.optimise.design`); implies the
        actuated and coordinated tuning, on the designed phases.
    design_share
        With ``design``: share of the budget the phasing choice may use at most.
    design_lanes
        Also re-mark approaches with heavy left turns (lane use, waiting areas;
        :mod:`~trafficsim.optimise.lanes`); implies ``design``.
    lanes_share
        With ``design_lanes``: share of the budget the lane search may use at most (after
        the phasing choice).
    warm_start
        A plan to seed the search with (DE's first population), e.g. the neighbouring
        period's winner (``--periods``); ignored when its programs do not fit the starting
        plan's phases.
    offered
        Plans evaluated right after the starting plan and Webster, and (when they fit the
        starting plan's phases) members of DE's first population: ``--periods`` offers every
        period the best single plan, so a period's winner is never worse than it on the
        search seeds.
    warmup
        Evaluate each plan after a warm-up and score only the vehicles departing from its
        ``score_from_s`` on (``--periods``; no early cut then: the monitor's bound counts the
        warm-up's vehicles too).
    plan
        The scenario plan whose measures every candidate runs with (``--plan``, e.g. a tidal
        lane or a lane re-marking): the signals are tuned for that plan, and its own signals
        are the starting plan. ``baseline``: the do-nothing case.
    """

    budget: int = 40
    objective: str = "mean_delay_s"
    method: str = "differential_evolution"
    seeds: tuple[int, ...] | None = None
    validate_seeds: tuple[int, ...] | None = None
    rng_seed: int = 0
    stop_weight_s: float = DEFAULT_STOP_WEIGHT_S
    early_cut: bool = True
    check_every_s: float = 300.0
    min_cycle_s: float = 30.0
    max_cycle_s: float = 150.0
    webster: WebsterSettings = field(default_factory=WebsterSettings)
    tune_actuated: bool = False
    refine_share: float = 0.4
    validate: bool = True
    compare_sumo_webster: bool = True
    design: bool = False
    design_share: float = 0.5
    design_lanes: bool = False
    lanes_share: float = 0.3
    warm_start: SignalPlan | None = None
    offered: tuple[SignalPlan, ...] = ()
    warmup: Warmup | None = None
    plan: str = BASELINE


def check_settings(sc: Scenario, s: OptimiseSettings) -> None:
    """Refuse settings out of range, naming the command-line flag.

    Raises
    ------
    ScenarioError
        Listing every setting that is out of range.
    """
    problems = []
    if s.objective not in OBJECTIVES:
        problems.append(("--objective", f"= {s.objective!r}; expected one of "
                                        f"{', '.join(OBJECTIVES)}"))
    if s.method not in METHODS:
        problems.append(("--method", f"= {s.method!r}; expected one of {', '.join(METHODS)}"))
    if s.budget < 3:
        problems.append(("--budget", f"= {s.budget}; expected at least 3 (the starting plan, "
                                     "Webster and one candidate)"))
    if not 0.0 <= s.refine_share < 1.0:
        problems.append(("--refine-share", f"= {s.refine_share}; expected a fraction of the "
                                           "budget in [0, 1)"))
    if not 0.0 < s.design_share < 1.0:
        problems.append(("--design-share", f"= {s.design_share}; expected a fraction of the "
                                           "budget in (0, 1)"))
    if not 0.0 < s.lanes_share < 1.0:
        problems.append(("--lanes-share", f"= {s.lanes_share}; expected a fraction of the "
                                          "budget in (0, 1)"))
    # nan passes no comparison, so it is refused with the infinities and negatives
    if not 0.0 <= s.stop_weight_s < math.inf:
        problems.append(("--stop-weight-s", f"= {s.stop_weight_s}; expected the seconds of "
                                            "delay one stop weighs in, a finite number >= 0"))
    if s.rng_seed < 0:  # (NumPy's seeding refuses it, after the reference runs)
        problems.append(("--rng-seed", f"= {s.rng_seed}; expected a whole number >= 0"))
    if s.plan not in (BASELINE, sc.tuned_plan) and s.plan not in sc.plans:
        problems.append(("--plan", f"= {s.plan!r} is not a plan of the scenario; plans: "
                                   f"{', '.join(sc.plans)}"))
    if s.plan != BASELINE and s.plan in sc.plans:
        adaptive = [getattr(m, "control", "") for m in sc.plans[s.plan].measures
                    if m.kind == "signal_plan" and getattr(m, "control", "") in (
                        "actuated", "coordinated", "max_pressure")]
        if adaptive:
            problems.append(("--plan", f"= {s.plan!r} runs its signals under {adaptive[0]} "
                                       "control, which decides the greens itself; the "
                                       "optimiser tunes fixed-time programs (and, with "
                                       "--tune-actuated, actuated ones): tune a plan with "
                                       "fixed-time signals"))
    if s.plan != BASELINE and s.design_lanes:
        problems.append(("--plan", f"= {s.plan!r} with --design-lanes: the lane search "
                                   "re-marks the do-nothing network's approaches; tune a "
                                   "plan's signals without it"))
    if problems:
        raise ScenarioError([Issue(sc.source, f, m) for f, m in problems])


def on_plan(sc: Scenario, name: str) -> Scenario:
    """The scenario as the optimiser sees it with ``--plan name``: that plan as its baseline.

    The optimiser tunes the signals the baseline's network and measures run with and compares
    against the baseline; a plan's measures (a tidal lane, lane re-markings, an HOV lane) change
    the flows the signals serve, so tuning for the plan means taking its measures as the
    baseline's.  Its own signals (the network's, or its ``signal_plan``) are the starting plan.
    The other plans are dropped (the optimiser never runs them, so their measures are not
    checked: a tidal window past ``--end`` of a plan not tuned is no error).  Pure.
    """
    if name == sc.tuned_plan:  # (already: a --periods period's scenario)
        return sc
    if name == BASELINE:
        return replace(sc, plans={BASELINE: sc.plans[BASELINE]})
    plan = sc.plan(name)
    return replace(sc, plans={BASELINE: PlanSpec(BASELINE, plan.measures,
                                                 f"plan '{name}': {plan.description}")},
                   tuned_plan=name)



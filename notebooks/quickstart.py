# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # trafficsim quickstart
#
# Load the showcase scenario (a 2-hour AM peak on an arterial with five signalised
# intersections), simulate the do-nothing baseline, compare it with a 40 km/h traffic-calming
# plan on common seeds, look at the pictures and write the HTML report.
#
# This notebook is a plain Python file in jupytext's *percent* format, so it diffs cleanly in git.
# Open it in Jupyter with `pip install -e '.[notebooks]'` (jupytext makes Jupyter read `.py`
# notebooks), or run it as a script. The test suite executes it on a small budget
# (`tests/test_notebooks.py` overrides the parameters below).

# %% tags=["parameters"]
SCENARIO = "../scenarios/arterial_am_peak.toml"
SEEDS = [1, 2, 3, 4, 5]
END = None  # simulation end, "HH:MM" (None: the scenario's own end); earlier is a quick look
OUT = "quickstart-out"  # results folder: metrics, tables, cases and the report
WORKERS = None  # parallel SUMO processes (None: all cores)

# %%
# %matplotlib inline
from pathlib import Path

import trafficsim as ts
from trafficsim import plots
from trafficsim.cli import format_comparison
from trafficsim.spec import parse_time

sc = ts.load_scenario(SCENARIO, end_s=None if END is None else parse_time(END))
print(sc.name, sc.window, "plans:", ", ".join(sc.plans))
for name, plan in sc.plans.items():
    print(f"  {name}: {plan.description}")

# %% [markdown]
# ## Simulate one plan
# `simulate` runs one plan over seeds; every metric comes with a 95% confidence interval over
# the seeds (with a single seed there is no interval).

# %%
one = ts.simulate(sc, "baseline", seeds=SEEDS[:2], workers=WORKERS, progress=False)
est = one.estimate("baseline", "mean_delay_s")
print(f"mean delay: {est.mean:.1f} s per vehicle, 95% CI [{est.ci95[0]:.1f}, {est.ci95[1]:.1f}]")
assert est.mean > 0

# %% [markdown]
# ## Compare plans
# `compare` runs every plan on the same seeds with the same demand draws (common random
# numbers), so differences are paired seed by seed. `trajectories=True` also records the
# vehicles on the main corridor (first seed of each plan) for time–space diagrams.

# %%
result = ts.compare(sc, seeds=SEEDS, out=OUT, trajectories=True, workers=WORKERS,
                    progress=False)
print(format_comparison(result))

# %%
d = result.difference("calm_40", "mean_delay_s")
print(f"calm_40 changes mean delay by {d.diff:+.1f} s ({d.pct:+.0f}%), "
      f"95% CI [{d.ci95[0]:+.1f}, {d.ci95[1]:+.1f}]")
# A lower speed limit cannot make trips faster on an uncongested arterial.
assert result.difference("calm_40", "mean_travel_time_s").diff > 0

# %% [markdown]
# ## Pictures
# Each function of `trafficsim.plots` returns a matplotlib figure; Jupyter shows it.
# Metric means with their 95% confidence intervals:

# %%
plots.metric_bars(result)

# %% [markdown]
# Delay (by the time vehicles were due to depart), standing vehicles and throughput in
# 5-minute bins; the bands are 95% confidence intervals over the seeds:

# %%
plots.time_series(result)

# %% [markdown]
# Mean speed per edge on the network, per plan (each direction of a street is drawn on its
# right-hand side):

# %%
net = result.run("baseline", SEEDS[0]).case_dir.parent / "net.net.xml"
plots.edge_heatmap(net, result, "mean_speed_m_s")

# %% [markdown]
# The signal programs over one cycle with their offsets, and a time–space diagram of the
# busiest 15 minutes of the corridor: platoons, queues at red and the green waves (or their
# absence) are visible at a glance.

# %%
corridors = [["W_J1", "J1_J2", "J2_J3", "J3_J4", "J4_J5", "J5_E"],
             ["E_J5", "J5_J4", "J4_J3", "J3_J2", "J2_J1", "J1_W"]]
plots.signal_timing(net, corridors)

# %%
plots.time_space_case(result.run("baseline", SEEDS[0]).case_dir)

# %% [markdown]
# ## The report
# One self-contained HTML file with the tables, the pictures and the provenance of the run
# (the same as `trafficsim report OUT` on the command line):

# %%
from trafficsim.report import write_report

report = write_report(OUT)
print(report, f"{report.stat().st_size / 1e6:.1f} MB")
assert Path(report).is_file()

"""The journal of an optimisation run: one :class:`JournalEntry` per evaluated plan.

Every finished evaluation is appended (and fsync'ed) to ``journal.jsonl`` as one JSON line.
The search is deterministic given its seed, so ``--resume`` replays it, answering every candidate
already in the journal from there, and continues where the interrupted run stopped.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trafficsim.errors import Issue, ScenarioError

JOURNAL = "journal.jsonl"


@dataclass(frozen=True)
class JournalEntry:
    """One evaluated plan, as journalled.

    Attributes
    ----------
    n
        Evaluation number: the order in which the search proposed the plan (parallel runs
        finish out of order).
    key
        The plan's key (:func:`~trafficsim.optimise.encoding.plan_key`).
    role
        The search phase that proposed it: ``start``, ``webster``, ``candidate``, ``refine``,
        ``actuated`` or ``coordinated``.
    objective
        The objective over the search seeds, or its lower bound when ``cut``.
    cut
        The evaluation stopped early: the plan could no longer be accepted.
    cut_at
        ``(seed, simulation time [s])`` at which it stopped, when cut.
    per_seed
        Seed → the run's metrics, for the seeds run to their end.  A metric the run did not
        measure (e.g. ``co2_kg``: searches run without the emission device) is absent.
    wall_s, sumo_wall_s
        Wall-clock time of the evaluation, and of its SUMO runs. [s]
    x
        The decision vector, for plans the search decoded from one.
    t
        When it finished (Unix time). [s]
    lane_flows_veh_h
        Arrivals per lane, when the evaluation recorded them (the starting plan, for
        Webster). [veh/h]
    error
        Why the plan could not be evaluated (SUMO's error text), or None.  A failed plan's
        objective is infinite (``null`` in the file): it never wins, and ``--resume`` answers
        it from the journal instead of running it again.
    """

    n: int
    key: str
    role: str
    objective: float
    cut: bool
    cut_at: tuple[int, float] | None
    per_seed: dict[int, dict[str, float]]
    wall_s: float
    sumo_wall_s: float
    x: tuple[float, ...] | None = None
    t: float = 0.0
    lane_flows_veh_h: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as its JSON object (seeds as strings, tuples as lists)."""
        d: dict[str, Any] = {
            "n": self.n, "key": self.key, "role": self.role,
            # (a failed plan's infinite objective as null: the file stays strict JSON)
            "objective": self.objective if math.isfinite(self.objective) else None,
            "cut": self.cut, "cut_at": list(self.cut_at) if self.cut_at else None,
            "per_seed": {str(s): m for s, m in self.per_seed.items()},
            "wall_s": self.wall_s, "sumo_wall_s": self.sumo_wall_s,
            "x": list(self.x) if self.x is not None else None, "t": self.t}
        if self.lane_flows_veh_h:
            d["lane_flows_veh_h"] = self.lane_flows_veh_h
        if self.error is not None:
            d["error"] = self.error
        return d

    def to_json(self) -> str:
        """One journal line (without its newline)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JournalEntry:
        """Read an entry from its JSON object.

        Raises
        ------
        KeyError, TypeError, ValueError
            When a required field is missing or malformed.
        """
        cut_at = d.get("cut_at")
        x = d.get("x")
        error = d.get("error")
        objective = d["objective"]
        if objective is None and error is None:
            msg = "objective is null but no error is given"
            raise ValueError(msg)
        return cls(n=int(d["n"]), key=str(d["key"]), role=str(d["role"]),
                   objective=math.inf if objective is None else float(objective),
                   cut=bool(d["cut"]),
                   cut_at=(int(cut_at[0]), float(cut_at[1])) if cut_at else None,
                   per_seed={int(s): {k: float(v) for k, v in m.items()}
                             for s, m in d.get("per_seed", {}).items()},
                   wall_s=float(d.get("wall_s", 0.0)), sumo_wall_s=float(d.get("sumo_wall_s", 0.0)),
                   x=tuple(float(v) for v in x) if x is not None else None,
                   t=float(d.get("t", 0.0)),
                   lane_flows_veh_h={str(k): float(v)
                                     for k, v in d.get("lane_flows_veh_h", {}).items()},
                   error=str(error) if error is not None else None)

    @classmethod
    def from_json(cls, line: str) -> JournalEntry:
        """Read an entry from one journal line.

        Raises
        ------
        json.JSONDecodeError, KeyError, TypeError, ValueError
            When the line is not a complete entry.
        """
        return cls.from_dict(json.loads(line))

    def mean(self, metric: str) -> float | None:
        """Mean of a metric over the seeds run; None when cut or never measured."""
        vals = [m[metric] for m in self.per_seed.values() if metric in m]
        return float(np.mean(vals)) if vals and not self.cut else None


class Journal:
    """Append-only record of evaluations, one JSON line each, flushed to disk as they complete.

    Parameters
    ----------
    path
        ``journal.jsonl``; an existing file is read (a last line cut short by a kill is dropped
        and that evaluation runs again).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, JournalEntry] = {}
        self.order: list[str] = []
        if path.is_file():
            lines = [ln for ln in path.read_bytes().split(b"\n") if ln.strip()]
            for i, raw in enumerate(lines):
                try:
                    e = JournalEntry.from_json(raw.decode("utf-8"))
                except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                    if i == len(lines) - 1:
                        break  # the last line cut short by a kill: that evaluation reruns
                    # Damage in the middle is not a kill: dropping the lines after it would
                    # lose evaluations, so nothing is rewritten and the user decides.
                    msg = (f"line {i + 1} is not a journal entry ({type(exc).__name__}: "
                           f"{exc}); the journal is damaged. Repair or delete that line to "
                           "resume, or run afresh with another --out")
                    raise ScenarioError([Issue(path, "", msg)]) from None
                if e.key not in self.entries:
                    self.order.append(e.key)
                self.entries[e.key] = e
            self._truncate_to_valid()

    def _truncate_to_valid(self) -> None:
        text = "".join(self.entries[k].to_json() + "\n" for k in self.order)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)

    def add(self, entry: JournalEntry) -> None:
        """Append an entry and make sure it is on disk before returning."""
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(entry.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if entry.key not in self.entries:
            self.order.append(entry.key)
        self.entries[entry.key] = entry

    def __len__(self) -> int:
        return len(self.entries)

"""Errors that reach the user: each names the file, the field and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Issue:
    """One problem found in a scenario file.

    Parameters
    ----------
    file
        The file the problem is in.
    field
        Dotted path of the field, e.g. ``plans.fast.measures[0].edges[1]``.
    message
        What is wrong and what is allowed.
    """

    file: Path | str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else f"{self.file}"
        return f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario file is malformed or refers to things the network does not have.

    Holds every problem found, not just the first, so a user fixes them all in one pass.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class UsageError(ValueError):
    """A command-line argument that cannot work (e.g. ``--out`` naming a file); exit 2."""


class SumoError(RuntimeError):
    """SUMO (or one of its tools) failed; the message carries SUMO's own error text."""


class SumoTimeout(SumoError):
    """A SUMO run exceeded its wall-clock limit."""


class IntegrityError(SumoError):
    """A plan's case would differ from the baseline in something its measures do not name.

    For example a signal program that ``netconvert`` regenerated while patching the network.
    """


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""

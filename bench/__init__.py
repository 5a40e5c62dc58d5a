"""Benchmarks (`make bench`): each module measures one area and returns a Report of figures.

A benchmark module exposes `run(argv: Sequence[str]) -> Report`; `python -m bench` runs them,
prints a table and writes `bench/results/<name>.json`. Figures are reported with their goals,
never asserted: a missed goal is news for an issue, not a failed build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median  # by name: the submodule bench.statistics shadows the module
from typing import Any, Literal

MODULES = ("geo", "reservations", "statistics", "ingest", "feeds", "stream")


@dataclass(frozen=True, slots=True)
class Goal:
    """A target for a figure: the measured value should be `op` than `target`."""

    op: Literal["<=", ">="]
    target: float

    def met_by(self, value: float) -> bool:
        """Whether a measured value reaches the goal."""
        return value <= self.target if self.op == "<=" else value >= self.target


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number, its unit and, when the issue sets one, its goal."""

    name: str
    value: float
    unit: str
    goal: Goal | None = None

    @property
    def met(self) -> bool | None:
        """True or False against the goal; None when there is no goal."""
        return None if self.goal is None else self.goal.met_by(self.value)

    def as_json(self) -> dict[str, Any]:
        """The figure as a JSON object."""
        goal = None if self.goal is None else {"op": self.goal.op, "target": self.goal.target}
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "goal": goal,
            "met": self.met,
        }


@dataclass
class Report:
    """What one benchmark module measured, with the parameters it ran with."""

    name: str
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, goal: Goal | None = None) -> None:
        """Record a figure."""
        self.figures.append(Figure(name, value, unit, goal))


def percentiles_ms(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50, p99 and max of nanosecond timings, in milliseconds."""
    ordered = sorted(samples_ns)
    if not ordered:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    # Nearest-rank p99: the value 99 % of samples do not exceed, one that was actually seen.
    rank = max(0, min(len(ordered) - 1, -(-99 * len(ordered) // 100) - 1))
    return {
        "p50": median(ordered) / 1e6,
        "p99": ordered[rank] / 1e6,
        "max": ordered[-1] / 1e6,
    }

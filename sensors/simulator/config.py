"""Simulator settings (SimConfig), what they mean for a set of bays (Plan), and SimStats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sensors.simulator.messages import FORMATS, Format, Network


@dataclass(frozen=True)
class SimConfig:
    """How much traffic, how fast, in which format."""

    fmt: Format = "native"
    rate: float = 1.0
    """Target messages per wall-clock second, as a working day's mean (best effort)."""
    speed: float = 60.0
    """Simulated seconds per wall-clock second (60: a simulated minute each second)."""
    seed: int = 0
    start: datetime | None = None
    """Simulated instant to start at; None: the wall clock when the simulator is made."""
    broken_share: float = 0.005
    heartbeat_s: float = 3600.0
    """Simulated seconds between a sensor's heartbeats (stretched to fit the rate)."""
    dwell_min_s: float = 5 * 60
    dwell_max_s: float = 40 * 60
    dwell_mode_s: float = 12 * 60
    unreserved_share: float = 0.1
    """Share of arrivals (over a day) by parkers who never book; they come later in the day."""
    low_battery_share: float = 0.05
    """Share of sensors whose battery starts below 15 % (at least one)."""
    network: Network = field(default_factory=Network)

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r}; use one of {', '.join(FORMATS)}")
        if self.rate <= 0 or self.speed <= 0 or self.heartbeat_s <= 0:
            raise ValueError("rate, speed and heartbeat_s must be positive")
        if not all(0 <= x <= 1 for x in self._shares()):
            raise ValueError("broken, unreserved and low battery shares must be between 0 and 1")
        if not 0 < self.dwell_min_s <= self.dwell_mode_s <= self.dwell_max_s:
            raise ValueError("dwell times must satisfy 0 < min <= mode <= max")
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("start must carry a UTC offset")

    def _shares(self) -> tuple[float, float, float]:
        return self.broken_share, self.unreserved_share, self.low_battery_share


@dataclass(frozen=True)
class Plan:
    """What the rate and speed mean for this set of bays."""

    heartbeat_s: float
    """Simulated seconds between heartbeats, after stretching to fit the rate."""
    arrivals_per_hour: float
    """Arrivals per free bay per simulated hour at mean demand."""
    capacity_rate: float
    """About the most messages per wall-clock second these bays make at this speed."""
    saturated: bool
    """The rate asks for more turnover than the bays allow; raise the speed or add bays."""


@dataclass
class SimStats:
    """What the simulator has produced so far."""

    published: int = 0
    status: int = 0
    heartbeat: int = 0
    battery: int = 0
    broken: int = 0
    arrivals: int = 0
    unreserved_arrivals: int = 0
    departures: int = 0

"""City-wide booking policy: the knobs that are not per zone."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Policy:
    """Tolerances and limits that apply to every zone."""

    grace: timedelta = timedelta(minutes=10)
    early_arrival: timedelta = timedelta(minutes=15)
    clock_skew: timedelta = timedelta(seconds=60)
    max_live_bookings: int = 3
    granularity_min: int = 5
    nearby_radius_m: float = 2000.0
    unreserved_tolerance: timedelta = timedelta(minutes=5)
    displace_within: timedelta = timedelta(minutes=15)
    battery_low_pct: float = 15.0

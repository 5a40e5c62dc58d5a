"""Demand: the daily delivery and unreserved-parking curves, times the weekday factor."""

from __future__ import annotations

import math
from datetime import datetime

# Weekday factors, Monday first: loading zones are busiest on working days.
_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.15)


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def _raw_curve(hour: float) -> float:
    # A floor at night, the morning wave peaking late morning, a second after lunch and a
    # small evening one (shops restocking before closing).
    return (
        0.03
        + 1.0 * _bump(hour, 10.75, 1.2)
        + 0.8 * _bump(hour, 14.5, 1.1)
        + 0.25 * _bump(hour, 17.5, 1.2)
    )


def _raw_unreserved(hour: float) -> float:
    # Parkers who never book ignore delivery peaks: a broad afternoon and evening hump.
    return 0.25 + _bump(hour, 16.0, 4.5)


_MINUTES = [m / 60 for m in range(24 * 60)]
# Normalised so each curve averages 1 over a day: `rate` is then a working day's mean.
_CURVE_MEAN = sum(map(_raw_curve, _MINUTES)) / len(_MINUTES)
_UNRESERVED_MEAN = sum(map(_raw_unreserved, _MINUTES)) / len(_MINUTES)


def daily_curve(hour: float) -> float:
    """Relative delivery demand at a local hour of a working day (mean 1 over the day)."""
    return _raw_curve(hour % 24) / _CURVE_MEAN


def unreserved_curve(hour: float) -> float:
    """Relative demand of parkers who never book, at a local hour (mean 1 over the day)."""
    return _raw_unreserved(hour % 24) / _UNRESERVED_MEAN


def _hour(local: datetime) -> float:
    return local.hour + local.minute / 60 + local.second / 3600


def demand(local: datetime, unreserved_share: float = 0.0) -> float:
    """Relative arrival demand at a zone-local instant: both curves mixed, times the weekday."""
    hour = _hour(local)
    mixed = (1 - unreserved_share) * daily_curve(hour) + unreserved_share * unreserved_curve(hour)
    return mixed * _WEEKDAY[local.weekday()]


_PEAK = max(daily_curve(h) for h in _MINUTES), max(unreserved_curve(h) for h in _MINUTES)
# Both curves every five minutes of a day, for turning a rate into arrivals.
_DAY_SAMPLES = [(daily_curve(h), unreserved_curve(h)) for h in _MINUTES[::5]]

"""Time for statistics: microsecond integers, zones' local clocks and their loading-hour pieces.

Everything is int64 microseconds since the Unix epoch, so SQLite and PostgreSQL rows become
the same numbers and every sum is exact. A zone's loading hours are cut into *pieces*: runs
of open minutes that stay inside one local hour and one UTC hour, so any grouping (UTC hour,
local day, hour x weekday) is a sum over pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from booking.hours import LoadingHours

MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
QUARTER = 15 * MINUTE  # every UTC offset in use, and every change of one, is on a quarter hour
WEEK_MIN = 7 * 1440
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 1970-01-01 was a Thursday: shifting by three days makes day 0 a Monday.
MONDAY_SHIFT_MIN = 3 * 1440
MARGIN = 2 * DAY


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as a UTC datetime."""
    return EPOCH + timedelta(microseconds=int(us))


class LocalClock:
    """A time zone's UTC offsets over a span, looked up for many instants at once."""

    def __init__(self, tz: ZoneInfo, start_us: int, end_us: int) -> None:
        self.first = (start_us - MARGIN) // QUARTER * QUARTER
        quarters = range(self.first, end_us + MARGIN + QUARTER, QUARTER)
        self.offsets = np.array(
            [from_us(q).astimezone(tz).utcoffset() // timedelta(microseconds=1) for q in quarters],
            dtype=np.int64,
        )

    def local(self, utc_us: np.ndarray) -> np.ndarray:
        """Local wall-clock microseconds (since the local epoch) for UTC instants."""
        index = np.clip((utc_us - self.first) // QUARTER, 0, len(self.offsets) - 1)
        return utc_us + self.offsets[index]

    def local_day(self, utc_us: np.ndarray) -> np.ndarray:
        """Local calendar day (days since 1970-01-01) of UTC instants."""
        return self.local(utc_us) // DAY


@dataclass(frozen=True)
class Pieces:
    """A zone template's open time inside a window, cut at local and UTC hour boundaries."""

    start: np.ndarray  # µs, sorted, non-overlapping
    end: np.ndarray
    local_hour: np.ndarray  # 0-23
    weekday: np.ndarray  # 0 = Monday
    local_day: np.ndarray  # days since 1970-01-01, local
    utc_hour: np.ndarray  # hours since the epoch
    day_share: np.ndarray  # length / loading time of its local day: sums to 1 per full day

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def none(cls) -> Pieces:
        """No open time at all."""
        empty = np.zeros(0, dtype=np.int64)
        return cls(empty, empty, empty, empty, empty, empty, np.zeros(0))


def week_mask(hours: LoadingHours) -> np.ndarray:
    """Open (True) or not for each minute of a Monday-first week."""
    mask = np.zeros(WEEK_MIN, dtype=bool)
    for window in hours.windows:
        for day in window.days:
            mask[day * 1440 + window.start : day * 1440 + window.end] = True
    return mask


def loading_pieces(hours: LoadingHours, clock: LocalClock, lo: int, hi: int) -> Pieces:
    """The open pieces of [lo, hi) for these loading hours in this local clock."""
    # Whole local days around the window, so each day's loading time is known in full.
    minutes = np.arange((lo - MARGIN) // MINUTE, -(-(hi + MARGIN) // MINUTE), dtype=np.int64)
    local_min = clock.local(minutes * MINUTE) // MINUTE
    open_ = week_mask(hours)[(local_min + MONDAY_SHIFT_MIN) % WEEK_MIN]
    local_day = local_min // 1440
    first_day = int(local_day[0])
    day_minutes = np.bincount(local_day - first_day, weights=open_)
    inside = open_ & (minutes * MINUTE < hi) & ((minutes + 1) * MINUTE > lo)
    kept = np.flatnonzero(inside)
    if not len(kept):
        return Pieces.none()
    local_hour_abs = local_min[kept] // 60
    utc_hour_abs = minutes[kept] // 60
    breaks = (np.diff(kept) != 1) | (np.diff(local_hour_abs) != 0) | (np.diff(utc_hour_abs) != 0)
    first = np.concatenate(([0], np.flatnonzero(breaks) + 1))
    last = np.concatenate((first[1:] - 1, [len(kept) - 1]))
    start = np.maximum(minutes[kept[first]] * MINUTE, lo)
    end = np.minimum((minutes[kept[last]] + 1) * MINUTE, hi)
    days = local_day[kept[first]]
    local_first = local_min[kept[first]]
    return Pieces(
        start=start,
        end=end,
        local_hour=(local_first // 60) % 24,
        weekday=((local_first + MONDAY_SHIFT_MIN) // 1440) % 7,
        local_day=days,
        utc_hour=utc_hour_abs[first],
        day_share=(end - start) / (day_minutes[days - first_day] * MINUTE),
    )

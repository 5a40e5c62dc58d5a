"""Loading hours: weekly windows in a zone's local time, e.g. "Mo-Fr 08:00-19:00; Sa 08:00-14:00".

The syntax is the weekday/time subset of OpenStreetMap's opening_hours, which kerbside signs
and open-data portals already use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MINUTES_PER_DAY = 1440
_RULE = re.compile(
    r"^(?P<days>[A-Za-z]{2}(?:-[A-Za-z]{2})?(?:,[A-Za-z]{2}(?:-[A-Za-z]{2})?)*)\s+"
    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$"
)


class HoursError(ValueError):
    """Loading hours that cannot be read."""


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` (minutes after midnight, end up to 1440) on `days` (0=Mon)."""

    days: frozenset[int]
    start: int
    end: int


@dataclass(frozen=True)
class LoadingHours:
    """A zone's weekly loading windows."""

    windows: tuple[Window, ...]

    @classmethod
    def parse(cls, text: str) -> LoadingHours:
        """Read "Mo-Fr 08:00-19:00; Sa 08:00-14:00"; "24/7" means always."""
        text = text.strip()
        if text == "24/7":
            return cls((Window(frozenset(range(7)), 0, 1440),))
        windows = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            match = _RULE.match(part)
            if not match:
                raise HoursError(
                    f"'{part}' is not a loading-hours rule; write it like 'Mo-Fr 08:00-19:00'"
                )
            start, end = _minutes(match["start"]), _minutes(match["end"])
            if end <= start:
                raise HoursError(f"'{part}' ends before it starts; windows cannot cross midnight")
            windows.append(Window(_days(match["days"]), start, end))
        if not windows:
            raise HoursError("loading hours are empty; give at least one window")
        return cls(tuple(windows))

    def is_open(self, local: datetime) -> bool:
        """Whether loading is allowed at this local wall-clock time."""
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in w.days and w.start <= minute < w.end for w in self.windows)

    def window_end(self, local: datetime) -> datetime | None:
        """End of the window that contains `local`, or None outside loading hours.

        A window ending at 24:00 runs on into one starting at 00:00 the next day, so a zone
        open around the clock takes bookings across midnight.
        """
        end = self._end_on(local.weekday(), local.hour * 60 + local.minute)
        if end is None:
            return None
        days = 0
        while end == MINUTES_PER_DAY and days < 7:
            following = self._end_on((local.weekday() + days + 1) % 7, 0)
            if following is None:
                break
            days, end = days + 1, following
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + timedelta(days=days, minutes=end)

    def _end_on(self, weekday: int, minute: int) -> int | None:
        """The latest end of the windows open on `weekday` at `minute`."""
        ends = [w.end for w in self.windows if weekday in w.days and w.start <= minute < w.end]
        return max(ends) if ends else None

    def windows_on(self, weekday: int) -> list[tuple[time, time | None]]:
        """(start, end) local times of the windows on a weekday; end None means midnight."""
        return [
            (_time(w.start), None if w.end == 1440 else _time(w.end))
            for w in self.windows
            if weekday in w.days
        ]


def zone_info(name: str) -> ZoneInfo:
    """The IANA time zone, or HoursError when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"'{name}' is not a known time zone, e.g. 'Europe/Berlin'") from exc


def _minutes(hhmm: str) -> int:
    hours, minutes = int(hhmm[:2]), int(hhmm[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise HoursError(f"'{hhmm}' is not a time of day")
    return hours * 60 + minutes


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _days(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for item in spec.split(","):
        first, _, last = item.partition("-")
        a, b = _day(first), _day(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _day(name: str) -> int:
    try:
        return DAYS.index(name.capitalize())
    except ValueError:
        raise HoursError(f"'{name}' is not a weekday; use Mo Tu We Th Fr Sa Su") from None

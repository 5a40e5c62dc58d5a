"""Time for the simulator: the wall clock, cached time zones, parsing a simulated start."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import time as dt_time
from functools import cache
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_start(text: str, *, timezone: str, now: datetime) -> datetime:
    """A simulated start from "HH:MM" (today, local) or ISO 8601 (local if it has no offset)."""
    local_zone = _zone(timezone)
    try:
        clock_time = dt_time.fromisoformat(text)
    except ValueError:
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a time or an ISO 8601 instant: {text!r}") from None
    else:
        at = datetime.combine(now.astimezone(local_zone).date(), clock_time)
    return at if at.utcoffset() is not None else at.replace(tzinfo=local_zone)

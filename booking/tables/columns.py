"""Column helpers shared by the tables."""

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Field

from booking.database import UTCDateTime


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def timestamp(*, nullable: bool = False, index: bool = False, **kwargs: Any) -> Any:
    """A UTC timestamp column; `default_factory=utcnow` unless nullable."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index, **kwargs)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index, **kwargs)

"""What Kerbside knows of the urban data platform: remote entities per zone, and the outbox.

The push job (`opendata.sensorthings`) owns these rows; booking only keeps the schema so one
migration history covers every table.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from booking.tables.columns import timestamp

PENDING, SENT, DEAD = "pending", "sent", "dead"


class PortalThing(SQLModel, table=True):
    """A zone's SensorThings entities on the platform, and what was last queued for it.

    Remote ids are kept as the server gives them (FROST: integers, other servers: strings),
    hence JSON columns.
    """

    __tablename__ = "portal_things"

    zone_id: str = Field(primary_key=True, foreign_key="zones.id", max_length=64)
    thing_id: Any = Field(sa_type=JSON, nullable=False)
    location_id: Any = Field(default=None, sa_type=JSON, nullable=True)
    datastream_id: Any = Field(sa_type=JSON, nullable=False)
    sensor_id: Any = Field(default=None, sa_type=JSON, nullable=True)
    observed_property_id: Any = Field(default=None, sa_type=JSON, nullable=True)
    last_result: int | None = None
    last_queued_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp()


class PortalObservation(SQLModel, table=True):
    """The outbox: one free-bay count due to the platform; the id is the sending order.

    `uncertain` is set (and committed) before a request carrying the row leaves, and cleared
    when the server's answer is stored; a row still uncertain afterwards may have arrived, so
    it is looked up on the server before it is sent again.
    """

    __tablename__ = "portal_observations"
    __table_args__ = (
        UniqueConstraint("zone_id", "phenomenon_time", name="uq_portal_observations_zone_time"),
        Index("ix_portal_observations_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    zone_id: str = Field(foreign_key="zones.id", max_length=64)
    phenomenon_time: datetime = timestamp()
    result: int
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    uncertain: bool = False
    next_attempt_at: datetime | None = timestamp(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp()
    sent_at: datetime | None = timestamp(nullable=True)

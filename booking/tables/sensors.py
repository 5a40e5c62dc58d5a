"""Sensors, the live state of each bay, the occupancy log, violations and dead letters."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, text
from sqlmodel import Field, SQLModel

from booking.tables.columns import timestamp

FREE, OCCUPIED, UNKNOWN = "free", "occupied", "unknown"
OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


class Sensor(SQLModel, table=True):
    """A bay sensor: how to read it, and how healthy it is."""

    __tablename__ = "sensors"

    id: str = Field(primary_key=True, max_length=64)
    dev_eui: str | None = Field(default=None, max_length=16, unique=True)
    codec: str = Field(default="native", max_length=16)
    heartbeat_s: int = 25 * 3600
    last_seen_at: datetime | None = timestamp(nullable=True, index=True)
    battery: float | None = None
    offline: bool = False
    created_at: datetime = timestamp()


class BayState(SQLModel, table=True):
    """What the sensor last said about a bay; ordered by the sensor's own timestamps."""

    __tablename__ = "bay_states"

    bay_id: int = Field(primary_key=True, foreign_key="bays.id")
    zone_id: str = Field(foreign_key="zones.id", index=True, max_length=64)
    state: str = Field(default=UNKNOWN, max_length=16)
    since: datetime | None = timestamp(nullable=True)
    last_reading_at: datetime | None = timestamp(nullable=True)
    updated_at: datetime = timestamp()


class OccupancyEvent(SQLModel, table=True):
    """Append-only log: a bay taken or freed, a sensor lost or back (the CDS event types)."""

    __tablename__ = "occupancy_events"
    __table_args__ = (Index("ix_occupancy_events_zone_at", "zone_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    bay_id: int = Field(foreign_key="bays.id", index=True)
    zone_id: str = Field(max_length=64)
    sensor_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)  # park_start, park_end, comms_lost, comms_restored
    at: datetime = timestamp()
    received_at: datetime = timestamp()


class Violation(SQLModel, table=True):
    """Something on the kerb an operator should see: a stranger in a bay, an overstay, ..."""

    __tablename__ = "violations"
    __table_args__ = (
        Index(
            "ix_violations_open",
            "kind",
            "bay_id",
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_violations_status_opened", "status", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    status: str = Field(default=OPEN, max_length=16)
    zone_id: str = Field(foreign_key="zones.id", max_length=64)
    bay_id: int | None = Field(default=None, foreign_key="bays.id")
    sensor_id: str | None = Field(default=None, max_length=64)
    reservation_id: str | None = Field(default=None, foreign_key="reservations.id", max_length=36)
    plate: str | None = Field(default=None, max_length=16)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    opened_at: datetime = timestamp()
    acknowledged_at: datetime | None = timestamp(nullable=True)
    acknowledged_by: int | None = Field(default=None, foreign_key="accounts.id")
    resolved_at: datetime | None = timestamp(nullable=True)
    resolved_by: int | None = Field(default=None, foreign_key="accounts.id")
    resolution: str | None = Field(default=None, max_length=32)


class DeadLetter(SQLModel, table=True):
    """An MQTT message Kerbside could not read, kept so nothing accepted is silently lost."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=300)
    payload: str = Field(max_length=4096)
    size: int = 0
    reason: str = Field(max_length=300)
    received_at: datetime = timestamp(index=True)

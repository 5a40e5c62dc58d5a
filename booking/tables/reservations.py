"""Reservations, their event history, closures, notifications and the personal-data access log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from booking.tables.columns import timestamp

BOOKED, ACTIVE, COMPLETED = "booked", "active", "completed"
CANCELLED, NO_SHOW, OVERSTAY = "cancelled", "no_show", "overstay"
LIVE = (BOOKED, ACTIVE, OVERSTAY)
STATUSES = (BOOKED, ACTIVE, COMPLETED, CANCELLED, NO_SHOW, OVERSTAY)
_LIVE_SQL = "status IN ('booked', 'active', 'overstay')"


class Reservation(SQLModel, table=True):
    """One vehicle, one bay, [start, end): the unit of booking.

    On PostgreSQL two exclusion constraints (migration 0002) keep live reservations of one
    bay, and of one plate, from overlapping.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key", name="uq_reservations_idempotency"),
        Index(
            "uq_reservations_live_code",
            "code",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
        Index("ix_reservations_bay_period", "bay_id", "start_at", "end_at"),
        Index("ix_reservations_zone_period", "zone_id", "start_at"),
        Index("ix_reservations_status_start", "status", "start_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=6)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    vehicle_id: int | None = Field(default=None, foreign_key="vehicles.id")
    plate: str = Field(max_length=16, index=True)
    zone_id: str = Field(foreign_key="zones.id", max_length=64)
    bay_id: int = Field(foreign_key="bays.id")
    start_at: datetime = timestamp()
    end_at: datetime = timestamp()
    status: str = Field(default=BOOKED, max_length=16)
    source: str = Field(default="advance", max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)
    cancel_reason: str | None = Field(default=None, max_length=32)
    created_at: datetime = timestamp()
    activated_at: datetime | None = timestamp(nullable=True)
    completed_at: datetime | None = timestamp(nullable=True)
    cancelled_at: datetime | None = timestamp(nullable=True)
    no_show_at: datetime | None = timestamp(nullable=True)
    overstay_at: datetime | None = timestamp(nullable=True)
    updated_at: datetime = timestamp()


class ReservationEvent(SQLModel, table=True):
    """A transition of a reservation, with its time and who or what caused it."""

    __tablename__ = "reservation_events"

    id: int | None = Field(default=None, primary_key=True)
    reservation_id: str = Field(foreign_key="reservations.id", index=True, max_length=36)
    kind: str = Field(max_length=16)
    at: datetime = timestamp()
    actor: str = Field(default="system", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Closure(SQLModel, table=True):
    """A period in which a zone, or some of its bays, cannot be booked (roadworks, markets)."""

    __tablename__ = "closures"
    __table_args__ = (Index("ix_closures_zone_period", "zone_id", "start_at", "end_at"),)

    id: int | None = Field(default=None, primary_key=True)
    zone_id: str = Field(foreign_key="zones.id", max_length=64)
    bay_ids: list[int] | None = Field(default=None, sa_type=JSON)
    start_at: datetime = timestamp()
    end_at: datetime = timestamp()
    reason: str = Field(max_length=300)
    created_by: int | None = Field(default=None, foreign_key="accounts.id")
    created_at: datetime = timestamp()


class Notification(SQLModel, table=True):
    """A message to an account: booking confirmed, cancelled by a closure, released, moved."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    kind: str = Field(max_length=32)
    reservation_id: str | None = Field(default=None, foreign_key="reservations.id", max_length=36)
    message: str = Field(max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = timestamp(index=True)
    read_at: datetime | None = timestamp(nullable=True)


class AccessLog(SQLModel, table=True):
    """Who looked at personal data (plates, accounts), what, and when."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    action: str = Field(max_length=48)
    subject: str = Field(max_length=120)
    zone_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(default="", max_length=48)
    at: datetime = timestamp(index=True)

"""SQLModel tables: one schema for SQLite and PostgreSQL, migrated by Alembic."""

from booking.tables.accounts import Account, Fleet, Vehicle
from booking.tables.reservations import (
    AccessLog,
    Closure,
    Notification,
    Reservation,
    ReservationEvent,
)
from booking.tables.zones import Bay, Zone

__all__ = [
    "AccessLog",
    "Account",
    "Bay",
    "Closure",
    "Fleet",
    "Notification",
    "Reservation",
    "ReservationEvent",
    "Vehicle",
    "Zone",
]

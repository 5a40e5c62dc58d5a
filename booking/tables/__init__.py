"""SQLModel tables: one schema for SQLite and PostgreSQL, migrated by Alembic."""

from booking.tables.accounts import Account, Fleet, Vehicle
from booking.tables.portal import PortalObservation, PortalThing
from booking.tables.reservations import (
    AccessLog,
    Closure,
    Notification,
    Reservation,
    ReservationEvent,
)
from booking.tables.sensors import BayState, DeadLetter, OccupancyEvent, Sensor, Violation
from booking.tables.zones import Bay, Zone

__all__ = [
    "AccessLog",
    "Account",
    "Bay",
    "BayState",
    "Closure",
    "DeadLetter",
    "Fleet",
    "Notification",
    "OccupancyEvent",
    "PortalObservation",
    "PortalThing",
    "Reservation",
    "ReservationEvent",
    "Sensor",
    "Vehicle",
    "Violation",
    "Zone",
]

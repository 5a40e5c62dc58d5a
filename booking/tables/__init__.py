"""SQLModel tables: one schema for SQLite and PostgreSQL, migrated by Alembic."""

from booking.tables.accounts import Account, Fleet, Vehicle
from booking.tables.zones import Bay, Zone

__all__ = ["Account", "Bay", "Fleet", "Vehicle", "Zone"]

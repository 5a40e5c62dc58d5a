"""Accounts, fleets and vehicles."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from booking.tables.columns import timestamp


class Fleet(SQLModel, table=True):
    """A delivery company whose managers book for its vans."""

    __tablename__ = "fleets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = timestamp()


class Account(SQLModel, table=True):
    """A person who logs in: driver, fleet manager, operator or admin."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    role: str = Field(default="driver", max_length=16)
    user_class: str = Field(default="commercial", max_length=32)
    fleet_id: int | None = Field(default=None, foreign_key="fleets.id", index=True)
    created_at: datetime = timestamp()


class Vehicle(SQLModel, table=True):
    """A vehicle an account books for; `plate` is normalised, `plate_display` as written."""

    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("account_id", "plate", name="uq_vehicles_account_plate"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    fleet_id: int | None = Field(default=None, foreign_key="fleets.id", index=True)
    plate: str = Field(max_length=16, index=True)
    plate_display: str = Field(max_length=24)
    length_m: float = 7.0
    active: bool = True
    created_at: datetime = timestamp()

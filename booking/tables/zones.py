"""Loading zones and their bays."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from booking.tables.columns import timestamp


class Zone(SQLModel, table=True):
    """A stretch of kerb signed for loading, with its rules."""

    __tablename__ = "zones"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=300)
    district: str = Field(default="", max_length=120)
    geometry: dict[str, Any] = Field(sa_type=JSON)
    # A point on the geometry, for distance sorting and map pins.
    lon: float
    lat: float
    bay_length_m: float = 12.0
    max_vehicle_length_m: float = 12.0
    loading_hours: str = Field(default="Mo-Fr 08:00-19:00", max_length=500)
    min_stay_min: int = 15
    max_stay_min: int = 60
    horizon_h: int = 60
    user_classes: list[str] = Field(default_factory=lambda: ["commercial"], sa_type=JSON)
    reservable_share: float = 1.0
    timezone: str = Field(default="Europe/Berlin", max_length=64)
    status: str = Field(default="active", max_length=16, index=True)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp(index=True)


class Bay(SQLModel, table=True):
    """One vehicle's space in a zone; removed bays are deactivated, never deleted."""

    __tablename__ = "bays"
    __table_args__ = (UniqueConstraint("zone_id", "label", name="uq_bays_zone_label"),)

    id: int | None = Field(default=None, primary_key=True)
    zone_id: str = Field(foreign_key="zones.id", index=True, max_length=64)
    label: str = Field(max_length=32)
    position: int = 0
    sensor_id: str | None = Field(default=None, max_length=64, index=True)
    active: bool = True

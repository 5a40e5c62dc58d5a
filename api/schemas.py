"""Response and request bodies of the REST API that are not domain specs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from booking import accounts
from booking.geo import Hit
from booking.tables import Account, Bay, Vehicle, Zone


class AccountOut(BaseModel):
    """An account as its owner and admins see it."""

    id: int
    email: str
    name: str
    role: str
    user_class: str
    fleet_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls.model_validate(account, from_attributes=True)


class RegisterIn(BaseModel):
    """A new driver's details."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=254, examples=["driver@example.com"])]
    password: Annotated[str, Field(min_length=accounts.MIN_PASSWORD, max_length=200)]
    name: Annotated[str, Field(max_length=200)] = ""


class AccountIn(RegisterIn):
    """An account an admin creates, with any role."""

    role: Annotated[str, Field(pattern="^(driver|fleet_manager|operator|admin)$")] = "driver"
    fleet: Annotated[str | None, Field(min_length=1, max_length=200)] = None


class TokenOut(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class VehicleIn(BaseModel):
    """A vehicle to register."""

    model_config = ConfigDict(extra="forbid")

    plate: Annotated[str, Field(min_length=1, max_length=24, examples=["HH-AB 123"])]
    length_m: Annotated[float, Field(ge=1, le=25)] = 7.0


class VehicleOut(BaseModel):
    """A registered vehicle."""

    id: int
    plate: str
    plate_display: str
    length_m: float
    fleet_id: int | None

    @classmethod
    def of(cls, vehicle: Vehicle) -> VehicleOut:
        return cls.model_validate(vehicle, from_attributes=True)


class BayOut(BaseModel):
    """A bay of a zone."""

    id: int
    label: str
    sensor_id: str | None


class ZoneOut(BaseModel):
    """A zone with its bays and rules."""

    id: str
    name: str
    address: str
    district: str
    geometry: dict[str, Any]
    lon: float
    lat: float
    bays: list[BayOut]
    bay_count: int
    bay_length_m: float
    max_vehicle_length_m: float
    loading_hours: str
    min_stay_min: int
    max_stay_min: int
    horizon_h: int
    user_classes: list[str]
    reservable_share: float
    timezone: str
    status: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, zone: Zone, bays: list[Bay]) -> ZoneOut:
        fields = zone.model_dump()
        fields["bays"] = [BayOut(id=b.id or 0, label=b.label, sensor_id=b.sensor_id) for b in bays]
        fields["bay_count"] = len(bays)
        return cls.model_validate(fields)


class ZoneHitOut(BaseModel):
    """A zone found by search."""

    id: str
    name: str
    address: str
    district: str
    lon: float
    lat: float
    geometry: dict[str, Any]
    bay_count: int
    max_vehicle_length_m: float
    loading_hours: str
    max_stay_min: int
    distance_m: float | None
    free_bays: int

    @classmethod
    def of(cls, hit: Hit, *, free_bays: int) -> ZoneHitOut:
        z = hit.zone
        return cls(
            id=z.id,
            name=z.name,
            address=z.address,
            district=z.district,
            lon=z.lon,
            lat=z.lat,
            geometry=z.geometry,
            bay_count=z.bay_count,
            max_vehicle_length_m=z.max_vehicle_length_m,
            loading_hours=z.loading_hours,
            max_stay_min=z.max_stay_min,
            distance_m=hit.distance_m,
            free_bays=free_bays,
        )


class ZoneListOut(BaseModel):
    """Search results, nearest first when searched by point."""

    items: list[ZoneHitOut]
    count: int
    start: datetime
    end: datetime


class ImportResultOut(BaseModel):
    """What an import did."""

    created: int
    updated: int
    unchanged: int

"""Typed results of the Kerbside API, as the SDK returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    # Newer servers may add fields; old SDKs keep working.
    model_config = ConfigDict(extra="ignore")


class Zone(_Model):
    """A loading zone found near a point, with bays free in the asked window."""

    id: str
    name: str
    address: str = ""
    district: str = ""
    lon: float
    lat: float
    geometry: dict[str, Any]
    bay_count: int
    free_bays: int
    max_vehicle_length_m: float
    loading_hours: str
    max_stay_min: int
    distance_m: float | None = None


class Busy(_Model):
    """A period a bay is taken."""

    start: datetime
    end: datetime
    kind: str


class BayAvailability(_Model):
    """A bay's busy periods."""

    bay_id: int
    label: str
    busy: list[Busy]


class Slot(_Model):
    """Bays free for a whole 5-minute slot."""

    start: datetime
    free: int


class Availability(_Model):
    """A zone's availability over a window."""

    zone_id: str
    start: datetime
    end: datetime
    free_bays: int
    bays: list[BayAvailability]
    slots: list[Slot]


class Reservation(_Model):
    """A booking: its code for the sign and the officer, its bay, window and state."""

    id: str
    code: str
    status: str
    source: str
    zone_id: str
    zone_name: str
    bay_id: int
    bay_label: str
    plate: str
    vehicle_id: int | None = None
    start: datetime
    end: datetime
    created_at: datetime
    activated_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


class Vehicle(_Model):
    """A registered vehicle."""

    id: int
    plate: str
    plate_display: str
    length_m: float


class Notification(_Model):
    """A message about a booking."""

    id: int
    kind: str
    message: str
    reservation_id: str | None = None
    created_at: datetime
    read_at: datetime | None = None


class Alternative(_Model):
    """What else would work when a zone is full."""

    zone_id: str
    zone_name: str
    distance_m: float
    start: datetime
    end: datetime
    free_bays: int

"""Each API call once: how to ask and how to read the answer; the clients only send."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from mobile_client.models import Availability, Notification, Reservation, Vehicle, Zone

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and the parser for its success body."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Safe to send again: reads, and bookings (the Idempotency-Key makes a resend a replay).
    retry: bool = False


def _time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("times need a time zone, e.g. datetime.now(UTC)")
    return value.isoformat()


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def token(email: str, password: str) -> Call[str]:
    """Log in; the answer is the bearer token."""
    return Call(
        "POST",
        "/api/v1/auth/token",
        lambda body: str(body["access_token"]),
        data={"username": email, "password": password},
    )


def register(email: str, password: str, name: str = "") -> Call[dict[str, Any]]:
    """Create a driver account."""
    return Call(
        "POST",
        "/api/v1/auth/register",
        dict,
        json={"email": email, "password": password, "name": name},
    )


def zones(
    *,
    lat: float | None,
    lon: float | None,
    radius_m: float,
    start: datetime | str | None,
    end: datetime | str | None,
    vehicle_length_m: float | None,
    limit: int,
) -> Call[list[Zone]]:
    """Zones near a point, nearest first, with bays free in the window."""
    params = _drop_none(
        {
            "lat": lat,
            "lon": lon,
            "radius_m": radius_m,
            "from": _time(start),
            "to": _time(end),
            "vehicle_length_m": vehicle_length_m,
            "limit": limit,
        }
    )
    return Call(
        "GET",
        "/api/v1/zones",
        lambda body: [Zone.model_validate(z) for z in body["items"]],
        params=params,
        retry=True,
    )


def availability(
    zone_id: str, *, start: datetime | str | None, end: datetime | str | None
) -> Call[Availability]:
    """Busy intervals per bay and free bays per 5-minute slot."""
    return Call(
        "GET",
        f"/api/v1/zones/{zone_id}/availability",
        Availability.model_validate,
        params=_drop_none({"from": _time(start), "to": _time(end)}),
        retry=True,
    )


def book(
    zone_id: str,
    *,
    start: datetime | str | None,
    end: datetime | str | None,
    duration_min: int | None,
    plate: str | None,
    vehicle_id: int | None,
    idempotency_key: str | None,
) -> Call[Reservation]:
    """Book a bay; one Idempotency-Key for all attempts, so a retry never books twice."""
    body = _drop_none(
        {
            "zone_id": zone_id,
            "start": _time(start) or "now",
            "end": _time(end),
            "duration_min": duration_min,
            "plate": plate,
            "vehicle_id": vehicle_id,
        }
    )
    key = idempotency_key or str(uuid.uuid4())
    return Call(
        "POST",
        "/api/v1/reservations",
        Reservation.model_validate,
        json=body,
        headers={"Idempotency-Key": key},
        retry=True,
    )


def reservations(*, status: str | None = None, limit: int = 100) -> Call[list[Reservation]]:
    """Your bookings, newest first."""
    return Call(
        "GET",
        "/api/v1/reservations",
        lambda body: [Reservation.model_validate(r) for r in body],
        params=_drop_none({"status": status, "limit": limit}),
        retry=True,
    )


def reservation(reservation_id: str) -> Call[Reservation]:
    """One booking."""
    return Call(
        "GET", f"/api/v1/reservations/{reservation_id}", Reservation.model_validate, retry=True
    )


def change(reservation_id: str, action: str, body: Any = None) -> Call[Reservation]:
    """cancel, extend, check-in or check-out."""
    return Call(
        "POST",
        f"/api/v1/reservations/{reservation_id}/{action}",
        Reservation.model_validate,
        json=body,
    )


def notifications(*, unread: bool = False) -> Call[list[Notification]]:
    """Your notifications, newest first."""
    return Call(
        "GET",
        "/api/v1/me/notifications",
        lambda body: [Notification.model_validate(n) for n in body],
        params={"unread": unread} if unread else {},
        retry=True,
    )


def vehicles() -> Call[list[Vehicle]]:
    """Your vehicles."""
    return Call(
        "GET",
        "/api/v1/me/vehicles",
        lambda body: [Vehicle.model_validate(v) for v in body],
        retry=True,
    )


def add_vehicle(plate: str, length_m: float) -> Call[Vehicle]:
    """Register a vehicle."""
    return Call(
        "POST",
        "/api/v1/me/vehicles",
        Vehicle.model_validate,
        json={"plate": plate, "length_m": length_m},
    )

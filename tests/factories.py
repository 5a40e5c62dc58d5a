"""Factories for test data: zones, accounts and logged-in clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from booking import accounts, zones
from booking.tables import Account, Zone
from booking.zone_specs import BaySpec, ZoneSpec

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def zone_spec(
    zone_id: str = "Z-1",
    *,
    bays: int = 2,
    hours: str = "Mo-Fr 08:00-19:00",
    lon: float = 9.9857,
    lat: float = 53.5549,
    sensors: bool = False,
    **rules: Any,
) -> ZoneSpec:
    """A valid zone: a 24 m kerb segment at (lon, lat); with sensors "<zone>-s<n>" per bay."""
    bay_list: int | list[BaySpec] = bays
    if sensors:
        bay_list = [BaySpec(label=str(n), sensor_id=f"{zone_id}-s{n}") for n in range(1, bays + 1)]
    return ZoneSpec(
        id=zone_id,
        name=rules.pop("name", f"Zone {zone_id}"),
        geometry={"type": "LineString", "coordinates": [[lon, lat], [lon + 0.00036, lat]]},
        bays=bay_list,
        loading_hours=hours,
        **rules,
    )


def make_zone(session: Session, zone_id: str = "Z-1", *, now: datetime = T0, **kwargs: Any) -> Zone:
    """A zone stored in the database (flushed, not committed)."""
    return zones.create(
        session=session, spec=zone_spec(zone_id, **kwargs), now=now, default_tz="Europe/Berlin"
    )


def make_account(
    session: Session,
    email: str = "driver@example.com",
    *,
    role: str = accounts.DRIVER,
    fleet: str | None = None,
    now: datetime = T0,
) -> Account:
    """An account with the shared test password."""
    return accounts.register(
        session=session, email=email, password=PASSWORD, role=role, fleet_name=fleet, now=now
    )


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for the account."""
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}

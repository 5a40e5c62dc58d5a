"""Every staff view of personal data is logged; admins read the log."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking import demo
from booking.database import transaction


@pytest.fixture(autouse=True)
def smala(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")


@pytest.fixture
def admin(account_headers: Callable[..., dict]) -> dict:
    return account_headers("admin@city.example", "admin")


def log(client: TestClient, admin: dict, **params: object) -> list[dict]:
    response = client.get("/api/v1/audit", headers=admin, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_staff_views_of_bookings_are_logged_drivers_own_are_not(
    client: TestClient, driver: dict, operator: dict, admin: dict
) -> None:
    booked = client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": "HH-ABC-1", "start": "now", "duration_min": 30, "plate": "HH AU 1"},
    ).json()
    client.get("/api/v1/reservations", headers=driver)
    client.get(f"/api/v1/reservations/{booked['id']}", headers=driver)
    assert log(client, admin) == []
    client.get("/api/v1/reservations", headers=operator, params={"zone_id": "HH-ABC-1"})
    client.get(f"/api/v1/reservations/{booked['id']}", headers=operator)
    entries = log(client, admin)
    assert [e["action"] for e in entries] == ["reservation_view", "reservations_list"]
    assert entries[0]["subject"] == f"reservation:{booked['id']}"
    assert entries[1]["zone_id"] == "HH-ABC-1"


def test_plate_checks_and_account_lists_are_logged(
    client: TestClient, operator: dict, admin: dict
) -> None:
    client.get(
        "/api/v1/enforcement/check",
        headers=operator,
        params={"plate": "HH X 1", "zone_id": "HH-ABC-1"},
    )
    accounts = client.get("/api/v1/accounts", headers=admin).json()
    assert {a["role"] for a in accounts} >= {"operator", "admin"}
    actions = [e["action"] for e in log(client, admin)]
    assert actions == ["accounts_list", "enforcement_check"]
    checks = log(client, admin, action="enforcement_check")
    assert checks[0]["subject"] == "plate:HHX1" and checks[0]["outcome"] == "none"


def test_the_log_is_for_admins_only(client: TestClient, operator: dict, driver: dict) -> None:
    assert client.get("/api/v1/audit", headers=operator).status_code == 403
    assert client.get("/api/v1/audit", headers=driver).status_code == 403
    assert client.get("/api/v1/accounts", headers=operator).status_code == 403

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories import PASSWORD, login

PROBLEM = "application/problem+json"


def test_driver_registers_logs_in_and_sees_themself(client: TestClient) -> None:
    created = client.post(
        "/api/v1/auth/register",
        json={"email": "New@Example.com", "password": PASSWORD, "name": "Ana"},
    )
    assert created.status_code == 201
    assert created.json()["role"] == "driver" and created.json()["email"] == "new@example.com"
    me = client.get("/api/v1/me", headers=login(client, "new@example.com"))
    assert me.status_code == 200 and me.json()["name"] == "Ana"


def test_duplicate_registration_is_a_conflict(client: TestClient) -> None:
    body = {"email": "a@example.com", "password": PASSWORD}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = client.post("/api/v1/auth/register", json=body)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert "exists already" in again.json()["detail"]


def test_wrong_password_is_401_with_a_sentence(client: TestClient, driver: dict) -> None:
    response = client.post(
        "/api/v1/auth/token", data={"username": "driver@example.com", "password": "nope nope"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "E-mail or password is wrong."


def test_no_token_is_401_and_a_forged_token_too(client: TestClient) -> None:
    missing = client.get("/api/v1/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == PROBLEM
    forged = client.get("/api/v1/me", headers={"Authorization": "Bearer e30.e30.c2ln"})
    assert forged.status_code == 401 and "log in again" in forged.json()["detail"]


def test_expired_token_is_refused(client: TestClient, driver: dict, clock) -> None:
    clock.advance(hours=13)
    assert client.get("/api/v1/me", headers=driver).status_code == 401


def test_wrong_role_is_403(client: TestClient, driver: dict) -> None:
    response = client.post(
        "/api/v1/accounts", headers=driver, json={"email": "x@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403 and "admin" in response.json()["detail"]


def test_admin_creates_an_operator_and_a_fleet_manager(
    client: TestClient, account_headers: Callable[..., dict]
) -> None:
    admin = account_headers("admin@city.example", "admin")
    operator = client.post(
        "/api/v1/accounts",
        headers=admin,
        json={"email": "op@city.example", "password": PASSWORD, "role": "operator"},
    )
    manager = client.post(
        "/api/v1/accounts",
        headers=admin,
        json={
            "email": "m@vans.example",
            "password": PASSWORD,
            "role": "fleet_manager",
            "fleet": "Vans",
        },
    )
    assert operator.json()["role"] == "operator"
    assert manager.json()["fleet_id"] is not None


def test_vehicles_have_normalised_plates(client: TestClient, driver: dict) -> None:
    added = client.post(
        "/api/v1/me/vehicles", headers=driver, json={"plate": "hh ab123", "length_m": 6.5}
    )
    assert added.status_code == 201 and added.json()["plate"] == "HHAB123"
    again = client.post("/api/v1/me/vehicles", headers=driver, json={"plate": "HH-AB 123"})
    assert again.status_code == 409
    bad = client.post("/api/v1/me/vehicles", headers=driver, json={"plate": "!!"})
    assert bad.status_code == 422 and bad.json()["rule"] == "plate"
    listed = client.get("/api/v1/me/vehicles", headers=driver).json()
    assert [v["plate_display"] for v in listed] == ["HH AB123"]
    vehicle_id = listed[0]["id"]
    assert client.delete(f"/api/v1/me/vehicles/{vehicle_id}", headers=driver).status_code == 204
    assert client.get("/api/v1/me/vehicles", headers=driver).json() == []


def test_another_drivers_vehicle_is_not_found(
    client: TestClient, driver: dict, account_headers: Callable[..., dict]
) -> None:
    other = account_headers("other@example.com")
    van = client.post("/api/v1/me/vehicles", headers=other, json={"plate": "HH X 1"}).json()
    assert client.delete(f"/api/v1/me/vehicles/{van['id']}", headers=driver).status_code == 404

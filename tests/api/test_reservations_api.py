"""Reservations through the REST API, as a driver's app, a fleet and an officer use it."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from booking import demo
from booking.database import transaction
from tests.conftest import FixedClock

PROBLEM = "application/problem+json"
START = "2026-12-01T11:00:00+01:00"  # clock: 10:00 Berlin


@pytest.fixture(autouse=True)
def smala(app) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")


def book(client: TestClient, headers: dict, **body: object) -> object:
    body = {"zone_id": "HH-ABC-1", "start": START, "duration_min": 30, "plate": "HH-AB 123", **body}
    return client.post("/api/v1/reservations", headers=headers, json=body)


def test_driver_books_and_reads_the_code(client: TestClient, driver: dict) -> None:
    response = book(client, driver)
    assert response.status_code == 201, response.text
    r = response.json()
    assert r["status"] == "booked" and len(r["code"]) == 6 and r["zone_name"] == "ABC-Straße"
    assert r["bay_label"] in ("1", "2") and r["plate"] == "HHAB123"
    assert r["start"] == "2026-12-01T10:00:00Z" and r["end"] == "2026-12-01T10:30:00Z"
    again = client.get(f"/api/v1/reservations/{r['id']}", headers=driver).json()
    assert again["code"] == r["code"]
    notes = client.get("/api/v1/me/notifications", headers=driver).json()
    assert notes[0]["kind"] == "confirmed" and r["code"] in notes[0]["message"]


def test_book_now_on_arrival(client: TestClient, driver: dict) -> None:
    r = book(client, driver, start="now", duration_min=15).json()
    assert (r["source"], r["start"]) == ("on_arrival", "2026-12-01T09:00:00Z")


def test_a_retrying_phone_books_once(client: TestClient, driver: dict) -> None:
    key = {"Idempotency-Key": "3f1c-retry"}
    first = book(client, {**driver, **key})
    again = book(client, {**driver, **key}, plate="hh ab123")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = book(client, {**driver, **key}, duration_min=45)
    assert other.status_code == 422 and other.json()["rule"] == "idempotency_key"
    assert len(client.get("/api/v1/reservations", headers=driver).json()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start": "2026-12-01T11:00:00"}, "start"),
        ({"end": "2026-12-01T11:30:00"}, "end"),
        ({"duration_min": 3}, "duration_min"),
        ({"zone_id": ""}, "zone_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_malformed_requests_name_the_field(
    client: TestClient, driver: dict, body: dict, field: str
) -> None:
    response = book(client, driver, **body)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    assert field in {e["pointer"].split("/")[0] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (
            {
                "start": "2026-12-01T11:00:00+01:00",
                "end": "2026-12-01T10:30:00+01:00",
                "duration_min": None,
            },
            "period",
        ),
        ({"start": "2026-12-01T09:00:00+01:00"}, "start_in_past"),
        ({"start": "2026-12-01T11:02:00+01:00"}, "granularity"),
        ({"duration_min": 90}, "max_stay"),
        ({"plate": "!"}, "plate"),
        ({"start": "2026-12-01T18:45:00+01:00"}, "loading_hours"),
    ],
)
def test_rule_violations_are_422_with_the_rule(
    client: TestClient, driver: dict, body: dict, rule: str
) -> None:
    response = book(client, driver, **body)
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == rule and response.json()["detail"]


def test_unknown_zone_and_vehicle_are_404(client: TestClient, driver: dict) -> None:
    assert book(client, driver, zone_id="NOPE").status_code == 404
    assert book(client, driver, plate=None, vehicle_id=999).status_code == 404


def test_full_zone_is_409_with_alternatives(
    client: TestClient, driver: dict, account_headers
) -> None:
    book(client, driver, plate="HH A 1")
    book(client, driver, plate="HH A 2")
    other = account_headers("second@example.com")
    full = book(client, other, plate="HH A 3")
    assert full.status_code == 409 and full.headers["content-type"] == PROBLEM
    alternatives = full.json()["alternatives"]
    assert alternatives[0]["zone_id"] == "HH-ALS-1"  # nearest other SMALA zone with room
    assert (
        alternatives[-1]["zone_id"] == "HH-ABC-1"
        and alternatives[-1]["start"] == "2026-12-01T10:30:00+00:00"
    )
    assert len(alternatives) <= 3


def test_cancel_extend_check_in_and_out(
    client: TestClient, driver: dict, clock: FixedClock
) -> None:
    r = book(client, driver).json()
    url = f"/api/v1/reservations/{r['id']}"
    extended = client.post(f"{url}/extend", headers=driver, json={"minutes": 15})
    assert extended.json()["end"] == "2026-12-01T10:45:00Z"
    too_long = client.post(f"{url}/extend", headers=driver, json={"minutes": 30})
    assert too_long.status_code == 422 and too_long.json()["rule"] == "max_stay"
    clock.advance(minutes=55)
    assert client.post(f"{url}/check-in", headers=driver).json()["status"] == "active"
    assert client.post(f"{url}/cancel", headers=driver).json()["rule"] == "cancel"
    assert client.post(f"{url}/check-out", headers=driver).json()["status"] == "completed"
    second = book(client, driver, start="2026-12-01T12:00:00+01:00", plate="HH Z 9").json()
    cancelled = client.post(f"/api/v1/reservations/{second['id']}/cancel", headers=driver)
    assert (
        cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_reason"] == "driver"
    )


def test_others_reservations_are_404_and_lists_are_scoped(
    client: TestClient, driver: dict, account_headers: Callable[..., dict]
) -> None:
    r = book(client, driver).json()
    stranger = account_headers("stranger@example.com")
    for method, suffix in (("get", ""), ("post", "/cancel"), ("post", "/check-in")):
        response = getattr(client, method)(
            f"/api/v1/reservations/{r['id']}{suffix}", headers=stranger
        )
        assert response.status_code == 404
    assert client.get("/api/v1/reservations", headers=stranger).json() == []
    operator = account_headers("op@city.example", "operator")
    seen = client.get(
        "/api/v1/reservations", headers=operator, params={"zone_id": "HH-ABC-1", "status": "booked"}
    ).json()
    assert [x["id"] for x in seen] == [r["id"]]
    assert (
        client.get("/api/v1/reservations", headers=operator, params={"status": "active"}).json()
        == []
    )
    assert (
        client.get("/api/v1/reservations", headers=operator, params={"status": "nope"}).status_code
        == 422
    )


def test_fleet_manager_sees_the_fleets_bookings(
    client: TestClient, account_headers: Callable[..., dict]
) -> None:
    manager = account_headers("m@vans.example", "fleet_manager", "Vans")
    van = client.post("/api/v1/me/vehicles", headers=manager, json={"plate": "HH VAN 1"}).json()
    colleague = account_headers("m2@vans.example", "fleet_manager", "Vans")
    r = book(client, colleague, plate=None, vehicle_id=van["id"])
    assert r.status_code == 201
    assert [x["id"] for x in client.get("/api/v1/reservations", headers=manager).json()] == [
        r.json()["id"]
    ]


def test_availability_slots_and_search_free_bays(client: TestClient, driver: dict) -> None:
    book(client, driver)
    window = {"from": "2026-12-01T11:00:00+01:00", "to": "2026-12-01T12:00:00+01:00"}
    availability = client.get("/api/v1/zones/HH-ABC-1/availability", params=window).json()
    assert availability["free_bays"] == 1
    assert [s["free"] for s in availability["slots"]] == [1] * 6 + [2] * 6
    busy = [b for bay in availability["bays"] for b in bay["busy"]]
    assert busy == [
        {"start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:30:00Z", "kind": "reserved"}
    ]
    near = {"lat": 53.5549, "lon": 9.9857, "radius_m": 300}
    hits = client.get("/api/v1/zones", params={**near, **window}).json()["items"]
    assert (hits[0]["id"], hits[0]["free_bays"]) == ("HH-ABC-1", 1)
    later = client.get("/api/v1/zones", params={**near, "from": "2026-12-01T13:00:00+01:00"}).json()
    assert later["items"][0]["free_bays"] == 2
    assert (
        client.get("/api/v1/zones", params={**near, "vehicle_length_m": 13}).json()["items"] == []
    )
    backwards = client.get("/api/v1/zones", params={"from": window["to"], "to": window["from"]})
    assert backwards.status_code == 422 and backwards.json()["rule"] == "period"
    naive = client.get("/api/v1/zones", params={"from": "2026-12-01T11:00:00"})
    assert naive.status_code == 422


def test_closure_preview_then_cancel_and_notify(
    client: TestClient, driver: dict, account_headers: Callable[..., dict]
) -> None:
    r = book(client, driver).json()
    operator = account_headers("op@city.example", "operator")
    body = {
        "start": "2026-12-01T10:30:00+01:00",
        "end": "2026-12-01T12:00:00+01:00",
        "reason": "Roadworks",
    }
    preview = client.post(
        "/api/v1/zones/HH-ABC-1/closures", headers=operator, json=body, params={"dry_run": True}
    )
    assert (
        preview.status_code == 200
        and preview.json()["cancelled"] == 1
        and preview.json()["id"] is None
    )
    assert (
        client.get(f"/api/v1/reservations/{r['id']}", headers=driver).json()["status"] == "booked"
    )
    created = client.post("/api/v1/zones/HH-ABC-1/closures", headers=operator, json=body)
    assert created.status_code == 201 and created.json()["cancelled"] == 1
    assert (
        client.get(f"/api/v1/reservations/{r['id']}", headers=driver).json()["cancel_reason"]
        == "closure"
    )
    note = client.get("/api/v1/me/notifications", headers=driver, params={"unread": True}).json()[0]
    assert note["kind"] == "cancelled_by_closure" and "Roadworks" in note["message"]
    read = client.post(f"/api/v1/me/notifications/{note['id']}/read", headers=driver)
    assert read.json()["read_at"] is not None
    refused = book(client, driver, start="2026-12-01T11:00:00+01:00", plate="HH Q 1")
    assert refused.status_code == 422 and refused.json()["rule"] == "zone_closed"
    closures = client.get("/api/v1/zones/HH-ABC-1/closures").json()
    assert [c["reason"] for c in closures] == ["Roadworks"]
    assert (
        client.post("/api/v1/zones/HH-ABC-1/closures", headers=driver, json=body).status_code == 403
    )
    assert (
        client.delete(
            f"/api/v1/zones/HH-ABC-1/closures/{closures[0]['id']}", headers=operator
        ).status_code
        == 204
    )


def test_enforcement_check_for_officers_only(
    client: TestClient, driver: dict, account_headers: Callable[..., dict], clock: FixedClock
) -> None:
    r = book(client, driver, start="now", duration_min=30).json()
    officer = account_headers("officer@city.example", "operator")
    check = client.get(
        "/api/v1/enforcement/check",
        headers=officer,
        params={"plate": "hh-ab 123", "zone_id": "HH-ABC-1"},
    ).json()
    assert (check["result"], check["code"], check["bay"]) == ("valid", r["code"], r["bay_label"])
    stranger = client.get(
        "/api/v1/enforcement/check",
        headers=officer,
        params={"plate": "HH XX 1", "zone_id": "HH-ABC-1"},
    ).json()
    assert stranger["result"] == "none" and stranger["code"] is None
    denied = client.get(
        "/api/v1/enforcement/check",
        headers=driver,
        params={"plate": "HH AB 123", "zone_id": "HH-ABC-1"},
    )
    assert denied.status_code == 403

"""Sensors, dead letters, violations and signs through the REST API (operators)."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking import occupancy, reconcile, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.tables import DeadLetter
from tests.conftest import FixedClock
from tests.factories import login, make_zone

SENSED = "HH-S-1"


@pytest.fixture(autouse=True)
def zone(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        make_zone(session, SENSED, bays=2, sensors=True)


def reading(app: FastAPI, sensor: str, occupied: bool, clock: FixedClock, **kw: object) -> None:
    with transaction(app.state.engine) as session:
        sensor_registry.resolve(
            session=session, devices=[sensor], now=clock()
        )  # as the ingest does
        occupancy.apply(
            session=session,
            readings=[OccupancyReading(sensor_id=sensor, at=clock(), occupied=occupied, **kw)],  # type: ignore[arg-type]
            now=clock(),
            policy=Policy(),
        )


def test_register_a_lorawan_sensor_into_a_bay_and_read_its_health(
    client: TestClient, operator: dict, app: FastAPI, clock: FixedClock
) -> None:
    body = {
        "sensor_id": "bosch-17",
        "zone_id": SENSED,
        "bay": "2",
        "codec": "bosch",
        "dev_eui": "70B3D57ED0051234",
    }
    created = client.post("/api/v1/sensors", headers=operator, json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["dev_eui"], created.json()["bay"]) == ("70b3d57ed0051234", "2")
    reading(app, "bosch-17", True, clock, battery=55.0)
    listed = {s["sensor_id"]: s for s in client.get("/api/v1/sensors", headers=operator).json()}
    assert listed["bosch-17"]["state"] == "occupied" and listed["bosch-17"]["battery"] == 55.0
    assert client.get(f"/api/v1/zones/{SENSED}").json()["bays"][1]["sensor_id"] == "bosch-17"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"codec": "telepathy"}, 422),
        ({"bay": "9"}, 404),
        ({"dev_eui": "not-hex-at-all!!"}, 422),
    ],
)
def test_bad_sensor_registrations(
    client: TestClient, operator: dict, change: dict, status: int
) -> None:
    body = {"sensor_id": "s-x", "zone_id": SENSED, "bay": "1", **change}
    assert client.post("/api/v1/sensors", headers=operator, json=body).status_code == status


def test_a_dev_eui_belongs_to_one_sensor(client: TestClient, operator: dict) -> None:
    body = {"zone_id": SENSED, "codec": "decoded", "dev_eui": "0011223344556677"}
    client.post("/api/v1/sensors", headers=operator, json={**body, "sensor_id": "a", "bay": "1"})
    clash = client.post(
        "/api/v1/sensors", headers=operator, json={**body, "sensor_id": "b", "bay": "2"}
    )
    assert clash.status_code == 409


def test_sensor_endpoints_are_for_operators(client: TestClient, driver: dict) -> None:
    for path in ("/api/v1/sensors", "/api/v1/sensors/dead-letters", "/api/v1/violations"):
        assert client.get(path, headers=driver).status_code == 403
        assert client.get(path).status_code == 401


def test_dead_letters_are_listed_newest_first_with_total(
    client: TestClient, operator: dict, app: FastAPI, clock: FixedClock
) -> None:
    with transaction(app.state.engine) as session:
        for n in range(3):
            session.add(
                DeadLetter(
                    topic=f"t/{n}", payload="{", size=1, reason="not JSON", received_at=clock()
                )
            )
    listed = client.get(
        "/api/v1/sensors/dead-letters", headers=operator, params={"limit": 2}
    ).json()
    assert listed["total"] == 3 and [d["topic"] for d in listed["items"]] == ["t/2", "t/1"]


def test_offline_filter_lists_silent_sensors(
    client: TestClient, operator: dict, app: FastAPI, clock: FixedClock
) -> None:
    reading(app, f"{SENSED}-s1", False, clock)
    reading(app, f"{SENSED}-s2", False, clock)
    clock.advance(hours=24)
    reading(app, f"{SENSED}-s2", False, clock)
    clock.advance(hours=1, minutes=1)
    with transaction(app.state.engine) as session:
        reconcile.sweep(session=session, now=clock(), policy=Policy())
    operator = login(client, "operator@city.example")  # a day later the first login has expired
    silent = client.get("/api/v1/sensors", headers=operator, params={"offline": True}).json()
    assert [s["sensor_id"] for s in silent] == [f"{SENSED}-s1"] and silent[0]["state"] == "unknown"


def test_violation_lifecycle_over_rest(
    client: TestClient, operator: dict, app: FastAPI, clock: FixedClock
) -> None:
    reading(app, f"{SENSED}-s1", True, clock)
    clock.advance(minutes=6)
    with transaction(app.state.engine) as session:
        reconcile.sweep(session=session, now=clock(), policy=Policy())
    found = client.get("/api/v1/violations", headers=operator, params={"status": "open"}).json()
    assert [v["kind"] for v in found] == ["unreserved_occupancy"] and found[0]["zone_id"] == SENSED
    url = f"/api/v1/violations/{found[0]['id']}"
    assert client.post(f"{url}/ack", headers=operator).json()["status"] == "acknowledged"
    resolved = client.post(f"{url}/resolve", headers=operator, json={"resolution": "fined"}).json()
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "fined")
    again = client.post(f"{url}/resolve", headers=operator)
    assert again.status_code == 422 and again.json()["rule"] == "status"
    assert client.post("/api/v1/violations/999/ack", headers=operator).status_code == 404
    assert (
        client.get("/api/v1/violations", headers=operator, params={"kind": "nonsense"}).status_code
        == 422
    )


def test_sign_follows_bookings_and_sensors(
    client: TestClient, driver: dict, app: FastAPI, clock: FixedClock
) -> None:
    assert client.get(f"/api/v1/zones/{SENSED}/sign").json()["text"] == "Bay 1: FREE\nBay 2: FREE"
    reading(app, f"{SENSED}-s1", True, clock)  # a van stands in bay 1
    booked = client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": SENSED, "start": "now", "duration_min": 30, "plate": "HH S 1"},
    ).json()
    assert booked["bay_label"] == "2"  # booking on arrival is not sent to the occupied bay
    other = "1"
    sign = client.get(f"/api/v1/zones/{SENSED}/sign").json()
    lines = {b["bay"]: b for b in sign["bays"]}
    assert (
        lines[booked["bay_label"]]["state"] == "reserved"
        and lines[booked["bay_label"]]["code"] == booked["code"]
    )
    assert (
        lines[booked["bay_label"]]["text"]
        == f"Bay {booked['bay_label']}: RESERVED 10:00-10:30 {booked['code']}"
    )
    assert lines[other]["state"] == "occupied"
    assert client.get("/api/v1/zones/NOPE/sign").status_code == 404

"""The CDS endpoints: envelope, media type, query parameters, auth, and schema validity."""

import csv
import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking import demo, occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from opendata import cds
from tests.conftest import FixedClock
from tests.opendata.cds_schema import check_response


@pytest.fixture(autouse=True)
def smala(app: FastAPI, clock: FixedClock) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=clock(), default_tz="Europe/Berlin")
        sensor_registry.resolve(
            session=session, devices=["smala-abc-1", "smala-abc-2"], now=clock()
        )
        for sensor, occupied in (("smala-abc-1", True), ("smala-abc-2", False)):
            occupancy.apply(
                session=session,
                readings=[OccupancyReading(sensor_id=sensor, at=clock(), occupied=occupied)],
                now=clock(),
                policy=Policy(),
            )


def test_curb_zones_validate_and_carry_live_availability(client: TestClient) -> None:
    response = client.get("/cds/curbs/zones")
    assert response.headers["content-type"] == cds.MEDIA_TYPE
    body = response.json()
    check_response("Curbs", "/curbs/zones", body)
    assert body["version"] == "1.1" and body["time_zone"] == "Europe/Berlin"
    by_name = {z["name"]: z for z in body["data"]["zones"]}
    assert by_name["ABC-Straße"]["available_spaces"] == 1
    assert "available_spaces" not in by_name["Lange Reihe"]  # never heard from: withheld


def test_curb_zone_by_cds_id_or_kerbside_id(client: TestClient) -> None:
    by_uuid = client.get(f"/cds/curbs/zones/{cds.zone_uuid('HH-ABC-1')}").json()
    check_response("Curbs", "/curbs/zones/{id}", by_uuid)
    assert client.get("/cds/curbs/zones/HH-ABC-1").json()["data"] == by_uuid["data"]
    assert client.get("/cds/curbs/zones/nope").status_code == 404


def test_radius_is_in_centimetres_and_sorted_by_distance(client: TestClient) -> None:
    near = client.get("/cds/curbs/zones", params={"lat": 53.5549, "lng": 9.9857, "radius": 60_000})
    assert [z["name"] for z in near.json()["data"]["zones"]] == ["ABC-Straße", "Alter Steinweg"]
    mixed = client.get(
        "/cds/curbs/zones", params={"lat": 53.5, "lng": 9.9, "radius": 10, "min_lat": 1}
    )
    assert mixed.status_code == 422 and "cannot be combined" in mixed.json()["detail"]


def test_spaces_and_policies_validate(client: TestClient) -> None:
    spaces = client.get("/cds/curbs/spaces", params={"zone": "HH-ABC-1"}).json()
    check_response("Curbs", "/curbs/spaces", spaces)
    assert sorted(s["available"] for s in spaces["data"]["spaces"]) == [False, True]
    policies = client.get("/cds/curbs/policies").json()
    check_response("Curbs", "/curbs/policies", policies)
    rule = policies["data"]["policies"][0]["rules"][0]
    assert (rule["activity"], rule["max_stay"], rule["max_stay_unit"]) == ("loading", 60, "minute")


def test_events_are_for_operators_and_validate(
    client: TestClient, operator: dict, driver: dict
) -> None:
    assert client.get("/cds/events/events").status_code == 401
    assert client.get("/cds/events/events", headers=driver).status_code == 403
    body = client.get(
        "/cds/events/events", headers=operator, params={"event_time": "2026-12-01T09"}
    ).json()
    check_response("Events", "/events/events", body)
    assert sorted(e["event_type"] for e in body["data"]["events"]) == ["park_end", "park_start"]
    alias = client.get(
        "/cds/events", headers=operator, params={"event_time": "2026-12-01T09"}
    ).json()
    assert alias["data"] == body["data"]
    bad = client.get("/cds/events/events", headers=operator, params={"event_time": "yesterday"})
    assert bad.status_code == 422


def test_metrics_sessions_as_csv(
    client: TestClient, operator: dict, app: FastAPI, clock: FixedClock
) -> None:
    clock.advance(minutes=20)
    with transaction(app.state.engine) as session:
        occupancy.apply(
            session=session,
            readings=[OccupancyReading(sensor_id="smala-abc-1", at=clock(), occupied=False)],
            now=clock(),
            policy=Policy(),
        )
    response = client.get("/cds/metrics/sessions", headers=operator)
    assert response.headers["content-type"] == cds.CSV_MEDIA_TYPE
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1 and rows[0]["curb_zone_id"] == cds.zone_uuid("HH-ABC-1")
    assert (
        client.get(
            "/cds/metrics/sessions", headers=operator, params={"start_time": 5, "end_time": 1}
        ).status_code
        == 422
    )


def test_no_personal_data_in_cds(client: TestClient, driver: dict, operator: dict) -> None:
    booked = client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": "HH-ALS-1", "start": "now", "duration_min": 30, "plate": "HH-PD 777"},
    ).json()
    everything = "".join(
        client.get(path, headers=operator).text
        for path in (
            "/cds/curbs/zones",
            "/cds/curbs/spaces",
            "/cds/curbs/policies",
            "/cds/events/events",
        )
    )
    for secret in (booked["id"], booked["code"], "HHPD777", "HH-PD 777", "driver@example.com"):
        assert secret not in everything

"""Open feeds: content from booking's availability, caching, and no personal data."""

import gzip
import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking import occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from tests.conftest import FixedClock
from tests.factories import make_zone


@pytest.fixture(autouse=True)
def zones(app: FastAPI) -> None:
    app.state.feed_cache.ttl_s = 0  # every request rebuilds: tests see changes at once
    with transaction(app.state.engine) as session:
        make_zone(session, "SENSED", bays=2, sensors=True)
        make_zone(session, "PLAIN", bays=3, lon=9.99)


def park(app: FastAPI, sensor: str, occupied: bool, clock: FixedClock) -> None:
    with transaction(app.state.engine) as session:
        sensor_registry.resolve(session=session, devices=[sensor], now=clock())
        occupancy.apply(
            session=session,
            readings=[OccupancyReading(sensor_id=sensor, at=clock(), occupied=occupied)],
            now=clock(),
            policy=Policy(),
        )


def features(client: TestClient) -> dict[str, dict]:
    body = client.get("/feed/zones.geojson").json()
    return {f["id"]: f["properties"] for f in body["features"]}


def test_zones_feed_counts_free_bays_from_sensors_and_bookings(
    client: TestClient, app: FastAPI, clock: FixedClock, driver: dict
) -> None:
    park(app, "SENSED-s1", True, clock)
    park(app, "SENSED-s2", False, clock)
    client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": "PLAIN", "start": "now", "duration_min": 30, "plate": "HH F 1"},
    )
    found = features(client)
    assert (found["SENSED"]["free_now"], found["SENSED"]["occupied_now"]) == (1, 1)
    assert found["SENSED"]["source"] == "sensors" and found["SENSED"]["data_age_s"] == 0
    assert (found["PLAIN"]["free_now"], found["PLAIN"]["source"]) == (2, "bookings")
    assert (
        found["PLAIN"]["status"] == "open"
        and found["PLAIN"]["loading_hours"] == "Mo-Fr 08:00-19:00"
    )


def test_stale_sensor_data_is_withheld_with_a_reason(
    client: TestClient, app: FastAPI, clock: FixedClock
) -> None:
    park(app, "SENSED-s1", False, clock)
    park(app, "SENSED-s2", False, clock)
    clock.advance(minutes=16)
    sensed = features(client)["SENSED"]
    assert sensed["free_now"] is None and sensed["status"] == "no_data"
    assert "older than 15 minutes" in sensed["withheld_reason"] and sensed["data_age_s"] == 960


def test_zone_never_heard_from_is_withheld_and_outside_hours_is_said(
    client: TestClient, clock: FixedClock
) -> None:
    assert features(client)["SENSED"]["withheld_reason"] == "no sensor data yet"
    clock.advance(hours=10)  # 20:00 in Berlin
    assert features(client)["PLAIN"]["status"] == "outside_loading_hours"


def test_free_never_exceeds_bays(client: TestClient) -> None:
    for props in features(client).values():
        assert props["free_now"] is None or 0 <= props["free_now"] <= props["bays"]


def test_etag_and_last_modified_answer_304(client: TestClient) -> None:
    first = client.get("/feed/zones.geojson")
    assert first.headers["content-type"] == "application/geo+json" and first.headers["etag"]
    again = client.get("/feed/zones.geojson", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = client.get(
        "/feed/zones.geojson", headers={"If-Modified-Since": first.headers["last-modified"]}
    )
    assert since.status_code == 304
    stale_copy = client.get("/feed/zones.geojson", headers={"If-None-Match": '"other"'})
    assert stale_copy.status_code == 200


def test_feed_is_gzipped_when_the_client_accepts_it(client: TestClient) -> None:
    raw = client.get("/feed/zones.geojson", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert json.loads(raw.content)["type"] == "FeatureCollection"  # httpx decompressed it
    plain = client.get("/feed/zones.geojson", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


def test_last_modified_moves_only_when_the_content_changes(
    client: TestClient, app: FastAPI, clock: FixedClock
) -> None:
    first = client.get("/feed/zones.geojson").headers
    rebuilt = client.get("/feed/zones.geojson").headers  # rebuilt (TTL 0), same content
    assert (rebuilt["etag"], rebuilt["last-modified"]) == (first["etag"], first["last-modified"])
    clock.advance(seconds=30)
    park(app, "SENSED-s1", True, clock)
    changed = client.get("/feed/zones.geojson").headers
    assert changed["etag"] != first["etag"] and changed["last-modified"] != first["last-modified"]


def test_a_cached_feed_is_reused_within_its_ttl(
    client: TestClient, app: FastAPI, clock: FixedClock
) -> None:
    app.state.feed_cache.ttl_s = 60
    before = client.get("/feed/zones.geojson").headers["etag"]
    park(app, "SENSED-s1", True, clock)
    assert client.get("/feed/zones.geojson").headers["etag"] == before
    app.state.feed_cache.ttl_s = 0
    assert client.get("/feed/zones.geojson").headers["etag"] != before


def test_retired_zones_leave_the_feed(client: TestClient, operator: dict) -> None:
    client.delete("/api/v1/zones/PLAIN", headers=operator)
    assert set(features(client)) == {"SENSED"}


def test_feeds_need_no_login(client: TestClient) -> None:
    assert client.get("/feed/zones.geojson").status_code == 200


def test_zones_now_withholds_when_a_sensor_is_offline(
    client: TestClient, app: FastAPI, clock: FixedClock
) -> None:
    from booking import reconcile

    park(app, "SENSED-s1", False, clock)
    park(app, "SENSED-s2", False, clock)
    clock.advance(hours=25, minutes=1)
    park(app, "SENSED-s2", False, clock)
    with transaction(app.state.engine) as session:
        reconcile.sweep(session=session, now=clock() + timedelta(seconds=1), policy=Policy())
    sensed = features(client)["SENSED"]
    assert (
        sensed["free_now"] is None
        and sensed["withheld_reason"] == "a sensor of this zone is offline"
    )

"""All public feeds over HTTP: DATEX II validates, and no personal data leaks, whatever the data."""

import string
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from booking import demo, occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from tests.conftest import FixedClock
from tests.opendata.test_datex2 import XSD

PUBLIC_FEEDS = (
    "/feed/zones.geojson",
    "/feed/datex2/parking-table.xml",
    "/feed/datex2/parking-status.xml",
    "/cds/curbs/zones",
    "/cds/curbs/spaces",
    "/cds/curbs/policies",
)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture(autouse=True)
def smala(app: FastAPI, clock: FixedClock) -> None:
    app.state.feed_cache.ttl_s = 0
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=clock(), default_tz="Europe/Berlin")
        sensor_registry.resolve(
            session=session, devices=["smala-abc-1", "smala-abc-2"], now=clock()
        )
        occupancy.apply(
            session=session,
            readings=[
                OccupancyReading(sensor_id="smala-abc-1", at=clock(), occupied=True),
                OccupancyReading(sensor_id="smala-abc-2", at=clock(), occupied=False),
            ],
            now=clock(),
            policy=Policy(),
        )


def test_datex2_feeds_validate_against_v3_7(client: TestClient, schema: etree.XMLSchema) -> None:
    for path in ("/feed/datex2/parking-table.xml", "/feed/datex2/parking-status.xml"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
        document = etree.fromstring(response.content)
        assert schema.validate(document), schema.error_log
        assert response.headers["etag"]
    status = client.get("/feed/datex2/parking-status.xml").text
    assert "HH-ABC-1" in status and "numberOfVacantSpaces>1<" in status


def test_empty_inventory_gets_a_sentence_not_an_invalid_document(
    client: TestClient, operator: dict
) -> None:
    for zone_id in ("HH-ABC-1", "HH-ALS-1", "HH-HER-1", "HH-LRE-1"):
        client.delete(f"/api/v1/zones/{zone_id}", headers=operator)
    response = client.get("/feed/datex2/parking-status.xml")
    assert response.status_code == 404 and "no zones to publish" in response.json()["detail"]


# A prefix no feed contains, so a plate cannot "leak" by coinciding with a time or coordinate.
plates = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=4, max_size=8).map(
    lambda tail: f"QX{tail}"
)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(plate=plates, name=st.text(alphabet=string.ascii_lowercase, min_size=5, max_size=10))
def test_no_personal_data_in_any_public_feed(
    client: TestClient, account_headers: Callable[..., dict], plate: str, name: str
) -> None:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"  # examples share one database
    headers = account_headers(email)
    secrets = {plate, email}
    for zone_id in ("HH-ABC-1", "HH-ALS-1"):
        booked = client.post(
            "/api/v1/reservations",
            headers=headers,
            json={"zone_id": zone_id, "start": "now", "duration_min": 15, "plate": plate},
        )
        if booked.status_code == 201:
            secrets |= {booked.json()["id"], booked.json()["code"]}
            plate = plate + "X"  # one vehicle, one booking at a time
            secrets.add(plate)
    published = "".join(client.get(path).text for path in PUBLIC_FEEDS)
    leaked = {secret for secret in secrets if secret in published}
    assert leaked == set()

"""Live updates over real HTTP: a driver's notifications and the operators' kerb stream."""

import json
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking import occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from tests.conftest import FixedClock, LiveServer
from tests.factories import make_zone


class Listener:
    """Reads an event stream in a thread and keeps the events it sees."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "stream did not open"

    def _read(self, url: str) -> None:
        name = None
        with httpx.stream("GET", url, timeout=httpx.Timeout(30, read=30)) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    self.events.append((name, json.loads(line[6:])))

    def wait_for(self, name: str, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event, data in self.events:
                if event == name:
                    return data
            time.sleep(0.05)
        raise AssertionError(f"no {name} event within {timeout}s; saw {self.events}")


def token(headers: dict) -> str:
    return headers["Authorization"][7:]


@pytest.fixture(autouse=True)
def zone(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        make_zone(session, "LIVE-1", bays=2, sensors=True)


def test_driver_hears_a_booking_notification(
    live_server: LiveServer, client: TestClient, driver: dict
) -> None:
    listener = Listener(
        f"{live_server.url}/api/v1/me/notifications/stream?access_token={token(driver)}"
    )
    time.sleep(0.6)  # the poller has set its marks
    httpx.post(
        f"{live_server.url}/api/v1/reservations",
        headers=driver,
        json={"zone_id": "LIVE-1", "start": "now", "duration_min": 15, "plate": "HH L 1"},
    ).raise_for_status()
    note = listener.wait_for("notification")
    assert note["kind"] == "confirmed" and "code" in note["message"]


def test_operators_see_a_zone_change_within_two_seconds(
    live_server: LiveServer, app: FastAPI, operator: dict, clock: FixedClock
) -> None:
    listener = Listener(f"{live_server.url}/api/v1/events/stream?access_token={token(operator)}")
    time.sleep(0.6)
    started = time.monotonic()
    with transaction(app.state.engine) as session:
        sensor_registry.resolve(session=session, devices=["LIVE-1-s1"], now=clock())
        occupancy.apply(
            session=session,
            readings=[OccupancyReading(sensor_id="LIVE-1-s1", at=clock(), occupied=True)],
            now=clock(),
            policy=Policy(),
        )
    zone = listener.wait_for("zone", timeout=2.0)
    assert zone["zone_id"] == "LIVE-1" and zone["bay_states"][0]["occupied"] is True
    assert time.monotonic() - started < 2.0


def test_streams_need_the_right_login(
    client: TestClient, driver: dict, account_headers: Callable[..., dict]
) -> None:
    assert client.get("/api/v1/events/stream").status_code == 401
    assert (
        client.get("/api/v1/events/stream", params={"access_token": token(driver)}).status_code
        == 403
    )
    assert (
        client.get("/api/v1/me/notifications/stream", params={"access_token": "forged"}).status_code
        == 401
    )


def test_blocked_bay_moves_the_booking_and_tells_operators(
    client: TestClient, driver: dict, operator: dict
) -> None:
    booked = client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": "LIVE-1", "start": "now", "duration_min": 30, "plate": "HH B 1"},
    ).json()
    report = client.post(
        f"/api/v1/reservations/{booked['id']}/report-blocked", headers=driver
    ).json()
    assert report["moved"] is True and report["reservation"]["bay_label"] != booked["bay_label"]
    violations = client.get(
        "/api/v1/violations", headers=operator, params={"kind": "bay_blocked"}
    ).json()
    assert [v["reservation_id"] for v in violations] == [booked["id"]]


def test_blocked_bay_with_no_other_offers_alternatives(
    client: TestClient, driver: dict, account_headers: Callable[..., dict]
) -> None:
    other = account_headers("other@example.com")
    client.post(
        "/api/v1/reservations",
        headers=other,
        json={"zone_id": "LIVE-1", "start": "now", "duration_min": 30, "plate": "HH O 1"},
    )
    mine = client.post(
        "/api/v1/reservations",
        headers=driver,
        json={"zone_id": "LIVE-1", "start": "now", "duration_min": 30, "plate": "HH B 2"},
    ).json()
    report = client.post(f"/api/v1/reservations/{mine['id']}/report-blocked", headers=driver).json()
    assert report["moved"] is False and isinstance(report["alternatives"], list)
    assert report["alternatives"][0]["zone_id"] == "LIVE-1"  # a later start here

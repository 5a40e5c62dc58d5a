"""The Python SDK against the real server over HTTP (uvicorn on loopback)."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from booking import demo
from booking.database import transaction
from mobile_client import (
    AsyncKerbsideClient,
    AuthError,
    KerbsideClient,
    NotFoundError,
    RuleViolationError,
    ServerError,
    ZoneFullError,
)
from tests.conftest import LiveServer

PASSWORD = "a long enough password"
ABC = {"lat": 53.55494, "lon": 9.98576}


@pytest.fixture(autouse=True)
def smala(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")


@pytest.fixture
def kerbside(live_server: LiveServer):
    with KerbsideClient(live_server.url, backoff_s=0.01) as client:
        client.register("sdk@example.com", PASSWORD)
        client.login("sdk@example.com", PASSWORD)
        yield client


class LoseAnswers(httpx.BaseTransport):
    """A flaky network: the server handles the first `n` bookings, the answers get lost."""

    def __init__(self, n: int = 1, status: int | None = None) -> None:
        self.inner, self.left, self.status = httpx.HTTPTransport(), n, status
        self.bookings_sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/api/v1/reservations":
            self.bookings_sent += 1
            if self.left > 0:
                self.left -= 1
                response.read()
                response.close()
                if self.status is not None:
                    return httpx.Response(self.status, json={"detail": "gateway trouble"})
                raise httpx.ReadError("connection reset after the server answered", request=request)
        return response


def test_driver_finds_a_zone_books_extends_and_cancels(kerbside: KerbsideClient) -> None:
    zones = kerbside.zones(**ABC, radius_m=500)
    assert zones[0].id == "HH-ABC-1" and zones[0].free_bays == 2 and zones[0].distance_m < 5
    booking = kerbside.book("HH-ABC-1", duration_min=30, plate="HH-AB 123")
    assert booking.status == "booked" and len(booking.code) == 6
    assert kerbside.extend(booking.id, 15).end == booking.end.replace(
        minute=booking.end.minute + 15
    )
    assert [r.id for r in kerbside.reservations()] == [booking.id]
    assert kerbside.availability("HH-ABC-1").free_bays == 1
    assert kerbside.check_in(booking.id).status == "active"
    assert kerbside.check_out(booking.id).status == "completed"
    second = kerbside.book(
        "HH-ALS-1", start="2026-12-01T12:00:00+01:00", duration_min=15, plate="HH AB 123"
    )
    assert kerbside.cancel(second.id).status == "cancelled"
    assert [n.kind for n in kerbside.notifications()][:2] == ["confirmed", "confirmed"]


def test_a_lost_answer_is_retried_and_books_once(live_server: LiveServer) -> None:
    transport = LoseAnswers(n=1)
    with KerbsideClient(live_server.url, transport=transport, backoff_s=0.01) as client:
        client.register("retry@example.com", PASSWORD)
        client.login("retry@example.com", PASSWORD)
        booking = client.book("HH-ABC-1", duration_min=30, plate="HH R 1")
        assert transport.bookings_sent == 2
        assert [r.id for r in client.reservations()] == [booking.id]


def test_a_5xx_is_retried_with_the_same_key(live_server: LiveServer) -> None:
    transport = LoseAnswers(n=2, status=503)
    with KerbsideClient(live_server.url, transport=transport, backoff_s=0.01) as client:
        client.register("flaky@example.com", PASSWORD)
        client.login("flaky@example.com", PASSWORD)
        booking = client.book("HH-ABC-1", duration_min=30, plate="HH R 2")
        assert transport.bookings_sent == 3 and len(client.reservations()) == 1
        assert booking.code


def test_errors_carry_the_problem_details(kerbside: KerbsideClient) -> None:
    with pytest.raises(RuleViolationError) as rule:
        kerbside.book("HH-ABC-1", duration_min=90, plate="HH X 1")
    assert rule.value.rule == "max_stay" and "at most 60 minutes" in rule.value.detail
    kerbside.book("HH-ABC-1", duration_min=30, plate="HH X 1")
    kerbside.book("HH-ABC-1", duration_min=30, plate="HH X 2")
    with pytest.raises(ZoneFullError) as full:
        kerbside.book("HH-ABC-1", duration_min=30, plate="HH X 3")
    assert full.value.alternatives[0].zone_id == "HH-ALS-1"
    with pytest.raises(NotFoundError):
        kerbside.reservation("00000000-0000-0000-0000-000000000000")


def test_not_logged_in_and_unreachable(live_server: LiveServer) -> None:
    with KerbsideClient(live_server.url) as anonymous, pytest.raises(AuthError):
        anonymous.reservations()
    nowhere = KerbsideClient("http://127.0.0.1:9", retries=1, backoff_s=0.01)
    with nowhere, pytest.raises(ServerError, match="cannot be reached"):
        nowhere.zones(**ABC)


def test_async_client_does_the_same(live_server: LiveServer) -> None:
    async def drive() -> None:
        async with AsyncKerbsideClient(live_server.url) as client:
            await client.register("async@example.com", PASSWORD)
            await client.login("async@example.com", PASSWORD)
            zone = (await client.zones(**ABC))[0]
            booking = await client.book(zone.id, duration_min=15, plate="HH AS 1")
            assert (await client.reservation(booking.id)).code == booking.code
            assert (await client.extend(booking.id, 5)).status == "booked"
            assert (await client.cancel(booking.id)).status == "cancelled"
            vehicles = await client.vehicles()
            assert [v.plate for v in vehicles] == ["HHAS1"]

    asyncio.run(drive())


def test_naive_times_are_refused_before_sending(kerbside: KerbsideClient) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="time zone"):
        kerbside.book("HH-ABC-1", start=datetime(2026, 12, 1, 12), duration_min=30, plate="HH N 1")

"""Session scoping under load: 100 concurrent HTTP requests on a small pool all succeed."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.settings import ApiSettings
from booking.database import make_engine, transaction
from booking.settings import BookingSettings
from tests.conftest import LiveServer, start_server, stop_server
from tests.factories import PASSWORD, make_account, make_zone

POOL = 4  # far below the request count, so a pool/threadpool mismatch would hang


@pytest.fixture
def small_pool_server(
    engine: Engine, db_url: str, api_settings: ApiSettings
) -> Iterator[LiveServer]:
    with transaction(engine) as session:
        make_account(session, "load@example.com")
        make_zone(session, "LOAD-1")
    small = make_engine(db_url, pool_size=POOL)
    app = create_app(api_settings, BookingSettings(db_pool_size=POOL), engine=small)
    live = start_server(app)
    try:
        yield live
    finally:
        stop_server(live)
        small.dispose()


async def fire(base: str) -> list[int]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        token = (
            await client.post(
                "/api/v1/auth/token", data={"username": "load@example.com", "password": PASSWORD}
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        requests = []
        for n in range(100):
            if n % 2:
                requests.append(client.get("/api/v1/zones/LOAD-1", headers=headers))
            else:
                requests.append(
                    client.post("/api/v1/me/vehicles", headers=headers, json={"plate": f"HH L {n}"})
                )
        responses = await asyncio.gather(*requests)
        return [r.status_code for r in responses]


def test_hundred_concurrent_requests_all_succeed(small_pool_server: LiveServer) -> None:
    statuses = asyncio.run(fire(small_pool_server.url))
    assert sorted(set(statuses)) == [200, 201]
    assert statuses.count(201) == 50 and statuses.count(200) == 50

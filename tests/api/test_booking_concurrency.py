"""Invariant 1 over real HTTP: 64 clients race for the bays of one zone; exactly the bays win.

Every attempt asks for one of four disjoint 30-minute windows of a 2-bay zone, each with a
plate of its own (so no vehicle rule interferes) and a live-booking limit far above the load
(so no account rule does). Exactly 2 bays x 4 windows = 8 bookings fit; every other attempt
must be told the zone is full, and the database must hold no overlap afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from api.app import create_app
from api.errors import PROBLEM_JSON
from api.settings import ApiSettings
from booking.database import make_engine, transaction
from booking.settings import BookingSettings
from booking.tables import Reservation
from booking.tables.reservations import LIVE
from tests.conftest import FixedClock, LiveServer, start_server, stop_server
from tests.factories import PASSWORD, make_account, make_zone

ZONE_ID = "RACE-1"
BAYS = 2
CLIENTS = 64
ATTEMPTS = 20  # per client
ACCOUNTS = 16  # each shared by CLIENTS // ACCOUNTS clients
WINDOWS = 4
WINDOW = timedelta(minutes=30)
POOL = 16  # connections and handler threads of the server


@dataclass(frozen=True)
class Outcome:
    """What one booking attempt got back."""

    status: int
    content_type: str
    body: dict[str, object]


@pytest.fixture
def race_server(
    engine: Engine, db_url: str, api_settings: ApiSettings, clock: FixedClock
) -> Iterator[LiveServer]:
    """A live server over a 2-bay zone and the driver accounts, with no live-booking limit."""
    with transaction(engine) as session:
        make_zone(session, ZONE_ID, bays=BAYS)
        for n in range(ACCOUNTS):
            make_account(session, f"racer-{n}@example.com")
    pooled = make_engine(db_url, pool_size=POOL)
    settings = BookingSettings(max_live_bookings=1000, db_pool_size=POOL)
    live = start_server(create_app(api_settings, settings, engine=pooled, clock=clock))
    try:
        yield live
    finally:
        stop_server(live)
        pooled.dispose()


async def race(base: str, clock: FixedClock) -> list[Outcome]:
    """Run the clients at once; each logs in, then makes its attempts one after another."""
    first = clock() + timedelta(hours=1)  # 11:00 Berlin; the last window ends at 13:00

    async def client(number: int) -> list[Outcome]:
        # A fresh connection per request: an idle keep-alive connection the server closes just
        # as the next request goes out would fail as a transport error, not as an answer.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=fresh) as http:
            login = await http.post(
                "/api/v1/auth/token",
                data={"username": f"racer-{number % ACCOUNTS}@example.com", "password": PASSWORD},
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            outcomes = []
            for attempt in range(ATTEMPTS):
                start = first + WINDOW * ((number + attempt) % WINDOWS)
                response = await http.post(
                    "/api/v1/reservations",
                    headers=headers,
                    json={
                        "zone_id": ZONE_ID,
                        "start": start.isoformat(),
                        "end": (start + WINDOW).isoformat(),
                        "plate": f"HH R{number:02} {attempt:02}",  # unique once normalised
                    },
                )
                content_type = response.headers.get("content-type", "")
                body = response.json() if "json" in content_type else {"detail": response.text}
                outcomes.append(Outcome(response.status_code, content_type, body))
            return outcomes

    per_client = await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return [outcome for outcomes in per_client for outcome in outcomes]


def live_overlaps(engine: Engine) -> list[tuple[str, str]]:
    """Ids of live reservations of one bay whose [start, end) overlap."""
    with transaction(engine, write=False) as session:
        live = session.exec(select(Reservation).where(col(Reservation.status).in_(LIVE))).all()
    return [
        (a.id, b.id)
        for a, b in combinations(live, 2)
        if a.bay_id == b.bay_id and a.start_at < b.end_at and b.start_at < a.end_at
    ]


def test_racing_clients_book_exactly_the_free_bays_and_the_rest_hear_zone_full(
    race_server: LiveServer, engine: Engine, clock: FixedClock
) -> None:
    began = time.perf_counter()
    outcomes = asyncio.run(race(race_server.url, clock))
    print(f"{len(outcomes)} booking attempts over HTTP in {time.perf_counter() - began:.1f} s")

    fits = BAYS * WINDOWS
    refusals = [o for o in outcomes if o.status != 201]
    kinds = Counter((o.status, o.body.get("rule") or o.body.get("detail")) for o in refusals)
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {201: fits, 409: CLIENTS * ATTEMPTS - fits}, kinds
    assert all(o.content_type.startswith(PROBLEM_JSON) for o in refusals)
    assert all(isinstance(o.body.get("alternatives"), list) for o in refusals)
    assert live_overlaps(engine) == []
    with transaction(engine, write=False) as session:
        stored = session.exec(select(Reservation)).all()
    assert len(stored) == fits

"""Fixtures: databases (SQLite and real PostgreSQL), a fixed clock, the app and a live server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

import booking.tables  # noqa: F401
from api.app import create_app
from api.settings import ApiSettings
from booking import migrate
from booking.database import make_engine, new_session, normalise_url
from booking.settings import BookingSettings
from tests.services import POSTGRES_URL, reachable, require

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class FixedClock:
    """A clock tests set and advance; nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    # A Tuesday at 10:00 Berlin time: inside SMALA's loading hours.
    return FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A scratch database on the test server, migrated once, dropped at the end."""
    require(
        "PostgreSQL", reachable(POSTGRES_URL, 5432), f"KERBSIDE_TEST_POSTGRES_URL={POSTGRES_URL}"
    )
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"kerbside_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url, pool_size=2)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    # A poller of an app still shutting down may hold read locks in another order; a
    # deadlock victim simply tries again.
    for attempt in range(5):
        try:
            with engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'kerbside.db'}"
    return request.getfixturevalue("postgres_server_url")


@pytest.fixture
def engine(db_url: str, backend: str) -> Iterator[Engine]:
    """A migrated, empty database of the parametrised backend."""
    engine = make_engine(db_url, pool_size=10)
    if backend == "sqlite":
        migrate.upgrade(engine)
    try:
        yield engine
    finally:
        if backend == "postgresql":
            _truncate(engine)
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator:
    """A session on the test database; tests commit or flush as the code under test does."""
    with new_session(engine, write=True) as session:
        yield session


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings(env="test", jwt_secret="test-secret-" + "x" * 32, log_format="text")


@pytest.fixture
def app(engine: Engine, clock: FixedClock, api_settings: ApiSettings) -> FastAPI:
    return create_app(api_settings, BookingSettings(), engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@dataclass
class LiveServer:
    """A real uvicorn server on loopback, in a thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread


def start_server(app: FastAPI) -> LiveServer:
    """Start uvicorn on a free loopback port and wait until it accepts requests."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(f"http://127.0.0.1:{port}", server, thread)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=20)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    live = start_server(app)
    try:
        yield live
    finally:
        stop_server(live)

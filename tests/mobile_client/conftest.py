"""Fixtures for the driver app's browser tests: the app on a live server, a phone, the figures."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from booking import demo
from booking.database import transaction
from tests.browser import browser_locale, chromium, phone_context, phone_page  # noqa: F401
from tests.conftest import LiveServer

# Port 9 (discard) on loopback: nothing answers, so every tile fails fast and offline.
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
# Speed figures the browser tests measure; reported at the end of the run, not asserted.
FIGURES: dict[str, str] = {}


@pytest.fixture
def driver_app(app: FastAPI) -> FastAPI:
    """The API serving the driver app, with SMALA's four zones and map tiles nobody serves."""
    app.state.api_settings = app.state.api_settings.model_copy(
        update={"tile_url": UNREACHABLE_TILES, "tile_attribution": "Test tiles"}
    )
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")
    return app


@pytest.fixture
def app_url(driver_app: FastAPI, live_server: LiveServer) -> str:
    """Where the driver app opens. Request it before `phone_page`, so the page closes first."""
    return f"{live_server.url}/app/"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("driver app figures (reported, not asserted)")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")

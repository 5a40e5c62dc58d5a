"""GET /api/v1/stats: operators only, JSON or CSV, windows checked, assumptions stated."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import stats
from booking import zones
from booking.database import transaction
from booking.impact import ImpactAssumptions
from booking.tables import OccupancyEvent
from tests.conftest import FixedClock
from tests.factories import make_zone

STATS = "/api/v1/stats"
# Tuesday 2026-11-24 in Berlin (UTC+1), a week before the clock's T0: loading hours
# 08:00-19:00 are 07:00-18:00 UTC.
DAY = {"from": "2026-11-24T00:00:00+01:00", "to": "2026-11-25T00:00:00+01:00"}


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """The app with the statistics router, whether or not app.py includes it yet."""
    if not any(getattr(route, "path", None) == STATS for route in app.routes):
        app.include_router(stats.router)
    return app


@pytest.fixture
def history(app: FastAPI) -> None:
    """Z-1 with two bays: bay 1 taken 10:00-10:30 and 12:00-12:06 (Berlin) that Tuesday."""
    with transaction(app.state.engine) as session:
        make_zone(session, "Z-1", bays=2, sensors=True)
        bay = zones.bays_of(session=session, zone_id="Z-1")[0]
        for start, minutes in ((datetime(2026, 11, 24, 9, tzinfo=UTC), 30),
                               (datetime(2026, 11, 24, 11, tzinfo=UTC), 6)):  # fmt: skip
            for kind, at in (
                ("park_start", start),
                ("park_end", start + timedelta(minutes=minutes)),
            ):
                session.add(
                    OccupancyEvent(bay_id=bay.id, zone_id="Z-1", kind=kind, at=at, received_at=at)
                )


def test_operator_gets_totals_groups_heatmap_and_impact(
    client: TestClient, operator: dict[str, str], history: None
) -> None:
    response = client.get(STATS, params=DAY, headers=operator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert datetime.fromisoformat(body["from"]) == datetime(2026, 11, 23, 23, tzinfo=UTC)
    assert datetime.fromisoformat(body["to"]) == datetime(2026, 11, 24, 23, tzinfo=UTC)
    assert body["totals"]["occupancy_pct"] == round(100 * 36 / (2 * 11 * 60), 2)
    assert (body["totals"]["sessions"], body["totals"]["median_dwell_min"]) == (2, 18.0)
    assert body["totals"]["short_stay_share_pct"] == 50.0
    assert [g["key"] for g in body["groups"]] == ["2026-11-24"]
    assert len(body["heatmap"]) == 7 and all(len(row) == 24 for row in body["heatmap"])
    assert body["heatmap"][1][10] == 25.0  # Tuesday 10:00: 30 of 120 bay-minutes
    assert body["impact"]["assumptions"]["co2_g_per_km"] == 250.0


def test_groups_by_zone_carry_names(
    client: TestClient, operator: dict[str, str], history: None
) -> None:
    response = client.get(STATS, params={**DAY, "group_by": "zone"}, headers=operator)
    assert [(g["key"], g["name"]) for g in response.json()["groups"]] == [("Z-1", "Zone Z-1")]


def test_csv_by_format_parameter(
    client: TestClient, operator: dict[str, str], history: None
) -> None:
    response = client.get(STATS, params={**DAY, "format": "csv"}, headers=operator)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["key"] for r in rows] == ["total", "2026-11-24"]
    assert rows[0]["sessions"] == "2"


def test_csv_by_accept_header(client: TestClient, operator: dict[str, str], history: None) -> None:
    response = client.get(
        STATS, params={**DAY, "group_by": "hour"}, headers={**operator, "Accept": "text/csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    assert len(response.text.strip().splitlines()) == 1 + 1 + 24


def test_window_defaults_to_the_last_seven_days(
    client: TestClient, operator: dict[str, str], clock: FixedClock
) -> None:
    body = client.get(STATS, headers=operator).json()
    assert datetime.fromisoformat(body["to"]) == clock.now
    assert datetime.fromisoformat(body["from"]) == clock.now - timedelta(days=7)
    assert len(body["groups"]) == 8  # local days touched by the 7 x 24 hours


def test_refuses_more_than_92_days_as_problem_json(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.get(
        STATS,
        params={"from": "2026-06-01T00:00:00+02:00", "to": "2026-12-01T00:00:00+01:00"},
        headers=operator,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule"] == "stats_window"


def test_refuses_an_unknown_grouping(client: TestClient, operator: dict[str, str]) -> None:
    response = client.get(STATS, params={"group_by": "week"}, headers=operator)
    assert response.status_code == 422


def test_refuses_times_without_offset(client: TestClient, operator: dict[str, str]) -> None:
    response = client.get(STATS, params={"from": "2026-12-01T00:00:00"}, headers=operator)
    assert response.status_code == 422


def test_unknown_zone_is_404(client: TestClient, operator: dict[str, str]) -> None:
    response = client.get(STATS, params={"zone_id": "nowhere"}, headers=operator)
    assert response.status_code == 404


def test_drivers_may_not_see_statistics(client: TestClient, driver: dict[str, str]) -> None:
    assert client.get(STATS, headers=driver).status_code == 403


def test_anonymous_callers_must_log_in(client: TestClient) -> None:
    assert client.get(STATS).status_code == 401


def test_impact_uses_the_configured_assumptions(
    app: FastAPI, client: TestClient, operator: dict[str, str]
) -> None:
    app.dependency_overrides[stats.impact_assumptions] = lambda: ImpactAssumptions(co2_g_per_km=123)
    body = client.get(STATS, headers=operator).json()
    assert body["impact"]["assumptions"]["co2_g_per_km"] == 123.0


def test_the_endpoint_is_documented_with_both_media_types(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][STATS]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}

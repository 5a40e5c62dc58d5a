"""Open feeds: no login, no personal data, cached with ETag/Last-Modified and gzip."""

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from api.deps import BookingSettingsDep, ClockDep, DbDep
from api.feeds import FeedCache, respond
from booking import live
from booking.tables import Zone
from opendata import geojson

router = APIRouter(tags=["open data"])
FEED_RESPONSES = {304: {"description": "Not modified since the copy you have"}}


def zones_now(
    db: DbDep, clock: ClockDep, settings: BookingSettingsDep
) -> Callable[[], list[live.ZoneNow]]:
    """A function reading every active zone's availability now."""

    def read() -> list[live.ZoneNow]:
        with db.read() as session:
            zones = list(
                session.exec(select(Zone).where(Zone.status == "active").order_by(col(Zone.id)))
            )
            return live.now(
                session=session, zones=zones, at=clock(), stale_after=settings.stale_after()
            )

    return read


def cache_of(request: Request) -> FeedCache:
    """The app's feed cache."""
    return request.app.state.feed_cache


@router.get(
    "/feed/zones.geojson",
    response_class=Response,
    responses={200: {"content": {geojson.MEDIA_TYPE: {}}}, **FEED_RESPONSES},
)
def zones_geojson(
    request: Request, db: DbDep, clock: ClockDep, settings: BookingSettingsDep
) -> Response:
    """Every zone: bays, free now (null with a reason when sensors are stale), status, rules."""
    read = zones_now(db, clock, settings)

    def build() -> bytes:
        return json.dumps(
            geojson.zones_feed(read(), generated_at=clock()), separators=(",", ":")
        ).encode()

    return respond(
        request, cache_of(request).get("zones.geojson", build, now=clock), geojson.MEDIA_TYPE
    )

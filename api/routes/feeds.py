"""Open feeds: no login, no personal data, cached with ETag/Last-Modified and gzip."""

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from api.deps import BookingSettingsDep, ClockDep, DbDep
from api.feeds import FeedCache, respond
from booking import live
from booking.errors import NotFound
from booking.tables import Zone
from opendata import datex2, geojson

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


XML = "application/xml"


def _no_zones() -> NotFound:
    return NotFound("There are no zones to publish yet.")


@router.get(
    "/feed/datex2/parking-table.xml",
    response_class=Response,
    responses={200: {"content": {XML: {}}}, **FEED_RESPONSES},
)
def datex2_table(
    request: Request, db: DbDep, clock: ClockDep, settings: BookingSettingsDep
) -> Response:
    """DATEX II v3.7 ParkingTablePublication: each zone a place with its spaces and rules."""
    read = zones_now(db, clock, settings)

    def build() -> bytes:
        found = read()
        if not found:
            raise _no_zones()
        return datex2.parking_table(found, publication_time=clock())

    return respond(request, cache_of(request).get("datex2-table", build, now=clock), XML)


@router.get(
    "/feed/datex2/parking-status.xml",
    response_class=Response,
    responses={200: {"content": {XML: {}}}, **FEED_RESPONSES},
)
def datex2_status(
    request: Request, db: DbDep, clock: ClockDep, settings: BookingSettingsDep
) -> Response:
    """DATEX II v3.7 ParkingStatusPublication: occupancy per zone and per bay."""
    read = zones_now(db, clock, settings)

    def build() -> bytes:
        found = read()
        if not found:
            raise _no_zones()
        return datex2.parking_status(
            found, publication_time=clock(), table_reference=datex2.table_reference(found)
        )

    return respond(request, cache_of(request).get("datex2-status", build, now=clock), XML)

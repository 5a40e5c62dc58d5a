"""The Curb Data Specification 1.1: Curbs (public), Events and Metrics (operators)."""

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import BookingSettingsDep, ClockDep, DbDep, StaffAccount
from api.errors import PROBLEM_RESPONSES
from booking import live, occupancy, zones
from booking.errors import NotFound, RuleViolation
from booking.settings import BookingSettings
from opendata import cds

router = APIRouter(prefix="/cds", tags=["open data: CDS"], responses=PROBLEM_RESPONSES)
JSON = {200: {"content": {cds.MEDIA_TYPE: {}}}}
CSV = {200: {"content": {cds.CSV_MEDIA_TYPE: {}}}}
Lat = Annotated[float | None, Query(ge=-90, le=90)]
Lng = Annotated[float | None, Query(ge=-180, le=180)]
Radius = Annotated[float | None, Query(gt=0, le=5_000_000, description="centimetres")]
Millis = Annotated[int | None, Query(ge=0, le=10**14, description="epoch milliseconds")]


def _respond(data: Any, *, at: datetime, time_zone: str) -> Response:
    body = cds.envelope(data, last_updated=at, time_zone=time_zone)
    return Response(json.dumps(body, separators=(",", ":")), media_type=cds.MEDIA_TYPE)


def _located(items: list[Any], **query: Any) -> list[Any]:
    try:
        return cds.location_query(items, **query)
    except cds.QueryError as exc:
        raise RuleViolation("query", f"{exc}.") from None


def _zones_now(db: DbDep, at: datetime, settings: BookingSettings) -> list[live.ZoneNow]:
    with db.read() as session:
        found = zones.all_(session=session)
        return live.now(session=session, zones=found, at=at, stale_after=settings.stale_after())


@router.get("/curbs/zones", response_class=Response, responses=JSON)
def curb_zones(
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    min_lat: Lat = None,
    min_lng: Lng = None,
    max_lat: Lat = None,
    max_lng: Lng = None,
    lat: Lat = None,
    lng: Lng = None,
    radius: Radius = None,
    time: Millis = None,
    include_geometry: bool = True,
) -> Response:
    """Curb Zones with live availability (withheld where sensor data is stale)."""
    now = clock()
    found = _located(
        cds.valid_at(_zones_now(db, now, settings), time),
        min_lat=min_lat, min_lng=min_lng, max_lat=max_lat, max_lng=max_lng,
        lat=lat, lng=lng, radius=radius,
    )  # fmt: skip
    data = [cds.curb_zone(z.zone, z, at=now, include_geometry=include_geometry) for z in found]
    return _respond({"zones": data}, at=now, time_zone=settings.timezone)


@router.get("/curbs/zones/{curb_zone_id}", response_class=Response, responses=JSON)
def curb_zone(
    curb_zone_id: str, db: DbDep, clock: ClockDep, settings: BookingSettingsDep
) -> Response:
    """One Curb Zone, by its CDS id or Kerbside zone id."""
    now = clock()
    for z in _zones_now(db, now, settings):
        if curb_zone_id in (z.zone.id, cds.zone_uuid(z.zone.id)):
            return _respond(cds.curb_zone(z.zone, z, at=now), at=now, time_zone=z.zone.timezone)
    raise NotFound(f"There is no curb zone '{curb_zone_id}'.")


@router.get("/curbs/spaces", response_class=Response, responses=JSON)
def curb_spaces(
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    min_lat: Lat = None,
    min_lng: Lng = None,
    max_lat: Lat = None,
    max_lng: Lng = None,
    lat: Lat = None,
    lng: Lng = None,
    radius: Radius = None,
) -> Response:
    """Curb Spaces (one per bay) with `available` and `availability_time`."""
    now = clock()
    found = _located(
        _zones_now(db, now, settings),
        min_lat=min_lat, min_lng=min_lng, max_lat=max_lat, max_lng=max_lng,
        lat=lat, lng=lng, radius=radius,
    )  # fmt: skip
    if zone is not None:
        found = [z for z in found if zone in (z.zone.id, cds.zone_uuid(z.zone.id))]
    data = [space for z in found for space in cds.curb_spaces(z, at=now)]
    return _respond({"spaces": data}, at=now, time_zone=settings.timezone)


@router.get("/curbs/policies", response_class=Response, responses=JSON)
def curb_policies(
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    ids: Annotated[str | None, Query(max_length=20_000, description="comma-separated")] = None,
) -> Response:
    """The zones' loading rules as Curb Policies."""
    with db.read() as session:
        found = zones.all_(session=session)
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    policies = cds.unique_policies(found, ids=wanted)
    return _respond({"policies": policies}, at=clock(), time_zone=settings.timezone)


@router.get("/events/events", response_class=Response, responses=JSON)
@router.get("/events", response_class=Response, responses=JSON, include_in_schema=False)
def curb_events(
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    event_time: Annotated[str | None, Query(max_length=13, examples=["2026-12-01T09"])] = None,
) -> Response:
    """Occupancy events of one UTC hour (default: the last hour): park_start, park_end, comms."""
    now = clock()
    try:
        start, end = cds.event_time_window(event_time, now=now)
    except cds.QueryError as exc:
        raise RuleViolation("event_time", f"{exc}.") from None
    with db.read() as session:
        events = occupancy.events_between(session=session, start=start, end=end)
        ids = sorted({e.zone_id for e in events})
        found = [z for z in zones.all_(session=session, include_retired=True) if z.id in ids]
        bays = zones.bays_of_zones(session=session, zone_ids=ids)
    data = cds.curb_events(events, zones=found, bays=bays)
    return _respond({"events": data}, at=now, time_zone=settings.timezone)


@router.get("/metrics/sessions", response_class=Response, responses=CSV)
def metrics_sessions(
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    start_time: Millis = None,
    end_time: Millis = None,
    curb_place_type: Annotated[str | None, Query(pattern="^(zone|space)$")] = None,
    curb_place_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Parking sessions (park_start to park_end per bay) as CDS CSV; default the last day."""
    now = clock()
    end = cds.from_ms(end_time) if end_time is not None else now
    start = cds.from_ms(start_time) if start_time is not None else end - timedelta(days=1)
    if end <= start:
        raise RuleViolation("period", "end_time must be after start_time.")
    if end - start > timedelta(days=31):
        raise RuleViolation("period", "Ask for at most 31 days of sessions at once.")
    with db.read() as session:
        # A day of log before the window pairs sessions that started before it.
        events = occupancy.events_between(session=session, start=start - timedelta(days=1), end=end)
        found = zones.all_(session=session, include_retired=True)
        bays = zones.bays_of_zones(session=session)
    rows = cds.session_metrics(events, zones=found, bays=bays, start=start, end=end)
    try:
        rows = cds.by_place(rows, curb_place_type=curb_place_type, curb_place_id=curb_place_id)
    except cds.QueryError as exc:
        raise RuleViolation("query", f"{exc}.") from None
    return Response(cds.to_csv(rows, cds.SESSION_COLUMNS), media_type=cds.CSV_MEDIA_TYPE)

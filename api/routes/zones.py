"""The zone inventory over REST: search, read, create, update, retire, import, export."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime

from api.deps import (
    BookingSettingsDep,
    ClockDep,
    DbDep,
    IntId,
    StaffAccount,
    ZoneIndexDep,
)
from api.errors import PROBLEM_RESPONSES
from api.responses import GeoJSONResponse
from api.schemas import ImportResultOut, ZoneHitOut, ZoneListOut, ZoneOut
from api.schemas_reservations import AvailabilityOut, ClosureIn, ClosureOut
from api.schemas_sensors import SignOut
from booking import availability, closures, signs, zones
from booking.errors import RuleViolation
from booking.zone_specs import ZonePatch, ZoneSpec

router = APIRouter(prefix="/api/v1/zones", tags=["zones"], responses=PROBLEM_RESPONSES)
DEFAULT_WINDOW = timedelta(minutes=15)
MAX_WINDOW = timedelta(hours=48)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Read "minlon,minlat,maxlon,maxlat"; RuleViolation names what is wrong."""
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in text.split(","))
    except ValueError:
        raise RuleViolation(
            "bbox", "bbox must be four numbers: minlon,minlat,maxlon,maxlat."
        ) from None
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise RuleViolation(
            "bbox",
            "bbox must have min before max, longitudes in [-180, 180], latitudes in [-90, 90].",
        )
    return min_lon, min_lat, max_lon, max_lat


@router.get("")
def search_zones(
    db: DbDep,
    index: ZoneIndexDep,
    clock: ClockDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 1000,
    bbox: Annotated[str | None, Query(max_length=200, examples=["9.97,53.54,10.02,53.56"])] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    vehicle_length_m: Annotated[float | None, Query(gt=0, le=25)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ZoneListOut:
    """Zones near a point (nearest first, with `distance_m`), in a bbox, or all by id.

    `free_bays` counts bays free for the whole window `from`-`to` (default: the next
    15 minutes); `vehicle_length_m` leaves out zones the vehicle does not fit.
    """
    if (lat is None) != (lon is None):
        raise RuleViolation("near", "Give both lat and lon to search near a point.")
    window_start, window_end = search_window(start, end, now=clock())
    with db.read() as session:
        index.ensure_fresh(session=session, now=clock())
        if lat is not None and lon is not None:
            hits = index.near(lon, lat, radius_m=radius_m, limit=limit)
        elif bbox is not None:
            hits = index.within(parse_bbox(bbox), limit=limit, offset=offset)
        else:
            hits = index.all(limit=limit, offset=offset)
        if vehicle_length_m is not None:
            hits = [h for h in hits if h.zone.max_vehicle_length_m >= vehicle_length_m]
        free = availability.free_counts(
            session=session,
            zone_ids=[h.zone.id for h in hits],
            start=window_start,
            end=window_end,
            now=clock(),
        )
    items = [ZoneHitOut.of(hit, free_bays=free.get(hit.zone.id, 0)) for hit in hits]
    return ZoneListOut(items=items, count=len(items), start=window_start, end=window_end)


def search_window(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The window free bays are counted for; RuleViolation when it makes no sense."""
    start = start or now
    end = end or start + DEFAULT_WINDOW
    if end <= start:
        raise RuleViolation("period", "'to' must be after 'from'.")
    if end - start > MAX_WINDOW:
        raise RuleViolation("period", "Ask for a window of at most 48 hours.")
    return start, end


@router.get("/{zone_id}/availability")
def zone_availability(
    zone_id: str,
    db: DbDep,
    clock: ClockDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> AvailabilityOut:
    """Busy intervals per bay and the free count per 5-minute slot (default: next 2 hours)."""
    now = clock()
    window_start = start or now
    window_start, window_end = search_window(
        window_start, end or window_start + timedelta(hours=2), now=now
    )
    with db.read() as session:
        zone = zones.get(session=session, zone_id=zone_id)
        window = availability.window(
            session=session, zone=zone, start=window_start, end=window_end, now=now
        )
        return AvailabilityOut.of(window)


@router.get("/{zone_id}/sign")
def zone_sign(zone_id: str, db: DbDep, clock: ClockDep, settings: BookingSettingsDep) -> SignOut:
    """What the zone's matrix sign shows: per bay free, occupied, or reserved with the code."""
    with db.read() as session:
        zone = zones.get(session=session, zone_id=zone_id)
        found = signs.signs_for(
            session=session, zones=[zone], now=clock(), policy=settings.policy()
        )
        return SignOut.of(found[zone_id])


@router.post(
    "/{zone_id}/closures",
    status_code=201,
    responses={200: {"description": "Dry run: what the closure would cancel"}},
)
def create_closure(
    zone_id: str,
    body: ClosureIn,
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    response: Response,
    dry_run: bool = False,
) -> ClosureOut:
    """Close the zone (or the bays named) for a period; live bookings it hits are cancelled.

    With `dry_run=true` nothing changes: the answer says how many bookings it would cancel.
    """
    # A dry run writes nothing, so it needs no write lock.
    with db.read() if dry_run else db.write() as session:
        plan = closures.close(
            session=session,
            zone_id=zone_id,
            start=body.start,
            end=body.end,
            reason=body.reason,
            operator=operator,
            now=clock(),
            bay_labels=body.bays,
            dry_run=dry_run,
        )
        if dry_run:
            response.status_code = 200
        return ClosureOut.of(plan.closure, cancelled=len(plan.cancelled), dry_run=dry_run)


@router.get("/{zone_id}/closures")
def list_closures(
    zone_id: str, db: DbDep, clock: ClockDep, current: bool = True
) -> list[ClosureOut]:
    """The zone's closures; by default those not over yet."""
    with db.read() as session:
        found = closures.list_for_zone(
            session=session, zone_id=zone_id, after=clock() if current else None
        )
        return [ClosureOut.of(c, cancelled=0) for c in found]


@router.delete("/{zone_id}/closures/{closure_id}", status_code=204)
def lift_closure(zone_id: str, closure_id: IntId, operator: StaffAccount, db: DbDep) -> Response:
    """Lift a closure (bookings it cancelled stay cancelled)."""
    with db.write() as session:
        closures.lift(session=session, zone_id=zone_id, closure_id=closure_id)
    return Response(status_code=204)


@router.get("/export.geojson", response_class=GeoJSONResponse)
def export_zones(db: DbDep, include_retired: bool = False) -> GeoJSONResponse:
    """Every zone as a GeoJSON FeatureCollection that the import reads back unchanged."""
    with db.read() as session:
        collection = zones.export_features(session=session, include_retired=include_retired)
    return GeoJSONResponse(collection)


@router.post("/import")
def import_zones(
    collection: Annotated[
        dict[str, Any], Body(examples=[{"type": "FeatureCollection", "features": []}])
    ],
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    index: ZoneIndexDep,
) -> ImportResultOut:
    """Create or update zones from a FeatureCollection; any bad feature and nothing is written."""
    specs = zones.parse_features(collection)
    with db.write() as session:
        result = zones.upsert_many(
            session=session, specs=specs, now=clock(), default_tz=settings.timezone
        )
    index.invalidate(*(spec.id for spec in specs))
    return ImportResultOut(
        created=result.created, updated=result.updated, unchanged=result.unchanged
    )


@router.get("/{zone_id}")
def get_zone(zone_id: str, db: DbDep) -> ZoneOut:
    """One zone with its bays and rules (retired zones too, marked as such)."""
    with db.read() as session:
        zone = zones.get(session=session, zone_id=zone_id)
        return ZoneOut.of(zone, zones.bays_of(session=session, zone_id=zone_id))


@router.post("", status_code=201)
def create_zone(
    spec: ZoneSpec,
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    index: ZoneIndexDep,
) -> ZoneOut:
    """Add a zone (operator)."""
    with db.write() as session:
        zone = zones.create(session=session, spec=spec, now=clock(), default_tz=settings.timezone)
        out = ZoneOut.of(zone, zones.bays_of(session=session, zone_id=zone.id))
    index.invalidate(zone.id)
    return out


@router.patch("/{zone_id}")
def update_zone(
    zone_id: str,
    patch: ZonePatch,
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    index: ZoneIndexDep,
) -> ZoneOut:
    """Change a zone's fields (operator); a retired zone updated is back in service."""
    with db.write() as session:
        zone = zones.update(
            session=session, zone_id=zone_id, patch=patch, now=clock(), default_tz=settings.timezone
        )
        out = ZoneOut.of(zone, zones.bays_of(session=session, zone_id=zone.id))
    index.invalidate(zone_id)
    return out


@router.delete("/{zone_id}", status_code=204)
def retire_zone(
    zone_id: str, operator: StaffAccount, db: DbDep, clock: ClockDep, index: ZoneIndexDep
) -> Response:
    """Retire a zone (operator): no longer found or bookable; history is kept."""
    with db.write() as session:
        zones.retire(session=session, zone_id=zone_id, now=clock())
    index.invalidate(zone_id)
    return Response(status_code=204)

"""The zone inventory over REST: search, read, create, update, retire, import, export."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from api.deps import (
    BookingSettingsDep,
    ClockDep,
    DbDep,
    StaffAccount,
    ZoneIndexDep,
)
from api.errors import PROBLEM_RESPONSES
from api.responses import GeoJSONResponse
from api.schemas import ImportResultOut, ZoneHitOut, ZoneListOut, ZoneOut
from booking import zones
from booking.errors import RuleViolation
from booking.zone_specs import ZonePatch, ZoneSpec

router = APIRouter(prefix="/api/v1/zones", tags=["zones"], responses=PROBLEM_RESPONSES)


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
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 1000,
    bbox: Annotated[str | None, Query(max_length=200, examples=["9.97,53.54,10.02,53.56"])] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ZoneListOut:
    """Zones near a point (nearest first, with `distance_m`), in a bbox, or all by id."""
    if (lat is None) != (lon is None):
        raise RuleViolation("near", "Give both lat and lon to search near a point.")
    with db.read() as session:
        index.ensure_fresh(session=session)
    if lat is not None and lon is not None:
        hits = index.near(lon, lat, radius_m=radius_m, limit=limit)
    elif bbox is not None:
        hits = index.within(parse_bbox(bbox), limit=limit, offset=offset)
    else:
        hits = index.all(limit=limit, offset=offset)
    items = [ZoneHitOut.of(hit) for hit in hits]
    return ZoneListOut(items=items, count=len(items))


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
    with db.write() as session:
        result = zones.import_features(
            session=session, collection=collection, now=clock(), default_tz=settings.timezone
        )
    index.invalidate()
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
    index.invalidate()
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
    index.invalidate()
    return out


@router.delete("/{zone_id}", status_code=204)
def retire_zone(
    zone_id: str, operator: StaffAccount, db: DbDep, clock: ClockDep, index: ZoneIndexDep
) -> Response:
    """Retire a zone (operator): no longer found or bookable; history is kept."""
    with db.write() as session:
        zones.retire(session=session, zone_id=zone_id, now=clock())
    index.invalidate()
    return Response(status_code=204)

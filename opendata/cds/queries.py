"""Query parameters of the Curbs, Events and Metrics APIs: where, when and which place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry

from booking.live import ZoneNow
from booking.tables import Zone
from opendata.cds.curbs import zone_end
from opendata.cds.geometry import _Frame, zone_geometry
from opendata.cds.ids import SPACE, ZONE, QueryError, ms

T = TypeVar("T")


def _zone_of(item: Any) -> Zone | None:
    """The Zone of a Zone or ZoneNow, None for anything else."""
    if isinstance(item, Zone):
        return item
    if isinstance(item, ZoneNow):
        return item.zone
    return None


def _shape_of(item: Any) -> BaseGeometry:
    """WGS84 shape of a Zone, ZoneNow or CDS object (its "geometry", else its event_location)."""
    zone = _zone_of(item)
    if zone is not None:
        return shape(zone_geometry(zone))
    if isinstance(item, Mapping):
        geometry = item.get("geometry") or item.get("event_location")
        if geometry:
            return shape(geometry)
    raise TypeError(f"no geometry to filter on in {type(item).__name__}")


def within_bbox(
    items: Iterable[T], min_lat: float, min_lng: float, max_lat: float, max_lng: float
) -> list[T]:
    """The items whose geometry intersects the box (min_lat, min_lng, max_lat, max_lng)."""
    if min_lat > max_lat or min_lng > max_lng:
        raise QueryError("min_lat/min_lng must not exceed max_lat/max_lng")
    area = box(min_lng, min_lat, max_lng, max_lat)
    return [item for item in items if area.intersects(_shape_of(item))]


def within_radius(items: Iterable[T], lat: float, lng: float, radius_cm: float) -> list[T]:
    """The items within `radius_cm` centimetres of (lat, lng), nearest first (CDS MUST)."""
    if radius_cm < 0:
        raise QueryError("radius must not be negative")
    frame = _Frame(lng, lat)
    here = Point(0.0, 0.0)
    near = []
    for order, item in enumerate(items):
        distance_cm = frame.to_metres(_shape_of(item)).distance(here) * 100
        if distance_cm <= radius_cm:
            near.append((distance_cm, order, item))
    return [item for _, _, item in sorted(near, key=lambda n: (n[0], n[1]))]


def location_query(
    items: Iterable[T],
    *,
    min_lat: float | None = None,
    min_lng: float | None = None,
    max_lat: float | None = None,
    max_lng: float | None = None,
    lat: float | None = None,
    lng: float | None = None,
    radius: float | None = None,
) -> list[T]:
    """Apply the bbox or lat/lng/radius parameters as CDS defines them (all of a set, not both)."""
    box_args = (min_lat, min_lng, max_lat, max_lng)
    point_args = (lat, lng, radius)
    boxed = any(a is not None for a in box_args)
    pointed = any(a is not None for a in point_args)
    if boxed and pointed:
        raise QueryError("min_lat/min_lng/max_lat/max_lng cannot be combined with lat/lng/radius")
    if boxed:
        if any(a is None for a in box_args):
            raise QueryError("min_lat, min_lng, max_lat and max_lng must be given together")
        return within_bbox(items, *box_args)  # type: ignore[arg-type]
    if pointed:
        if any(a is None for a in point_args):
            raise QueryError("lat, lng and radius must be given together")
        return within_radius(items, *point_args)  # type: ignore[arg-type]
    return list(items)


def valid_at(items: Iterable[T], time_ms: int | None) -> list[T]:
    """The zones (Zone, ZoneNow or CDS dicts) valid at `time_ms`: start_date <= t < end_date."""
    if time_ms is None:
        return list(items)
    kept = []
    for item in items:
        zone = _zone_of(item)
        if zone is not None:
            end = zone_end(zone)
            start_ms, end_ms = ms(zone.created_at), None if end is None else ms(end)
        elif isinstance(item, Mapping):
            start_ms, end_ms = item.get("start_date"), item.get("end_date")
        else:
            raise TypeError(f"no validity period in {type(item).__name__}")
        if (start_ms is None or start_ms <= time_ms) and (end_ms is None or time_ms < end_ms):
            kept.append(item)
    return kept


def by_place(
    rows: Iterable[dict[str, Any]], *, curb_place_type: str | None, curb_place_id: str | None
) -> list[dict[str, Any]]:
    """Metrics rows (sessions or aggregates) of one curb place (both parameters, or neither)."""
    if (curb_place_type is None) != (curb_place_id is None):
        raise QueryError("curb_place_type and curb_place_id must be given together")
    if curb_place_type is None:
        return list(rows)
    if curb_place_type not in (ZONE, SPACE):
        raise QueryError(f"curb_place_type '{curb_place_type}' is not offered; use zone or space")
    key = f"curb_{curb_place_type}_id"
    return [
        r
        for r in rows
        if r.get(key) == curb_place_id
        or (r.get("curb_place_type") == curb_place_type and r.get("curb_place_id") == curb_place_id)
    ]


def event_time_window(value: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """Events API `event_time` (UTC hour "YYYY-MM-DDTHH") as [start, end), else the last hour."""
    if value is None:
        return now - timedelta(hours=1), now
    try:
        start = datetime.strptime(value, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise QueryError(f"event_time '{value}' is not a UTC hour like 2026-12-01T09") from None
    return start, start + timedelta(hours=1)

"""Curb Data Specification 1.1: Curbs, Events and Metrics objects from the booking domain.

Pure functions returning JSON-ready dicts (the api layer serves them, wrapped by `envelope`).
Times are integer epoch milliseconds, lengths centimetres, ids UUIDs derived deterministically
from our own ids. Open feeds carry no personal data: nothing here reads reservations, plates,
accounts or booking codes; a bay only says whether it is available.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import substring

from booking import hours
from booking.geo import METRES_PER_DEGREE
from booking.live import CLOSED, BayNow, ZoneNow
from booking.tables import Bay, OccupancyEvent, Zone

VERSION = "1.1"
MEDIA_TYPE = "application/vnd.cds+json;version=1.1"
CSV_MEDIA_TYPE = "application/vnd.cds+csv;version=1.1"  # the Metrics API answers in CSV
LICENSE_URL = "https://www.govdata.de/dl-de/by-2-0"
# Every CDS id is a UUID; ours are derived from our own ids under this namespace.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://kerbside.invalid/cds")
# A kerb line becomes a polygon this wide (CDS prefers polygons for zones, requires them
# for spaces); it is the usual width of a loading bay.
KERB_WIDTH_M = 2.5
CDS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # booking.hours: 0 = Monday
EVENT_TYPES = ("park_start", "park_end", "comms_lost", "comms_restored")
PARKING = "parking"
ZONE, SPACE = "zone", "space"
METRIC_TYPES = ("total_sessions", "turnover", "average_dwell_time", "occupancy_percent")
OFFLINE = -1  # CDS: the source was offline for the majority of the period
SESSION_COLUMNS = (
    "session_type",
    "event_id_start",
    "event_id_end",
    "event_location_start_latitude",
    "event_location_start_longitude",
    "event_location_end_latitude",
    "event_location_end_longitude",
    "event_time_start",
    "event_time_end",
    "curb_zone_id",
    "curb_space_id",
)
AGGREGATE_COLUMNS = ("curb_place_type", "curb_place_id", "metric_type", "date", "hour", "value")
# What our custom_attributes mean; serve it and name its URL in the envelope.
CUSTOM_ATTRIBUTES = {
    "max_vehicle_length_cm": "Longest vehicle allowed in the zone, in centimetres.",
    "min_stay_minutes": "Shortest booking accepted, in minutes.",
    "district": "City district the zone lies in.",
    "availability_source": "'sensors' (in-ground sensors and bookings) or 'bookings' alone.",
    "availability_withheld": "Why availability is omitted: the sensor data is stale or missing.",
}

T = TypeVar("T")


class QueryError(ValueError):
    """Query parameters that do not fit together, with the reason a client can act on."""


# ---------------------------------------------------------------------------------------------
# Envelope, ids, times


def envelope(
    data: Any,
    *,
    last_updated: datetime,
    time_zone: str,
    author: str = "Kerbside",
    license_url: str = LICENSE_URL,
    currency: str = "EUR",
    version: str = VERSION,
    custom_attributes_dictionary: str | None = None,
) -> dict[str, Any]:
    """The CDS response body around `data`; `time_zone` must be an IANA name."""
    hours.zone_info(time_zone)
    body = {
        "version": version,
        "time_zone": time_zone,
        "last_updated": ms(last_updated),
        "currency": currency,
        "author": author,
        "license_url": license_url,
        "data": data,
    }
    if custom_attributes_dictionary is not None:
        body["custom_attributes_dictionary"] = custom_attributes_dictionary
    return body


def dataset_time_zone(zones: Iterable[Zone], *, default: str) -> str:
    """The one time zone of these zones (CDS has one per response), `default` when none."""
    found = {z.timezone for z in zones}
    if len(found) > 1:
        raise QueryError(f"zones in several time zones ({', '.join(sorted(found))}); ask per zone")
    return found.pop() if found else default


def ms(moment: datetime) -> int:
    """Epoch milliseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    """The UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _uid(kind: str, *parts: object) -> str:
    """A name-based (v5) UUID under our namespace."""
    return str(uuid.uuid5(NAMESPACE, "/".join([kind, *map(str, parts)])))


def zone_uuid(zone_id: str) -> str:
    """The curb_zone_id of a zone."""
    return _uid("zone", zone_id)


def space_uuid(zone_id: str, label: str) -> str:
    """The curb_space_id of a bay (labels are unique within a zone and survive re-imports)."""
    return _uid("space", zone_id, label)


def event_uuid(event_id: int | None) -> str:
    """The event_id of an occupancy log row."""
    return _uid("occupancy-event", event_id)


def device_uuid(sensor_id: str) -> str:
    """The data_source_device_id of a sensor."""
    return _uid("sensor", sensor_id)


# ---------------------------------------------------------------------------------------------
# Geometry: a local metric frame around a point, good to centimetres over a zone's extent


@dataclass(frozen=True)
class _Frame:
    """Equirectangular metres around (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def _kx(self) -> float:
        """Metres per degree of longitude here."""
        return METRES_PER_DEGREE * math.cos(math.radians(self.lat0))

    def to_metres(self, geom: BaseGeometry) -> BaseGeometry:
        """WGS84 to local metres."""
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self._kx, METRES_PER_DEGREE])
        return shapely.transform(geom, lambda c: (c - origin) * scale)

    def to_degrees(self, geom: BaseGeometry) -> BaseGeometry:
        """Local metres to WGS84."""
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self._kx, METRES_PER_DEGREE])
        return shapely.transform(geom, lambda c: c / scale + origin)


@dataclass(frozen=True)
class _Kerb:
    """A zone in metres: its outline, the line bays are laid along, and its width."""

    frame: _Frame
    outline: Polygon
    axis: LineString
    width_m: float
    from_line: bool


def _kerb(zone: Zone) -> _Kerb:
    """The zone in a metric frame around its pin: outline, axis and width."""
    frame = _Frame(zone.lon, zone.lat)
    geom = frame.to_metres(shape(zone.geometry))
    if isinstance(geom, LineString):
        outline = geom.buffer(KERB_WIDTH_M / 2, cap_style="flat", join_style="mitre")
        return _Kerb(frame, _largest(outline), geom, KERB_WIDTH_M, True)
    polygon = _largest(geom)
    rect = shapely.oriented_envelope(polygon)
    corners = np.asarray(rect.exterior.coords)[:4] if isinstance(rect, Polygon) else None
    if corners is None:  # degenerate outline: lay bays along its own extent
        return _Kerb(frame, polygon, LineString(polygon.exterior.coords[:2]), 0.0, False)
    a, b, c = corners[0], corners[1], corners[2]
    if np.hypot(*(b - a)) < np.hypot(*(c - b)):
        a, b, c = b, c, corners[3]
    half = (c - b) / 2  # the long side is a-b; the axis runs through the middle of the short
    return _Kerb(frame, polygon, LineString([a + half, b + half]), float(np.hypot(*(c - b))), False)


def _largest(geom: BaseGeometry) -> Polygon:
    """The polygon itself, or the largest polygon of a collection."""
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    if not parts:
        raise ValueError(f"not an area: {geom.geom_type}")
    return max(parts, key=lambda g: g.area)


def _space_outline(kerb: _Kerb, index: int, count: int) -> Polygon:
    """The `index`-th of `count` equal slices of the kerb, in metres."""
    piece = substring(kerb.axis, index / count, (index + 1) / count, normalized=True)
    if kerb.from_line:
        return _largest(piece.buffer(KERB_WIDTH_M / 2, cap_style="flat", join_style="mitre"))
    # A slab across the whole outline, cut to it; the axis is straight, so slabs never overlap.
    slab = piece.buffer(kerb.width_m + 1.0, cap_style="flat", join_style="mitre")
    return _largest(kerb.outline.intersection(slab))


def _polygon_json(frame: _Frame, polygon: Polygon) -> dict[str, Any]:
    """A GeoJSON Polygon (RFC 7946: rings, counter-clockwise outside), 7 decimals (~1 cm)."""
    polygon = orient(frame.to_degrees(polygon), sign=1.0)
    rings = [polygon.exterior, *polygon.interiors]
    return {
        "type": "Polygon",
        "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring.coords] for ring in rings],
    }


def _point_json(frame: _Frame, geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON Point inside the (metric) geometry."""
    point = frame.to_degrees(geom.representative_point())
    return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}


def zone_geometry(zone: Zone) -> dict[str, Any]:
    """The zone as a CDS Polygon: a kerb line buffered to KERB_WIDTH_M, a polygon as it is."""
    kerb = _kerb(zone)
    return _polygon_json(kerb.frame, kerb.outline)


def space_geometry(zone: Zone, index: int, count: int) -> dict[str, Any]:
    """Bay `index` (0-based, sign order) of `count`: its equal share of the zone's kerb."""
    kerb = _kerb(zone)
    return _polygon_json(kerb.frame, _space_outline(kerb, index, count))


def _space_point(zone: Zone, index: int | None, count: int | None) -> dict[str, Any]:
    """A point in bay `index` of `count`, or the zone's pin when the bay cannot be placed."""
    kerb = _kerb(zone)
    if index is None or not count or not 0 <= index < count:
        return {"type": "Point", "coordinates": [zone.lon, zone.lat]}
    return _point_json(kerb.frame, _space_outline(kerb, index, count))


# ---------------------------------------------------------------------------------------------
# Curbs API: zones, spaces, policies

# "ABC-Straße 10", "Große Elbstraße 12a-14": the street, then its house number (range).
_ADDRESS = re.compile(
    r"^(?P<street>.*?\D)\s+(?P<number>\d+\s?[A-Za-z]?(?:\s?[-\u2013/]\s?\d+\s?[A-Za-z]?)?)$"
)


def curb_zone(
    zone: Zone,
    zone_now: ZoneNow | None,
    *,
    policy_ids: Sequence[str] | None = None,
    at: datetime | None = None,
    include_geometry: bool = True,
) -> dict[str, Any]:
    """A CDS Curb Zone; live fields from `zone_now` (computed at `at`) unless it withholds them.

    `policy_ids` default to the zone's own policy (`policy_id(zone)`). With
    include_geometry=False (the Curbs API parameter) the required geometry is left out.
    """
    kerb = _kerb(zone)
    result: dict[str, Any] = {"curb_zone_id": zone_uuid(zone.id)}
    if include_geometry:
        result["geometry"] = _polygon_json(kerb.frame, kerb.outline)
    result |= {
        "curb_policy_ids": list(policy_ids) if policy_ids is not None else [policy_id(zone)],
        "published_date": ms(zone.created_at),
        "last_updated_date": ms(zone.updated_at),
        "start_date": ms(zone.created_at),
        "name": zone.name,
        "user_zone_id": zone.id,
    }
    end = zone_end(zone)
    if end is not None:
        result["end_date"] = ms(end)
    result |= _street(zone.address)
    length_cm = round(kerb.axis.length * 100)
    if length_cm > 0:
        result["length"] = length_cm
    if kerb.width_m > 0:
        result["width"] = round(kerb.width_m * 100)
    attributes = {"max_vehicle_length_cm": str(_cm(zone.max_vehicle_length_m))}
    attributes["min_stay_minutes"] = str(zone.min_stay_min)
    if zone.district:
        attributes["district"] = zone.district
    if zone_now is not None:
        result["num_spaces"] = zone_now.bay_count
        result["curb_space_ids"] = [space_uuid(zone.id, b.label) for b in zone_now.bays]
        # Closures are known without sensors: only a closed zone is "not available".
        result["available"] = zone_now.status != CLOSED
        attributes["availability_source"] = zone_now.source
        if zone_now.free is None:
            attributes["availability_withheld"] = zone_now.withheld or "no data"
        else:
            result["available_spaces"] = zone_now.free
            result["available_space_lengths"] = [
                _cm(zone.bay_length_m) for b in zone_now.bays if _bay_available(b)
            ]
            if at is not None:
                result["availability_time"] = ms(at)
    result["custom_attributes"] = attributes
    return result


def curb_spaces(zone_now: ZoneNow, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """Every bay of a zone as a CDS Curb Space, in sign order."""
    return [curb_space(zone_now, bay, at=at) for bay in zone_now.bays]


def curb_space(zone_now: ZoneNow, bay_now: BayNow, *, at: datetime | None = None) -> dict[str, Any]:
    """A bay as a CDS Curb Space; `available` only when the zone's live data is not withheld."""
    zone = zone_now.zone
    index = next((i for i, b in enumerate(zone_now.bays) if b.bay_id == bay_now.bay_id), None)
    if index is None:
        raise ValueError(f"bay {bay_now.bay_id} is not a bay of zone '{zone.id}'")
    kerb = _kerb(zone)
    result: dict[str, Any] = {
        "curb_space_id": space_uuid(zone.id, bay_now.label),
        "curb_zone_id": zone_uuid(zone.id),
        "geometry": _polygon_json(kerb.frame, _space_outline(kerb, index, zone_now.bay_count)),
        "name": bay_now.label,
        "space_number": index + 1,
        "length": _cm(zone.bay_length_m),
        "published_date": ms(zone.created_at),
        "last_updated_date": ms(zone.updated_at),
    }
    if kerb.width_m > 0:
        result["width"] = round(kerb.width_m * 100)
    if zone_now.free is not None:
        result["available"] = _bay_available(bay_now)
        if at is not None:
            result["availability_time"] = ms(at)
    return result


def _bay_available(bay: BayNow) -> bool:
    """Free as booking.live counts it: neither reserved, closed nor occupied."""
    return not (bay.reserved or bay.closed or bay.occupied)


def curb_policy(zone: Zone) -> dict[str, Any]:
    """The zone's loading rules as a CDS Policy; its id is derived from its content."""
    loading = hours.LoadingHours.parse(zone.loading_hours)
    # One rule per user class: CDS requires all classes of a rule to match, a zone any of its.
    rules = [
        {
            "activity": "loading",
            "max_stay": zone.max_stay_min,
            "max_stay_unit": "minute",
            "user_classes": [user_class],
        }
        for user_class in sorted(zone.user_classes)
    ]
    policy: dict[str, Any] = {
        "name": f"Loading zone ({', '.join(sorted(zone.user_classes))})",
        "description": (
            f"Loading for {', '.join(sorted(zone.user_classes))} vehicles up to "
            f"{zone.max_vehicle_length_m:g} m, {zone.min_stay_min}-{zone.max_stay_min} min, "
            f"{zone.loading_hours} ({zone.timezone})"
            + (f"; {zone.reservable_share:.0%} of bays bookable" if zone.reservable_share else "")
        ),
        "published_date": ms(zone.created_at),
        "priority": 1,
        "rules": rules,
    }
    spans = time_spans(loading)
    if spans:
        policy["time_spans"] = spans
    # Same id, same policy, forever (CDS): the id is a hash of everything the policy says.
    canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"))
    return {"curb_policy_id": _uid("policy", canonical), **policy}


def policy_id(zone: Zone) -> str:
    """The curb_policy_id of the zone's current rules."""
    return str(curb_policy(zone)["curb_policy_id"])


def time_spans(loading: hours.LoadingHours) -> list[dict[str, Any]]:
    """CDS time spans of loading windows (local time); [] when always open, i.e. no restriction."""
    if _always(loading):
        return []
    days_by_time: dict[tuple[int, int], set[int]] = defaultdict(set)
    for window in loading.windows:
        days_by_time[(window.start, window.end)].update(window.days)
    spans = [
        {
            "days_of_week": [CDS_DAYS[d] for d in sorted(days)],
            "time_of_day_start": _hhmm(start),
            "time_of_day_end": _hhmm(end),  # exclusive; a window to midnight ends at "24:00"
        }
        for (start, end), days in days_by_time.items()
    ]
    return sorted(
        spans, key=lambda s: (CDS_DAYS.index(s["days_of_week"][0]), s["time_of_day_start"])
    )


def _always(loading: hours.LoadingHours) -> bool:
    """Whether the windows cover every minute of every day."""
    covered = {
        day: [(w.start, w.end) for w in loading.windows if day in w.days] for day in range(7)
    }
    for spans in covered.values():
        reach = 0
        for start, end in sorted(spans):
            if start > reach:
                return False
            reach = max(reach, end)
        if reach < 1440:
            return False
    return True


def _hhmm(minutes: int) -> str:
    """Minutes after midnight as "HH:MM"."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _cm(metres: float) -> int:
    """Metres to whole centimetres."""
    return round(metres * 100)


def _street(address: str) -> dict[str, str]:
    """street_name and address_number from an address like "ABC-Straße 10, Hamburg"."""
    first = address.split(",")[0].strip()
    if not first:
        return {}
    match = _ADDRESS.match(first)
    if match is None:
        return {"street_name": first}
    return {"street_name": match["street"].strip(), "address_number": match["number"]}


def zone_end(zone: Zone) -> datetime | None:
    """When a retired zone stopped being valid (its last update), None while active."""
    return zone.updated_at if zone.status == "retired" else None


def unique_policies(
    zones: Iterable[Zone], *, ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The policies of these zones, once each; only `ids` when given (the `ids` parameter)."""
    found: dict[str, dict[str, Any]] = {}
    for zone in zones:
        policy = curb_policy(zone)
        found.setdefault(policy["curb_policy_id"], policy)
    if ids is not None:
        wanted = set(ids)
        return [p for i, p in found.items() if i in wanted]
    return list(found.values())


# ---------------------------------------------------------------------------------------------
# Query parameters of the Curbs and Metrics APIs


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


# ---------------------------------------------------------------------------------------------
# Events API


def curb_event(
    event: OccupancyEvent, zone: Zone, bay: Bay, *, spaces: int | None = None
) -> dict[str, Any]:
    """An occupancy log row as a CDS Curb Event; located at its bay when `spaces` is given.

    `spaces` is the number of active bays of the zone (the bay's position places it among
    them); without it, or for a bay taken out of service, the event sits at the zone's pin.
    """
    if event.kind not in EVENT_TYPES:
        raise ValueError(f"'{event.kind}' is not an occupancy event type")
    index = bay.position if bay.active else None
    result: dict[str, Any] = {
        "event_id": event_uuid(event.id),
        "event_type": event.kind,
        "event_location": _space_point(zone, index, spaces),
        "event_time": ms(event.at),
        "event_publication_time": ms(event.received_at),
        "curb_zone_id": zone_uuid(zone.id),
        "curb_space_id": space_uuid(zone.id, bay.label),
    }
    if event.sensor_id:
        result |= {
            "data_source_type": "in_ground",
            "data_source_device_id": device_uuid(event.sensor_id),
            "data_source_device_name": event.sensor_id,
            "sensor_status_is_commissioned": True,
            "sensor_status_is_online": event.kind != "comms_lost",
        }
    else:  # not written by a sensor (none of our writers do this today)
        result |= {"data_source_type": "other", "data_source_device_id": _uid("kerbside")}
    return result


def curb_events(
    events: Iterable[OccupancyEvent], *, zones: Sequence[Zone], bays: Sequence[Bay]
) -> list[dict[str, Any]]:
    """Curb Events, newest first (as the Events API orders them); unknown bays are skipped."""
    lookup = _Lookup(zones, bays)
    rows = sorted(
        (e for e in events if lookup.knows(e)), key=lambda e: (e.at, e.id or 0), reverse=True
    )
    return [
        curb_event(e, lookup.zones[e.zone_id], lookup.bays[e.bay_id], spaces=lookup.spaces(e))
        for e in rows
    ]


class _Lookup:
    """Zones and bays by id, and how many active bays each zone has."""

    def __init__(self, zones: Sequence[Zone], bays: Sequence[Bay]) -> None:
        self.zones = {z.id: z for z in zones}
        self.bays = {b.id: b for b in bays if b.id is not None}
        self.counts: dict[str, int] = defaultdict(int)
        for bay in bays:
            if bay.active:
                self.counts[bay.zone_id] += 1

    def knows(self, event: OccupancyEvent) -> bool:
        """Whether the event's zone and bay are known."""
        return event.zone_id in self.zones and event.bay_id in self.bays

    def spaces(self, event: OccupancyEvent) -> int:
        """Active bays in the event's zone."""
        return self.counts[event.zone_id]


# ---------------------------------------------------------------------------------------------
# Metrics API: sessions (the /metrics/sessions rows) and hourly aggregates (/metrics/aggregates)


@dataclass(frozen=True)
class _Session:
    """A park_start and the park_end that closes it, when that is known."""

    bay_id: int
    zone_id: str
    start: OccupancyEvent
    end: OccupancyEvent | None

    @property
    def anchor(self) -> datetime:
        """When the session is counted: its start."""
        return self.start.at


def _by_bay(events: Iterable[OccupancyEvent]) -> dict[int, list[OccupancyEvent]]:
    """Log rows per bay, in time order."""
    found: dict[int, list[OccupancyEvent]] = defaultdict(list)
    for event in events:
        found[event.bay_id].append(event)
    for rows in found.values():
        rows.sort(key=lambda e: (e.at, e.id or 0))
    return found


def _pair(rows: Sequence[OccupancyEvent]) -> list[_Session]:
    """Sessions of one bay: park_start to the next park_end; a sensor outage breaks one.

    A park_end that closes no known park_start is no session: booking logs one when a bay is
    first seen free, or seen free again after an outage, and neither is a vehicle leaving.
    """
    sessions: list[_Session] = []
    open_start: OccupancyEvent | None = None
    for event in rows:
        if event.kind == "park_start":
            if open_start is not None:
                sessions.append(_Session(event.bay_id, event.zone_id, open_start, None))
            open_start = event
        elif event.kind == "park_end" and open_start is not None:
            sessions.append(_Session(event.bay_id, event.zone_id, open_start, event))
            open_start = None
        elif event.kind == "comms_lost" and open_start is not None:
            # Nobody saw the vehicle leave: the session's end is unknown.
            sessions.append(_Session(event.bay_id, event.zone_id, open_start, None))
            open_start = None
    if open_start is not None:
        sessions.append(_Session(open_start.bay_id, open_start.zone_id, open_start, None))
    return sessions


def session_metrics(
    events: Iterable[OccupancyEvent],
    *,
    zones: Sequence[Zone],
    bays: Sequence[Bay],
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The /metrics/sessions rows: one per parking session starting in [start, end).

    A session runs from a bay's park_start to its next park_end; when a sensor outage (or the
    end of the log) leaves the end unknown, the end fields are left out (empty in CSV), as
    CDS asks. Pass the log from a while before `start`: a park_end whose park_start is not in
    it is not reported. Rows carry no vehicle data at all.
    """
    lookup = _Lookup(zones, bays)
    rows = []
    for bay_rows in _by_bay(e for e in events if lookup.knows(e)).values():
        for session in _pair(bay_rows):
            if (start is None or session.anchor >= start) and (end is None or session.anchor < end):
                rows.append((session.anchor, session.bay_id, _session_row(session, lookup)))
    return [row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def _session_row(session: _Session, lookup: _Lookup) -> dict[str, Any]:
    """A CDS Session object; the sides that are unknown are left out."""
    zone, bay = lookup.zones[session.zone_id], lookup.bays[session.bay_id]
    point = _space_point(zone, bay.position if bay.active else None, lookup.counts[zone.id])
    lon, lat = point["coordinates"]
    row: dict[str, Any] = {"session_type": PARKING}
    for side, event in (("start", session.start), ("end", session.end)):
        if event is not None:
            row[f"event_id_{side}"] = event_uuid(event.id)
            row[f"event_location_{side}_latitude"] = lat
            row[f"event_location_{side}_longitude"] = lon
            row[f"event_time_{side}"] = ms(event.at)
    row["curb_zone_id"] = zone_uuid(zone.id)
    row["curb_space_id"] = space_uuid(zone.id, bay.label)
    return row


Interval = tuple[datetime | None, datetime | None]  # None: open-ended (before the log, or now)


def _timeline(rows: Sequence[OccupancyEvent]) -> tuple[list[Interval], list[Interval]]:
    """(occupied, offline) intervals of one bay, from its log in time order."""
    occupied: list[Interval] = []
    offline: list[Interval] = []
    state: str | None = None  # unknown before the first entry: counted neither way
    since: datetime | None = None
    for event in rows:
        if state == "occupied":
            occupied.append((since, event.at))
        elif state == "offline":
            offline.append((since, event.at))
        state = {"park_start": "occupied", "park_end": "free", "comms_lost": "offline"}.get(
            event.kind, "free"
        )
        since = event.at
    if state == "occupied":
        occupied.append((since, None))
    elif state == "offline":
        offline.append((since, None))
    return occupied, offline


def _overlap(intervals: Sequence[Interval], a: datetime, b: datetime) -> float:
    """Seconds of the intervals within [a, b)."""
    total = 0.0
    for start, end in intervals:
        lo = a if start is None else max(a, start)
        hi = b if end is None else min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def aggregates(
    events: Iterable[OccupancyEvent],
    *,
    zones: Sequence[Zone],
    bays: Sequence[Bay],
    start: datetime,
    end: datetime,
    now: datetime,
    place_types: Sequence[str] = (ZONE, SPACE),
    metric_types: Sequence[str] = METRIC_TYPES,
) -> list[dict[str, Any]]:
    """The /metrics/aggregates rows: per zone and per bay, per whole local hour in [start, end).

    total_sessions counts sessions starting in the hour; turnover is sessions per hour (so,
    per hour, the same number); average_dwell_time is in minutes over the completed sessions
    starting in the hour (no row without any); occupancy_percent is occupied bay-time over
    bay-time, 0-100. Only hours over by `now` are reported; a place whose sensors were
    offline more than half the hour reports -1 for every metric, as CDS asks. Pass the log
    from before `start`, so vehicles already parked at `start` are counted.
    """
    unknown = set(metric_types) - set(METRIC_TYPES)
    if unknown:
        raise QueryError(f"metric_type {sorted(unknown)} is not offered")
    lookup = _Lookup(zones, bays)
    per_bay = _by_bay(e for e in events if lookup.knows(e))
    active = [b for b in bays if b.active and b.zone_id in lookup.zones and b.id is not None]
    timelines = {b.id: _timeline(per_bay.get(b.id or 0, [])) for b in active}
    sessions = {b.id: _pair(per_bay.get(b.id or 0, [])) for b in active}
    stop = min(end, now)
    rows: list[dict[str, Any]] = []
    for zone in sorted(lookup.zones.values(), key=lambda z: z.id):
        zone_bays = [b for b in active if b.zone_id == zone.id]
        if not zone_bays:
            continue
        for lo in _hours(start, stop, zone.timezone):
            hi = lo + timedelta(hours=1)
            local = lo.astimezone(hours.zone_info(zone.timezone))
            label = {"date": local.date().isoformat(), "hour": local.hour}
            places: list[tuple[str, str, list[Bay]]] = []
            if ZONE in place_types:
                places.append((ZONE, zone_uuid(zone.id), zone_bays))
            if SPACE in place_types:
                places += [(SPACE, space_uuid(zone.id, b.label), [b]) for b in zone_bays]
            for place_type, place_id, members in places:
                values = _metrics(members, timelines, sessions, lo, hi)
                rows += [
                    {"curb_place_type": place_type, "curb_place_id": place_id, "metric_type": m}
                    | label
                    | {"value": values[m]}
                    for m in metric_types
                    if m in values
                ]
    return rows


def _hours(start: datetime, stop: datetime, tz: str) -> list[datetime]:
    """UTC starts of the whole local clock hours within [start, stop)."""
    local = start.astimezone(hours.zone_info(tz)).replace(minute=0, second=0, microsecond=0)
    cursor = local.astimezone(UTC)
    if cursor < start:
        cursor += timedelta(hours=1)
    found = []
    while cursor + timedelta(hours=1) <= stop:
        found.append(cursor)
        cursor += timedelta(hours=1)
    return found


def _metrics(
    members: Sequence[Bay],
    timelines: Mapping[int | None, tuple[list[Interval], list[Interval]]],
    sessions: Mapping[int | None, list[_Session]],
    lo: datetime,
    hi: datetime,
) -> dict[str, float]:
    """The four metrics of some bays over [lo, hi)."""
    span = (hi - lo).total_seconds()
    if span <= 0:
        return {}
    capacity = span * len(members)
    offline = sum(_overlap(timelines[b.id][1], lo, hi) for b in members)
    if offline > capacity / 2:
        return dict.fromkeys(METRIC_TYPES, OFFLINE)
    started = [s for b in members for s in sessions[b.id] if lo <= s.start.at < hi]
    dwell = [(s.end.at - s.start.at).total_seconds() / 60 for s in started if s.end]
    occupied = sum(_overlap(timelines[b.id][0], lo, hi) for b in members)
    values: dict[str, float] = {
        "total_sessions": len(started),
        "turnover": round(len(started) / (span / 3600), 2),
        "occupancy_percent": round(occupied / capacity * 100, 2),
    }
    if dwell:
        values["average_dwell_time"] = round(sum(dwell) / len(dwell), 2)
    return values


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Metrics rows as the CSV the Metrics API serves; absent values are empty cells."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="raise", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _csv_value(row.get(c)) for c in columns})
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    """A cell: empty for None, 3 rather than 3.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

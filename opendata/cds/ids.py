"""CDS basics: versions and media types, the response envelope, ids and epoch-millisecond times."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from booking import hours
from booking.tables import Zone

VERSION = "1.1"
MEDIA_TYPE = "application/vnd.cds+json;version=1.1"
CSV_MEDIA_TYPE = "application/vnd.cds+csv;version=1.1"  # the Metrics API answers in CSV
LICENSE_URL = "https://www.govdata.de/dl-de/by-2-0"
# Every CDS id is a UUID; ours are derived from our own ids under this namespace.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://kerbside.invalid/cds")
ZONE, SPACE = "zone", "space"


# What our custom_attributes mean; serve it and name its URL in the envelope.
CUSTOM_ATTRIBUTES = {
    "max_vehicle_length_cm": "Longest vehicle allowed in the zone, in centimetres.",
    "min_stay_minutes": "Shortest booking accepted, in minutes.",
    "district": "City district the zone lies in.",
    "availability_source": "'sensors' (in-ground sensors and bookings) or 'bookings' alone.",
    "availability_withheld": "Why availability is omitted: the sensor data is stale or missing.",
}


class QueryError(ValueError):
    """Query parameters that do not fit together, with the reason a client can act on."""


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

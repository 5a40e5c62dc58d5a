"""The zones feed as GeoJSON: every zone with its bays, what is free now and how fresh that is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from booking.live import ZoneNow

MEDIA_TYPE = "application/geo+json"


def zones_feed(zones: Sequence[ZoneNow], *, generated_at: datetime) -> dict[str, Any]:
    """A FeatureCollection of all zones; realtime values are null with a reason when stale."""
    return {
        "type": "FeatureCollection",
        "generated_at": generated_at.isoformat(),
        "features": [_feature(z) for z in zones],
    }


def _feature(z: ZoneNow) -> dict[str, Any]:
    zone = z.zone
    return {
        "type": "Feature",
        "id": zone.id,
        "geometry": zone.geometry,
        "properties": {
            "name": zone.name,
            "address": zone.address,
            "district": zone.district,
            "bays": z.bay_count,
            "free_now": None if z.free is None else min(z.free, z.bay_count),
            "occupied_now": z.occupied,
            "reserved_now": z.reserved,
            "withheld_reason": z.withheld,
            "status": z.status,
            "source": z.source,
            "data_age_s": None if z.data_age_s is None else round(z.data_age_s),
            "loading_hours": zone.loading_hours,
            "max_stay_min": zone.max_stay_min,
            "max_vehicle_length_m": zone.max_vehicle_length_m,
            "timezone": zone.timezone,
        },
    }

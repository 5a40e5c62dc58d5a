"""Curbs API objects: CDS Curb Zones, Curb Spaces and Policies of the loading zones."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from booking import hours
from booking.live import CLOSED, BayNow, ZoneNow
from booking.tables import Zone
from opendata.cds.geometry import _kerb, _polygon_json, _space_outline
from opendata.cds.ids import _uid, ms, space_uuid, zone_uuid

CDS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # booking.hours: 0 = Monday


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

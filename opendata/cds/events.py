"""Events API: occupancy log rows as CDS Curb Events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from booking.tables import Bay, OccupancyEvent, Zone
from opendata.cds.geometry import _space_point
from opendata.cds.ids import _uid, device_uuid, event_uuid, ms, space_uuid, zone_uuid

EVENT_TYPES = ("park_start", "park_end", "comms_lost", "comms_restored")


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

"""Metrics API sessions: a bay's park_start and the park_end closing it, as CDS Session rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from booking.tables import Bay, OccupancyEvent, Zone
from opendata.cds.events import _Lookup
from opendata.cds.geometry import _space_point
from opendata.cds.ids import event_uuid, ms, space_uuid, zone_uuid

PARKING = "parking"
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

"""Metrics API aggregates: hourly metrics per zone and bay, and the CSV the Metrics API serves."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from booking import hours
from booking.tables import Bay, OccupancyEvent, Zone
from opendata.cds.events import _Lookup
from opendata.cds.ids import SPACE, ZONE, QueryError, space_uuid, zone_uuid
from opendata.cds.sessions import _by_bay, _pair, _Session

METRIC_TYPES = ("total_sessions", "turnover", "average_dwell_time", "occupancy_percent")
OFFLINE = -1  # CDS: the source was offline for the majority of the period
AGGREGATE_COLUMNS = ("curb_place_type", "curb_place_id", "metric_type", "date", "hour", "value")


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

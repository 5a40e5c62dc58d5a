"""Live bay occupancy from sensor readings: ordered by the sensor's clock, applied in batches.

Duplicates (same sensor, same timestamp) and late readings (older than the bay's last)
change nothing and are counted. State changes go to the append-only occupancy log and to
reconciliation, which decides what they mean for bookings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from booking import reconcile, violations
from booking.policy import Policy
from booking.tables import Bay, BayState, OccupancyEvent, Sensor
from booking.tables.sensors import FREE, OCCUPIED, UNKNOWN


@dataclass(frozen=True)
class OccupancyReading:
    """One message from a sensor: occupied or not (None when it did not say), when, battery."""

    sensor_id: str
    at: datetime
    occupied: bool | None = None
    battery: float | None = None
    kind: str = "status"


@dataclass
class ApplyResult:
    """What a batch did."""

    applied: int = 0
    duplicates: int = 0
    late: int = 0
    changes: int = 0
    unassigned: int = 0
    changed_zones: set[str] = field(default_factory=set)


def apply(
    *, session: Session, readings: Sequence[OccupancyReading], now: datetime, policy: Policy
) -> ApplyResult:
    """Apply a batch of readings: health, live state, the log and reconciliation."""
    result = ApplyResult()
    if not readings:
        return result
    sensor_ids = {r.sensor_id for r in readings}
    sensors = {s.id: s for s in session.exec(select(Sensor).where(col(Sensor.id).in_(sensor_ids)))}
    bays = {
        b.sensor_id: b
        for b in session.exec(
            select(Bay).where(col(Bay.sensor_id).in_(sensor_ids), col(Bay.active).is_(True))
        )
    }
    states = {
        s.bay_id: s
        for s in session.exec(
            select(BayState).where(col(BayState.bay_id).in_([b.id for b in bays.values()]))
        )
    }
    arrivals: list[reconcile.Change] = []
    for reading in sorted(readings, key=lambda r: r.at):
        sensor = sensors.get(reading.sensor_id)
        if sensor is None:
            result.unassigned += 1
            continue
        bay = bays.get(sensor.id)
        _touch(session=session, sensor=sensor, bay=bay, reading=reading, now=now, policy=policy)
        if bay is None:
            result.unassigned += 1
            continue
        if reading.occupied is None:
            result.applied += 1
            continue
        state = states.get(bay.id or 0)
        if state is None:
            state = BayState(bay_id=bay.id or 0, zone_id=bay.zone_id, state=UNKNOWN, updated_at=now)
            states[state.bay_id] = state
            session.add(state)
        if state.last_reading_at is not None and reading.at <= state.last_reading_at:
            if reading.at == state.last_reading_at:
                result.duplicates += 1
            else:
                result.late += 1
            continue
        result.applied += 1
        state.last_reading_at = reading.at
        new = OCCUPIED if reading.occupied else FREE
        if state.state == UNKNOWN and state.since is not None:
            _log(session, bay, sensor.id, "comms_restored", reading.at, now)
        if new != state.state:
            state.state, state.since = new, reading.at
            _log(
                session,
                bay,
                sensor.id,
                "park_start" if reading.occupied else "park_end",
                reading.at,
                now,
            )
            arrivals.append(
                reconcile.Change(bay=bay, occupied=bool(reading.occupied), at=reading.at)
            )
            result.changes += 1
            result.changed_zones.add(bay.zone_id)
        state.updated_at = now
    session.flush()
    reconcile.on_changes(session=session, changed=arrivals, now=now, policy=policy)
    return result


def _touch(
    *,
    session: Session,
    sensor: Sensor,
    bay: Bay | None,
    reading: OccupancyReading,
    now: datetime,
    policy: Policy,
) -> None:
    """Any message proves the sensor alive; a battery reading may open or close battery_low."""
    sensor.last_seen_at = now
    if sensor.offline:
        sensor.offline = False
        violations.close(
            session=session, kind=violations.SENSOR_OFFLINE, sensor_id=sensor.id, now=now
        )
    if reading.battery is not None:
        sensor.battery = reading.battery
        if reading.battery <= policy.battery_low_pct and bay is not None:
            violations.open_once(
                session=session,
                kind=violations.BATTERY_LOW,
                zone_id=bay.zone_id,
                bay_id=bay.id,
                sensor_id=sensor.id,
                now=now,
                detail={"battery": reading.battery},
            )
        else:
            violations.close(
                session=session, kind=violations.BATTERY_LOW, sensor_id=sensor.id, now=now
            )
    session.add(sensor)


def _log(
    session: Session, bay: Bay, sensor_id: str, kind: str, at: datetime, now: datetime
) -> None:
    session.add(
        OccupancyEvent(
            bay_id=bay.id or 0,
            zone_id=bay.zone_id,
            sensor_id=sensor_id,
            kind=kind,
            at=at,
            received_at=now,
        )
    )


def states_of(*, session: Session, zone_ids: Sequence[str]) -> dict[int, BayState]:
    """Live state per bay of these zones (bays without a reading are absent)."""
    return {
        s.bay_id: s
        for s in session.exec(select(BayState).where(col(BayState.zone_id).in_(zone_ids)))
    }


def events_between(
    *, session: Session, start: datetime, end: datetime, limit: int = 100_000
) -> list[OccupancyEvent]:
    """The occupancy log for [start, end), in order."""
    query = (
        select(OccupancyEvent)
        .where(col(OccupancyEvent.at) >= start, col(OccupancyEvent.at) < end)
        .order_by(col(OccupancyEvent.at), col(OccupancyEvent.id))
        .limit(limit)
    )
    return list(session.exec(query))

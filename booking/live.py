"""Availability now, per zone: the one function behind the app, the console and every feed.

Free means neither reserved, closed nor occupied. Where a zone's sensor data is stale the
live figures are withheld (None, with a reason) rather than guessed; zones without sensors
report from bookings alone and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from booking import availability, hours
from booking.tables import BayState, Sensor, Zone
from booking.tables.sensors import OCCUPIED, UNKNOWN

OPEN, CLOSED, OUTSIDE_HOURS, NO_DATA = "open", "closed", "outside_loading_hours", "no_data"
DEFAULT_STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class BayNow:
    """One bay now: occupied per its sensor (None when unknown or no sensor), and since when."""

    bay_id: int
    label: str
    sensor_id: str | None
    occupied: bool | None
    reserved: bool
    closed: bool
    measured_at: datetime | None


@dataclass(frozen=True)
class ZoneNow:
    """A zone now: how many bays, how many free, what state it is in, how fresh the data is."""

    zone: Zone
    bays: tuple[BayNow, ...]
    status: str
    free: int | None
    occupied: int | None
    reserved: int
    data_age_s: float | None
    withheld: str | None
    source: str  # "sensors" or "bookings"

    @property
    def bay_count(self) -> int:
        """Bays in service."""
        return len(self.bays)


def now(
    *,
    session: Session,
    zones: Sequence[Zone],
    at: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[ZoneNow]:
    """Each zone's availability at `at`, in the order given."""
    if not zones:
        return []
    ids = [z.id for z in zones]
    windows = availability.windows(
        session=session, zones=zones, start=at, end=at + timedelta(seconds=1)
    )
    states = {
        s.bay_id: s for s in session.exec(select(BayState).where(col(BayState.zone_id).in_(ids)))
    }
    sensor_ids = {w.bay.sensor_id for zw in windows.values() for w in zw.bays if w.bay.sensor_id}
    seen = (
        dict(
            session.exec(
                select(Sensor.id, Sensor.last_seen_at).where(col(Sensor.id).in_(sensor_ids))
            ).all()
        )
        if sensor_ids
        else {}
    )
    result = []
    for zone in zones:
        bays = []
        for w in windows[zone.id].bays:
            state = states.get(w.bay.id or 0)
            occupied = None
            if state is not None and state.state != UNKNOWN:
                occupied = state.state == OCCUPIED
            bays.append(
                BayNow(
                    bay_id=w.bay.id or 0,
                    label=w.bay.label,
                    sensor_id=w.bay.sensor_id,
                    occupied=occupied,
                    reserved=any(b.kind == "reserved" for b in w.busy),
                    closed=any(b.kind == "closed" for b in w.busy),
                    measured_at=state.last_reading_at if state else None,
                )
            )
        result.append(_summarise(zone, tuple(bays), seen, at=at, stale_after=stale_after))
    return result


def _summarise(
    zone: Zone,
    bays: tuple[BayNow, ...],
    seen: dict[str, datetime | None],
    *,
    at: datetime,
    stale_after: timedelta,
) -> ZoneNow:
    reserved = sum(b.reserved for b in bays)
    sensed = [b for b in bays if b.sensor_id]
    open_now = hours.LoadingHours.parse(zone.loading_hours).is_open(
        at.astimezone(hours.zone_info(zone.timezone))
    )
    if bays and all(b.closed for b in bays):
        status = CLOSED
    elif not open_now:
        status = OUTSIDE_HOURS
    else:
        status = OPEN
    if not sensed:
        free = sum(not (b.reserved or b.closed) for b in bays)
        return ZoneNow(zone, bays, status, free, None, reserved, None, None, "bookings")
    heard = [t for t in (seen.get(b.sensor_id or "") for b in sensed) if t is not None]
    # The zone's data is as fresh as the last message any of its sensors sent.
    age = (at - max(heard)).total_seconds() if heard else None
    withheld = None
    if age is None:
        withheld = "no sensor data yet"
    elif age > stale_after.total_seconds():
        withheld = f"sensor data older than {int(stale_after.total_seconds() // 60)} minutes"
    elif any(b.measured_at is None for b in sensed):
        withheld = "not every sensor of this zone has reported yet"
    elif any(b.occupied is None for b in sensed):
        withheld = "a sensor of this zone is offline"
    if withheld is not None:
        return ZoneNow(
            zone,
            bays,
            NO_DATA if status == OPEN else status,
            None,
            None,
            reserved,
            age,
            withheld,
            "sensors",
        )
    occupied = sum(bool(b.occupied) for b in bays)
    free = sum(not (b.reserved or b.closed or b.occupied) for b in bays)
    return ZoneNow(
        zone, bays, status, min(free, len(bays)), occupied, reserved, age, None, "sensors"
    )

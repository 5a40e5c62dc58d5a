"""Availability: which bays are neither reserved nor closed in a window.

The one home for this question; the app, the console, allocation and the feeds all ask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from booking.tables import Bay, BayState, Closure, Reservation, Zone
from booking.tables.reservations import LIVE
from booking.tables.sensors import OCCUPIED

SLOT = timedelta(minutes=5)
MAX_IN_LIST = 2000


@dataclass(frozen=True)
class Busy:
    """A period in which a bay cannot be booked, and why ("reserved" or "closed")."""

    start: datetime
    end: datetime
    kind: str


@dataclass
class BayWindow:
    """One bay and its busy periods within a window."""

    bay: Bay
    busy: list[Busy] = field(default_factory=list)

    def free_during(self, start: datetime, end: datetime) -> bool:
        """Whether nothing overlaps [start, end)."""
        return not any(b.start < end and start < b.end for b in self.busy)


@dataclass
class ZoneWindow:
    """A zone's bays over a window, with the free count per 5-minute slot."""

    zone: Zone
    start: datetime
    end: datetime
    bays: list[BayWindow]

    def free_bays(self) -> list[Bay]:
        """Bays free for the whole window, in sign order."""
        return [w.bay for w in self.bays if w.free_during(self.start, self.end)]

    def slots(self) -> list[tuple[datetime, int]]:
        """(slot start, bays free for the whole slot) for each 5-minute slot of the window."""
        slots = []
        cursor = self.start
        while cursor < self.end:
            slot_end = min(cursor + SLOT, self.end)
            slots.append((cursor, sum(w.free_during(cursor, slot_end) for w in self.bays)))
            cursor = slot_end
        return slots


def live_reservations(
    *,
    session: Session,
    zone_ids: Sequence[str] | None,
    start: datetime,
    end: datetime,
    exclude_id: str | None = None,
) -> list[Reservation]:
    """Live reservations in these zones (None: all zones) that overlap [start, end)."""
    query = select(Reservation).where(
        col(Reservation.status).in_(LIVE),
        col(Reservation.start_at) < end,
        col(Reservation.end_at) > start,
    )
    if zone_ids is not None:
        query = query.where(col(Reservation.zone_id).in_(zone_ids))
    if exclude_id is not None:
        query = query.where(Reservation.id != exclude_id)
    return list(session.exec(query))


def closures(
    *, session: Session, zone_ids: Sequence[str] | None, start: datetime, end: datetime
) -> list[Closure]:
    """Closures in these zones (None: all zones) that overlap [start, end)."""
    query = select(Closure).where(col(Closure.start_at) < end, col(Closure.end_at) > start)
    if zone_ids is not None:
        query = query.where(col(Closure.zone_id).in_(zone_ids))
    return list(session.exec(query.order_by(col(Closure.start_at))))


def windows(
    *,
    session: Session,
    zones: Sequence[Zone],
    start: datetime,
    end: datetime,
    exclude_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, ZoneWindow]:
    """Each zone's active bays with what keeps them busy in [start, end).

    Given `now` and a window that has begun, a bay its sensor reports occupied is busy too:
    a driver booking on arrival must not be sent to a bay with a van in it.
    """
    ids = [z.id for z in zones]
    result = {z.id: ZoneWindow(zone=z, start=start, end=end, bays=[]) for z in zones}
    # Past a few thousand zones (the feeds ask for all) an IN list costs more than reading
    # every row and keeping the wanted ones; it would also exceed the drivers' parameter limits.
    wanted = None if len(ids) > MAX_IN_LIST else ids
    by_bay: dict[int, BayWindow] = {}
    query = select(Bay).where(col(Bay.active).is_(True))
    if wanted is not None:
        query = query.where(col(Bay.zone_id).in_(wanted))
    for bay in session.exec(query.order_by(col(Bay.position), col(Bay.id))):
        if bay.zone_id not in result:
            continue
        window = BayWindow(bay=bay)
        by_bay[bay.id or 0] = window
        result[bay.zone_id].bays.append(window)
    for reservation in live_reservations(
        session=session, zone_ids=wanted, start=start, end=end, exclude_id=exclude_id
    ):
        if reservation.bay_id in by_bay:
            by_bay[reservation.bay_id].busy.append(
                Busy(reservation.start_at, reservation.end_at, "reserved")
            )
    for closure in closures(session=session, zone_ids=wanted, start=start, end=end):
        if closure.zone_id not in result:
            continue
        for window in result[closure.zone_id].bays:
            if closure.bay_ids is None or window.bay.id in closure.bay_ids:
                window.busy.append(Busy(closure.start_at, closure.end_at, "closed"))
    if now is not None and start <= now < end:
        occupied = select(BayState.bay_id).where(BayState.state == OCCUPIED)
        if wanted is not None:
            occupied = occupied.where(col(BayState.zone_id).in_(wanted))
        taken = session.exec(occupied).all()
        for bay_id in taken:
            if bay_id in by_bay:
                by_bay[bay_id].busy.append(Busy(start, end, "occupied"))
    for window in by_bay.values():
        window.busy.sort(key=lambda b: (b.start, b.end))
    return result


def window(
    *,
    session: Session,
    zone: Zone,
    start: datetime,
    end: datetime,
    exclude_id: str | None = None,
    now: datetime | None = None,
) -> ZoneWindow:
    """One zone's bays and their busy periods in [start, end) (see `windows`)."""
    found = windows(
        session=session, zones=[zone], start=start, end=end, exclude_id=exclude_id, now=now
    )
    return found[zone.id]


def free_counts(
    *,
    session: Session,
    zone_ids: Sequence[str],
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> dict[str, int]:
    """Bays free for the whole of [start, end), per zone (for search results)."""
    if not zone_ids:
        return {}
    loaded = list(session.exec(select(Zone).where(col(Zone.id).in_(zone_ids))))
    found = windows(session=session, zones=loaded, start=start, end=end, now=now)
    return {zone_id: len(w.free_bays()) for zone_id, w in found.items()}


def max_concurrent(intervals: Sequence[tuple[datetime, datetime]]) -> int:
    """The largest number of the intervals that overlap at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = current = 0
    for _, step in edges:  # ends sort before starts at the same instant: [start, end)
        current += step
        peak = max(peak, current)
    return peak


def zones_with_live(*, session: Session, start: datetime, end: datetime) -> set[str]:
    """Zones that have a live reservation overlapping [start, end)."""
    query = select(Reservation.zone_id).where(
        col(Reservation.status).in_(LIVE),
        col(Reservation.start_at) < end,
        col(Reservation.end_at) > start,
    )
    return set(session.exec(query.distinct()).all())

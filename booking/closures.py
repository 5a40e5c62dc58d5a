"""Closures: a zone (or some bays) out of use for a period; bookings it hits are cancelled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from booking import availability, history, notifications, zones
from booking.errors import NotFound, RuleViolation
from booking.tables import Account, Closure, Reservation
from booking.tables.reservations import CANCELLED


@dataclass
class ClosurePlan:
    """A closure and the bookings it cancels (made, or previewed on a dry run)."""

    closure: Closure
    cancelled: list[Reservation]


def close(
    *,
    session: Session,
    zone_id: str,
    start: datetime,
    end: datetime,
    reason: str,
    operator: Account,
    now: datetime,
    bay_labels: Sequence[str] | None = None,
    dry_run: bool = False,
) -> ClosurePlan:
    """Close the zone or the named bays; cancel and notify the live bookings it hits."""
    zone = zones.get_active(session=session, zone_id=zone_id)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise RuleViolation("period", "A closure must end after it starts.")
    if end <= now:
        raise RuleViolation("period", "That closure would be over already.")
    bay_ids: list[int] | None = None
    if bay_labels:
        bays = {b.label: b for b in zones.bays_of(session=session, zone_id=zone_id)}
        unknown = sorted(set(bay_labels) - set(bays))
        if unknown:
            raise RuleViolation("bays", f"{zone.name} has no bay {', '.join(unknown)}.")
        bay_ids = sorted(bays[label].id or 0 for label in set(bay_labels))
    closure = Closure(
        zone_id=zone_id,
        bay_ids=bay_ids,
        start_at=start,
        end_at=end,
        reason=reason.strip(),
        created_by=operator.id,
        created_at=now,
    )
    hit = [
        r
        for r in availability.live_reservations(
            session=session, zone_ids=[zone_id], start=start, end=end
        )
        if bay_ids is None or r.bay_id in bay_ids
    ]
    if dry_run:
        return ClosurePlan(closure, hit)
    session.add(closure)
    for reservation in hit:
        reservation.cancel_reason = "closure"
        history.transition(
            session=session,
            reservation=reservation,
            to=CANCELLED,
            at=now,
            actor=f"account:{operator.id}",
            detail={"closure_reason": closure.reason},
        )
        notifications.notify(
            session=session,
            account_id=reservation.account_id,
            kind="cancelled_by_closure",
            message=(
                f"Your booking {reservation.code} in {zone.name} was cancelled: {closure.reason}."
            ),
            now=now,
            reservation=reservation,
        )
    session.flush()
    return ClosurePlan(closure, hit)


def list_for_zone(
    *, session: Session, zone_id: str, after: datetime | None = None
) -> list[Closure]:
    """The zone's closures, optionally only those still running after a time."""
    zones.get(session=session, zone_id=zone_id)
    query = select(Closure).where(Closure.zone_id == zone_id)
    if after is not None:
        query = query.where(col(Closure.end_at) > after)
    return list(session.exec(query.order_by(col(Closure.start_at))))


def lift(*, session: Session, zone_id: str, closure_id: int) -> None:
    """Remove a closure (cancelled bookings stay cancelled)."""
    closure = session.get(Closure, closure_id)
    if closure is None or closure.zone_id != zone_id:
        raise NotFound("That zone has no such closure.")
    session.delete(closure)
    session.flush()

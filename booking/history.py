"""Reservation transitions: the state machine of DESIGN.md, each step recorded with its time."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from booking.errors import RuleViolation
from booking.tables import Reservation, ReservationEvent
from booking.tables.reservations import (
    ACTIVE,
    BOOKED,
    CANCELLED,
    COMPLETED,
    NO_SHOW,
    OVERSTAY,
)

ALLOWED = {
    BOOKED: {ACTIVE, CANCELLED, NO_SHOW},
    ACTIVE: {COMPLETED, OVERSTAY, CANCELLED},
    OVERSTAY: {COMPLETED, CANCELLED},
}
_STAMP = {
    ACTIVE: "activated_at",
    COMPLETED: "completed_at",
    CANCELLED: "cancelled_at",
    NO_SHOW: "no_show_at",
    OVERSTAY: "overstay_at",
}


def transition(
    *,
    session: Session,
    reservation: Reservation,
    to: str,
    at: datetime,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move a reservation to `to`, stamp the time and record the event."""
    if to not in ALLOWED.get(reservation.status, set()):
        raise RuleViolation(
            "status", f"A reservation that is {reservation.status} cannot become {to}."
        )
    reservation.status = to
    setattr(reservation, _STAMP[to], at)
    reservation.updated_at = at
    session.add(reservation)
    record(session=session, reservation=reservation, kind=to, at=at, actor=actor, detail=detail)


def record(
    *,
    session: Session,
    reservation: Reservation,
    kind: str,
    at: datetime,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an event to the reservation's history."""
    session.add(
        ReservationEvent(
            reservation_id=reservation.id, kind=kind, at=at, actor=actor, detail=detail or {}
        )
    )


def events_of(*, session: Session, reservation_id: str) -> list[ReservationEvent]:
    """A reservation's history, oldest first."""
    query = select(ReservationEvent).where(ReservationEvent.reservation_id == reservation_id)
    return list(session.exec(query.order_by(col(ReservationEvent.at), col(ReservationEvent.id))))

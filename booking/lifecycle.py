"""Time-driven transitions, run every minute by the scheduler: no-shows, overstays, endings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from booking import history, notifications, violations
from booking.policy import Policy
from booking.tables import Bay, Notification, Reservation
from booking.tables.reservations import ACTIVE, BOOKED, COMPLETED, NO_SHOW, OVERSTAY

ACTOR = "lifecycle"
STARTS_SOON = timedelta(minutes=10)
ENDS_SOON = timedelta(minutes=5)


@dataclass
class LifecycleResult:
    """How many reservations each step moved."""

    no_shows: int = 0
    overstays: int = 0
    completed: int = 0
    reminders: int = 0


def run(*, session: Session, now: datetime, policy: Policy) -> LifecycleResult:
    """Apply every transition that time alone decides, as of `now`."""
    result = LifecycleResult()
    due = select(Reservation).where(
        Reservation.status == BOOKED, col(Reservation.start_at) < now - policy.grace
    )
    for reservation in session.exec(due).all():
        history.transition(
            session=session, reservation=reservation, to=NO_SHOW, at=now, actor=ACTOR
        )
        notifications.notify(
            session=session,
            account_id=reservation.account_id,
            kind="no_show",
            message=(
                f"Nobody arrived for booking {reservation.code} within "
                f"{int(policy.grace.total_seconds() // 60)} minutes; the bay was released."
            ),
            now=now,
            reservation=reservation,
        )
        violations.open_once(
            session=session,
            kind=violations.NO_SHOW,
            zone_id=reservation.zone_id,
            bay_id=reservation.bay_id,
            reservation_id=reservation.id,
            plate=reservation.plate,
            now=now,
        )
        result.no_shows += 1
    ended = (
        select(Reservation, Bay.sensor_id)
        .join(Bay, col(Bay.id) == Reservation.bay_id)
        .where(Reservation.status == ACTIVE, col(Reservation.end_at) <= now)
    )
    for reservation, sensor_id in session.exec(ended).all():
        # A sensor tells when the vehicle leaves; without one, the booking's end is all we know.
        if sensor_id:
            history.transition(
                session=session, reservation=reservation, to=OVERSTAY, at=now, actor=ACTOR
            )
            result.overstays += 1
        else:
            history.transition(
                session=session, reservation=reservation, to=COMPLETED, at=now, actor=ACTOR
            )
            result.completed += 1
    result.reminders = _remind(session=session, now=now)
    session.flush()
    return result


def _remind(*, session: Session, now: datetime) -> int:
    """ "Starts soon" and "5 minutes left", each sent once per booking."""
    due = list(
        session.exec(
            select(Reservation).where(
                ((Reservation.status == BOOKED) & (col(Reservation.start_at) <= now + STARTS_SOON)
                 & (col(Reservation.start_at) > now))
                | ((Reservation.status == ACTIVE) & (col(Reservation.end_at) <= now + ENDS_SOON)
                   & (col(Reservation.end_at) > now))
            )
        )
    )  # fmt: skip
    if not due:
        return 0
    sent = set(
        session.exec(
            select(Notification.reservation_id, Notification.kind).where(
                col(Notification.reservation_id).in_([r.id for r in due]),
                col(Notification.kind).in_(("starts_soon", "ends_soon")),
            )
        ).all()
    )
    count = 0
    for reservation in due:
        kind = "starts_soon" if reservation.status == BOOKED else "ends_soon"
        if (reservation.id, kind) in sent:
            continue
        minutes = int(
            (
                (reservation.start_at if kind == "starts_soon" else reservation.end_at) - now
            ).total_seconds()
            // 60
        )
        message = (
            f"Your booking {reservation.code} starts in {minutes} min."
            if kind == "starts_soon"
            else f"{minutes} min left on booking {reservation.code}; extend it if you need longer."
        )
        notifications.notify(
            session=session, account_id=reservation.account_id, kind=kind, message=message,
            now=now, reservation=reservation,
        )  # fmt: skip
        count += 1
    return count

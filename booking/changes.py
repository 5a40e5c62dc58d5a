"""What happens to a booking after it is made: cancel, extend, check in, check out, move."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from booking import accounts, availability, history, notifications, reservations, rules, zones
from booking.errors import RuleViolation
from booking.policy import Policy
from booking.tables import Account, Bay, Reservation
from booking.tables.reservations import ACTIVE, BOOKED, CANCELLED, COMPLETED, OVERSTAY


def _actor(account: Account) -> str:
    return f"account:{account.id}"


def cancel(
    *,
    session: Session,
    reservation: Reservation,
    account: Account,
    now: datetime,
    reason: str = "driver",
) -> Reservation:
    """Cancel a booking that has not started being used; staff may cancel any live one."""
    staff = account.role in accounts.STAFF
    if reservation.status != BOOKED and not (staff and reservation.status in (ACTIVE, OVERSTAY)):
        raise RuleViolation(
            "cancel",
            "Only bookings not yet checked in can be cancelled; check out instead."
            if reservation.status == ACTIVE
            else f"This booking is {reservation.status} and cannot be cancelled.",
        )
    reservation.cancel_reason = "operator" if staff and reason == "driver" else reason
    history.transition(
        session=session, reservation=reservation, to=CANCELLED, at=now, actor=_actor(account)
    )
    session.flush()
    return reservation


def extend(
    *,
    session: Session,
    reservation: Reservation,
    account: Account,
    minutes: int,
    now: datetime,
    policy: Policy,
) -> Reservation:
    """Push the end back if the bay stays free and the zone's max stay and hours allow it."""
    if reservation.status not in (BOOKED, ACTIVE):
        raise RuleViolation("extend", f"A {reservation.status} booking cannot be extended.")
    if reservation.end_at <= now:
        raise RuleViolation("extend", "This booking has ended; book again instead.")
    zone = zones.get(session=session, zone_id=reservation.zone_id)
    new_end = reservation.end_at + timedelta(minutes=minutes)
    rules.check_period(
        zone,
        reservation.start_at,
        new_end,
        now=now,
        policy=policy,
        # Bookings made "now" (by drivers or staff) need not sit on 5-minute marks.
        on_arrival=reservation.source != "advance",
        check_start=False,
    )
    later = availability.window(
        session=session, zone=zone, start=reservation.end_at, end=new_end, exclude_id=reservation.id
    )
    bay = next(w for w in later.bays if w.bay.id == reservation.bay_id)
    if not bay.free_during(reservation.end_at, new_end):
        raise RuleViolation(
            "bay_taken", "The bay is booked by someone else right after you; it cannot be extended."
        )
    reservations._check_vehicle_free(
        session=session, plate=reservation.plate, start=reservation.end_at, end=new_end
    )
    old_end = reservation.end_at
    try:
        with session.begin_nested():
            reservation.end_at = new_end
            reservation.updated_at = now
            session.add(reservation)
            session.flush()
    except IntegrityError:
        raise RuleViolation(
            "bay_taken", "The bay was just booked by someone else; it cannot be extended."
        ) from None
    history.record(
        session=session,
        reservation=reservation,
        kind="extended",
        at=now,
        actor=_actor(account),
        detail={"from": old_end.isoformat(), "to": new_end.isoformat()},
    )
    session.flush()
    return reservation


def check_in(
    *, session: Session, reservation: Reservation, now: datetime, policy: Policy, actor: str
) -> Reservation:
    """The vehicle has arrived: from the start minus the early-arrival window until the end."""
    if reservation.status != BOOKED:
        raise RuleViolation("check_in", f"A {reservation.status} booking cannot be checked in.")
    if now < reservation.start_at - policy.early_arrival:
        opens = reservation.start_at - policy.early_arrival
        raise RuleViolation("check_in", f"Too early: check-in opens at {opens.isoformat()}.")
    if now >= reservation.end_at:
        raise RuleViolation("check_in", "This booking has already ended.")
    history.transition(session=session, reservation=reservation, to=ACTIVE, at=now, actor=actor)
    session.flush()
    return reservation


def check_out(
    *, session: Session, reservation: Reservation, now: datetime, actor: str
) -> Reservation:
    """The vehicle has left."""
    if reservation.status not in (ACTIVE, OVERSTAY):
        raise RuleViolation(
            "check_out",
            f"Only a checked-in booking can be checked out; this one is {reservation.status}.",
        )
    history.transition(session=session, reservation=reservation, to=COMPLETED, at=now, actor=actor)
    session.flush()
    return reservation


def move(
    *, session: Session, reservation: Reservation, bay: Bay, now: datetime, actor: str, why: str
) -> Reservation:
    """Give the booking another bay of its zone (free for its window) and tell the driver."""
    old = session.get(Bay, reservation.bay_id)
    try:
        with session.begin_nested():
            reservation.bay_id = bay.id or 0
            reservation.updated_at = now
            session.add(reservation)
            session.flush()
    except IntegrityError:
        raise RuleViolation(
            "bay_taken", f"Bay {bay.label} was just booked by someone else."
        ) from None
    history.record(
        session=session,
        reservation=reservation,
        kind="moved",
        at=now,
        actor=actor,
        detail={"from_bay": old.label if old else None, "to_bay": bay.label, "why": why},
    )
    notifications.notify(
        session=session,
        account_id=reservation.account_id,
        kind="moved",
        message=f"Your booking {reservation.code} moved to bay {bay.label}: {why}.",
        now=now,
        reservation=reservation,
        data={"bay": bay.label},
    )
    session.flush()
    return reservation

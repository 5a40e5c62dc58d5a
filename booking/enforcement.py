"""Enforcement: may this plate stand in this zone now? Every lookup is logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from booking import audit, plates, zones
from booking.errors import RuleViolation
from booking.policy import Policy
from booking.tables import Account, Bay, Reservation
from booking.tables.reservations import ACTIVE, BOOKED, COMPLETED, OVERSTAY

VALID, EXPIRED, NONE = "valid", "expired", "none"
RECENT = timedelta(hours=2)


@dataclass(frozen=True)
class Verdict:
    """What an officer sees for a plate: valid, expired or none, with the booking if any."""

    result: str
    plate: str
    zone_id: str
    reservation: Reservation | None = None
    bay_label: str | None = None


def check(
    *, session: Session, plate: str, zone_id: str, officer: Account, now: datetime, policy: Policy
) -> Verdict:
    """Is there a valid booking for this plate in this zone now (booked within grace, or active)?"""
    try:
        canonical = plates.normalise(plate)
    except plates.PlateError as exc:
        raise RuleViolation("plate", str(exc)) from None
    zones.get(session=session, zone_id=zone_id)
    candidates = list(
        session.exec(
            select(Reservation)
            .where(
                Reservation.plate == canonical,
                Reservation.zone_id == zone_id,
                col(Reservation.start_at) <= now + policy.early_arrival,
                col(Reservation.end_at) > now - RECENT,
            )
            .order_by(col(Reservation.start_at).desc())
        )
    )
    verdict = Verdict(NONE, canonical, zone_id)
    for reservation in candidates:
        result = _judge(reservation, now=now, policy=policy)
        if result is not None:
            bay = session.get(Bay, reservation.bay_id)
            verdict = Verdict(result, canonical, zone_id, reservation, bay.label if bay else None)
            if result == VALID:
                break
    audit.record(
        session=session,
        viewer=officer,
        action="enforcement_check",
        subject=f"plate:{canonical}",
        zone_id=zone_id,
        outcome=verdict.result,
        now=now,
    )
    session.flush()
    return verdict


def _judge(reservation: Reservation, *, now: datetime, policy: Policy) -> str | None:
    in_window = reservation.start_at - policy.early_arrival <= now < reservation.end_at
    if reservation.status == ACTIVE and in_window:
        return VALID
    if reservation.status == BOOKED and in_window and now <= reservation.start_at + policy.grace:
        return VALID
    if reservation.status in (ACTIVE, OVERSTAY, COMPLETED) and now >= reservation.end_at:
        return EXPIRED
    if reservation.status == OVERSTAY:
        return EXPIRED
    return None

"""Violations: what operators must see, opened once per cause and closed when it ends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from booking.errors import NotFound, RuleViolation
from booking.tables import Account, Violation
from booking.tables.sensors import ACKNOWLEDGED, OPEN, RESOLVED

UNRESERVED_OCCUPANCY = "unreserved_occupancy"
OVERSTAY = "overstay"
NO_SHOW = "no_show"
SENSOR_OFFLINE = "sensor_offline"
BATTERY_LOW = "battery_low"
BAY_BLOCKED = "bay_blocked"
KINDS = (UNRESERVED_OCCUPANCY, OVERSTAY, NO_SHOW, SENSOR_OFFLINE, BATTERY_LOW, BAY_BLOCKED)
_UNRESOLVED = (OPEN, ACKNOWLEDGED)


def open_once(
    *,
    session: Session,
    kind: str,
    zone_id: str,
    now: datetime,
    bay_id: int | None = None,
    sensor_id: str | None = None,
    reservation_id: str | None = None,
    plate: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Violation:
    """Open a violation unless the same cause (kind, bay or sensor, booking) is still open."""
    query = select(Violation).where(Violation.kind == kind, col(Violation.status).in_(_UNRESOLVED))
    for column, value in (
        (Violation.bay_id, bay_id),
        (Violation.sensor_id, sensor_id),
        (Violation.reservation_id, reservation_id),
    ):
        if value is not None:
            query = query.where(column == value)
    existing = session.exec(query).first()
    if existing is not None:
        return existing
    violation = Violation(
        kind=kind,
        zone_id=zone_id,
        bay_id=bay_id,
        sensor_id=sensor_id,
        reservation_id=reservation_id,
        plate=plate,
        detail=detail or {},
        opened_at=now,
    )
    session.add(violation)
    return violation


def close(
    *,
    session: Session,
    kind: str,
    now: datetime,
    bay_id: int | None = None,
    sensor_id: str | None = None,
    reservation_id: str | None = None,
) -> int:
    """Resolve the open violations of this cause because it ended; returns how many."""
    query = select(Violation).where(Violation.kind == kind, col(Violation.status).in_(_UNRESOLVED))
    if bay_id is not None:
        query = query.where(Violation.bay_id == bay_id)
    if sensor_id is not None:
        query = query.where(Violation.sensor_id == sensor_id)
    if reservation_id is not None:
        query = query.where(Violation.reservation_id == reservation_id)
    closed = 0
    for violation in session.exec(query):
        violation.status, violation.resolved_at, violation.resolution = RESOLVED, now, "cause_ended"
        session.add(violation)
        closed += 1
    return closed


def list_(
    *,
    session: Session,
    status: str | None = None,
    kind: str | None = None,
    zone_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Violation]:
    """Violations, newest first, filtered."""
    query = select(Violation)
    if status:
        query = query.where(Violation.status == status)
    if kind:
        query = query.where(Violation.kind == kind)
    if zone_id:
        query = query.where(Violation.zone_id == zone_id)
    query = query.order_by(col(Violation.opened_at).desc(), col(Violation.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def acknowledge(
    *, session: Session, violation_id: int, operator: Account, now: datetime
) -> Violation:
    """An operator has seen it and is on it."""
    violation = _get(session, violation_id)
    if violation.status == RESOLVED:
        raise RuleViolation("status", "This violation is resolved already.")
    violation.status, violation.acknowledged_at, violation.acknowledged_by = (
        ACKNOWLEDGED,
        now,
        operator.id,
    )
    session.add(violation)
    session.flush()
    return violation


def resolve(
    *,
    session: Session,
    violation_id: int,
    operator: Account,
    now: datetime,
    resolution: str = "handled",
) -> Violation:
    """An operator closes it (fined, towed, false alarm...)."""
    violation = _get(session, violation_id)
    if violation.status == RESOLVED:
        raise RuleViolation("status", "This violation is resolved already.")
    violation.status, violation.resolved_at, violation.resolved_by = RESOLVED, now, operator.id
    violation.resolution = resolution
    session.add(violation)
    session.flush()
    return violation


def _get(session: Session, violation_id: int) -> Violation:
    violation = session.get(Violation, violation_id)
    if violation is None:
        raise NotFound("There is no such violation.")
    return violation

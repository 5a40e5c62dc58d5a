"""Reconciliation: what sensor readings mean for bookings. The one home for these rules.

Arrival on a booked bay confirms the booking; a driver on another free bay of the zone is
moved there; a stranger becomes a violation after a tolerance (the sweep); departure ends
the booking; silence makes a bay unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from booking import alternatives, availability, changes, history, hours, notifications, violations
from booking.errors import RuleViolation
from booking.policy import Policy
from booking.tables import Bay, BayState, OccupancyEvent, Reservation, Sensor, Violation, Zone
from booking.tables.reservations import ACTIVE, BOOKED, OVERSTAY
from booking.tables.sensors import OCCUPIED, UNKNOWN


@dataclass(frozen=True)
class Change:
    """A bay that became occupied or free at the sensor's time `at`."""

    bay: Bay
    occupied: bool
    at: datetime


def on_changes(
    *, session: Session, changed: Sequence[Change], now: datetime, policy: Policy
) -> None:
    """Act on state changes: confirm, move or complete bookings."""
    found = list(changed)
    if not found:
        return
    zone_ids = sorted({c.bay.zone_id for c in found})
    earliest = min(c.at for c in found) - policy.early_arrival
    latest = max(c.at for c in found) + policy.early_arrival
    live = availability.live_reservations(
        session=session, zone_ids=zone_ids, start=earliest, end=latest
    )
    states = {
        s.bay_id: s
        for s in session.exec(select(BayState).where(col(BayState.zone_id).in_(zone_ids)))
    }
    for change in found:
        actor = f"sensor:{change.bay.sensor_id}"
        if change.occupied:
            _arrived(session, change, live, states, actor=actor, now=now, policy=policy)
        else:
            _left(session, change, live, actor=actor, now=now)


def _arrived(
    session: Session,
    change: Change,
    live: list[Reservation],
    states: dict[int, BayState],
    *,
    actor: str,
    now: datetime,
    policy: Policy,
) -> None:
    def due(r: Reservation) -> bool:
        return r.status == BOOKED and r.start_at - policy.early_arrival <= change.at < r.end_at

    here = [r for r in live if r.bay_id == change.bay.id]
    if any(r.status in (ACTIVE, OVERSTAY) for r in here):
        return
    mine = next((r for r in here if due(r)), None)
    if mine is not None:
        changes.check_in(
            session=session, reservation=mine, now=change.at, policy=policy, actor=actor
        )
        return
    # A booked driver who parked on another free bay of the zone is moved here, not flagged.
    elsewhere = [
        r
        for r in live
        if r.zone_id == change.bay.zone_id
        and r.bay_id != change.bay.id
        and due(r)
        and getattr(states.get(r.bay_id), "state", UNKNOWN) != OCCUPIED
        and not any(
            o.bay_id == change.bay.id
            and o.id != r.id
            and o.start_at < r.end_at
            and r.start_at < o.end_at
            for o in live
        )
    ]
    if elsewhere:
        moved = min(elsewhere, key=lambda r: r.start_at)
        changes.move(
            session=session, reservation=moved, bay=change.bay, now=now, actor=actor,
            why="you parked on this bay",
        )  # fmt: skip
        changes.check_in(
            session=session, reservation=moved, now=change.at, policy=policy, actor=actor
        )


def _left(
    session: Session, change: Change, live: list[Reservation], *, actor: str, now: datetime
) -> None:
    for reservation in live:
        if reservation.bay_id == change.bay.id and reservation.status in (ACTIVE, OVERSTAY):
            changes.check_out(session=session, reservation=reservation, now=change.at, actor=actor)
            violations.close(
                session=session, kind=violations.OVERSTAY, reservation_id=reservation.id, now=now
            )
    violations.close(
        session=session, kind=violations.UNRESERVED_OCCUPANCY, bay_id=change.bay.id, now=now
    )


@dataclass
class SweepResult:
    """What one sweep opened or marked."""

    unreserved: int = 0
    displaced: int = 0
    offline: int = 0
    overstays: int = 0


def sweep(*, session: Session, now: datetime, policy: Policy) -> SweepResult:
    """The time-driven checks: strangers past the tolerance, silent sensors, overstays."""
    result = SweepResult()
    _strangers(session, now=now, policy=policy, result=result)
    _silent_sensors(session, now=now, result=result)
    for reservation in session.exec(
        select(Reservation).where(Reservation.status == OVERSTAY)
    ).all():
        before = violations.open_once(
            session=session,
            kind=violations.OVERSTAY,
            zone_id=reservation.zone_id,
            bay_id=reservation.bay_id,
            reservation_id=reservation.id,
            plate=reservation.plate,
            now=now,
            detail={"ended": reservation.end_at.isoformat()},
        )
        result.overstays += before.id is None
    session.flush()
    return result


def _strangers(session: Session, *, now: datetime, policy: Policy, result: SweepResult) -> None:
    occupied = session.exec(
        select(BayState, Bay, Zone)
        .join(Bay, col(Bay.id) == BayState.bay_id)
        .join(Zone, col(Zone.id) == BayState.zone_id)
        .where(BayState.state == OCCUPIED, col(BayState.since) <= now - policy.unreserved_tolerance)
    ).all()
    for state, bay, zone in occupied:
        local = now.astimezone(hours.zone_info(zone.timezone))
        if not hours.LoadingHours.parse(zone.loading_hours).is_open(local):
            continue
        live = availability.live_reservations(
            session=session,
            zone_ids=[zone.id],
            start=now - policy.early_arrival,
            end=now + policy.displace_within,
        )
        if any(r.bay_id == bay.id and r.status in (ACTIVE, OVERSTAY) for r in live):
            continue
        opened = violations.open_once(
            session=session,
            kind=violations.UNRESERVED_OCCUPANCY,
            zone_id=zone.id,
            bay_id=bay.id,
            sensor_id=bay.sensor_id,
            now=now,
            detail={"since": state.since.isoformat() if state.since else None},
        )
        if opened.id is not None:
            continue  # seen in an earlier sweep: its bookings were handled then
        result.unreserved += 1
        upcoming = [
            r
            for r in live
            if r.bay_id == bay.id
            and r.status == BOOKED
            and r.start_at <= now + policy.displace_within
        ]
        for reservation in upcoming:
            result.displaced += _displace(session, zone, reservation, now=now, policy=policy)


def _displace(
    session: Session, zone: Zone, reservation: Reservation, *, now: datetime, policy: Policy
) -> int:
    """Move a booking off a blocked bay, or tell its driver what else would work."""
    window = availability.window(
        session=session,
        zone=zone,
        start=reservation.start_at,
        end=reservation.end_at,
        exclude_id=reservation.id,
    )
    states = {
        s.bay_id: s.state for s in session.exec(select(BayState).where(BayState.zone_id == zone.id))
    }
    free = [
        b
        for b in window.free_bays()
        if b.id != reservation.bay_id and states.get(b.id or 0) != OCCUPIED
    ]
    if free:
        changes.move(
            session=session, reservation=reservation, bay=free[0], now=now, actor="reconcile",
            why="your bay is blocked by another vehicle",
        )  # fmt: skip
        return 1
    options = alternatives.for_full_zone(
        session=session,
        zone=zone,
        start=reservation.start_at,
        end=reservation.end_at,
        now=now,
        policy=policy,
    )
    notifications.notify(
        session=session,
        account_id=reservation.account_id,
        kind="bay_blocked",
        message=f"Your bay in {zone.name} is blocked by another vehicle and no other bay is free.",
        now=now,
        reservation=reservation,
        data={"alternatives": [o.as_dict() for o in options]},
    )
    history.record(
        session=session, reservation=reservation, kind="bay_blocked", at=now, actor="reconcile"
    )
    return 0


def _silent_sensors(session: Session, *, now: datetime, result: SweepResult) -> None:
    for sensor in session.exec(select(Sensor).where(col(Sensor.offline).is_(False))).all():
        # A sensor that never spoke is measured from its enrolment.
        heard = sensor.last_seen_at or sensor.created_at
        if (now - heard).total_seconds() <= sensor.heartbeat_s:
            continue
        sensor.offline = True
        session.add(sensor)
        bay = session.exec(select(Bay).where(Bay.sensor_id == sensor.id)).first()
        if bay is None:
            continue
        state = session.get(BayState, bay.id)
        if state is not None and state.state != UNKNOWN:
            state.state, state.updated_at = UNKNOWN, now
            session.add(state)
        session.add(
            OccupancyEvent(
                bay_id=bay.id or 0,
                zone_id=bay.zone_id,
                sensor_id=sensor.id,
                kind="comms_lost",
                at=now,
                received_at=now,
            )
        )
        violations.open_once(
            session=session,
            kind=violations.SENSOR_OFFLINE,
            zone_id=bay.zone_id,
            bay_id=bay.id,
            sensor_id=sensor.id,
            now=now,
            detail={"last_seen": heard.isoformat()},
        )
        result.offline += 1


@dataclass(frozen=True)
class BlockedReport:
    """What a driver's "bay blocked" report did: the violation, a move, or alternatives."""

    violation: Violation
    reservation: Reservation
    moved: bool
    alternatives: list[dict[str, object]]


def report_blocked(
    *, session: Session, reservation: Reservation, now: datetime, policy: Policy
) -> BlockedReport:
    """A driver finds the bay taken: tell operators; move the booking if another bay is free."""
    if reservation.status not in (BOOKED, ACTIVE):
        raise RuleViolation(
            "status", f"A {reservation.status} booking cannot report its bay as blocked."
        )
    zone = session.get(Zone, reservation.zone_id)
    assert zone is not None
    violation = violations.open_once(
        session=session,
        kind=violations.BAY_BLOCKED,
        zone_id=zone.id,
        bay_id=reservation.bay_id,
        reservation_id=reservation.id,
        now=now,
        detail={"reported_by": "driver"},
    )
    start = max(reservation.start_at, now)
    window = availability.window(
        session=session,
        zone=zone,
        start=start,
        end=reservation.end_at,
        exclude_id=reservation.id,
        now=now,
    )
    free = [b for b in window.free_bays() if b.id != reservation.bay_id]
    if free:
        changes.move(
            session=session, reservation=reservation, bay=free[0], now=now, actor="driver",
            why="your bay was reported blocked",
        )  # fmt: skip
        session.flush()
        return BlockedReport(violation, reservation, True, [])
    options = alternatives.for_full_zone(
        session=session, zone=zone, start=start, end=reservation.end_at, now=now, policy=policy
    )
    session.flush()
    return BlockedReport(violation, reservation, False, [o.as_dict() for o in options])

"""Booking a bay: resolve the request, check the rules, allocate a bay, never double-book."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from booking import (
    accounts,
    alternatives,
    availability,
    codes,
    history,
    notifications,
    plates,
    rules,
    zones,
)
from booking.errors import NotFound, RuleViolation, ZoneFull
from booking.policy import Policy
from booking.tables import Account, Bay, Reservation, Vehicle, Zone
from booking.tables.reservations import ACTIVE, BOOKED, LIVE

ADVANCE, ON_ARRIVAL, OPERATOR = "advance", "on_arrival", "operator"
CODE_DRAWS = 5
DEFAULT_VEHICLE_LENGTH_M = 7.0


@dataclass(frozen=True)
class BookingRequest:
    """What a driver asks for; `start=None` means now (booking on arrival)."""

    zone_id: str
    start: datetime | None = None
    end: datetime | None = None
    duration_min: int | None = None
    vehicle_id: int | None = None
    plate: str | None = None
    vehicle_length_m: float | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """A hash of everything but the key, to tell a retry from a different request."""
        fields = asdict(self)
        fields.pop("idempotency_key")
        if fields["plate"]:
            fields["plate"] = plates.normalise(fields["plate"])
        canonical = json.dumps(fields, sort_keys=True, default=lambda v: v.isoformat())
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Booked:
    """A booking made, or the one an earlier request with the same idempotency key made."""

    reservation: Reservation
    replayed: bool = False


def book(
    *, session: Session, request: BookingRequest, account: Account, now: datetime, policy: Policy
) -> Booked:
    """Reserve a bay for the request, or raise RuleViolation / ZoneFull / NotFound."""
    replay = _replay(session=session, request=request, account=account)
    if replay is not None:
        return Booked(replay, replayed=True)
    zone = zones.get(session=session, zone_id=request.zone_id)
    rules.check_zone_bookable(zone)
    on_arrival = request.start is None
    # Stored and answered in UTC, whatever offset the request carried.
    start = (now.replace(microsecond=0) if request.start is None else request.start).astimezone(UTC)
    end = _end_of(request, start).astimezone(UTC)
    vehicle = resolve_vehicle(session=session, request=request, account=account, now=now)
    if account.role not in accounts.STAFF:
        rules.check_user_class(zone, account)
    rules.check_vehicle_length(zone, vehicle.length_m)
    rules.check_period(zone, start, end, now=now, policy=policy, on_arrival=on_arrival)
    _check_zone_open(session=session, zone=zone, start=start, end=end)
    if session.get_bind().dialect.name != "postgresql":
        # PostgreSQL's exclusion constraint on the plate refuses this at insert time.
        _check_vehicle_free(session=session, plate=vehicle.plate, start=start, end=end)
    _check_live_limit(session=session, account=account, vehicle=vehicle, now=now, policy=policy)
    source = OPERATOR if account.role in accounts.STAFF else ON_ARRIVAL if on_arrival else ADVANCE
    reservation, bay = _allocate(
        session=session,
        zone=zone,
        start=start,
        end=end,
        now=now,
        policy=policy,
        fields={
            "account_id": account.id,
            "vehicle_id": vehicle.id,
            "plate": vehicle.plate,
            "source": source,
            "idempotency_key": request.idempotency_key,
            "request_hash": request.fingerprint() if request.idempotency_key else None,
        },
    )
    history.record(
        session=session, reservation=reservation, kind=BOOKED, at=now, actor=f"account:{account.id}"
    )
    notifications.notify(
        session=session,
        account_id=reservation.account_id,
        kind="confirmed",
        message=(f"Booked {zone.name}, bay {bay.label}, code {reservation.code}."),
        now=now,
        reservation=reservation,
    )
    session.flush()
    return Booked(reservation)


def resolve_vehicle(
    *, session: Session, request: BookingRequest, account: Account, now: datetime
) -> Vehicle:
    """The vehicle named by id or plate; a new plate is registered to the account on the fly."""
    if request.vehicle_id is not None:
        return accounts.vehicle_of(session=session, account=account, vehicle_id=request.vehicle_id)
    if not request.plate:
        raise RuleViolation("vehicle", "Say which vehicle: give vehicle_id or plate.")
    try:
        plate = plates.normalise(request.plate)
    except plates.PlateError as exc:
        raise RuleViolation("plate", str(exc)) from None
    known = accounts.vehicle_by_plate(session=session, account=account, plate=plate)
    if known is not None:
        return known
    return accounts.add_vehicle(
        session=session,
        account=account,
        plate=request.plate,
        length_m=request.vehicle_length_m or DEFAULT_VEHICLE_LENGTH_M,
        now=now,
    )


def get_for(*, session: Session, account: Account, reservation_id: str) -> Reservation:
    """A reservation the account may see; NotFound otherwise, so existence does not leak."""
    reservation = session.get(Reservation, reservation_id)
    if reservation is None or not _may_see(
        session=session, account=account, reservation=reservation
    ):
        raise NotFound("You have no reservation with that id.")
    return reservation


def list_for(
    *,
    session: Session,
    account: Account,
    zone_id: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Reservation]:
    """Reservations the account may see (own; the fleet's; all for staff), newest start first."""
    query = select(Reservation)
    if account.role == accounts.FLEET_MANAGER and account.fleet_id is not None:
        fleet_vehicles = select(Vehicle.id).where(Vehicle.fleet_id == account.fleet_id)
        fleet_accounts = select(Account.id).where(Account.fleet_id == account.fleet_id)
        query = query.where(
            (col(Reservation.account_id) == account.id)
            | col(Reservation.vehicle_id).in_(fleet_vehicles)
            | col(Reservation.account_id).in_(fleet_accounts)
        )
    elif account.role not in accounts.STAFF:
        query = query.where(Reservation.account_id == account.id)
    if zone_id:
        query = query.where(Reservation.zone_id == zone_id)
    if status:
        query = query.where(Reservation.status == status)
    if start:
        query = query.where(col(Reservation.end_at) > start)
    if end:
        query = query.where(col(Reservation.start_at) < end)
    query = query.order_by(col(Reservation.start_at).desc(), col(Reservation.id))
    return list(session.exec(query.offset(offset).limit(limit)))


def _may_see(*, session: Session, account: Account, reservation: Reservation) -> bool:
    if account.role in accounts.STAFF or reservation.account_id == account.id:
        return True
    if account.role != accounts.FLEET_MANAGER or account.fleet_id is None:
        return False
    vehicle = session.get(Vehicle, reservation.vehicle_id) if reservation.vehicle_id else None
    owner = session.get(Account, reservation.account_id)
    return (vehicle is not None and vehicle.fleet_id == account.fleet_id) or (
        owner is not None and owner.fleet_id == account.fleet_id
    )


def _replay(*, session: Session, request: BookingRequest, account: Account) -> Reservation | None:
    if not request.idempotency_key:
        return None
    earlier = session.exec(
        select(Reservation).where(
            Reservation.account_id == account.id,
            Reservation.idempotency_key == request.idempotency_key,
        )
    ).first()
    if earlier is None:
        return None
    if earlier.request_hash != request.fingerprint():
        raise RuleViolation(
            "idempotency_key",
            "This Idempotency-Key was used for a different booking; use a new key for a new one.",
        )
    return earlier


def _end_of(request: BookingRequest, start: datetime) -> datetime:
    if request.end is not None and request.duration_min is not None:
        raise RuleViolation("period", "Give either end or duration_min, not both.")
    if request.end is not None:
        return request.end
    if request.duration_min is not None:
        return start + timedelta(minutes=request.duration_min)
    raise RuleViolation("period", "Say how long: give end or duration_min.")


def _check_zone_open(*, session: Session, zone: Zone, start: datetime, end: datetime) -> None:
    for closure in availability.closures(session=session, zone_ids=[zone.id], start=start, end=end):
        if closure.bay_ids is None:
            raise RuleViolation(
                "zone_closed",
                f"{zone.name} is closed from {closure.start_at.isoformat()} to "
                f"{closure.end_at.isoformat()}: {closure.reason}.",
            )


def _check_vehicle_free(*, session: Session, plate: str, start: datetime, end: datetime) -> None:
    clash = session.exec(
        select(Reservation.id).where(
            Reservation.plate == plate,
            col(Reservation.status).in_(LIVE),
            col(Reservation.start_at) < end,
            col(Reservation.end_at) > start,
        )
    ).first()
    if clash is not None:
        raise RuleViolation("vehicle_overlap", "This vehicle already has a booking at that time.")


def _check_live_limit(
    *, session: Session, account: Account, vehicle: Vehicle, now: datetime, policy: Policy
) -> None:
    if account.role in accounts.STAFF:
        return
    # Fleet managers book for many vans: their limit is per vehicle, a driver's per account.
    owner = (
        Reservation.vehicle_id == vehicle.id
        if account.role == accounts.FLEET_MANAGER
        else Reservation.account_id == account.id
    )
    live = session.exec(
        select(func.count()).where(
            owner, col(Reservation.status).in_((BOOKED, ACTIVE)), col(Reservation.end_at) > now
        )
    ).one()
    if live >= policy.max_live_bookings:
        raise RuleViolation(
            "max_live_bookings",
            f"You have {live} bookings still to come; at most {policy.max_live_bookings} "
            "are allowed at once. Cancel one to book another.",
        )


def _allocate(
    *,
    session: Session,
    zone: Zone,
    start: datetime,
    end: datetime,
    now: datetime,
    policy: Policy,
    fields: dict[str, object],
) -> tuple[Reservation, Bay]:
    if zone.reservable_share < 1:
        # The share is a count over all bays: serialise the zone's bookings so two
        # transactions cannot both take the last reservable slot.
        session.exec(select(Zone.id).where(Zone.id == zone.id).with_for_update()).first()
    window = availability.window(session=session, zone=zone, start=start, end=end, now=now)
    _check_reservable_share(session=session, zone=zone, window=window, start=start, end=end)
    for bay in window.free_bays():
        for _ in range(CODE_DRAWS):
            reservation = Reservation(
                id=str(uuid.uuid4()),
                code=codes.draw(),
                zone_id=zone.id,
                bay_id=bay.id,
                start_at=start,
                end_at=end,
                status=BOOKED,
                created_at=now,
                updated_at=now,
                **fields,
            )
            try:
                with session.begin_nested():
                    session.add(reservation)
                    session.flush()
                return reservation, bay
            except IntegrityError as exc:
                clash = _constraint(exc)
                if "live_code" in clash or "reservations.code" in clash:
                    continue  # the code is taken by a live booking: draw another
                if clash == "ex_reservations_plate_overlap":
                    raise RuleViolation(
                        "vehicle_overlap", "This vehicle already has a booking at that time."
                    ) from None
                break  # another transaction took this bay since we looked: try the next
    options = alternatives.for_full_zone(
        session=session, zone=zone, start=start, end=end, now=now, policy=policy
    )
    raise ZoneFull(
        f"All bays of {zone.name} are taken at that time.", [o.as_dict() for o in options]
    )


def _check_reservable_share(
    *, session: Session, zone: Zone, window: availability.ZoneWindow, start: datetime, end: datetime
) -> None:
    if zone.reservable_share >= 1:
        return
    reservable = math.floor(len(window.bays) * zone.reservable_share)
    booked = [
        (busy.start, busy.end)
        for bay in window.bays
        for busy in bay.busy
        if busy.kind == "reserved"
    ]
    if availability.max_concurrent(booked) >= reservable:
        raise ZoneFull(
            f"All bookable bays of {zone.name} are taken at that time; the other "
            f"{len(window.bays) - reservable} are first come, first served.",
            [],
        )


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) or str(exc.orig)

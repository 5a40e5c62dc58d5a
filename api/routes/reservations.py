"""Reservations over REST: book, list, read, cancel, extend, check in and out."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime, BaseModel
from sqlmodel import Session

from api.deps import BookingSettingsDep, ClockDep, CurrentAccount, DbDep
from api.errors import PROBLEM_RESPONSES
from api.schemas_reservations import ExtendIn, ReservationIn, ReservationOut
from booking import accounts, audit, changes, reconcile, reservations, zones
from booking.tables import Account, Reservation
from booking.tables.reservations import STATUSES

router = APIRouter(
    prefix="/api/v1/reservations", tags=["reservations"], responses=PROBLEM_RESPONSES
)
StatusFilter = Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")]


def views(session: Session, found: Sequence[Reservation]) -> list[ReservationOut]:
    """Reservations with their zone names and bay labels."""
    names, bays = zones.labels(
        session=session, zone_ids=[r.zone_id for r in found], bay_ids=[r.bay_id for r in found]
    )
    return [
        ReservationOut.of(
            r, zone_name=names.get(r.zone_id, r.zone_id), bay_label=bays.get(r.bay_id, "?")
        )
        for r in found
    ]


@router.post("", status_code=201, responses={200: {"description": "Replay of an earlier request"}})
def create_reservation(
    body: ReservationIn,
    account: CurrentAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> ReservationOut:
    """Book a bay. Send an Idempotency-Key so a retried request never books twice.

    A full zone answers 409 with `alternatives`; a broken rule 422 with `rule`.
    """
    with db.write() as session:
        booked = reservations.book(
            session=session,
            request=body.to_domain(idempotency_key),
            account=account,
            now=clock(),
            policy=settings.policy(),
        )
        if booked.replayed:
            response.status_code = 200
        return views(session, [booked.reservation])[0]


@router.get("")
def list_reservations(
    account: CurrentAccount,
    db: DbDep,
    clock: ClockDep,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    status: StatusFilter = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ReservationOut]:
    """Your reservations (fleet managers: the fleet's; operators: all), newest first."""
    with db.write() if staff(account) else db.read() as session:
        found = reservations.list_for(
            session=session,
            account=account,
            zone_id=zone_id,
            status=status,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        _log_view(session, account, found, "reservations_list", clock(), zone_id)
        return views(session, found)


@router.get("/{reservation_id}")
def get_reservation(
    reservation_id: str, account: CurrentAccount, db: DbDep, clock: ClockDep
) -> ReservationOut:
    """One reservation; somebody else's answers 404."""
    with db.write() if staff(account) else db.read() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        _log_view(session, account, [found], "reservation_view", clock(), found.zone_id)
        return views(session, [found])[0]


def staff(account: Account) -> bool:
    """Staff views of bookings are logged, so they need a writing transaction."""
    return account.role in accounts.STAFF


def _log_view(
    session: Session,
    viewer: Account,
    found: Sequence[Reservation],
    action: str,
    now: datetime,
    zone_id: str | None,
) -> None:
    """Staff seeing other people's plates is personal-data access, and is logged."""
    others = [r for r in found if r.account_id != viewer.id]
    if others:
        subject = (
            f"reservation:{others[0].id}" if len(others) == 1 else f"{len(others)} reservations"
        )
        audit.record(
            session=session, viewer=viewer, action=action, subject=subject, zone_id=zone_id, now=now
        )


@router.post("/{reservation_id}/cancel")
def cancel_reservation(
    reservation_id: str, account: CurrentAccount, db: DbDep, clock: ClockDep
) -> ReservationOut:
    """Cancel a booking that is not checked in yet (operators: any live booking)."""
    with db.write() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        changes.cancel(session=session, reservation=found, account=account, now=clock())
        return views(session, [found])[0]


@router.post("/{reservation_id}/extend")
def extend_reservation(
    reservation_id: str,
    body: ExtendIn,
    account: CurrentAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
) -> ReservationOut:
    """Add minutes to the end, if the bay stays free and the zone's max stay allows."""
    with db.write() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        changes.extend(
            session=session,
            reservation=found,
            account=account,
            minutes=body.minutes,
            now=clock(),
            policy=settings.policy(),
        )
        return views(session, [found])[0]


@router.post("/{reservation_id}/check-in")
def check_in(
    reservation_id: str,
    account: CurrentAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
) -> ReservationOut:
    """Report arrival (for bays without a sensor)."""
    with db.write() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        changes.check_in(
            session=session,
            reservation=found,
            now=clock(),
            policy=settings.policy(),
            actor=f"account:{account.id}",
        )
        return views(session, [found])[0]


@router.post("/{reservation_id}/check-out")
def check_out(
    reservation_id: str, account: CurrentAccount, db: DbDep, clock: ClockDep
) -> ReservationOut:
    """Report departure (for bays without a sensor)."""
    with db.write() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        changes.check_out(
            session=session, reservation=found, now=clock(), actor=f"account:{account.id}"
        )
        return views(session, [found])[0]


class BlockedOut(BaseModel):
    """What reporting a blocked bay did: the violation, whether the booking moved, what else."""

    violation_id: int
    moved: bool
    reservation: ReservationOut
    alternatives: list[dict[str, Any]]


@router.post("/{reservation_id}/report-blocked")
def report_blocked(
    reservation_id: str,
    account: CurrentAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
) -> BlockedOut:
    """Someone else stands in your bay: operators are told; you get another bay or options."""
    with db.write() as session:
        found = reservations.get_for(
            session=session, account=account, reservation_id=reservation_id
        )
        report = reconcile.report_blocked(
            session=session, reservation=found, now=clock(), policy=settings.policy()
        )
        return BlockedOut(
            violation_id=report.violation.id or 0,
            moved=report.moved,
            reservation=views(session, [report.reservation])[0],
            alternatives=report.alternatives,
        )

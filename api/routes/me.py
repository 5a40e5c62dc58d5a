"""The logged-in account and its vehicles."""

from fastapi import APIRouter, Response

from api.deps import ClockDep, CurrentAccount, DbDep, IntId
from api.errors import PROBLEM_RESPONSES
from api.schemas import AccountOut, VehicleIn, VehicleOut
from api.schemas_reservations import NotificationOut
from booking import accounts, notifications

router = APIRouter(prefix="/api/v1/me", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.get("")
def me(account: CurrentAccount) -> AccountOut:
    """Who is logged in."""
    return AccountOut.of(account)


@router.get("/vehicles")
def list_vehicles(account: CurrentAccount, db: DbDep) -> list[VehicleOut]:
    """Vehicles this account may book for (a fleet manager sees the fleet's)."""
    with db.read() as session:
        return [VehicleOut.of(v) for v in accounts.vehicles_of(session=session, account=account)]


@router.post("/vehicles", status_code=201)
def add_vehicle(body: VehicleIn, account: CurrentAccount, db: DbDep, clock: ClockDep) -> VehicleOut:
    """Register a vehicle; the plate is stored normalised ("hh ab123" = "HH-AB 123")."""
    with db.write() as session:
        vehicle = accounts.add_vehicle(
            session=session, account=account, plate=body.plate, length_m=body.length_m, now=clock()
        )
        return VehicleOut.of(vehicle)


@router.delete("/vehicles/{vehicle_id}", status_code=204)
def remove_vehicle(vehicle_id: IntId, account: CurrentAccount, db: DbDep) -> Response:
    """Remove a vehicle from the account."""
    with db.write() as session:
        accounts.remove_vehicle(session=session, account=account, vehicle_id=vehicle_id)
    return Response(status_code=204)


@router.get("/notifications")
def list_notifications(
    account: CurrentAccount, db: DbDep, unread: bool = False
) -> list[NotificationOut]:
    """Your notifications, newest first: confirmations, cancellations, no-shows, moves."""
    with db.read() as session:
        found = notifications.list_for(session=session, account=account, unread_only=unread)
        return [NotificationOut.of(n) for n in found]


@router.post("/notifications/{notification_id}/read")
def read_notification(
    notification_id: IntId, account: CurrentAccount, db: DbDep, clock: ClockDep
) -> NotificationOut:
    """Mark a notification as read."""
    with db.write() as session:
        found = notifications.mark_read(
            session=session, account=account, notification_id=notification_id, now=clock()
        )
        return NotificationOut.of(found)

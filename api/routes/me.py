"""The logged-in account and its vehicles."""

from fastapi import APIRouter, Response

from api.deps import ClockDep, CurrentAccount, DbDep
from api.errors import PROBLEM_RESPONSES
from api.schemas import AccountOut, VehicleIn, VehicleOut
from booking import accounts

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
def remove_vehicle(vehicle_id: int, account: CurrentAccount, db: DbDep) -> Response:
    """Remove a vehicle from the account."""
    with db.write() as session:
        accounts.remove_vehicle(session=session, account=account, vehicle_id=vehicle_id)
    return Response(status_code=204)

"""Enforcement: officers check a plate against the bookings of a zone."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import BookingSettingsDep, ClockDep, DbDep, StaffAccount
from api.errors import PROBLEM_RESPONSES
from api.schemas_reservations import CheckOut
from booking import enforcement

router = APIRouter(prefix="/api/v1/enforcement", tags=["enforcement"], responses=PROBLEM_RESPONSES)


@router.get("/check")
def check_plate(
    plate: Annotated[str, Query(min_length=1, max_length=24, examples=["HH-AB 123"])],
    zone_id: Annotated[str, Query(min_length=1, max_length=64)],
    officer: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    settings: BookingSettingsDep,
) -> CheckOut:
    """Valid, expired or none: the plate's booking in this zone now. Every lookup is logged."""
    with db.write() as session:
        verdict = enforcement.check(
            session=session,
            plate=plate,
            zone_id=zone_id,
            officer=officer,
            now=clock(),
            policy=settings.policy(),
        )
        return CheckOut.of(verdict)

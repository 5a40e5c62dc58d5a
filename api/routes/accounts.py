"""Account administration."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from api.deps import AdminAccount, ClockDep, DbDep
from api.errors import PROBLEM_RESPONSES
from api.schemas import AccountIn, AccountOut
from booking import accounts, audit

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=201)
def create_account(body: AccountIn, admin: AdminAccount, db: DbDep, clock: ClockDep) -> AccountOut:
    """Create an account with any role (admin only); fleet managers name their fleet."""
    with db.write() as session:
        account = accounts.register(
            session=session,
            email=body.email,
            password=body.password,
            name=body.name,
            role=body.role,
            fleet_name=body.fleet,
            now=clock(),
        )
        return AccountOut.of(account)


@router.get("")
def list_accounts(
    admin: AdminAccount,
    db: DbDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AccountOut]:
    """Every account (admins); the view is logged."""
    with db.write() as session:
        found = audit.list_accounts(
            session=session, admin=admin, now=clock(), limit=limit, offset=offset
        )
        return [AccountOut.of(a) for a in found]


class AccessOut(BaseModel):
    """Who saw which personal data, when."""

    id: int
    account_id: int
    action: str
    subject: str
    zone_id: str | None
    outcome: str
    at: datetime


audit_router = APIRouter(prefix="/api/v1/audit", tags=["accounts"], responses=PROBLEM_RESPONSES)


@audit_router.get("")
def access_log(
    admin: AdminAccount,
    db: DbDep,
    account_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    action: Annotated[str | None, Query(max_length=48)] = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AccessOut]:
    """The personal-data access log, newest first (admins)."""
    with db.read() as session:
        found = audit.list_(
            session=session,
            account_id=account_id,
            action=action,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        return [AccessOut.model_validate(a, from_attributes=True) for a in found]

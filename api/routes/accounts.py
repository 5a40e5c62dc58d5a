"""Account administration."""

from fastapi import APIRouter

from api.deps import AdminAccount, ClockDep, DbDep
from api.errors import PROBLEM_RESPONSES
from api.schemas import AccountIn, AccountOut
from booking import accounts

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

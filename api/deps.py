"""Typed dependencies: session, clock, settings and the logged-in account."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlmodel import Session

from api import tokens
from api.settings import ApiSettings
from booking import accounts
from booking.database import transaction
from booking.errors import NotFound
from booking.geo import ZoneIndex
from booking.settings import BookingSettings
from booking.tables import Account

Clock = Callable[[], datetime]
# Integer ids in paths are bounded so no database is asked for a number it cannot hold.
IntId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class Database:
    """Transactions for handlers, which open, commit and close them inside their own thread.

    A session held by a dependency outlives the handler's thread: FastAPI validates the
    response in another threadpool hop before the dependency exits, so a request could hold a
    connection (or SQLite's write lock) while queueing for a thread that requests holding
    threads and waiting for connections never free (FastAPI issue #3205).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction."""
        with transaction(self.engine, write=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write; on SQLite it takes the write lock at BEGIN."""
        with transaction(self.engine, write=True) as session:
            yield session


# The app-state dependencies are async so they cost no threadpool hop per request.
async def get_database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.database


async def get_clock(request: Request) -> Clock:
    """The app's clock; tests inject a fixed one."""
    return request.app.state.clock


async def get_api_settings(request: Request) -> ApiSettings:
    """The API settings the app was built with."""
    return request.app.state.api_settings


async def get_booking_settings(request: Request) -> BookingSettings:
    """The domain settings the app was built with."""
    return request.app.state.booking_settings


async def get_zone_index(request: Request) -> ZoneIndex:
    """The in-memory zone index of this process."""
    return request.app.state.zone_index


DbDep = Annotated[Database, Depends(get_database)]
ClockDep = Annotated[Clock, Depends(get_clock)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
BookingSettingsDep = Annotated[BookingSettings, Depends(get_booking_settings)]
ZoneIndexDep = Annotated[ZoneIndex, Depends(get_zone_index)]


def current_account(
    db: DbDep,
    settings: ApiSettingsDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> Account:
    """The account of the bearer token; 401 without a valid one."""
    if not token:
        raise HTTPException(
            401, "Log in first: this needs a bearer token.", {"WWW-Authenticate": "Bearer"}
        )
    try:
        account_id = tokens.account_id(
            token, secret=settings.jwt_secret.get_secret_value(), now=clock()
        )
        with db.read() as session:
            return accounts.get(session=session, account_id=account_id)
    except (tokens.TokenError, NotFound):
        raise HTTPException(
            401,
            "Your login is invalid or has expired; please log in again.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


CurrentAccount = Annotated[Account, Depends(current_account)]


def role(*roles: str) -> Callable[[Account], Account]:
    """A dependency that admits only accounts with one of the roles (403 otherwise)."""

    def check(account: CurrentAccount) -> Account:
        accounts.require_role(account, *roles)
        return account

    return check


StaffAccount = Annotated[Account, Depends(role(*accounts.STAFF))]
AdminAccount = Annotated[Account, Depends(role(accounts.ADMIN))]

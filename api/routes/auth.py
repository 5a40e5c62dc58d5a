"""Registration and login."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm

from api import tokens
from api.deps import ApiSettingsDep, ClockDep, DbDep
from api.errors import PROBLEM_RESPONSES
from api.schemas import AccountOut, RegisterIn, TokenOut
from booking import accounts

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("/register", status_code=201)
def register(body: RegisterIn, db: DbDep, clock: ClockDep) -> AccountOut:
    """Create a driver account."""
    with db.write() as session:
        account = accounts.register(
            session=session, email=body.email, password=body.password, name=body.name, now=clock()
        )
        return AccountOut.of(account)


@router.post("/token")
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DbDep,
    settings: ApiSettingsDep,
    clock: ClockDep,
) -> TokenOut:
    """Log in with e-mail (as `username`) and password; returns a bearer token."""
    with db.read() as session:
        account = accounts.authenticate(
            session=session, email=form.username, password=form.password
        )
    if account is None:
        raise HTTPException(401, "E-mail or password is wrong.", {"WWW-Authenticate": "Bearer"})
    access = tokens.issue(
        account,
        secret=settings.jwt_secret.get_secret_value(),
        lifetime_min=settings.jwt_lifetime_min,
        now=clock(),
    )
    return TokenOut(access_token=access, expires_in=settings.jwt_lifetime_min * 60)

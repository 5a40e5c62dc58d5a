"""Accounts, roles, fleets and vehicles."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_
from sqlmodel import Session, col, select

from booking import plates
from booking.errors import Conflict, Forbidden, NotFound, RuleViolation
from booking.tables import Account, Fleet, Vehicle

DRIVER, FLEET_MANAGER, OPERATOR, ADMIN = "driver", "fleet_manager", "operator", "admin"
ROLES = (DRIVER, FLEET_MANAGER, OPERATOR, ADMIN)
STAFF = (OPERATOR, ADMIN)
MIN_PASSWORD = 8
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def check_password(account: Account, password: str) -> bool:
    """Whether the password matches the account's hash."""
    try:
        return _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def require_role(account: Account, *roles: str) -> None:
    """Forbidden unless the account has one of the roles."""
    if account.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {account.role}.")


def register(
    *,
    session: Session,
    email: str,
    password: str,
    now: datetime,
    name: str = "",
    role: str = DRIVER,
    fleet_name: str | None = None,
) -> Account:
    """Create an account; Conflict when the e-mail is taken."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise RuleViolation("email", f"'{email}' is not an e-mail address.")
    if len(password) < MIN_PASSWORD:
        raise RuleViolation("password", f"Passwords need at least {MIN_PASSWORD} characters.")
    if role not in ROLES:
        raise RuleViolation("role", f"'{role}' is not a role; use one of {', '.join(ROLES)}.")
    if session.exec(select(Account.id).where(Account.email == email)).first() is not None:
        raise Conflict(f"An account for {email} exists already; log in instead.")
    fleet_id = None
    if fleet_name:
        fleet_id = fleet_for(session=session, name=fleet_name, now=now).id
    elif role == FLEET_MANAGER:
        raise RuleViolation("fleet", "A fleet manager needs a fleet; give its name.")
    account = Account(
        email=email,
        password_hash=hash_password(password),
        name=name.strip(),
        role=role,
        fleet_id=fleet_id,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def authenticate(*, session: Session, email: str, password: str) -> Account | None:
    """The account for these credentials, or None."""
    account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
    if account is None:
        # Hash anyway so response time does not reveal which e-mails have accounts.
        hash_password(password)
        return None
    return account if check_password(account, password) else None


def get(*, session: Session, account_id: int) -> Account:
    """The account with this id; NotFound otherwise."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("That account does not exist.")
    return account


def fleet_for(*, session: Session, name: str, now: datetime) -> Fleet:
    """The fleet of this name, created when new."""
    fleet = session.exec(select(Fleet).where(Fleet.name == name.strip())).first()
    if fleet is None:
        fleet = Fleet(name=name.strip(), created_at=now)
        session.add(fleet)
        session.flush()
    return fleet


def add_vehicle(
    *, session: Session, account: Account, plate: str, length_m: float, now: datetime
) -> Vehicle:
    """Register a vehicle; a fleet manager's vehicles belong to the fleet."""
    try:
        canonical = plates.normalise(plate)
    except plates.PlateError as exc:
        raise RuleViolation("plate", str(exc)) from None
    if not 1 <= length_m <= 25:
        raise RuleViolation("vehicle_length", "Vehicle length must be between 1 and 25 metres.")
    duplicate = session.exec(
        select(Vehicle).where(Vehicle.account_id == account.id, Vehicle.plate == canonical)
    ).first()
    if duplicate is not None:
        if duplicate.active:
            raise Conflict(f"You have registered {duplicate.plate_display} already.")
        duplicate.active, duplicate.length_m = True, length_m
        duplicate.plate_display = plates.display(plate)
        session.add(duplicate)
        session.flush()
        return duplicate
    vehicle = Vehicle(
        account_id=account.id,
        fleet_id=account.fleet_id,
        plate=canonical,
        plate_display=plates.display(plate),
        length_m=length_m,
        created_at=now,
    )
    session.add(vehicle)
    session.flush()
    return vehicle


def vehicles_of(*, session: Session, account: Account) -> list[Vehicle]:
    """The vehicles an account may book for: its own, and for fleet managers the fleet's."""
    query = select(Vehicle).where(col(Vehicle.active).is_(True))
    if account.role == FLEET_MANAGER and account.fleet_id is not None:
        query = query.where(
            or_(Vehicle.account_id == account.id, Vehicle.fleet_id == account.fleet_id)
        )
    else:
        query = query.where(Vehicle.account_id == account.id)
    return list(session.exec(query.order_by(col(Vehicle.id))))


def vehicle_by_plate(*, session: Session, account: Account, plate: str) -> Vehicle | None:
    """The account's bookable vehicle with this (normalised) plate, if registered."""
    query = select(Vehicle).where(Vehicle.plate == plate, col(Vehicle.active).is_(True))
    if account.role == FLEET_MANAGER and account.fleet_id is not None:
        query = query.where(
            or_(Vehicle.account_id == account.id, Vehicle.fleet_id == account.fleet_id)
        )
    else:
        query = query.where(Vehicle.account_id == account.id)
    return session.exec(query.order_by(col(Vehicle.id))).first()


def vehicle_of(*, session: Session, account: Account, vehicle_id: int) -> Vehicle:
    """One of the account's bookable vehicles; NotFound for anybody else's."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not vehicle.active or not _may_use(account, vehicle):
        raise NotFound(f"You have no vehicle with id {vehicle_id}.")
    return vehicle


def remove_vehicle(*, session: Session, account: Account, vehicle_id: int) -> None:
    """Deactivate a vehicle (its bookings keep their history)."""
    vehicle = vehicle_of(session=session, account=account, vehicle_id=vehicle_id)
    vehicle.active = False
    session.add(vehicle)
    session.flush()


def _may_use(account: Account, vehicle: Vehicle) -> bool:
    if vehicle.account_id == account.id:
        return True
    return (
        account.role == FLEET_MANAGER
        and account.fleet_id is not None
        and vehicle.fleet_id == account.fleet_id
    )

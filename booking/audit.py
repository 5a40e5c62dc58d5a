"""The personal-data access log: who saw plates or accounts, what, and when."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from booking import accounts
from booking.tables import AccessLog, Account


def record(
    *,
    session: Session,
    viewer: Account,
    action: str,
    subject: str,
    now: datetime,
    zone_id: str | None = None,
    outcome: str = "",
) -> None:
    """Log that `viewer` saw personal data (staff only: people always may see their own)."""
    if viewer.role not in accounts.STAFF:
        return
    session.add(
        AccessLog(
            account_id=viewer.id or 0,
            action=action,
            subject=subject[:120],
            zone_id=zone_id,
            outcome=outcome[:48],
            at=now,
        )
    )


def list_(
    *,
    session: Session,
    account_id: int | None = None,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AccessLog]:
    """Access log entries, newest first."""
    query = select(AccessLog)
    if account_id is not None:
        query = query.where(AccessLog.account_id == account_id)
    if action:
        query = query.where(AccessLog.action == action)
    if start:
        query = query.where(col(AccessLog.at) >= start)
    if end:
        query = query.where(col(AccessLog.at) < end)
    query = query.order_by(col(AccessLog.at).desc(), col(AccessLog.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def list_accounts(
    *, session: Session, admin: Account, now: datetime, limit: int = 200, offset: int = 0
) -> list[Account]:
    """Every account (admins), logged as a view of personal data."""
    accounts.require_role(admin, accounts.ADMIN)
    found = list(
        session.exec(select(Account).order_by(col(Account.id)).offset(offset).limit(limit))
    )
    record(
        session=session,
        viewer=admin,
        action="accounts_list",
        subject=f"{len(found)} accounts",
        now=now,
    )
    return found

"""Messages to drivers: confirmed, cancelled by a closure, released, moved."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from booking.errors import NotFound
from booking.tables import Account, Notification, Reservation


def notify(
    *,
    session: Session,
    account_id: int,
    kind: str,
    message: str,
    now: datetime,
    reservation: Reservation | None = None,
    data: dict[str, Any] | None = None,
) -> Notification:
    """Store a notification for the account."""
    notification = Notification(
        account_id=account_id,
        kind=kind,
        message=message,
        reservation_id=reservation.id if reservation else None,
        data=data or {},
        created_at=now,
    )
    session.add(notification)
    return notification


def list_for(
    *, session: Session, account: Account, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """The account's notifications, newest first."""
    query = select(Notification).where(Notification.account_id == account.id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return list(session.exec(query.limit(limit)))


def mark_read(
    *, session: Session, account: Account, notification_id: int, now: datetime
) -> Notification:
    """Mark one of the account's notifications as read."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.account_id != account.id:
        raise NotFound("You have no such notification.")
    if notification.read_at is None:
        notification.read_at = now
        session.add(notification)
    return notification

"""Dead letters: messages the ingest could not read, for operators to inspect."""

from sqlalchemy import func
from sqlmodel import Session, col, select

from booking.tables import DeadLetter


def list_(*, session: Session, limit: int = 100, offset: int = 0) -> tuple[list[DeadLetter], int]:
    """The newest dead letters and how many there are in all."""
    total = session.exec(select(func.count()).select_from(DeadLetter)).one()
    query = select(DeadLetter).order_by(col(DeadLetter.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query)), total

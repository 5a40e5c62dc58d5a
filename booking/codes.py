"""Booking codes: six characters a driver reads off a phone and an officer off a sign."""

import secrets

from sqlmodel import Session, col, select

from booking.tables import Reservation
from booking.tables.reservations import LIVE

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: nothing that reads as something else on a matrix sign.
ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"
LENGTH = 6


def new_code(*, session: Session) -> str:
    """A code no live reservation carries (the partial unique index is the final word)."""
    for _ in range(20):
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        taken = session.exec(
            select(Reservation.id).where(
                Reservation.code == code, col(Reservation.status).in_(LIVE)
            )
        ).first()
        if taken is None:
            return code
    raise RuntimeError("no free booking code after 20 draws; the code space is exhausted")

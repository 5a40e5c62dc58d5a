"""Booking codes: six characters a driver reads off a phone and an officer off a sign."""

import secrets

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: nothing that reads as something else on a matrix sign.
ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"
LENGTH = 6


def draw() -> str:
    """A random code. Among 24^6 codes a clash is rare; the partial unique index over live
    bookings catches one, and the allocator then draws again."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))

"""Number plates: one canonical form, so "HH-AB 123" and "hh ab123" are the same vehicle."""

import re

_SEPARATORS = re.compile(r"[\s\-.·_]+")
_VALID = re.compile(r"^[A-Z0-9ÄÖÜ]{2,12}$")


class PlateError(ValueError):
    """A string that cannot be a number plate."""


def normalise(plate: str) -> str:
    """Upper-case, separators removed: the form plates are stored and compared in."""
    canonical = _SEPARATORS.sub("", plate.strip().upper())
    if not _VALID.match(canonical):
        raise PlateError(
            f"'{plate}' is not a number plate: use 2-12 letters and digits, e.g. 'HH-AB 123'."
        )
    return canonical


def display(plate: str) -> str:
    """The plate as written, tidied: upper case, single spaces."""
    return " ".join(plate.strip().upper().split())

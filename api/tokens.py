"""JSON Web Tokens for logged-in accounts."""

from datetime import datetime, timedelta

import jwt

from booking.tables import Account

ALGORITHM = "HS256"


class TokenError(ValueError):
    """A token that is missing, expired, forged or malformed."""


def issue(account: Account, *, secret: str, lifetime_min: int, now: datetime) -> str:
    """A signed token naming the account and its role."""
    claims = {
        "sub": str(account.id),
        "role": account.role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=lifetime_min)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def account_id(token: str, *, secret: str, now: datetime) -> int:
    """The account id in a token that is valid at `now`; TokenError otherwise."""
    try:
        # Expiry is checked against the app's clock, not the wall clock, so tests can move time.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False},
        )
        if int(claims["exp"]) <= now.timestamp():
            raise TokenError("Your login has expired; please log in again.")
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenError("Your login is invalid or has expired; please log in again.") from exc

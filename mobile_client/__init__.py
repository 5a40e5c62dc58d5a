"""The driver's side of Kerbside: a Python SDK (httpx + pydantic, HTTP only) and the web app.

from mobile_client import KerbsideClient
with KerbsideClient("http://127.0.0.1:8000") as kerbside:
    kerbside.login("driver@example.com", "secret password")
    zone = kerbside.zones(lat=53.5549, lon=9.9857)[0]
    booking = kerbside.book(zone.id, duration_min=30, plate="HH-AB 123")
    print(booking.code)
"""

from mobile_client.client import AsyncKerbsideClient, KerbsideClient
from mobile_client.errors import (
    AuthError,
    KerbsideError,
    NotFoundError,
    RuleViolationError,
    ServerError,
    ZoneFullError,
)
from mobile_client.models import (
    Alternative,
    Availability,
    Notification,
    Reservation,
    Vehicle,
    Zone,
)

__all__ = [
    "Alternative",
    "AsyncKerbsideClient",
    "AuthError",
    "Availability",
    "KerbsideClient",
    "KerbsideError",
    "NotFoundError",
    "Notification",
    "Reservation",
    "RuleViolationError",
    "ServerError",
    "Vehicle",
    "Zone",
    "ZoneFullError",
]

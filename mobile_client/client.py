"""KerbsideClient (sync) and AsyncKerbsideClient: the same calls over httpx."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, TypeVar

import httpx

from mobile_client import calls
from mobile_client.errors import KerbsideError, ServerError, from_response
from mobile_client.models import Availability, Notification, Reservation, Vehicle, Zone

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _outcome(call: calls.Call[T], response: httpx.Response) -> T:
    if response.is_success:
        return call.parse(response.json() if response.content else None)
    try:
        body: Any = response.json()
    except ValueError:
        body = {"detail": response.text[:500] or f"HTTP {response.status_code}"}
    raise from_response(response.status_code, body)


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, httpx.TransportError) or (
        isinstance(exc, KerbsideError) and exc.status >= 500
    )


class _Settings:
    def __init__(self, retries: int, backoff_s: float) -> None:
        self.retries, self.backoff_s = retries, backoff_s

    def delay(self, attempt: int) -> float:
        return self.backoff_s * 2**attempt


class KerbsideClient:
    """The Kerbside API for drivers and fleets; a context manager over one httpx.Client."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retries: int = 3,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self._retry = _Settings(retries, backoff_s)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def __enter__(self) -> KerbsideClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, call: calls.Call[T]) -> T:
        attempts = self._retry.retries + 1 if call.retry else 1
        for attempt in range(attempts):
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    data=call.data,
                    headers=call.headers,
                )
                return _outcome(call, response)
            except (httpx.TransportError, ServerError) as exc:
                if attempt + 1 == attempts or not _retryable(exc):
                    if isinstance(exc, httpx.TransportError):
                        raise ServerError(
                            0, {"detail": f"Kerbside cannot be reached: {exc}"}
                        ) from exc
                    raise
                time.sleep(self._retry.delay(attempt))
        raise AssertionError("unreachable")

    def login(self, email: str, password: str) -> str:
        """Log in; later calls carry the token, which is also returned."""
        token = self._send(calls.token(email, password))
        self._http.headers["Authorization"] = f"Bearer {token}"
        return token

    def register(self, email: str, password: str, name: str = "") -> dict[str, Any]:
        """Create a driver account (then log in)."""
        return self._send(calls.register(email, password, name))

    def zones(
        self,
        *,
        lat: float | None = None,
        lon: float | None = None,
        radius_m: float = 1000,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        vehicle_length_m: float | None = None,
        limit: int = 20,
    ) -> list[Zone]:
        """Zones near a point, nearest first, with bays free from `start` to `end`."""
        return self._send(
            calls.zones(
                lat=lat, lon=lon, radius_m=radius_m, start=start, end=end,
                vehicle_length_m=vehicle_length_m, limit=limit,
            )
        )  # fmt: skip

    def availability(
        self,
        zone_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Availability:
        """A zone's bays and free slots over a window."""
        return self._send(calls.availability(zone_id, start=start, end=end))

    def book(
        self,
        zone_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        duration_min: int | None = None,
        plate: str | None = None,
        vehicle_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Book a bay (start None = now); retried safely with one Idempotency-Key."""
        return self._send(
            calls.book(
                zone_id, start=start, end=end, duration_min=duration_min, plate=plate,
                vehicle_id=vehicle_id, idempotency_key=idempotency_key,
            )
        )  # fmt: skip

    def reservations(self, *, status: str | None = None, limit: int = 100) -> list[Reservation]:
        """Your bookings, newest first."""
        return self._send(calls.reservations(status=status, limit=limit))

    def reservation(self, reservation_id: str) -> Reservation:
        """One booking."""
        return self._send(calls.reservation(reservation_id))

    def cancel(self, reservation_id: str) -> Reservation:
        """Cancel a booking not yet checked in."""
        return self._send(calls.change(reservation_id, "cancel"))

    def extend(self, reservation_id: str, minutes: int) -> Reservation:
        """Add minutes to the end."""
        return self._send(calls.change(reservation_id, "extend", {"minutes": minutes}))

    def check_in(self, reservation_id: str) -> Reservation:
        """Report arrival (bays without sensors)."""
        return self._send(calls.change(reservation_id, "check-in"))

    def check_out(self, reservation_id: str) -> Reservation:
        """Report departure (bays without sensors)."""
        return self._send(calls.change(reservation_id, "check-out"))

    def notifications(self, *, unread: bool = False) -> list[Notification]:
        """Your notifications, newest first."""
        return self._send(calls.notifications(unread=unread))

    def vehicles(self) -> list[Vehicle]:
        """Your vehicles."""
        return self._send(calls.vehicles())

    def add_vehicle(self, plate: str, length_m: float = 7.0) -> Vehicle:
        """Register a vehicle."""
        return self._send(calls.add_vehicle(plate, length_m))


class AsyncKerbsideClient:
    """The same API for asyncio; `async with AsyncKerbsideClient(url) as kerbside: ...`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        retries: int = 3,
        backoff_s: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._retry = _Settings(retries, backoff_s)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    async def __aenter__(self) -> AsyncKerbsideClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, call: calls.Call[T]) -> T:
        attempts = self._retry.retries + 1 if call.retry else 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.json,
                    data=call.data,
                    headers=call.headers,
                )
                return _outcome(call, response)
            except (httpx.TransportError, ServerError) as exc:
                if attempt + 1 == attempts or not _retryable(exc):
                    if isinstance(exc, httpx.TransportError):
                        raise ServerError(
                            0, {"detail": f"Kerbside cannot be reached: {exc}"}
                        ) from exc
                    raise
                await asyncio.sleep(self._retry.delay(attempt))
        raise AssertionError("unreachable")

    async def login(self, email: str, password: str) -> str:
        """Log in; later calls carry the token, which is also returned."""
        token = await self._send(calls.token(email, password))
        self._http.headers["Authorization"] = f"Bearer {token}"
        return token

    async def register(self, email: str, password: str, name: str = "") -> dict[str, Any]:
        """Create a driver account (then log in)."""
        return await self._send(calls.register(email, password, name))

    async def zones(
        self,
        *,
        lat: float | None = None,
        lon: float | None = None,
        radius_m: float = 1000,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        vehicle_length_m: float | None = None,
        limit: int = 20,
    ) -> list[Zone]:
        """Zones near a point, nearest first, with bays free from `start` to `end`."""
        return await self._send(
            calls.zones(
                lat=lat, lon=lon, radius_m=radius_m, start=start, end=end,
                vehicle_length_m=vehicle_length_m, limit=limit,
            )
        )  # fmt: skip

    async def availability(
        self,
        zone_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> Availability:
        """A zone's bays and free slots over a window."""
        return await self._send(calls.availability(zone_id, start=start, end=end))

    async def book(
        self,
        zone_id: str,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        duration_min: int | None = None,
        plate: str | None = None,
        vehicle_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Book a bay (start None = now); retried safely with one Idempotency-Key."""
        return await self._send(
            calls.book(
                zone_id, start=start, end=end, duration_min=duration_min, plate=plate,
                vehicle_id=vehicle_id, idempotency_key=idempotency_key,
            )
        )  # fmt: skip

    async def reservations(
        self, *, status: str | None = None, limit: int = 100
    ) -> list[Reservation]:
        """Your bookings, newest first."""
        return await self._send(calls.reservations(status=status, limit=limit))

    async def reservation(self, reservation_id: str) -> Reservation:
        """One booking."""
        return await self._send(calls.reservation(reservation_id))

    async def cancel(self, reservation_id: str) -> Reservation:
        """Cancel a booking not yet checked in."""
        return await self._send(calls.change(reservation_id, "cancel"))

    async def extend(self, reservation_id: str, minutes: int) -> Reservation:
        """Add minutes to the end."""
        return await self._send(calls.change(reservation_id, "extend", {"minutes": minutes}))

    async def check_in(self, reservation_id: str) -> Reservation:
        """Report arrival (bays without sensors)."""
        return await self._send(calls.change(reservation_id, "check-in"))

    async def check_out(self, reservation_id: str) -> Reservation:
        """Report departure (bays without sensors)."""
        return await self._send(calls.change(reservation_id, "check-out"))

    async def notifications(self, *, unread: bool = False) -> list[Notification]:
        """Your notifications, newest first."""
        return await self._send(calls.notifications(unread=unread))

    async def vehicles(self) -> list[Vehicle]:
        """Your vehicles."""
        return await self._send(calls.vehicles())

    async def add_vehicle(self, plate: str, length_m: float = 7.0) -> Vehicle:
        """Register a vehicle."""
        return await self._send(calls.add_vehicle(plate, length_m))

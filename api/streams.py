"""Server-sent events: one poller per process reads what changed and fans it out.

The writers (the ingest, the scheduler, other API workers) may be other processes, so the
database is the one place to learn of changes: new notifications, occupancy events and
violations are read by id every half second and handed to the subscribers that want them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, func
from sqlmodel import col, select

from booking import live
from booking.database import new_session
from booking.tables import Notification, OccupancyEvent, Violation, Zone

log = logging.getLogger("kerbside.streams")
QUEUE_SIZE = 1000
HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class Event:
    """One server-sent event: its name, its JSON data, and for whom (an account, or staff)."""

    name: str
    data: dict[str, Any]
    account_id: int | None = None

    def encode(self) -> bytes:
        """The event in text/event-stream framing."""
        return f"event: {self.name}\ndata: {json.dumps(self.data, default=str)}\n\n".encode()


CLOSE = Event("close", {})


@dataclass(eq=False)
class Subscriber:
    """A connected client: staff see zone and violation events, drivers their notifications."""

    account_id: int
    staff: bool
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, event: Event) -> bool:
        """Whether this client may and wants to see the event."""
        if event.account_id is not None:
            return event.account_id == self.account_id
        return self.staff


class Broadcaster:
    """Polls the database for changes and fans them out to subscribers."""

    def __init__(self, engine: Engine, *, clock: Any, interval_s: float = 0.5) -> None:
        self.engine, self.clock, self.interval_s = engine, clock, interval_s
        self._subscribers: set[Subscriber] = set()
        self._marks: dict[str, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling (call from the event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop polling and end every open stream, so the server can shut down."""
        for subscriber in list(self._subscribers):
            if subscriber.queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(CLOSE)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, account_id: int, *, staff: bool) -> Subscriber:
        """A new client's queue."""
        subscriber = Subscriber(account_id, staff)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """The client left."""
        self._subscribers.discard(subscriber)

    async def _run(self) -> None:
        while True:
            try:
                events = await anyio.to_thread.run_sync(self.poll)
                for event in events:
                    self.publish(event)
            except Exception:
                log.exception("stream poll failed")
            await asyncio.sleep(self.interval_s)

    def publish(self, event: Event) -> None:
        """Hand an event to every subscriber that wants it; a slow client loses its oldest."""
        for subscriber in list(self._subscribers):
            if not subscriber.wants(event):
                continue
            if subscriber.queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(event)

    def poll(self) -> list[Event]:
        """What changed since the last poll (the first poll only sets the marks).

        Each read is its own short transaction: holding read locks on one table while
        asking for the next could deadlock against a TRUNCATE or a migration.
        """
        tables = {
            "notifications": Notification,
            "occupancy": OccupancyEvent,
            "violations": Violation,
        }
        if self._marks is None:
            marks = {}
            for name, table in tables.items():
                with new_session(self.engine) as session:
                    marks[name] = session.exec(select(func.coalesce(func.max(table.id), 0))).one()  # type: ignore[attr-defined]
            self._marks = marks
            return []
        events: list[Event] = []
        with new_session(self.engine) as session:
            notes = list(
                session.exec(
                    select(Notification)
                    .where(col(Notification.id) > self._marks["notifications"])
                    .order_by(col(Notification.id))
                    .limit(1000)
                )
            )
        for note in notes:
            events.append(Event("notification", _notification(note), account_id=note.account_id))
        if notes:
            self._marks["notifications"] = notes[-1].id or 0
        with new_session(self.engine) as session:
            changes = list(
                session.exec(
                    select(OccupancyEvent)
                    .where(col(OccupancyEvent.id) > self._marks["occupancy"])
                    .order_by(col(OccupancyEvent.id))
                    .limit(5000)
                )
            )
        if changes:
            self._marks["occupancy"] = changes[-1].id or 0
            zone_ids = sorted({c.zone_id for c in changes})
            with new_session(self.engine) as session:
                zones = list(session.exec(select(Zone).where(col(Zone.id).in_(zone_ids))))
                for now in live.now(session=session, zones=zones, at=self.clock()):
                    events.append(Event("zone", zone_summary(now)))
        with new_session(self.engine) as session:
            opened = list(
                session.exec(
                    select(Violation)
                    .where(col(Violation.id) > self._marks["violations"])
                    .order_by(col(Violation.id))
                    .limit(1000)
                )
            )
        if opened:
            self._marks["violations"] = opened[-1].id or 0
            for violation in opened:
                events.append(Event("violation", violation.model_dump(mode="json")))
        return events


def zone_summary(now: live.ZoneNow) -> dict[str, Any]:
    """A zone's live state for maps: counts, status, and each bay's occupancy."""
    return {
        "zone_id": now.zone.id,
        "status": now.status,
        "bays": now.bay_count,
        "free": now.free,
        "occupied": now.occupied,
        "reserved": now.reserved,
        "withheld": now.withheld,
        "bay_states": [
            {"bay": b.label, "occupied": b.occupied, "reserved": b.reserved, "closed": b.closed}
            for b in now.bays
        ],
    }


def _notification(note: Notification) -> dict[str, Any]:
    return {
        "id": note.id,
        "kind": note.kind,
        "message": note.message,
        "reservation_id": note.reservation_id,
        "data": note.data,
        "created_at": note.created_at.isoformat(),
    }


async def stream(
    subscriber: Subscriber, broadcaster: Broadcaster, disconnected: Any
) -> AsyncIterator[bytes]:
    """The event stream for one client, with heartbeats, until it disconnects."""
    try:
        yield b": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), timeout=HEARTBEAT_S)
                if event is CLOSE:
                    return
                yield event.encode()
            except TimeoutError:
                yield b": heartbeat\n\n"
            if await disconnected():
                return
    finally:
        broadcaster.unsubscribe(subscriber)

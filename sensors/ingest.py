"""From MQTT messages to committed state: decode, resolve sensors, apply, dead-letter.

One batch is one transaction: readings and dead letters are committed together, and only
then are the messages acknowledged to the broker. A batch that fails as a whole is
retried; a message that breaks the code is isolated and dead-lettered, so one bad payload
can never stall the consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from booking import occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.tables import DeadLetter
from sensors import codecs, envelopes
from sensors.envelopes import PayloadError

log = logging.getLogger("kerbside.ingest")
DEAD_LETTER_BYTES = 2048

MESSAGES = Counter("kerbside_ingest_messages", "MQTT messages received by the ingest consumer")
READINGS = Counter("kerbside_ingest_readings", "Readings applied to bay state")
DUPLICATES = Counter(
    "kerbside_ingest_duplicates", "Readings dropped as duplicates (same timestamp)"
)
LATE = Counter("kerbside_ingest_late", "Readings dropped as older than the bay's last")
DEAD_LETTERS = Counter("kerbside_ingest_dead_letters", "Messages dead-lettered", ["reason"])


@dataclass(frozen=True)
class Message:
    """An MQTT message as received, with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 1


@dataclass
class BatchResult:
    """What one batch did."""

    readings: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: int = 0
    changed_zones: set[str] = field(default_factory=set)


class Ingestor:
    """Applies message batches to the database."""

    def __init__(self, engine: Engine, policy: Policy, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock

    def handle(self, messages: Sequence[Message]) -> BatchResult:
        """Apply a batch in one transaction; falls back to one message at a time on a bug."""
        MESSAGES.inc(len(messages))
        try:
            with transaction(self.engine) as session:
                return self._apply(session, messages)
        except (OperationalError, InterfaceError, TimeoutError):
            raise  # the database is away: the consumer retries the whole batch, unacknowledged
        except Exception:
            if len(messages) == 1:
                return self._dead_letter_alone(messages[0])
            log.exception("batch of %d failed; applying one at a time", len(messages))
            total = BatchResult()
            for message in messages:
                _merge(total, self.handle([message]))
            return total

    def _apply(self, session: Session, messages: Sequence[Message]) -> BatchResult:
        now = self.clock()
        result = BatchResult()
        uplinks: list[tuple[Message, envelopes.Uplink]] = []
        dead: list[tuple[Message, str]] = []
        for message in messages:
            try:
                uplinks.append((message, envelopes.parse(message.topic, message.payload)))
            except PayloadError as exc:
                dead.append((message, exc.reason))
        sensors = sensor_registry.resolve(
            session=session, devices={u.device for _, u in uplinks}, now=now
        )
        readings: list[OccupancyReading] = []
        for message, uplink in uplinks:
            sensor = sensors.get(uplink.device)
            if sensor is None:
                dead.append((message, f"unknown sensor '{uplink.device}'"))
                continue
            try:
                decoded = codecs.decode(uplink, sensor.codec)
            except PayloadError as exc:
                dead.append((message, exc.reason))
                continue
            readings.append(
                OccupancyReading(
                    sensor_id=sensor.id,
                    at=uplink.at,
                    occupied=decoded.occupied,
                    battery=decoded.battery if decoded.battery is not None else uplink.battery,
                    kind=decoded.kind,
                )
            )
        applied = occupancy.apply(session=session, readings=readings, now=now, policy=self.policy)
        for message, reason in dead:
            session.add(dead_letter(message, reason, now))
        result.readings, result.duplicates, result.late = (
            applied.applied,
            applied.duplicates,
            applied.late,
        )
        result.dead_letters = len(dead)
        result.changed_zones = applied.changed_zones
        READINGS.inc(applied.applied)
        DUPLICATES.inc(applied.duplicates)
        LATE.inc(applied.late)
        for _, reason in dead:
            DEAD_LETTERS.labels(reason=_reason_label(reason)).inc()
        return result

    def _dead_letter_alone(self, message: Message) -> BatchResult:
        log.exception("message on %s broke the ingest; dead-lettered", message.topic)
        with transaction(self.engine) as session:
            session.add(dead_letter(message, "internal error while applying", self.clock()))
        DEAD_LETTERS.labels(reason="internal error").inc()
        return BatchResult(dead_letters=1)


def dead_letter(message: Message, reason: str, now: datetime) -> DeadLetter:
    """A dead-letter row: topic, payload (truncated, undecodable bytes escaped), reason."""
    text = message.payload[:DEAD_LETTER_BYTES].decode("utf-8", errors="backslashreplace")
    return DeadLetter(
        topic=message.topic[:300],
        payload=text[:4096].replace("\x00", "\\x00"),
        size=len(message.payload),
        reason=reason[:300],
        received_at=now,
    )


def _reason_label(reason: str) -> str:
    # Low-cardinality label: the reason up to its first quote or colon.
    return reason.split("'")[0].split(":")[0].strip()[:40] or "other"


def _merge(total: BatchResult, part: BatchResult) -> None:
    total.readings += part.readings
    total.duplicates += part.duplicates
    total.late += part.late
    total.dead_letters += part.dead_letters
    total.changed_zones |= part.changed_zones


def utcnow() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)

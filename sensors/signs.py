"""Publish each zone's sign, retained, on `kerbside/v1/zones/{zone_id}/sign` when it changes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

import paho.mqtt.client as mqtt
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from booking import availability, signs
from booking.database import transaction
from booking.policy import Policy
from booking.tables import Zone

log = logging.getLogger("kerbside.signs")
CHUNK = 500


def payload(sign: signs.Sign, now: datetime) -> str:
    """The JSON a sign controller reads: the text and one entry per bay."""
    return json.dumps(
        {
            "zone_id": sign.zone_id,
            "text": sign.text,
            "bays": [
                {"bay": line.bay, "state": line.state, "text": line.text, "code": line.code}
                for line in sign.lines
            ],
            "updated_at": now.isoformat(),
        }
    )


class SignPublisher:
    """Keeps the retained sign topics in step with bookings and occupancy."""

    def __init__(
        self,
        engine: Engine,
        client: mqtt.Client,
        *,
        prefix: str,
        policy: Policy,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine, self.client, self.prefix = engine, client, prefix.rstrip("/")
        self.policy, self.clock = policy, clock
        self._published: dict[str, str] = {}
        self._lock = threading.Lock()

    def refresh(self, zone_ids: Iterable[str] | None = None) -> int:
        """Recompute the given zones (or all that may have changed) and publish changed texts."""
        now = self.clock()
        with self._lock, transaction(self.engine, write=False) as session:
            wanted = self._due(session, now) if zone_ids is None else set(zone_ids)
            published = 0
            ordered = sorted(wanted)
            for start in range(0, len(ordered), CHUNK):
                ids = ordered[start : start + CHUNK]
                zones = list(session.exec(select(Zone).where(col(Zone.id).in_(ids))))
                for zone_id, sign in signs.signs_for(
                    session=session, zones=zones, now=now, policy=self.policy
                ).items():
                    if self._published.get(zone_id) == sign.text:
                        continue
                    self.client.publish(
                        f"{self.prefix}/{zone_id}/sign", payload(sign, now), qos=1, retain=True
                    )
                    self._published[zone_id] = sign.text
                    published += 1
            return published

    def _due(self, session: Session, now: datetime) -> set[str]:
        """Zones never published, with bookings around now, or not showing all bays free."""
        active = set(session.exec(select(Zone.id).where(Zone.status == "active")).all())
        around = availability.zones_with_live(
            session=session,
            start=now - self.policy.early_arrival,
            end=now + 2 * self.policy.early_arrival,
        )
        showing = {zone_id for zone_id, text in self._published.items() if not _all_free(text)}
        return (active - set(self._published)) | around | (showing & active)


def _all_free(text: str) -> bool:
    return all(line.endswith(": FREE") for line in text.splitlines())

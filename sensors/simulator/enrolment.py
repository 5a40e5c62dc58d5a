"""Enrolment: the database's bay sensors registered the way a simulated format needs."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from booking import sensor_registry, zones
from booking.database import transaction
from booking.tables import Bay, Sensor, Zone
from sensors.simulator.clock import utcnow
from sensors.simulator.messages import FORMATS, Format, SimSensor, derived_dev_eui

log = logging.getLogger("kerbside.simulator")

# The native topic has the sensor id as one level; MQTT wildcards and "/" cannot be in it.
_TOPIC_LEVEL = re.compile(r"[^/+#\x00]+")


def enrol(engine: Engine, *, fmt: Format, now: datetime | None = None) -> dict[str, SimSensor]:
    """Register the sensors of every active bay as `fmt` needs; SimSensors by sensor id.

    Bays without a sensor get ``sim-{bay.id}``. chirpstack and tts: every sensor gets a
    devEUI (its own if it has one, else derived from its id) and a codec that reads what
    the simulator sends ("decoded"; "bosch" is kept, it reads the frame). native: sensors
    with another codec are switched to "native"; the others enrol with their first message.
    Meant for demo and test databases: it rewrites sensor registrations.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    now = now or utcnow()
    found: dict[str, SimSensor] = {}
    with transaction(engine) as session:
        rows = session.exec(
            select(Bay, Zone)
            .join(Zone, col(Bay.zone_id) == col(Zone.id))
            .where(col(Bay.active).is_(True), col(Zone.status) == zones.ACTIVE)
            .order_by(col(Zone.id), col(Bay.position), col(Bay.id))
        ).all()
        ids = [bay.sensor_id or f"sim-{bay.id}" for bay, _ in rows]
        existing = {s.id: s for s in session.exec(select(Sensor).where(col(Sensor.id).in_(ids)))}
        for (bay, zone), sensor_id in zip(rows, ids, strict=True):
            if fmt == "native" and not _TOPIC_LEVEL.fullmatch(sensor_id):
                log.warning("sensor id %r cannot be a topic level; bay skipped", sensor_id)
                continue
            current = existing.get(sensor_id)
            codec, dev_eui = _registration(fmt, sensor_id, current)
            if current is None:
                # A native sensor a bay names enrols itself with its first message.
                needed = bay.sensor_id is None or fmt != "native"
            else:
                needed = bay.sensor_id is None or (current.codec, current.dev_eui) != (
                    codec,
                    dev_eui,
                )
            if needed:
                sensor_registry.register(
                    session=session,
                    sensor_id=sensor_id,
                    zone_id=zone.id,
                    bay_label=bay.label,
                    codec=codec,
                    dev_eui=dev_eui,
                    now=now,
                    **({"heartbeat_s": current.heartbeat_s} if current else {}),
                )
            found[sensor_id] = SimSensor(sensor_id, zone.id, bay.label, dev_eui, zone.timezone)
    return found


def _registration(fmt: Format, sensor_id: str, current: Sensor | None) -> tuple[str, str | None]:
    """(codec, devEUI) a sensor needs so that what the simulator sends in `fmt` decodes."""
    dev_eui = current.dev_eui if current is not None else None
    if fmt == "native":
        return "native", dev_eui
    if current is not None and current.dev_eui and current.codec in ("bosch", "decoded"):
        return current.codec, current.dev_eui
    return "decoded", dev_eui or derived_dev_eui(sensor_id)

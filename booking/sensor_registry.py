"""Which sensor sits in which bay, how to read it, and how healthy it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from booking import zones
from booking.errors import Conflict, NotFound, RuleViolation
from booking.tables import Bay, BayState, Sensor

CODECS = ("native", "bosch", "libelium", "decoded")


@dataclass(frozen=True)
class SensorHealth:
    """A sensor with its bay and the bay's live state, as operators see it."""

    sensor: Sensor
    bay: Bay | None
    state: str


def register(
    *,
    session: Session,
    sensor_id: str,
    zone_id: str,
    bay_label: str,
    now: datetime,
    codec: str = "native",
    dev_eui: str | None = None,
    heartbeat_s: int = 25 * 3600,
) -> Sensor:
    """Register (or re-register) a sensor and put it in a bay; the bay's old sensor leaves."""
    if codec not in CODECS:
        raise RuleViolation("codec", f"Unknown codec '{codec}'; use one of {', '.join(CODECS)}.")
    dev_eui = dev_eui.lower() if dev_eui else None
    bay = next(
        (b for b in zones.bays_of(session=session, zone_id=zone_id) if b.label == bay_label), None
    )
    if bay is None:
        raise NotFound(f"Zone '{zone_id}' has no bay '{bay_label}'.")
    if dev_eui:
        owner = session.exec(select(Sensor).where(Sensor.dev_eui == dev_eui)).first()
        if owner is not None and owner.id != sensor_id:
            raise Conflict(f"devEUI {dev_eui} belongs to sensor '{owner.id}' already.")
    sensor = session.get(Sensor, sensor_id) or Sensor(id=sensor_id, created_at=now)
    sensor.codec, sensor.dev_eui, sensor.heartbeat_s = codec, dev_eui, heartbeat_s
    session.add(sensor)
    for other in session.exec(select(Bay).where(Bay.sensor_id == sensor_id, Bay.id != bay.id)):
        other.sensor_id = None
        session.add(other)
    bay.sensor_id = sensor_id
    session.add(bay)
    session.flush()
    return sensor


def resolve(*, session: Session, devices: Iterable[str], now: datetime) -> dict[str, Sensor]:
    """Sensors by the id or devEUI a message names; a bay's sensor id seen first is enrolled."""
    wanted = set(devices)
    if not wanted:
        return {}
    lowered = {d.lower() for d in wanted}
    found: dict[str, Sensor] = {}
    for sensor in session.exec(
        select(Sensor).where(or_(col(Sensor.id).in_(wanted), col(Sensor.dev_eui).in_(lowered)))
    ):
        found[sensor.id] = sensor
        if sensor.dev_eui:
            found[sensor.dev_eui] = sensor
    missing = wanted - set(found)
    if missing:
        # Zones name their bays' sensors; the first message of such a sensor enrols it.
        for sensor_id in session.exec(
            select(Bay.sensor_id).where(col(Bay.sensor_id).in_(missing), col(Bay.active).is_(True))
        ).all():
            sensor = Sensor(id=sensor_id, created_at=now)
            session.add(sensor)
            found[sensor_id] = sensor
        session.flush()
    return {device: found[device] for device in wanted if device in found} | {
        device: found[device.lower()]
        for device in wanted
        if device not in found and device.lower() in found
    }


def health(*, session: Session, offline_only: bool = False) -> list[SensorHealth]:
    """Every sensor with its bay and live state; optionally only the silent ones."""
    query = select(Sensor).order_by(col(Sensor.id))
    if offline_only:
        query = query.where(col(Sensor.offline).is_(True))
    sensors = list(session.exec(query))
    bays = {
        b.sensor_id: b
        for b in session.exec(select(Bay).where(col(Bay.sensor_id).in_([s.id for s in sensors])))
    }
    states = {
        s.bay_id: s.state
        for s in session.exec(
            select(BayState).where(col(BayState.bay_id).in_([b.id for b in bays.values()]))
        )
    }
    return [
        SensorHealth(
            s,
            bays.get(s.id),
            states.get(bays[s.id].id, "unknown") if s.id in bays else "unassigned",
        )
        for s in sensors
    ]

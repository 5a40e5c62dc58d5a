"""Bodies for sensors, dead letters, violations and signs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from booking.sensor_registry import SensorHealth
from booking.signs import Sign
from booking.tables import DeadLetter, Violation


class SensorIn(BaseModel):
    """A sensor to register and the bay it sits in."""

    model_config = ConfigDict(extra="forbid")

    sensor_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    zone_id: Annotated[str, Field(min_length=1, max_length=64)]
    bay: Annotated[str, Field(min_length=1, max_length=32, examples=["1"])]
    codec: Literal["native", "bosch", "libelium", "decoded"] = "native"
    dev_eui: Annotated[
        str | None, Field(pattern=r"^[0-9A-Fa-f]{16}$", examples=["70b3d57ed0051234"])
    ] = None
    heartbeat_s: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 25 * 3600


class SensorOut(BaseModel):
    """A sensor with its health."""

    sensor_id: str
    dev_eui: str | None
    codec: str
    zone_id: str | None
    bay: str | None
    state: str
    last_seen_at: datetime | None
    battery: float | None
    offline: bool

    @classmethod
    def of(cls, health: SensorHealth) -> SensorOut:
        s, bay = health.sensor, health.bay
        return cls(
            sensor_id=s.id,
            dev_eui=s.dev_eui,
            codec=s.codec,
            zone_id=bay.zone_id if bay else None,
            bay=bay.label if bay else None,
            state=health.state,
            last_seen_at=s.last_seen_at,
            battery=s.battery,
            offline=s.offline,
        )


class DeadLetterOut(BaseModel):
    """A message the ingest could not read."""

    id: int
    topic: str
    payload: str
    size: int
    reason: str
    received_at: datetime

    @classmethod
    def of(cls, d: DeadLetter) -> DeadLetterOut:
        return cls.model_validate(d, from_attributes=True)


class DeadLetterListOut(BaseModel):
    """The newest dead letters and the total count."""

    total: int
    items: list[DeadLetterOut]


class ViolationOut(BaseModel):
    """A violation as operators see it (with the plate when one is known)."""

    id: int
    kind: str
    status: str
    zone_id: str
    bay_id: int | None
    sensor_id: str | None
    reservation_id: str | None
    plate: str | None
    detail: dict[str, Any]
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None

    @classmethod
    def of(cls, v: Violation) -> ViolationOut:
        return cls.model_validate(v, from_attributes=True)


class ResolveIn(BaseModel):
    """How an operator closed a violation."""

    model_config = ConfigDict(extra="forbid")

    resolution: Annotated[str, Field(min_length=1, max_length=32, examples=["fined"])] = "handled"


class SignLineOut(BaseModel):
    """One bay on the sign."""

    bay: str
    state: str
    text: str
    code: str | None


class SignOut(BaseModel):
    """A zone's matrix sign."""

    zone_id: str
    text: str
    bays: list[SignLineOut]

    @classmethod
    def of(cls, sign: Sign) -> SignOut:
        return cls(
            zone_id=sign.zone_id,
            text=sign.text,
            bays=[
                SignLineOut(bay=line.bay, state=line.state, text=line.text, code=line.code)
                for line in sign.lines
            ],
        )

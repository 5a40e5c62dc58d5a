"""What a simulated sensor says: readings, the MQTT messages they become, Bosch frames."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Format = Literal["native", "chirpstack", "tts"]
FORMATS: tuple[Format, ...] = ("native", "chirpstack", "tts")
ReadingKind = Literal["status", "heartbeat"]
_BOSCH_STATUS_PORT, _BOSCH_HEARTBEAT_PORT = 1, 2


@dataclass(frozen=True)
class SimSensor:
    """A bay's sensor as the simulator addresses it."""

    sensor_id: str
    zone_id: str
    bay_label: str
    dev_eui: str | None = None
    """Lower-case 16 hex digits; needed for chirpstack and tts."""
    timezone: str = "Europe/Berlin"

    @property
    def tts_device_id(self) -> str:
        """The device id The Things Stack's console proposes for a devEUI."""
        return f"eui-{self.dev_eui}"


@dataclass(frozen=True)
class Reading:
    """What a simulated sensor says, before a format wraps it."""

    sensor: SimSensor
    occupied: bool
    kind: ReadingKind
    battery: float
    f_cnt: int
    at: datetime
    temperature: int = 10


@dataclass(frozen=True)
class SimMessage:
    """One MQTT message to publish, with what it was meant to say."""

    topic: str
    payload: bytes
    sensor_id: str
    kind: Literal["status", "heartbeat", "battery"]
    broken: str | None = None
    """The corruption applied, or None for a readable message."""


@dataclass(frozen=True)
class Network:
    """Names of the simulated LoRaWAN applications."""

    chirpstack_app_id: str = "6f3c9a52-0b1e-4f7a-9d2c-5e8b7a1c4d30"
    tts_app: str = "kerbside-sim"
    tts_tenant: str = "ttn"


def bosch_frame(reading: Reading) -> tuple[int, bytes]:
    """(fPort, payload) of a Bosch Parking Lot Sensor status or heartbeat frame."""
    state = 0x01 if reading.occupied else 0x00
    if reading.kind == "heartbeat":
        return _BOSCH_HEARTBEAT_PORT, bytes([state, reading.temperature & 0xFF])
    return _BOSCH_STATUS_PORT, bytes([state])


def bosch_object(reading: Reading) -> dict[str, Any]:
    """The object Bosch's reference decoder makes of the frame."""
    if reading.kind == "heartbeat":
        return {
            "type": "heartbeat",
            "occupied": reading.occupied,
            "temperature": reading.temperature,
        }
    return {"type": "parking status", "occupied": reading.occupied}


def derived_dev_eui(sensor_id: str) -> str:
    """A stable devEUI for a sensor id: the first 16 hex digits of its SHA-1."""
    return hashlib.sha1(sensor_id.encode()).hexdigest()[:16]


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()

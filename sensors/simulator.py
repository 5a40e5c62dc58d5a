"""Sensor traffic simulator: realistic bay occupancy for the zones in the database, over MQTT.

Three formats, the three the ingest reads (see `sensors.envelopes`):

- ``native``: ``kerbside/v1/sensors/{sensor_id}/state`` with
  ``{"occupied", "ts", "battery", "kind"}``; ``ts`` in the zone's local time with its offset.
- ``chirpstack``: ChirpStack v4 JSON up events on
  ``application/{app_id}/device/{dev_eui}/event/up`` carrying a Bosch Parking Lot Sensor
  frame in ``data`` (fPort 1 status, fPort 2 heartbeat; byte 0 bit 0 = occupied) and the
  decoded ``object``; heartbeats are followed by a ``.../event/status`` event with the battery.
- ``tts``: The Things Stack v3 uplinks on ``v3/{app}@{tenant}/devices/{device_id}/up``
  with the same frame in ``frm_payload`` and ``decoded_payload``.

The traffic model runs on a simulated clock, ``speed`` times faster than the wall clock,
and is deterministic for a seed and a start instant. Per bay, vans arrive as a Poisson
process shaped by a daily curve in the zone's local time (quiet at night, peaks late
morning and early afternoon, quieter weekends) plus a share of parkers who never book and
come through the afternoon and evening; each stays 5-40 simulated minutes. The simulator
books nothing: it reports occupancy and the platform decides what it means. Every sensor
re-sends its state as a heartbeat, batteries drain slowly (a few start low), and about
0.5 % of uplinks are corrupted so dead-lettering shows.

Messages carry the wall clock at publish time, so the platform accepts them in order however
fast the simulated day runs. The flip side: at speed 60 a 20-minute stay lasts 20 wall-clock
seconds, so what the platform times in minutes (unreserved past its tolerance, overstays,
no-shows) only shows at low speeds.

`enrol` registers the database's sensors the way a format needs, `Simulator.messages` is the
pure generator the tests use, `Simulator.run` publishes through `MqttPublisher`.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import logging
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from functools import cache
from types import TracebackType
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from sqlalchemy import Engine
from sqlmodel import col, select

from booking import sensor_registry, zones
from booking.database import transaction
from booking.tables import Bay, Sensor, Zone
from sensors.settings import MqttSettings

log = logging.getLogger("kerbside.simulator")

Format = Literal["native", "chirpstack", "tts"]
FORMATS: tuple[Format, ...] = ("native", "chirpstack", "tts")
ReadingKind = Literal["status", "heartbeat"]

# Corruptions a broken uplink gets, per format; each makes parse or decode fail.
BROKEN_VARIANTS: dict[Format, tuple[str, ...]] = {
    "native": (
        "truncated_json",
        "raw_frame",
        "occupied_not_boolean",
        "ts_epoch_seconds",
        "time_without_offset",
        "battery_as_string",
    ),
    "chirpstack": (
        "truncated_json",
        "raw_frame",
        "occupied_not_boolean",
        "fport_as_string",
        "unpadded_base64",
        "time_without_offset",
    ),
    "tts": (
        "truncated_json",
        "raw_frame",
        "occupied_not_boolean",
        "fport_as_string",
        "unpadded_base64",
        "time_without_offset",
    ),
}

# The native topic has the sensor id as one level; MQTT wildcards and "/" cannot be in it.
_TOPIC_LEVEL = re.compile(r"[^/+#\x00]+")
_BOSCH_STATUS_PORT, _BOSCH_HEARTBEAT_PORT = 1, 2
# Heartbeats never take more than this share of the target rate; the interval stretches.
_HEARTBEAT_SHARE = 0.25
# A bay is free at least this long (simulated seconds) between two vans, however busy.
_MIN_GAP_S = 30.0
# At mean demand a free bay waits at least mean dwell / this for its next van, so even a
# rate beyond what the bays can make leaves them free at night.
_MAX_BUSY = 1.5
_BATTERY_FLOOR = 1.0
_DRAIN_PER_UPLINK = 0.01
_DRAIN_PER_HOUR = 0.004
# Weekday factors, Monday first: loading zones are busiest on working days.
_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.15)
_EU868 = (868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000)
_PROGRESS_S = 60.0


def utcnow() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


# --- what a sensor says ---------------------------------------------------------------


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


def render(
    reading: Reading, fmt: Format, network: Network | None = None, *, broken: str | None = None
) -> list[SimMessage]:
    """The MQTT messages a reading becomes in a format; `broken` corrupts the uplink instead."""
    network = network or Network()
    sensor = reading.sensor
    if fmt == "native":
        topic, body = _native_message(reading)
    elif fmt == "chirpstack":
        topic, body = _chirpstack_up(reading, network)
    elif fmt == "tts":
        topic, body = _tts_up(reading, network)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if broken is not None:
        payload = _corrupt(fmt, body, broken, reading)
        return [SimMessage(topic, payload, sensor.sensor_id, reading.kind, broken)]
    messages = [SimMessage(topic, _dump(body), sensor.sensor_id, reading.kind)]
    if fmt == "chirpstack" and reading.kind == "heartbeat":
        # ChirpStack reports the battery in status events, after the device answered the
        # network server's DevStatusReq; asking once a heartbeat stands in for the device
        # profile's "device-status request frequency" (so many times a day).
        status_topic, status = _chirpstack_status(reading, network)
        messages.append(SimMessage(status_topic, _dump(status), sensor.sensor_id, "battery"))
    return messages


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


def _native_message(reading: Reading) -> tuple[str, dict[str, Any]]:
    sensor = reading.sensor
    local = reading.at.astimezone(_zone(sensor.timezone))
    return f"kerbside/v1/sensors/{sensor.sensor_id}/state", {
        "occupied": reading.occupied,
        "ts": local.isoformat(timespec="milliseconds"),
        "battery": round(reading.battery, 1),
        "kind": reading.kind,
    }


def _chirpstack_up(reading: Reading, network: Network) -> tuple[str, dict[str, Any]]:
    sensor = reading.sensor
    dev_eui = _require_eui(sensor)
    digest = _digest(sensor.sensor_id, reading.f_cnt, reading.at)
    f_port, frame = bosch_frame(reading)
    radio = _radio(digest)
    body: dict[str, Any] = {
        "deduplicationId": str(uuid.UUID(bytes=digest[:16], version=4)),
        "time": _utc(reading.at),
        "deviceInfo": _chirpstack_device(sensor, network),
        "devAddr": _dev_addr(dev_eui),
        "adr": True,
        "dr": 5,
        "fCnt": reading.f_cnt,
        "fPort": f_port,
        "data": base64.b64encode(frame).decode(),
        "object": bosch_object(reading),
        "rxInfo": [
            {
                "gatewayId": _gateway_eui(sensor.zone_id).lower(),
                "uplinkId": int.from_bytes(digest[16:20], "big"),
                "nsTime": _utc(reading.at - timedelta(milliseconds=radio["delay_ms"])),
                "rssi": radio["rssi"],
                "snr": radio["snr"],
                "channel": radio["channel"],
                "context": base64.b64encode(digest[:4]).decode(),
                "crcStatus": "CRC_OK",
            }
        ],
        "txInfo": {
            "frequency": radio["frequency"],
            "modulation": {
                "lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}
            },
        },
        "regionConfigId": "eu868",
    }
    topic = f"application/{network.chirpstack_app_id}/device/{dev_eui}/event/up"
    return topic, body


def _chirpstack_status(reading: Reading, network: Network) -> tuple[str, dict[str, Any]]:
    sensor = reading.sensor
    dev_eui = _require_eui(sensor)
    digest = _digest(sensor.sensor_id, reading.f_cnt, reading.at, "status")
    body = {
        "deduplicationId": str(uuid.UUID(bytes=digest[:16], version=4)),
        "time": _utc(reading.at),
        "deviceInfo": _chirpstack_device(sensor, network),
        "margin": 5 + digest[16] % 20,
        "batteryLevel": round(reading.battery, 1),
    }
    return f"application/{network.chirpstack_app_id}/device/{dev_eui}/event/status", body


def _chirpstack_device(sensor: SimSensor, network: Network) -> dict[str, Any]:
    return {
        "tenantId": str(uuid.uuid5(uuid.NAMESPACE_URL, "kerbside-sim/tenant")),
        "tenantName": "Kerbside simulator",
        "applicationId": network.chirpstack_app_id,
        "applicationName": "kerbside-sim",
        "deviceProfileId": str(uuid.uuid5(uuid.NAMESPACE_URL, "kerbside-sim/bosch-pls")),
        "deviceProfileName": "Bosch Parking Lot Sensor",
        "deviceName": sensor.sensor_id,
        "devEui": sensor.dev_eui,
        "deviceClassEnabled": "CLASS_A",
        "tags": {"zone": sensor.zone_id, "bay": sensor.bay_label},
    }


def _tts_up(reading: Reading, network: Network) -> tuple[str, dict[str, Any]]:
    sensor = reading.sensor
    dev_eui = _require_eui(sensor)
    digest = _digest(sensor.sensor_id, reading.f_cnt, reading.at)
    f_port, frame = bosch_frame(reading)
    radio = _radio(digest)
    gateway = _gateway_eui(sensor.zone_id)
    received_at = _tts_time(reading.at, digest)
    body = {
        "end_device_ids": {
            "device_id": sensor.tts_device_id,
            "application_ids": {"application_id": network.tts_app},
            "dev_eui": dev_eui.upper(),
            "join_eui": "0000000000000000",
            "dev_addr": _dev_addr(dev_eui).upper(),
        },
        "correlation_ids": [f"as:up:{digest.hex().upper()[:26]}"],
        "received_at": received_at,
        "uplink_message": {
            "session_key_id": base64.b64encode(
                hashlib.sha1(dev_eui.encode()).digest()[:16]
            ).decode(),
            "f_port": f_port,
            "f_cnt": reading.f_cnt,
            "frm_payload": base64.b64encode(frame).decode(),
            "decoded_payload": bosch_object(reading),
            "rx_metadata": [
                {
                    "gateway_ids": {"gateway_id": f"gw-{gateway.lower()}", "eui": gateway},
                    "time": _tts_time(
                        reading.at - timedelta(milliseconds=radio["delay_ms"]), digest
                    ),
                    "timestamp": int.from_bytes(digest[16:20], "big"),
                    "rssi": radio["rssi"],
                    "channel_rssi": radio["rssi"],
                    "snr": radio["snr"],
                    "uplink_token": base64.b64encode(digest[:12]).decode(),
                }
            ],
            "settings": {
                "data_rate": {
                    "lora": {"bandwidth": 125000, "spreading_factor": 7, "coding_rate": "4/5"}
                },
                "frequency": str(radio["frequency"]),
            },
            "received_at": received_at,
            "consumed_airtime": "0.046336s" if f_port == _BOSCH_STATUS_PORT else "0.051456s",
        },
    }
    topic = f"v3/{network.tts_app}@{network.tts_tenant}/devices/{sensor.tts_device_id}/up"
    return topic, body


def _corrupt(fmt: Format, body: dict[str, Any], variant: str, reading: Reading) -> bytes:
    """The payload with one realistic integration bug; it must not parse or decode."""
    if variant not in BROKEN_VARIANTS[fmt]:
        raise ValueError(f"unknown corruption {variant!r} for {fmt}")
    if variant == "truncated_json":
        text = _dump(body)
        return text[: len(text) // 2]
    if variant == "raw_frame":
        # A device (or bridge) publishing its LoRaWAN bytes without any JSON around them.
        return bosch_frame(reading)[1]
    body = json.loads(_dump(body))  # a deep copy the caller's body does not share
    naive = reading.at.astimezone(UTC).replace(tzinfo=None).isoformat()
    if fmt == "native":
        match variant:
            case "occupied_not_boolean":
                body["occupied"] = "yes" if reading.occupied else "no"
            case "ts_epoch_seconds":
                body["ts"] = int(reading.at.timestamp())
            case "time_without_offset":
                body["ts"] = naive
            case "battery_as_string":
                body["battery"] = f"{reading.battery:.0f}%"
        return _dump(body)
    if fmt == "chirpstack":
        message, decoded, port, data, when = body, "object", "fPort", "data", "time"
    else:
        message, decoded, port, data, when = (
            body["uplink_message"],
            "decoded_payload",
            "f_port",
            "frm_payload",
            "received_at",
        )
    match variant:
        case "occupied_not_boolean":
            # `occupied` must be a boolean; some hand-written codecs return 1/0.
            message[decoded]["occupied"] = int(reading.occupied)
        case "fport_as_string":
            message[port] = str(message[port])
        case "unpadded_base64":
            # Bosch frames are 1-2 bytes, so their base64 always ends in padding.
            message[data] = message[data].rstrip("=")
        case "time_without_offset":
            body[when] = naive
    return _dump(body)


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _require_eui(sensor: SimSensor) -> str:
    if not sensor.dev_eui:
        raise ValueError(f"sensor {sensor.sensor_id!r} has no devEUI; LoRaWAN formats need one")
    return sensor.dev_eui


def _digest(*parts: object) -> bytes:
    # Radio details and ids derive from the message itself, so rendering stays pure.
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def _radio(digest: bytes) -> dict[str, Any]:
    return {
        "rssi": -118 + digest[20] % 48,
        "snr": round(-7.5 + (digest[21] % 70) / 4, 2),
        "channel": digest[22] % len(_EU868),
        "frequency": _EU868[digest[22] % len(_EU868)],
        "delay_ms": 5 + digest[23] % 40,
    }


def _dev_addr(dev_eui: str) -> str:
    # The Things Network's DevAddrs start with 0x26; it only has to look plausible.
    return "26" + hashlib.sha1(("addr" + dev_eui).encode()).hexdigest()[:6]


def _gateway_eui(zone_id: str) -> str:
    return hashlib.sha1(("gw" + zone_id).encode()).hexdigest()[:16].upper()


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _tts_time(at: datetime, digest: bytes) -> str:
    # The Things Stack writes nanoseconds and "Z"; the parser drops the digits past µs.
    nanos = int.from_bytes(digest[24:26], "big") % 1000
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{nanos:03d}Z"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- demand ---------------------------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


def _raw_curve(hour: float) -> float:
    # A floor at night, the morning wave peaking late morning, a second after lunch and a
    # small evening one (shops restocking before closing).
    return (
        0.03
        + 1.0 * _bump(hour, 10.75, 1.2)
        + 0.8 * _bump(hour, 14.5, 1.1)
        + 0.25 * _bump(hour, 17.5, 1.2)
    )


def _raw_unreserved(hour: float) -> float:
    # Parkers who never book ignore delivery peaks: a broad afternoon and evening hump.
    return 0.25 + _bump(hour, 16.0, 4.5)


_MINUTES = [m / 60 for m in range(24 * 60)]
# Normalised so each curve averages 1 over a day: `rate` is then a working day's mean.
_CURVE_MEAN = sum(map(_raw_curve, _MINUTES)) / len(_MINUTES)
_UNRESERVED_MEAN = sum(map(_raw_unreserved, _MINUTES)) / len(_MINUTES)


def daily_curve(hour: float) -> float:
    """Relative delivery demand at a local hour of a working day (mean 1 over the day)."""
    return _raw_curve(hour % 24) / _CURVE_MEAN


def unreserved_curve(hour: float) -> float:
    """Relative demand of parkers who never book, at a local hour (mean 1 over the day)."""
    return _raw_unreserved(hour % 24) / _UNRESERVED_MEAN


def _hour(local: datetime) -> float:
    return local.hour + local.minute / 60 + local.second / 3600


def demand(local: datetime, unreserved_share: float = 0.0) -> float:
    """Relative arrival demand at a zone-local instant: both curves mixed, times the weekday."""
    hour = _hour(local)
    mixed = (1 - unreserved_share) * daily_curve(hour) + unreserved_share * unreserved_curve(hour)
    return mixed * _WEEKDAY[local.weekday()]


_PEAK = max(daily_curve(h) for h in _MINUTES), max(unreserved_curve(h) for h in _MINUTES)
# Both curves every five minutes of a day, for turning a rate into arrivals.
_DAY_SAMPLES = [(daily_curve(h), unreserved_curve(h)) for h in _MINUTES[::5]]


def parse_start(text: str, *, timezone: str, now: datetime) -> datetime:
    """A simulated start from "HH:MM" (today, local) or ISO 8601 (local if it has no offset)."""
    local_zone = _zone(timezone)
    try:
        clock_time = dt_time.fromisoformat(text)
    except ValueError:
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a time or an ISO 8601 instant: {text!r}") from None
    else:
        at = datetime.combine(now.astimezone(local_zone).date(), clock_time)
    return at if at.utcoffset() is not None else at.replace(tzinfo=local_zone)


# --- the traffic model ----------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """How much traffic, how fast, in which format."""

    fmt: Format = "native"
    rate: float = 1.0
    """Target messages per wall-clock second, as a working day's mean (best effort)."""
    speed: float = 60.0
    """Simulated seconds per wall-clock second (60: a simulated minute each second)."""
    seed: int = 0
    start: datetime | None = None
    """Simulated instant to start at; None: the wall clock when the simulator is made."""
    broken_share: float = 0.005
    heartbeat_s: float = 3600.0
    """Simulated seconds between a sensor's heartbeats (stretched to fit the rate)."""
    dwell_min_s: float = 5 * 60
    dwell_max_s: float = 40 * 60
    dwell_mode_s: float = 12 * 60
    unreserved_share: float = 0.1
    """Share of arrivals (over a day) by parkers who never book; they come later in the day."""
    low_battery_share: float = 0.05
    """Share of sensors whose battery starts below 15 % (at least one)."""
    network: Network = field(default_factory=Network)

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r}; use one of {', '.join(FORMATS)}")
        if self.rate <= 0 or self.speed <= 0 or self.heartbeat_s <= 0:
            raise ValueError("rate, speed and heartbeat_s must be positive")
        if not all(0 <= x <= 1 for x in self._shares()):
            raise ValueError("broken, unreserved and low battery shares must be between 0 and 1")
        if not 0 < self.dwell_min_s <= self.dwell_mode_s <= self.dwell_max_s:
            raise ValueError("dwell times must satisfy 0 < min <= mode <= max")
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("start must carry a UTC offset")

    def _shares(self) -> tuple[float, float, float]:
        return self.broken_share, self.unreserved_share, self.low_battery_share


@dataclass(frozen=True)
class Plan:
    """What the rate and speed mean for this set of bays."""

    heartbeat_s: float
    """Simulated seconds between heartbeats, after stretching to fit the rate."""
    arrivals_per_hour: float
    """Arrivals per free bay per simulated hour at mean demand."""
    capacity_rate: float
    """About the most messages per wall-clock second these bays make at this speed."""
    saturated: bool
    """The rate asks for more turnover than the bays allow; raise the speed or add bays."""


@dataclass
class SimStats:
    """What the simulator has produced so far."""

    published: int = 0
    status: int = 0
    heartbeat: int = 0
    battery: int = 0
    broken: int = 0
    arrivals: int = 0
    unreserved_arrivals: int = 0
    departures: int = 0


@dataclass
class _Bay:
    """The live state of one simulated sensor and its bay."""

    sensor: SimSensor
    occupied: bool
    battery: float
    f_cnt: int
    temperature: int
    drained_to_s: float = 0.0
    last_at: datetime | None = None


_ARRIVE, _LEAVE, _HEARTBEAT = "arrive", "leave", "heartbeat"


class Simulator:
    """Sensor traffic for a set of bays; `messages` is pure, `run` publishes in real time."""

    def __init__(
        self,
        sensors: Iterable[SimSensor],
        config: SimConfig | None = None,
        *,
        publish: Callable[[str, bytes], object] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config or SimConfig()
        self.sensors = sorted(sensors, key=lambda s: s.sensor_id)
        if not self.sensors:
            raise ValueError("no sensors to simulate: are there zones with bays?")
        if self.config.fmt != "native" and any(not s.dev_eui for s in self.sensors):
            raise ValueError(f"{self.config.fmt} needs a devEUI for every sensor (see enrol)")
        self.publish = publish
        self.clock = clock
        self.stop_event = threading.Event()
        self.stats = SimStats()
        self.sim_start = self.config.start or clock()
        self._wall_origin = clock()
        self._rng = random.Random(self.config.seed)
        self.plan = self._plan()
        self._queue: list[tuple[float, int, int, str]] = []
        self._seq = 0
        self._now_s = 0.0
        self._pending: deque[SimMessage] = deque()
        # A few sensors start low (at least one), so battery warnings show from the start.
        share = self.config.low_battery_share
        low = max(1 if share > 0 else 0, round(len(self.sensors) * share))
        low_batteries = set(self._rng.sample(range(len(self.sensors)), low))
        self._bays = [
            self._initial(index, sensor, low=index in low_batteries)
            for index, sensor in enumerate(self.sensors)
        ]

    # -- planning ----------------------------------------------------------------------

    def _plan(self) -> Plan:
        """Turn the target rate into arrival and heartbeat rates for this many bays."""
        cfg = self.config
        bays = len(self.sensors)
        per_heartbeat = 2 if cfg.fmt == "chirpstack" else 1
        heartbeat_s = max(
            cfg.heartbeat_s, bays * cfg.speed * per_heartbeat / (_HEARTBEAT_SHARE * cfg.rate)
        )
        heartbeat_rate = bays * cfg.speed * per_heartbeat / heartbeat_s
        # Each visit makes two status messages.
        wanted = (cfg.rate - heartbeat_rate) / (2 * bays * cfg.speed)
        # However high the rate, bays stay free part of the day, or the curve would not show.
        most = _MAX_BUSY / self._mean_dwell()
        saturated = self._visits(most) < wanted
        low, high = 1e-12, most
        if not saturated:
            # Visits grow with the arrival rate, so bisect (in log space: it spans decades).
            for _ in range(60):
                middle = math.sqrt(low * high)
                low, high = (middle, high) if self._visits(middle) < wanted else (low, middle)
        capacity = 2 * bays * cfg.speed * self._visits(most) + heartbeat_rate
        return Plan(heartbeat_s, high * 3600, capacity, saturated)

    def _visits(self, arrivals_per_s: float) -> float:
        """Mean visits per simulated second at one bay over a working day, for a base rate.

        A bay's cycle is the dwell, the gap every bay keeps between two vans, and the wait
        for the next van, which the demand of the hour shortens or stretches.
        """
        busy = self._mean_dwell() + _MIN_GAP_S
        share = self.config.unreserved_share
        return sum(
            1 / (busy + 1 / (arrivals_per_s * ((1 - share) * d + share * u)))
            for d, u in _DAY_SAMPLES
        ) / len(_DAY_SAMPLES)

    def _mean_dwell(self) -> float:
        cfg = self.config
        return (cfg.dwell_min_s + cfg.dwell_mode_s + cfg.dwell_max_s) / 3

    def _arrival_rate(self, sensor: SimSensor, t: float) -> float:
        """Arrivals per simulated second at a free bay, at simulated offset t."""
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(sensor.timezone))
        return self.plan.arrivals_per_hour / 3600 * demand(local, self.config.unreserved_share)

    # -- state -------------------------------------------------------------------------

    def _initial(self, index: int, sensor: SimSensor, *, low: bool) -> _Bay:
        rng = self._rng
        bay = _Bay(
            sensor=sensor,
            occupied=False,
            battery=rng.uniform(6.0, 14.0) if low else rng.uniform(40.0, 100.0),
            f_cnt=rng.randint(1, 5000),
            temperature=rng.randint(2, 16),
        )
        # Start in the steady state: occupied with the share of time a bay is busy now.
        busy = self._arrival_rate(sensor, 0.0) * self._mean_dwell()
        if rng.random() < busy / (1 + busy):
            bay.occupied = True
            self._schedule(rng.uniform(0, self._dwell()), index, _LEAVE)
        else:
            self._schedule(self._next_arrival(sensor, 0.0), index, _ARRIVE)
        # Spread the first heartbeats over one period so they do not all come at once.
        self._schedule(rng.uniform(0, self.plan.heartbeat_s), index, _HEARTBEAT)
        return bay

    def _schedule(self, t: float, index: int, event: str) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, index, event))

    def _dwell(self) -> float:
        cfg = self.config
        return self._rng.triangular(cfg.dwell_min_s, cfg.dwell_max_s, cfg.dwell_mode_s)

    def _next_arrival(self, sensor: SimSensor, after: float) -> float:
        """The next arrival at a free bay: a Poisson process thinned by the demand curves."""
        share = self.config.unreserved_share
        peak_demand = (1 - share) * _PEAK[0] + share * _PEAK[1]
        peak = self.plan.arrivals_per_hour / 3600 * peak_demand
        t = after + _MIN_GAP_S
        while True:
            t += self._rng.expovariate(peak)
            if self._rng.random() * peak <= self._arrival_rate(sensor, t):
                return t

    def _is_unreserved(self, sensor: SimSensor, t: float) -> bool:
        """Whether the van that just arrived belongs to a parker who never books."""
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(sensor.timezone))
        share = self.config.unreserved_share
        theirs = share * unreserved_curve(_hour(local))
        total = theirs + (1 - share) * daily_curve(_hour(local))
        return self._rng.random() * total < theirs

    # -- stepping ----------------------------------------------------------------------

    @property
    def simulated_now(self) -> datetime:
        """The simulated instant of the last event."""
        return self.sim_start + timedelta(seconds=self._now_s)

    def _next_due(self) -> float:
        return self._now_s if self._pending else self._queue[0][0]

    def _next_message(self, stamp: Callable[[float], datetime]) -> SimMessage:
        """Advance the model until it has a message; stamp(t) gives its wall-clock time."""
        while not self._pending:
            self._pending.extend(self._step(stamp))
        return self._pending.popleft()

    def _step(self, stamp: Callable[[float], datetime]) -> list[SimMessage]:
        t, _, index, event = heapq.heappop(self._queue)
        self._now_s = t
        bay = self._bays[index]
        sensor = bay.sensor
        stats = self.stats
        if event == _HEARTBEAT:
            jitter = self._rng.uniform(0.98, 1.02)
            self._schedule(t + self.plan.heartbeat_s * jitter, index, _HEARTBEAT)
            kind: ReadingKind = "heartbeat"
        elif event == _ARRIVE:
            bay.occupied = True
            stats.arrivals += 1
            stats.unreserved_arrivals += self._is_unreserved(sensor, t)
            self._schedule(t + self._dwell(), index, _LEAVE)
            kind = "status"
        else:
            bay.occupied = False
            stats.departures += 1
            self._schedule(self._next_arrival(sensor, t), index, _ARRIVE)
            kind = "status"
        reading = self._reading(bay, kind, t, stamp(t))
        broken = None
        if self._rng.random() < self.config.broken_share:
            broken = self._rng.choice(BROKEN_VARIANTS[self.config.fmt])
        return render(reading, self.config.fmt, self.config.network, broken=broken)

    def _reading(self, bay: _Bay, kind: ReadingKind, t: float, at: datetime) -> Reading:
        # One sensor's timestamps strictly increase: equal ones would be dropped as duplicates.
        # Milliseconds, since the native format writes no finer (nor do many devices).
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if bay.last_at is not None and at <= bay.last_at:
            at = bay.last_at + timedelta(milliseconds=1)
        bay.last_at = at
        hours = (t - bay.drained_to_s) / 3600
        bay.drained_to_s = t
        bay.battery = max(_BATTERY_FLOOR, bay.battery - _DRAIN_PER_UPLINK - _DRAIN_PER_HOUR * hours)
        bay.f_cnt += 1
        local = (self.sim_start + timedelta(seconds=t)).astimezone(_zone(bay.sensor.timezone))
        # Asphalt is a few degrees warmer in the afternoon.
        temperature = bay.temperature + round(3 * math.sin((local.hour - 9) / 24 * 2 * math.pi))
        return Reading(bay.sensor, bay.occupied, kind, bay.battery, bay.f_cnt, at, temperature)

    def _count(self, message: SimMessage) -> None:
        stats = self.stats
        stats.published += 1
        if message.broken is not None:
            stats.broken += 1
        elif message.kind == "status":
            stats.status += 1
        elif message.kind == "heartbeat":
            stats.heartbeat += 1
        else:
            stats.battery += 1

    # -- the two ways to drive it --------------------------------------------------------

    def messages(self, count: int) -> list[SimMessage]:
        """The next `count` messages, stamped as if published on schedule; no I/O, no waiting."""
        speed = self.config.speed

        def stamp(t: float) -> datetime:
            return self._wall_origin + timedelta(seconds=t / speed)

        produced = [self._next_message(stamp) for _ in range(count)]
        for message in produced:
            self._count(message)
        return produced

    def run(
        self,
        *,
        duration_s: float | None = None,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
    ) -> SimStats:
        """Publish in real time until the duration or message count is reached, or stopped."""
        if self.publish is None:
            raise RuntimeError("the simulator was made without a publish function")
        stop = stop or self.stop_event
        speed = self.config.speed
        origin = time.monotonic()
        origin_s = self._next_due()
        deadline = None if duration_s is None else origin + duration_s
        sent = 0
        next_log = origin + _PROGRESS_S
        while not stop.is_set() and (max_messages is None or sent < max_messages):
            due = origin + (self._next_due() - origin_s) / speed
            if deadline is not None and due > deadline:
                stop.wait(max(0.0, deadline - time.monotonic()))
                break
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            message = self._next_message(lambda _t: self.clock())
            self.publish(message.topic, message.payload)
            self._count(message)
            sent += 1
            if time.monotonic() >= next_log:
                next_log += _PROGRESS_S
                log.info(
                    "simulator: %d published (%d broken), simulated %s",
                    self.stats.published,
                    self.stats.broken,
                    self.simulated_now.isoformat(timespec="minutes"),
                )
        return self.stats

    def stop(self) -> None:
        """Ask a running `run` to return (thread- and signal-safe)."""
        self.stop_event.set()


# --- the database side ----------------------------------------------------------------


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


# --- publishing -----------------------------------------------------------------------


class MqttPublisher:
    """A paho-mqtt 2.x client that publishes QoS 1 and, on close, waits for the broker's acks."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        protocol: Literal["5", "3.1.1"] = "5",
        client_id: str | None = None,
        max_pending: int = 10_000,
    ) -> None:
        self.host, self.port = host, port
        self._v5 = protocol == "5"
        # Below paho's 65535 message ids, so an id in flight is never reused.
        self.max_pending = min(max_pending, 60_000)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"kerbside-sim-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else True,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        # Acks are tracked here, not with MQTTMessageInfo: a message published while the
        # connection is away keeps an error code there even after paho resends it.
        self._acks = threading.Condition()
        self._unacked: set[int] = set()
        self._early: set[int] = set()
        self._connected = threading.Event()
        self._refused: str | None = None

    @classmethod
    def from_settings(cls, settings: MqttSettings) -> MqttPublisher:
        """The publisher for the configured broker, or the embedded one (MQTT 3.1.1, anonymous).

        The embedded broker's ingest password is generated at its start and unknown here, so
        against it the simulator connects anonymously unless both credentials are configured.
        """
        host, port, username, password = settings.broker_address()
        if settings.url is None:
            if username is None or password is None:
                username = password = None
            return cls(host, port, username=username, password=password, protocol="3.1.1")
        return cls(host, port, username=username, password=password, protocol=settings.protocol)

    @property
    def unacknowledged(self) -> int:
        """Messages published but not yet acknowledged by the broker."""
        with self._acks:
            return len(self._unacked)

    def connect(self, timeout_s: float = 10.0) -> Self:
        """Connect and start the network loop; ConnectionError if refused or unanswered."""
        try:
            if self._v5:
                self.client.connect(self.host, self.port, keepalive=30, clean_start=True)
            else:
                self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(f"cannot reach the MQTT broker at {self._where}: {exc}") from exc
        self.client.loop_start()
        if not self._connected.wait(timeout_s) or self._refused:
            self.client.loop_stop()
            reason = self._refused or f"no answer within {timeout_s} s"
            raise ConnectionError(f"MQTT broker at {self._where} refused: {reason}")
        return self

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish QoS 1; paho queues while the connection is away and resends on reconnect."""
        with self._acks:
            # The broker is slower than the simulator: wait rather than grow without bound.
            self._acks.wait_for(lambda: len(self._unacked) < self.max_pending, timeout=30)
        info = self.client.publish(topic, payload, qos=1)
        with self._acks:
            if info.mid in self._early:
                self._early.discard(info.mid)
            else:
                self._unacked.add(info.mid)

    def close(self, timeout_s: float = 10.0) -> int:
        """Wait for outstanding acks, then disconnect; returns how many were not acknowledged."""
        with self._acks:
            self._acks.wait_for(lambda: not self._unacked, timeout=timeout_s)
            unacked = len(self._unacked)
        self.client.disconnect()
        self.client.loop_stop()
        return unacked

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        unacked = self.close()
        if unacked:
            log.warning("%d simulated messages were not acknowledged by the broker", unacked)

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _on_connect(
        self, _client: mqtt.Client, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        else:
            self._refused = None
        self._connected.set()

    def _on_publish(
        self, _client: mqtt.Client, _userdata: object, mid: int, _reason: object, _props: object
    ) -> None:
        with self._acks:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                # The ack overtook publish() recording the id.
                self._early.add(mid)
            self._acks.notify_all()

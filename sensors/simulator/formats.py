"""Readings rendered as native, ChirpStack v4 and The Things Stack v3 MQTT messages."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sensors.simulator.clock import _zone
from sensors.simulator.corruption import _corrupt
from sensors.simulator.messages import (
    _BOSCH_STATUS_PORT,
    FORMATS,
    Format,
    Network,
    Reading,
    SimMessage,
    SimSensor,
    _dump,
    bosch_frame,
    bosch_object,
)

_EU868 = (868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000)


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

"""Broken uplinks: the realistic integration bugs a share of simulated messages carries."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sensors.simulator.messages import Format, Reading, _dump, bosch_frame

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

"""LoRaWAN payload codecs: read occupancy, kind and battery out of an Uplink.

The network server's decoded object wins when it states occupancy; otherwise the raw
FRMPayload goes through the sensor's codec. Pure functions, no I/O.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sensors.envelopes import OCCUPANCY_KEYS, Kind, PayloadError, Uplink, occupancy_from_object

CODECS = ("native", "bosch", "libelium", "decoded")


@dataclass(frozen=True)
class Decoded:
    """What a sensor message says about its bay and itself."""

    occupied: bool | None
    kind: Kind
    battery: float | None = None
    battery_mv: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def decode(uplink: Uplink, codec: str) -> Decoded:
    """Read an uplink through the sensor's codec, or raise PayloadError saying why not."""
    if codec not in CODECS:
        raise PayloadError(f"unknown codec: {codec!r}")
    if uplink.kind == "battery":
        # ChirpStack status events come from the network server, not the device's payload.
        return Decoded(occupied=None, kind="battery", battery=uplink.battery)
    if uplink.decoded is not None:
        stated = occupancy_from_object(uplink.decoded)
        if stated is not None:
            occupied, kind = stated
            rest = {k: v for k, v in uplink.decoded.items() if k not in OCCUPANCY_KEYS}
            return Decoded(occupied=occupied, kind=kind, battery=uplink.battery, extra=rest)
    if codec == "decoded":
        raise PayloadError("no decoded object stating occupancy")
    if codec == "native":
        if uplink.source != "native":
            raise PayloadError(f"codec native cannot read a {uplink.source} uplink")
        return Decoded(occupied=uplink.occupied, kind=uplink.kind, battery=uplink.battery)
    if not uplink.raw:
        raise PayloadError("payload bytes missing")
    return _RAW_CODECS[codec](uplink.f_port, uplink.raw)


# --- Bosch Parking Lot Sensor ---------------------------------------------------------
#
# fPort 1 parking status and fPort 2 daily heartbeat: byte 0 bit 0 = occupied; the
# heartbeat may add byte 1, temperature in °C (int8).
# fPort 3 startup, 17 bytes: bytes 0-11 three debug-code slots of 4 bytes (code = low
# nibble of byte 1 << 8 | byte 0, 0 = empty slot), bytes 12-14 firmware major.minor.patch,
# byte 15 reset cause (1 watchdog, 2 power on, 3 system request; higher codes are named
# differently by different decoders, so the number is kept, not a name), byte 16 bit 0
# the state at startup, which we do not take as a reading.


def _bosch(f_port: int | None, payload: bytes) -> Decoded:
    if f_port is None:
        raise PayloadError("fPort missing")
    if f_port == 1:
        return Decoded(occupied=bool(payload[0] & 0x01), kind="status")
    if f_port == 2:
        extra = {"temperature": _int8(payload[1])} if len(payload) >= 2 else {}
        return Decoded(occupied=bool(payload[0] & 0x01), kind="heartbeat", extra=extra)
    if f_port == 3:
        if len(payload) < 16:
            raise PayloadError(f"Bosch startup frame too short: {len(payload)} bytes")
        codes = [((payload[i + 1] & 0x0F) << 8) | payload[i] for i in range(0, 12, 4)]
        extra = {
            "firmware": f"{payload[12]}.{payload[13]}.{payload[14]}",
            "reset_cause": payload[15],
            "debug_codes": [code for code in codes if code],
        }
        return Decoded(occupied=None, kind="startup", extra=extra)
    raise PayloadError(f"unknown Bosch frame: fPort {f_port}")


# --- Libelium Smart Parking v3 --------------------------------------------------------
#
# Every frame is 11 bytes, big-endian. Byte 0: bit 7 occupied, bit 6 battery state
# (1 = replace battery), bits 5-4 reserved, bits 3-0 frame type. Byte 1: frame counter
# (wraps at 255; gaps show lost frames). Then, by frame type:
#   0 info        2 temperature int8 °C | 3-8 magnetometer x, y, z uint16 | 9 reserved
#                 | 10 battery: mV = 2800 + 4 * byte
#   1 keep-alive  2 hours | 3 minutes | 4 temperature int8 | 5-10 magnetometer x, y, z
#   2 daily       2-7 reserved | 8 resets in the last 24 h | 9 config id | 10 reserved
#   3 error       2 error flags (bit 5 Sigfox, 4 LoRaWAN, 3 RTC, 2 x, 1 y, 0 z axis)
#                 | 3 temperature | 4-9 magnetometer | 10 battery as in info
# Documented vector 80 04 1E 01AD 1093 93EE 00 C7: occupied, battery fine, info frame,
# counter 4, 30 °C, x 429, y 4243, z 37870, battery 2800 + 4 * 0xC7 = 3596 mV.
# No mV-to-percent curve is published, so battery percent stays None.

_LIBELIUM_LENGTH = 11
_LIBELIUM_ERRORS = ("z_axis", "y_axis", "x_axis", "rtc", "lorawan", "sigfox")


def _libelium(f_port: int | None, payload: bytes) -> Decoded:
    if len(payload) < _LIBELIUM_LENGTH:
        raise PayloadError(f"Libelium frame too short: {len(payload)} bytes")
    if len(payload) > _LIBELIUM_LENGTH:
        raise PayloadError(f"Libelium frame too long: {len(payload)} bytes")
    occupied = bool(payload[0] & 0x80)
    frame = payload[0] & 0x0F
    extra: dict[str, Any] = {
        "frame_counter": payload[1],
        "battery_low": bool(payload[0] & 0x40),
    }
    if frame == 0:
        extra |= {"frame": "info", "temperature": _int8(payload[2]), **_axes(payload, 3)}
        return Decoded(occupied, "status", battery_mv=_libelium_mv(payload[10]), extra=extra)
    if frame == 1:
        extra |= {
            "frame": "keep-alive",
            "hours": payload[2],
            "minutes": payload[3],
            "temperature": _int8(payload[4]),
            **_axes(payload, 5),
        }
        return Decoded(occupied, "heartbeat", extra=extra)
    if frame == 2:
        extra |= {"frame": "daily update", "resets": payload[8], "config_id": payload[9]}
        return Decoded(occupied, "heartbeat", extra=extra)
    if frame == 3:
        errors = [name for bit, name in enumerate(_LIBELIUM_ERRORS) if payload[2] & (1 << bit)]
        extra |= {
            "frame": "error",
            "errors": errors,
            "temperature": _int8(payload[3]),
            **_axes(payload, 4),
        }
        # A sensor reporting faults is alive, but its occupancy bit is not to be trusted.
        return Decoded(None, "heartbeat", battery_mv=_libelium_mv(payload[10]), extra=extra)
    raise PayloadError(f"unknown Libelium frame type: {frame}")


def _libelium_mv(byte: int) -> int:
    return 2800 + 4 * byte


def _axes(payload: bytes, start: int) -> dict[str, int]:
    return {
        axis: int.from_bytes(payload[start + 2 * i : start + 2 * i + 2], "big")
        for i, axis in enumerate(("x", "y", "z"))
    }


def _int8(byte: int) -> int:
    return byte - 0x100 if byte & 0x80 else byte


_RAW_CODECS: dict[str, Callable[[int | None, bytes], Decoded]] = {
    "bosch": _bosch,
    "libelium": _libelium,
}

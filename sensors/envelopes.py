"""Turn an MQTT (topic, payload) into a neutral Uplink, or say why it cannot be read.

Three envelopes arrive: our own native JSON, ChirpStack v4 integration events (JSON
encoding) and The Things Stack v3 uplinks. Everything here is pure: no I/O, no clock.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NoReturn

MAX_PAYLOAD = 65536

Source = Literal["native", "chirpstack", "tts"]
Kind = Literal["status", "heartbeat", "startup", "battery"]

# Keys under which network-server codecs state occupancy, in order of precedence.
OCCUPANCY_KEYS = ("occupied", "p_state", "parking_slot_status")

NATIVE_TOPIC = re.compile(r"kerbside/v1/sensors/(?P<sensor_id>[^/+#]+)/state")
CHIRPSTACK_TOPIC = re.compile(
    r"application/(?P<application_id>[^/+#]+)/device/(?P<dev_eui>[0-9A-Fa-f]{16})"
    r"/event/(?P<event>up|status)"
)
# The tenant suffix is absent on single-tenant (open source) The Things Stack deployments.
TTS_TOPIC = re.compile(
    r"v3/(?P<app>[^/@+#]+)(?:@(?P<tenant>[^/+#]+))?/devices/(?P<device_id>[^/+#]+)/up"
)

_EUI = re.compile(r"[0-9A-Fa-f]{16}")
# ChirpStack and The Things Stack write nanoseconds; datetime holds microseconds.
_SUBMICRO = re.compile(r"(?<=\.\d{6})\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch milliseconds before 2000 are almost always epoch seconds sent by mistake.
_EPOCH_MS_FLOOR = 946_684_800_000
_NATIVE_KINDS: tuple[Kind, ...] = ("status", "heartbeat")
_STATE_WORDS = {"occupied": True, "free": False, "vacant": False, "empty": False}
# Bosch's reference decoder names its frames in "type".
_OBJECT_KINDS: dict[str, Kind] = {
    "parking status": "status",
    "heartbeat": "heartbeat",
    "startup": "startup",
}


class PayloadError(ValueError):
    """A payload that cannot be read; `reason` is short and goes to the dead-letter store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Uplink:
    """One sensor message, whatever envelope it came in."""

    source: Source
    device: str
    at: datetime
    occupied: bool | None = None
    battery: float | None = None
    kind: Kind = "status"
    f_port: int | None = None
    raw: bytes | None = None
    decoded: dict[str, Any] | None = None


def parse(topic: str, payload: bytes) -> Uplink:
    """Read an MQTT message into an Uplink, or raise PayloadError saying why not."""
    # Checked before decoding so an oversized message costs no parsing at all.
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError("payload over 64 KiB")
    if match := NATIVE_TOPIC.fullmatch(topic):
        return _native(match["sensor_id"], _json_object(payload))
    if match := CHIRPSTACK_TOPIC.fullmatch(topic):
        body = _json_object(payload)
        if match["event"] == "status":
            return _chirpstack_status(match["dev_eui"], body)
        return _chirpstack_up(match["dev_eui"], body)
    if match := TTS_TOPIC.fullmatch(topic):
        return _tts_up(match["device_id"], _json_object(payload))
    raise PayloadError("unknown topic")


def occupancy_from_object(obj: Mapping[str, Any]) -> tuple[bool | None, Kind] | None:
    """Occupancy and kind a network server's decoded object states; None if it states none."""
    key = next((k for k in OCCUPANCY_KEYS if obj.get(k) is not None), None)
    if key is None:
        return None
    frame = obj.get("type")
    kind = _OBJECT_KINDS.get(frame, "status") if isinstance(frame, str) else "status"
    if kind == "startup":
        # A startup frame counts as carrying no occupancy whether the network server
        # decoded it or our codec did, so configuring a codec there changes nothing.
        return None, "startup"
    return _occupancy_value(key, obj[key]), kind


def _occupancy_value(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _STATE_WORDS:
        return _STATE_WORDS[value.strip().lower()]
    # Codecs that write p_state / parking_slot_status as 1/0 exist; `occupied` is a bool.
    if key != "occupied" and type(value) is int and value in (0, 1):
        return value == 1
    raise PayloadError(f"decoded {key} is not an occupancy: {_show(value)}")


# --- native ---------------------------------------------------------------------------


def _native(sensor_id: str, body: dict[str, Any]) -> Uplink:
    occupied = body.get("occupied")
    if not isinstance(occupied, bool):
        _fail_type("occupied", occupied, "a boolean")
    if "ts" not in body:
        raise PayloadError("ts missing")
    kind = body.get("kind", "status")
    if kind is None:
        kind = "status"
    if kind not in _NATIVE_KINDS:
        raise PayloadError(f"kind is not status or heartbeat: {_show(kind)}")
    return Uplink(
        source="native",
        device=sensor_id,
        at=_native_time(body["ts"]),
        occupied=occupied,
        battery=_percent(body.get("battery"), "battery"),
        kind=kind,
    )


def _native_time(ts: Any) -> datetime:
    if isinstance(ts, str):
        return _instant(ts, "ts")
    if type(ts) is int:
        if ts < _EPOCH_MS_FLOOR:
            raise PayloadError("ts in epoch milliseconds is before 2000 (epoch seconds?)")
        try:
            return _EPOCH + timedelta(milliseconds=ts)
        except OverflowError:
            raise PayloadError("ts out of range") from None
    _fail_type("ts", ts, "an ISO 8601 string or integer epoch milliseconds")


# --- ChirpStack v4 --------------------------------------------------------------------


def _chirpstack_up(topic_eui: str, body: dict[str, Any]) -> Uplink:
    decoded = _optional_object(body, "object", "object")
    stated = occupancy_from_object(decoded) if decoded is not None else None
    occupied, kind = stated if stated is not None else (None, "status")
    return Uplink(
        source="chirpstack",
        device=_chirpstack_device(topic_eui, body),
        at=_chirpstack_time(body),
        occupied=occupied,
        kind=kind,
        # ChirpStack omits zero fields, so a missing fPort is port 0 and missing data is empty.
        f_port=_port(body.get("fPort", 0), "fPort"),
        raw=_base64(body.get("data", ""), "data"),
        decoded=decoded,
    )


def _chirpstack_status(topic_eui: str, body: dict[str, Any]) -> Uplink:
    unavailable = _flag(body, "batteryLevelUnavailable")
    # LoRaWAN reports external power instead of a level; 0 % would raise a false alarm.
    external = _flag(body, "externalPowerSource")
    battery = (
        None if unavailable or external else _percent(body.get("batteryLevel", 0), "batteryLevel")
    )
    return Uplink(
        source="chirpstack",
        device=_chirpstack_device(topic_eui, body),
        at=_chirpstack_time(body),
        battery=battery,
        kind="battery",
    )


def _chirpstack_device(topic_eui: str, body: dict[str, Any]) -> str:
    info = _optional_object(body, "deviceInfo", "deviceInfo") or {}
    dev_eui = info.get("devEui")
    if dev_eui is None:
        return topic_eui.lower()
    dev_eui = _eui(dev_eui, "deviceInfo.devEui")
    # The broker's ACLs are per topic: a body naming another device must not be believed.
    if dev_eui != topic_eui.lower():
        raise PayloadError("deviceInfo.devEui does not match the topic")
    return dev_eui


def _chirpstack_time(body: dict[str, Any]) -> datetime:
    if body.get("time") is not None:
        return _instant(_string(body["time"], "time"), "time")
    rx_info = body.get("rxInfo")
    if rx_info is not None:
        if not isinstance(rx_info, list):
            _fail_type("rxInfo", rx_info, "an array")
        if rx_info:
            first = rx_info[0]
            if not isinstance(first, dict):
                _fail_type("rxInfo[0]", first, "an object")
            for key in ("gwTime", "nsTime"):
                if first.get(key) is not None:
                    where = f"rxInfo[0].{key}"
                    return _instant(_string(first[key], where), where)
    raise PayloadError("time missing (no time, rxInfo[0].gwTime or nsTime)")


# --- The Things Stack v3 --------------------------------------------------------------


def _tts_up(topic_device_id: str, body: dict[str, Any]) -> Uplink:
    ids = _optional_object(body, "end_device_ids", "end_device_ids") or {}
    device_id = ids.get("device_id")
    if device_id is not None and _string(device_id, "end_device_ids.device_id") != topic_device_id:
        raise PayloadError("end_device_ids.device_id does not match the topic")
    dev_eui = ids.get("dev_eui")
    device = _eui(dev_eui, "end_device_ids.dev_eui") if dev_eui is not None else topic_device_id
    message = _optional_object(body, "uplink_message", "uplink_message")
    if message is None:
        raise PayloadError("uplink_message missing")
    received_at = body.get("received_at")
    if received_at is None:
        received_at = message.get("received_at")
    if received_at is None:
        raise PayloadError("received_at missing")
    decoded = _optional_object(message, "decoded_payload", "uplink_message.decoded_payload")
    stated = occupancy_from_object(decoded) if decoded is not None else None
    occupied, kind = stated if stated is not None else (None, "status")
    f_port = message.get("f_port")
    return Uplink(
        source="tts",
        device=device,
        at=_instant(_string(received_at, "received_at"), "received_at"),
        occupied=occupied,
        kind=kind,
        f_port=None if f_port is None else _port(f_port, "uplink_message.f_port"),
        raw=_base64(message.get("frm_payload", ""), "uplink_message.frm_payload"),
        decoded=decoded,
    )


# --- shared validation ----------------------------------------------------------------


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON: {exc.msg}") from None
    except RecursionError:
        raise PayloadError("JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise PayloadError(f"payload is a JSON {_json_type(value)}, not an object")
    return value


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity, which JSON itself does not.
    raise PayloadError(f"payload is not JSON: {name} is not a JSON number")


def _instant(text: str, where: str) -> datetime:
    try:
        at = datetime.fromisoformat(_SUBMICRO.sub("", text, count=1))
    except ValueError:
        raise PayloadError(f"{where} is not an ISO 8601 time: {_show(text)}") from None
    if at.utcoffset() is None:
        raise PayloadError(f"{where} has no UTC offset")
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise PayloadError(f"{where} out of range") from None


def _percent(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail_type(where, value, "a number")
    if not 0 <= value <= 100:
        raise PayloadError(f"{where} outside 0-100: {value}")
    return float(value)


def _port(value: Any, where: str) -> int:
    if type(value) is not int:
        _fail_type(where, value, "an integer")
    if not 0 <= value <= 255:
        raise PayloadError(f"{where} outside 0-255: {value}")
    return value


def _base64(value: Any, where: str) -> bytes:
    text = _string(value, where)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise PayloadError(f"{where} is not base64") from None


def _eui(value: Any, where: str) -> str:
    text = _string(value, where)
    if not _EUI.fullmatch(text):
        raise PayloadError(f"{where} is not a 16-digit hex EUI: {_show(text)}")
    return text.lower()


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        _fail_type(key, value, "a boolean")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail_type(where, value, "a string")
    return value


def _optional_object(body: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        _fail_type(where, value, "an object")
    return value


def _fail_type(where: str, value: Any, expected: str) -> NoReturn:
    if value is None:
        raise PayloadError(f"{where} missing")
    raise PayloadError(f"{where} must be {expected}, not {_json_type(value)}: {_show(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _show(value: Any) -> str:
    # Reasons are stored with every dead letter; keep a hostile payload from bloating them.
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

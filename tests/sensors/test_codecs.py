"""LoRaWAN payload codecs, fed with vendors' real frames."""

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.codecs import CODECS, Decoded, decode
from sensors.envelopes import PayloadError, Uplink, parse

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIBELIUM_INFO = "80041E01AD109393EE00C7"  # the documented test vector
LIBELIUM_KEEP_ALIVE = "8114160011F35A1095F3B5"
LIBELIUM_DAILY = "829F665700000D9F00FF00"
LIBELIUM_ERROR = "0303071E01921085853AC6"
# TTN device repository example: debug codes 804 and 885, firmware 0.29.2, reset cause 3
# (system request), state byte 1.
BOSCH_STARTUP = "240300007503000000000000" + "001D02" + "03" + "01"


def lorawan(
    payload: str = "",
    *,
    f_port: int | None = 1,
    decoded: dict[str, Any] | None = None,
    source: str = "chirpstack",
) -> Uplink:
    """A LoRaWAN uplink carrying hex `payload` and, optionally, a decoded object."""
    return Uplink(
        source=source,  # type: ignore[arg-type]
        device="70b3d5e75e00a1b2",
        at=T0,
        f_port=f_port,
        raw=bytes.fromhex(payload),
        decoded=decoded,
    )


def test_codec_names_are_exported() -> None:
    assert CODECS == ("native", "bosch", "libelium", "decoded")


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(PayloadError, match="unknown codec: 'nwave'"):
        decode(lorawan("01"), "nwave")


# --- Bosch ----------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "occupied"), [("01", True), ("00", False)])
def test_bosch_status_frame_on_port_1(payload: str, occupied: bool) -> None:
    assert decode(lorawan(payload, f_port=1), "bosch") == Decoded(occupied, "status")


def test_bosch_heartbeat_on_port_2_carries_occupancy_and_temperature() -> None:
    decoded = decode(lorawan("01FF", f_port=2), "bosch")
    assert decoded == Decoded(True, "heartbeat", extra={"temperature": -1})


def test_bosch_short_heartbeat_without_temperature() -> None:
    assert decode(lorawan("00", f_port=2), "bosch") == Decoded(False, "heartbeat")


def test_bosch_startup_on_port_3_has_no_occupancy() -> None:
    decoded = decode(lorawan(BOSCH_STARTUP, f_port=3), "bosch")
    assert decoded == Decoded(
        None,
        "startup",
        extra={"firmware": "0.29.2", "reset_cause": 3, "debug_codes": [804, 885]},
    )


@pytest.mark.parametrize(
    ("payload", "f_port", "reason"),
    [
        ("01", 4, "unknown Bosch frame: fPort 4"),
        ("01", None, "fPort missing"),
        ("", 1, "payload bytes missing"),
        ("2403000075030000", 3, "Bosch startup frame too short: 8 bytes"),
    ],
)
def test_unreadable_bosch_frame_is_refused(payload: str, f_port: int | None, reason: str) -> None:
    with pytest.raises(PayloadError) as error:
        decode(lorawan(payload, f_port=f_port), "bosch")
    assert error.value.reason == reason


# --- Libelium -------------------------------------------------------------------------


def test_libelium_documented_info_frame() -> None:
    decoded = decode(lorawan(LIBELIUM_INFO, f_port=3), "libelium")
    assert decoded == Decoded(
        occupied=True,
        kind="status",
        battery=None,
        battery_mv=3596,
        extra={
            "frame": "info",
            "frame_counter": 4,
            "battery_low": False,
            "temperature": 30,
            "x": 429,
            "y": 4243,
            "z": 37870,
        },
    )


def test_libelium_keep_alive_frame_is_a_heartbeat_with_occupancy() -> None:
    decoded = decode(lorawan(LIBELIUM_KEEP_ALIVE), "libelium")
    assert (decoded.occupied, decoded.kind, decoded.battery_mv) == (True, "heartbeat", None)
    assert decoded.extra == {
        "frame": "keep-alive",
        "frame_counter": 20,
        "battery_low": False,
        "hours": 22,
        "minutes": 0,
        "temperature": 17,
        "x": 62298,
        "y": 4245,
        "z": 62389,
    }


def test_libelium_daily_update_is_a_heartbeat_with_reset_count() -> None:
    decoded = decode(lorawan(LIBELIUM_DAILY), "libelium")
    assert (decoded.occupied, decoded.kind) == (True, "heartbeat")
    assert (decoded.extra["resets"], decoded.extra["config_id"]) == (0, 255)


def test_libelium_error_frame_names_faults_and_withholds_occupancy() -> None:
    decoded = decode(lorawan(LIBELIUM_ERROR), "libelium")
    assert (decoded.occupied, decoded.kind, decoded.battery_mv) == (None, "heartbeat", 3592)
    assert decoded.extra["errors"] == ["z_axis", "y_axis", "x_axis"]


def test_libelium_battery_state_bit_flags_a_low_battery() -> None:
    decoded = decode(lorawan("C0" + LIBELIUM_INFO[2:]), "libelium")
    assert (decoded.occupied, decoded.extra["battery_low"]) == (True, True)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("80041E", "Libelium frame too short: 3 bytes"),
        (LIBELIUM_INFO + "00", "Libelium frame too long: 12 bytes"),
        ("090A00001F00C60561ED91", "unknown Libelium frame type: 9"),
        ("", "payload bytes missing"),
    ],
)
def test_unreadable_libelium_frame_is_refused(payload: str, reason: str) -> None:
    with pytest.raises(PayloadError) as error:
        decode(lorawan(payload), "libelium")
    assert error.value.reason == reason


def test_libelium_vector_through_a_chirpstack_uplink() -> None:
    body = {
        "time": "2026-12-01T09:00:00Z",
        "deviceInfo": {"devEui": "70b3d5e75e00a1b2", "deviceName": "bay-3"},
        "fPort": 3,
        "data": base64.b64encode(bytes.fromhex(LIBELIUM_INFO)).decode(),
    }
    topic = "application/app-1/device/70b3d5e75e00a1b2/event/up"
    decoded = decode(parse(topic, json.dumps(body).encode()), "libelium")
    assert (decoded.occupied, decoded.battery_mv, decoded.extra["temperature"]) == (True, 3596, 30)


# --- decoded objects ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "occupied"),
    [
        ({"occupied": True}, True),
        ({"occupied": False}, False),
        ({"p_state": "occupied"}, True),
        ({"p_state": "free"}, False),
        ({"p_state": 1}, True),
        ({"p_state": 0}, False),
        ({"parking_slot_status": "occupied"}, True),
        ({"parking_slot_status": "free"}, False),
        ({"parking_slot_status": "vacant"}, False),
        ({"parking_slot_status": 1}, True),
    ],
)
def test_decoded_object_states_occupancy(obj: dict[str, Any], occupied: bool) -> None:
    assert decode(lorawan(decoded=obj), "decoded").occupied is occupied


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        ({"type": "parking status", "occupied": True}, "status"),
        ({"type": "heartbeat", "occupied": True, "temperature": 21}, "heartbeat"),
    ],
)
def test_bosch_decoded_form_gives_occupancy_and_kind(obj: dict[str, Any], kind: str) -> None:
    decoded = decode(lorawan("01", decoded=obj), "decoded")
    assert (decoded.occupied, decoded.kind) == (True, kind)
    assert "occupied" not in decoded.extra
    assert decoded.extra["type"] == obj["type"]


def test_bosch_decoded_startup_has_no_occupancy_like_the_raw_frame() -> None:
    obj = {"type": "startup", "firmwareVersion": "0.29.2", "resetCause": "system request"}
    decoded = decode(lorawan(decoded=obj | {"occupied": True}), "decoded")
    assert (decoded.occupied, decoded.kind) == (None, "startup")


def test_decoded_object_wins_over_the_sensor_codec() -> None:
    # Raw bytes say free (Bosch bit 0 clear); the network server's object says occupied.
    uplink = lorawan("00", f_port=1, decoded={"occupied": True})
    assert decode(uplink, "bosch").occupied is True


def test_decoded_object_without_occupancy_falls_back_to_raw_bytes() -> None:
    uplink = lorawan("01", f_port=1, decoded={"temperature": 21})
    assert decode(uplink, "bosch") == Decoded(True, "status")


def test_decoded_codec_without_occupancy_in_object_is_refused() -> None:
    with pytest.raises(PayloadError, match="no decoded object stating occupancy"):
        decode(lorawan("01", decoded={"temperature": 21}), "decoded")


@pytest.mark.parametrize(
    "obj",
    [{"occupied": 1}, {"occupied": "yes"}, {"p_state": 2}, {"parking_slot_status": "unknown"}],
)
def test_decoded_object_with_unreadable_occupancy_is_refused(obj: dict[str, Any]) -> None:
    with pytest.raises(PayloadError, match="is not an occupancy"):
        decode(lorawan(decoded=obj), "decoded")


# --- native and status events ---------------------------------------------------------


def test_native_codec_passes_the_reading_through() -> None:
    body = {"occupied": True, "ts": "2026-12-01T09:00:00Z", "battery": 64, "kind": "heartbeat"}
    uplink = parse("kerbside/v1/sensors/Z-1-s1/state", json.dumps(body).encode())
    assert decode(uplink, "native") == Decoded(True, "heartbeat", battery=64.0)


def test_native_codec_refuses_a_lorawan_uplink() -> None:
    with pytest.raises(PayloadError, match="codec native cannot read a chirpstack uplink"):
        decode(lorawan("01"), "native")


@pytest.mark.parametrize("codec", CODECS)
def test_status_event_battery_passes_through_any_codec(codec: str) -> None:
    uplink = Uplink(
        source="chirpstack", device="70b3d5e75e00a1b2", at=T0, battery=87.4, kind="battery"
    )
    assert decode(uplink, codec) == Decoded(None, "battery", battery=87.4)


@settings(max_examples=300, deadline=None)
@given(
    codec=st.sampled_from(CODECS),
    payload=st.binary(max_size=24),
    f_port=st.none() | st.integers(0, 255),
)
def test_any_frame_is_decoded_or_refused_with_a_reason(
    codec: str, payload: bytes, f_port: int | None
) -> None:
    try:
        decoded = decode(lorawan(payload.hex(), f_port=f_port), codec)
    except PayloadError as error:
        assert error.reason
    else:
        assert decoded.occupied in (True, False, None)

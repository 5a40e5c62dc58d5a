"""MQTT envelopes: native JSON, ChirpStack v4 and The Things Stack v3 uplinks."""

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.envelopes import MAX_PAYLOAD, PayloadError, Uplink, parse

NATIVE_TOPIC = "kerbside/v1/sensors/Z-1-s1/state"
DEV_EUI = "70B3D5E75E00A1B2"
CS_UP = f"application/17c82e96-be03-4f38-aef3-f83d48582d97/device/{DEV_EUI.lower()}/event/up"
CS_STATUS = CS_UP.removesuffix("/up") + "/status"
TTS_UP = "v3/kerbside-hh@ttn/devices/bay-07/up"


def as_bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


def native(**fields: Any) -> bytes:
    """A native reading; fields override, a None value drops the field."""
    body = {"occupied": True, "ts": "2026-12-01T10:00:00+01:00"} | fields
    return as_bytes({k: v for k, v in body.items() if v is not None})


def chirpstack_up(**fields: Any) -> dict[str, Any]:
    """A ChirpStack v4 up event as its JSON integration writes it (zero fields omitted)."""
    body: dict[str, Any] = {
        "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
        "time": "2026-12-01T09:00:00.123456+00:00",
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "Kerbside",
            "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
            "applicationName": "loading-bays",
            "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
            "deviceProfileName": "Bosch PLS",
            "deviceName": "abc-strasse-bay-1",
            "devEui": DEV_EUI.lower(),
            "deviceClassEnabled": "CLASS_A",
            "tags": {"zone": "Z-1"},
        },
        "devAddr": "00189440",
        "adr": True,
        "dr": 5,
        "fCnt": 42,
        "fPort": 1,
        "confirmed": True,
        "data": "AQ==",
        "rxInfo": [
            {
                "gatewayId": "0016c001f153a14c",
                "uplinkId": 4217106255,
                "nsTime": "2026-12-01T09:00:00.100000+00:00",
                "rssi": -98,
                "snr": 7.25,
                "channel": 2,
                "location": {"latitude": 53.5549, "longitude": 9.9857},
                "context": "E3OWOQ==",
                "metadata": {"region_config_id": "eu868", "region_common_name": "EU868"},
                "crcStatus": "CRC_OK",
            }
        ],
        "txInfo": {
            "frequency": 868500000,
            "modulation": {
                "lora": {"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}
            },
        },
        "regionConfigId": "eu868",
    }
    body |= fields
    return {k: v for k, v in body.items() if v is not None}


def chirpstack_status(**fields: Any) -> bytes:
    """A ChirpStack v4 status event (device-status answer)."""
    body = {
        "deduplicationId": "b1a5e3c0-7d2f-4a8e-9d7b-1f5c0b6a2e11",
        "time": "2026-12-01T09:05:00+00:00",
        "deviceInfo": chirpstack_up()["deviceInfo"],
        "margin": 12,
        "batteryLevel": 87.4,
    } | fields
    return as_bytes({k: v for k, v in body.items() if v is not None})


def tts_up(**message: Any) -> dict[str, Any]:
    """A The Things Stack v3 uplink; keyword arguments override uplink_message fields."""
    uplink_message = {
        "session_key_id": "AYa2l7Hh1pbcbkGyoM0PqQ==",
        "f_port": 1,
        "f_cnt": 42,
        "frm_payload": "AQ==",
        "rx_metadata": [
            {
                "gateway_ids": {"gateway_id": "hh-gw-01", "eui": "B827EBFFFE5A1C2D"},
                "time": "2026-12-01T09:00:00.098Z",
                "timestamp": 2040934975,
                "rssi": -97,
                "channel_rssi": -97,
                "snr": 6.5,
                "uplink_token": "ChIKEAoOaGgtZ3ctMDEQ",
            }
        ],
        "settings": {
            "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
            "frequency": "868500000",
        },
        "received_at": "2026-12-01T09:00:00.105Z",
        "consumed_airtime": "0.046336s",
    } | message
    return {
        "end_device_ids": {
            "device_id": "bay-07",
            "application_ids": {"application_id": "kerbside-hh"},
            "dev_eui": DEV_EUI,
            "join_eui": "0000000000000000",
            "dev_addr": "260B1234",
        },
        "correlation_ids": ["as:up:01HXYZ"],
        "received_at": "2026-12-01T09:00:00.123456789Z",
        "uplink_message": {k: v for k, v in uplink_message.items() if v is not None},
    }


# --- native ---------------------------------------------------------------------------


def test_native_reading_with_offset_is_read_in_utc() -> None:
    uplink = parse(NATIVE_TOPIC, native(battery=81))
    assert uplink == Uplink(
        source="native",
        device="Z-1-s1",
        at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        occupied=True,
        battery=81.0,
        kind="status",
    )


def test_native_reading_with_epoch_milliseconds() -> None:
    uplink = parse(NATIVE_TOPIC, native(ts=1_796_115_600_123, occupied=False))
    assert uplink.at == datetime(2026, 12, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert uplink.occupied is False


def test_native_reading_with_z_suffix() -> None:
    assert parse(NATIVE_TOPIC, native(ts="2026-12-01T09:00:00Z")).at.tzinfo is UTC


def test_native_heartbeat_kind() -> None:
    assert parse(NATIVE_TOPIC, native(kind="heartbeat")).kind == "heartbeat"


def test_native_reading_without_battery_or_kind_is_a_status() -> None:
    uplink = parse(NATIVE_TOPIC, native())
    assert (uplink.kind, uplink.battery, uplink.raw, uplink.f_port) == ("status", None, None, None)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"occupied": 1}, "occupied must be a boolean, not number: 1"),
        ({"occupied": "true"}, "occupied must be a boolean, not string: 'true'"),
        ({"occupied": None}, "occupied missing"),
        ({"battery": True}, "battery must be a number, not boolean: True"),
        ({"battery": "80"}, "battery must be a number, not string: '80'"),
        ({"battery": 101}, "battery outside 0-100: 101"),
        ({"battery": -0.5}, "battery outside 0-100: -0.5"),
        ({"ts": None}, "ts missing"),
        ({"ts": "2026-12-01T10:00:00"}, "ts has no UTC offset"),
        ({"ts": "yesterday"}, "ts is not an ISO 8601 time: 'yesterday'"),
        ({"ts": 1.7961156e12}, "ts must be an ISO 8601 string or integer epoch milliseconds"),
        ({"ts": True}, "ts must be an ISO 8601 string or integer epoch milliseconds"),
        ({"ts": 1_796_115_600}, "ts in epoch milliseconds is before 2000 (epoch seconds?)"),
        ({"ts": 10**20}, "ts out of range"),
        ({"kind": "startup"}, "kind is not status or heartbeat: 'startup'"),
    ],
)
def test_native_reading_with_wrong_field_is_refused(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError) as error:
        parse(NATIVE_TOPIC, native(**fields))
    assert error.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x01occupied", "payload is not JSON"),
        (b'{"occupied": true, "ts": "2026-12-01T09:00:00Z"', "payload is not JSON"),
        (b'{"occupied": true, "ts": "\xff\xfe"}', "payload is not UTF-8"),
        (b"[true, 1796115600000]", "payload is a JSON array, not an object"),
        (b"true", "payload is a JSON boolean, not an object"),
        (
            b'{"occupied": true, "ts": "2026-12-01T09:00:00Z", "battery": NaN}',
            "payload is not JSON",
        ),
        (b"[" * 5000 + b"]" * 5000, "JSON nested too deeply"),
    ],
    ids=["garbage", "truncated", "invalid-utf8", "array", "scalar", "nan", "deep-nesting"],
)
def test_unreadable_native_payload_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as error:
        parse(NATIVE_TOPIC, payload)
    assert error.value.reason.startswith(reason)


def test_payload_over_64_kib_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadError, match="payload over 64 KiB"):
        parse(NATIVE_TOPIC, b"\xff" * (65 * 1024))


def test_payload_of_exactly_64_kib_is_read() -> None:
    payload = native()
    padded = payload[:-1] + b" " * (MAX_PAYLOAD - len(payload)) + b"}"
    assert len(padded) == MAX_PAYLOAD
    assert parse(NATIVE_TOPIC, padded).occupied is True


def test_payload_error_is_a_value_error_with_reason() -> None:
    error = PayloadError("unknown topic")
    assert isinstance(error, ValueError)
    assert (error.reason, str(error)) == ("unknown topic", "unknown topic")


@pytest.mark.parametrize(
    "topic",
    [
        "kerbside/v1/sensors/Z-1-s1/config",
        "kerbside/v1/sensors//state",
        "kerbside/v2/sensors/Z-1-s1/state",
        f"application/app/device/{DEV_EUI}/event/join",
        "application/app/device/not-an-eui/event/up",
        "v3/kerbside-hh@ttn/devices/bay-07/join",
        "",
    ],
)
def test_unknown_topic_is_refused(topic: str) -> None:
    with pytest.raises(PayloadError, match=r"^unknown topic$"):
        parse(topic, native())


# --- ChirpStack v4 --------------------------------------------------------------------


def test_full_chirpstack_v4_uplink() -> None:
    body = chirpstack_up(object={"type": "parking status", "occupied": True})
    uplink = parse(CS_UP, as_bytes(body))
    assert uplink == Uplink(
        source="chirpstack",
        device="70b3d5e75e00a1b2",
        at=datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC),
        occupied=True,
        battery=None,
        kind="status",
        f_port=1,
        raw=b"\x01",
        decoded={"type": "parking status", "occupied": True},
    )


def test_chirpstack_up_without_object_keeps_raw_bytes_and_no_occupancy() -> None:
    uplink = parse(CS_UP, as_bytes(chirpstack_up(fPort=2, data="AQ8=")))
    assert (uplink.occupied, uplink.f_port, uplink.raw, uplink.decoded) == (
        None,
        2,
        b"\x01\x0f",
        None,
    )


@pytest.mark.parametrize(
    ("obj", "occupied"),
    [
        ({"p_state": "free"}, False),
        ({"parking_slot_status": 1}, True),
        ({"type": "heartbeat", "occupied": False}, False),
    ],
)
def test_chirpstack_object_states_occupancy(obj: dict[str, Any], occupied: bool) -> None:
    assert parse(CS_UP, as_bytes(chirpstack_up(object=obj))).occupied is occupied


def test_chirpstack_object_without_occupancy_leaves_it_unknown() -> None:
    uplink = parse(CS_UP, as_bytes(chirpstack_up(object={"temperature": 21})))
    assert uplink.occupied is None
    assert uplink.decoded == {"temperature": 21}


def test_chirpstack_omitted_fport_and_data_mean_port_zero_and_no_bytes() -> None:
    uplink = parse(CS_UP, as_bytes(chirpstack_up(fPort=None, data=None)))
    assert (uplink.f_port, uplink.raw) == (0, b"")


def test_chirpstack_time_with_nanoseconds_is_trimmed_to_microseconds() -> None:
    body = chirpstack_up(time="2026-12-01T10:00:00.775023242+01:00")
    assert parse(CS_UP, as_bytes(body)).at == datetime(2026, 12, 1, 9, 0, 0, 775023, tzinfo=UTC)


def test_chirpstack_without_time_uses_gateway_time_first() -> None:
    body = chirpstack_up(time=None)
    body["rxInfo"][0]["gwTime"] = "2026-12-01T09:00:00.050000Z"
    assert parse(CS_UP, as_bytes(body)).at == datetime(2026, 12, 1, 9, 0, 0, 50000, tzinfo=UTC)


def test_chirpstack_without_time_falls_back_to_network_server_time() -> None:
    uplink = parse(CS_UP, as_bytes(chirpstack_up(time=None)))
    assert uplink.at == datetime(2026, 12, 1, 9, 0, 0, 100000, tzinfo=UTC)


def test_chirpstack_without_any_time_is_refused() -> None:
    with pytest.raises(PayloadError, match="time missing"):
        parse(CS_UP, as_bytes(chirpstack_up(time=None, rxInfo=None)))


def test_chirpstack_without_device_info_uses_topic_dev_eui() -> None:
    topic = CS_UP.replace(DEV_EUI.lower(), DEV_EUI)
    assert parse(topic, as_bytes(chirpstack_up(deviceInfo=None))).device == DEV_EUI.lower()


def test_chirpstack_body_naming_another_device_is_refused() -> None:
    body = chirpstack_up()
    body["deviceInfo"]["devEui"] = "0101010101010101"
    with pytest.raises(PayloadError, match="does not match the topic"):
        parse(CS_UP, as_bytes(body))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"data": "not base64!"}, "data is not base64"),
        ({"fPort": "1"}, "fPort must be an integer"),
        ({"fPort": 256}, "fPort outside 0-255: 256"),
        ({"object": [1]}, "object must be an object"),
        ({"object": {"occupied": 1}}, "decoded occupied is not an occupancy: 1"),
        ({"time": "2026-12-01T09:00:00"}, "time has no UTC offset"),
    ],
)
def test_chirpstack_up_with_wrong_field_is_refused(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError) as error:
        parse(CS_UP, as_bytes(chirpstack_up(**fields)))
    assert error.value.reason.startswith(reason)


def test_chirpstack_status_event_carries_battery_level() -> None:
    uplink = parse(CS_STATUS, chirpstack_status())
    assert uplink == Uplink(
        source="chirpstack",
        device="70b3d5e75e00a1b2",
        at=datetime(2026, 12, 1, 9, 5, tzinfo=UTC),
        battery=87.4,
        kind="battery",
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"batteryLevelUnavailable": True, "batteryLevel": None},
        {"externalPowerSource": True, "batteryLevel": None},
    ],
    ids=["unavailable", "external-power"],
)
def test_chirpstack_status_event_without_battery_level(fields: dict[str, Any]) -> None:
    uplink = parse(CS_STATUS, chirpstack_status(**fields))
    assert (uplink.kind, uplink.battery) == ("battery", None)


def test_chirpstack_status_event_with_omitted_level_means_zero_percent() -> None:
    assert parse(CS_STATUS, chirpstack_status(batteryLevel=None)).battery == 0.0


# --- The Things Stack v3 --------------------------------------------------------------


def test_tts_uplink_with_decoded_payload() -> None:
    body = tts_up(decoded_payload={"type": "parking status", "occupied": False})
    uplink = parse(TTS_UP, as_bytes(body))
    assert uplink == Uplink(
        source="tts",
        device="70b3d5e75e00a1b2",
        at=datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC),
        occupied=False,
        kind="status",
        f_port=1,
        raw=b"\x01",
        decoded={"type": "parking status", "occupied": False},
    )


def test_tts_uplink_with_frm_payload_only() -> None:
    uplink = parse(TTS_UP, as_bytes(tts_up(frm_payload=base64.b64encode(b"\x00\x11").decode())))
    assert (uplink.occupied, uplink.raw, uplink.decoded) == (None, b"\x00\x11", None)


def test_tts_uplink_without_dev_eui_is_known_by_device_id() -> None:
    body = tts_up()
    del body["end_device_ids"]["dev_eui"]
    assert parse(TTS_UP, as_bytes(body)).device == "bay-07"


def test_tts_uplink_without_top_level_time_uses_uplink_message_time() -> None:
    body = tts_up()
    del body["received_at"]
    assert parse(TTS_UP, as_bytes(body)).at == datetime(2026, 12, 1, 9, 0, 0, 105000, tzinfo=UTC)


def test_tts_uplink_on_single_tenant_topic() -> None:
    assert parse("v3/kerbside-hh/devices/bay-07/up", as_bytes(tts_up())).source == "tts"


def test_tts_uplink_for_another_device_is_refused() -> None:
    with pytest.raises(PayloadError, match="device_id does not match the topic"):
        parse("v3/kerbside-hh@ttn/devices/bay-08/up", as_bytes(tts_up()))


def test_tts_message_without_uplink_is_refused() -> None:
    body = tts_up()
    del body["uplink_message"]
    with pytest.raises(PayloadError, match="uplink_message missing"):
        parse(TTS_UP, as_bytes(body))


# --- any input ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def mutated(body: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """The body with some of its fields replaced by arbitrary JSON values."""
    keys = st.sampled_from(sorted(body))
    changes = st.dictionaries(keys, JSON_VALUES, max_size=3)
    return changes.map(lambda change: as_bytes(body | change))


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from([NATIVE_TOPIC, CS_UP, CS_STATUS, TTS_UP]),
    payload=st.one_of(
        st.binary(max_size=64),
        JSON_VALUES.map(as_bytes),
        mutated(json.loads(native())),
        mutated(chirpstack_up(object={"occupied": True})),
        mutated(json.loads(chirpstack_status())),
        mutated(tts_up(decoded_payload={"p_state": 1})),
    ),
)
def test_any_payload_is_read_or_refused_with_a_reason(topic: str, payload: bytes) -> None:
    try:
        uplink = parse(topic, payload)
    except PayloadError as error:
        assert error.reason
    else:
        assert uplink.at.tzinfo is UTC

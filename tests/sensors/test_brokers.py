"""The broker properties the ingest consumer relies on, on Mosquitto and on the embedded amqtt.

The consumer: fixed client id, persistent session, QoS 1, manual ack after the DB commit,
retained sign texts, and (Mosquitto only) a shared subscription across replicas.
Where amqtt falls short, the test says so: see the module docstring of `sensors.broker`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sensors.broker import EmbeddedBroker
from sensors.settings import MqttSettings, parse_mqtt_url
from tests.sensors.conftest import BrokerUnderTest
from tests.sensors.mqtt_helpers import (
    V5,
    V311,
    ConnectFailed,
    Subscriber,
    collect,
    forget_session,
    publish,
    publish_many,
    unique_client_id,
    unique_prefix,
)

AMQTT_NO_REDELIVERY = (
    "amqtt 0.12 drops an outgoing QoS 1 message from its in-flight state when the PUBACK "
    "wait is cancelled by the client's disconnect (or after 5 s), so a message received "
    "but not acked is not sent again on reconnect (ProtocolHandler._handle_qos1_message_flow)"
)


@pytest.fixture
def ingest_id(broker: BrokerUnderTest) -> Iterator[str]:
    """A fixed-per-test client id whose persistent session is removed afterwards."""
    client_id = unique_client_id("ingest")
    yield client_id
    forget_session(broker.url, client_id, protocol=broker.protocol)


def ingest(broker: BrokerUnderTest, topic: str, client_id: str) -> Subscriber:
    """A subscriber shaped like the ingest consumer: persistent session, QoS 1, manual ack."""
    return Subscriber(
        broker.url,
        topic,
        client_id=client_id,
        protocol=broker.protocol,
        persistent=True,
        manual_ack=True,
    )


def test_qos1_published_while_disconnected_is_delivered_on_reconnect(
    broker: BrokerUnderTest, ingest_id: str
) -> None:
    prefix = unique_prefix("offline")
    consumer = ingest(broker, f"{prefix}/#", ingest_id).connect()
    consumer.disconnect()

    payloads = [f"reading-{i}".encode() for i in range(3)]
    with Subscriber(broker.publisher_url, f"{prefix}/#") as witness:
        publish_many(broker.publisher_url, [(f"{prefix}/bay-1/state", p) for p in payloads])
        # Once a live subscriber has them, the broker has routed them (amqtt acks a
        # publish before it routes it).
        assert len(witness.wait_for(3)) == 3

    back = ingest(broker, f"{prefix}/#", ingest_id).connect(subscribe=False)
    try:
        assert back.session_present
        got = back.wait_for(3)
        assert [m.payload for m in got] == payloads
        assert {m.qos for m in got} == {1}
        for message in got:
            back.ack(message)
    finally:
        back.disconnect()


@pytest.mark.parametrize("how", ["drop", "disconnect"])
def test_received_but_unacked_message_is_redelivered_on_reconnect(
    broker: BrokerUnderTest, ingest_id: str, how: str, request: pytest.FixtureRequest
) -> None:
    """What "ack only after the commit" relies on: a crash before the ack loses nothing."""
    if broker.kind == "amqtt":
        request.applymarker(
            pytest.mark.xfail(reason=AMQTT_NO_REDELIVERY, strict=True, raises=AssertionError)
        )
    prefix = unique_prefix("unacked")
    topic = f"{prefix}/bay-2/state"
    consumer = ingest(broker, topic, ingest_id).connect()
    publish(broker.publisher_url, topic, b"occupied")
    first = consumer.wait_for(1)
    assert [m.payload for m in first] == [b"occupied"]
    # No ack: the "DB commit" never happened.
    consumer.drop() if how == "drop" else consumer.disconnect()

    back = ingest(broker, topic, ingest_id).connect(subscribe=False)
    try:
        again = back.wait_for(1, timeout_s=3)
        assert [m.payload for m in again] == [b"occupied"], "unacked message was not redelivered"
        back.ack(again[0])
    finally:
        back.disconnect()

    # Acked now: a further reconnect brings nothing back.
    last = ingest(broker, topic, ingest_id).connect(subscribe=False)
    try:
        assert last.drain(quiet_s=0.5) == []
    finally:
        last.disconnect()


def test_retained_message_reaches_a_late_subscriber(broker: BrokerUnderTest) -> None:
    topic = f"{unique_prefix('retained')}/zones/z-1/sign"
    publish(broker.publisher_url, topic, b"2 bays free", retain=True)
    try:
        got = collect(broker.url, topic, protocol=broker.protocol)
        assert [(m.payload, m.retain) for m in got] == [(b"2 bays free", True)]
    finally:
        publish(broker.publisher_url, topic, b"", retain=True)  # clears it
    assert collect(broker.url, topic, protocol=broker.protocol, timeout_s=0.5) == []


def test_shared_subscription_splits_messages_on_mosquitto(mosquitto_url: str) -> None:
    prefix = unique_prefix("shared")
    group = unique_client_id("group").replace("-", "")
    shared = f"$share/{group}/{prefix}/#"
    one = Subscriber(mosquitto_url, shared, protocol=V5).connect()
    two = Subscriber(mosquitto_url, shared, protocol=V5).connect()
    try:
        payloads = [f"m{i}".encode() for i in range(10)]
        publish_many(
            mosquitto_url, [(f"{prefix}/bay-{i}/state", p) for i, p in enumerate(payloads)]
        )
        got_one = one.drain(quiet_s=0.5)
        got_two = two.drain(quiet_s=0.5)
    finally:
        one.disconnect()
        two.disconnect()
    first = [m.payload for m in got_one]
    second = [m.payload for m in got_two]
    assert first and second, "both group members get a share"
    assert sorted(first + second) == sorted(payloads), "each message goes to exactly one member"


# -- amqtt specifics the consumer must know about -------------------------------------------


def test_amqtt_has_no_shared_subscriptions(embedded_broker: EmbeddedBroker) -> None:
    """$share/... is granted but matches nothing: with amqtt, never set `shared_group`."""
    prefix = unique_prefix("share")
    with Subscriber(embedded_broker.url, f"$share/kerbside/{prefix}/#") as member:
        publish(embedded_broker.anonymous_url, f"{prefix}/bay-1/state", b"x")
        assert member.wait_for(1, timeout_s=1) == []


def test_amqtt_speaks_only_mqtt_311(embedded_broker: EmbeddedBroker) -> None:
    with pytest.raises(ConnectFailed):
        Subscriber(embedded_broker.url, [], protocol=V5).connect(subscribe=False, timeout_s=1)
    Subscriber(embedded_broker.url, [], protocol=V311).connect(subscribe=False).disconnect()


def test_amqtt_anonymous_clients_get_no_persistent_session(
    embedded_broker: EmbeddedBroker,
) -> None:
    """Sensors publish anonymously; only the authenticated ingest user has its messages queued."""
    prefix = unique_prefix("anon")
    client_id = unique_client_id("anon")
    anonymous = Subscriber(
        embedded_broker.anonymous_url, f"{prefix}/#", client_id=client_id, persistent=True
    )
    anonymous.connect().disconnect()
    with Subscriber(embedded_broker.anonymous_url, f"{prefix}/#") as witness:
        publish(embedded_broker.anonymous_url, f"{prefix}/bay-1/state", b"x")
        assert len(witness.wait_for(1)) == 1
    back = Subscriber(
        embedded_broker.anonymous_url, f"{prefix}/#", client_id=client_id, persistent=True
    ).connect(subscribe=False)
    try:
        assert back.wait_for(1, timeout_s=1) == []
    finally:
        back.disconnect()


def test_amqtt_refuses_a_wrong_password(embedded_broker: EmbeddedBroker) -> None:
    host, port = embedded_broker.address
    wrong = f"mqtt://{embedded_broker.username}:not-the-password@{host}:{port}"
    with pytest.raises(ConnectFailed, match="Not authorized"):
        Subscriber(wrong, []).connect(subscribe=False)


# -- the embedded broker's lifecycle ---------------------------------------------------------


def test_embedded_broker_reports_the_port_it_bound() -> None:
    broker = EmbeddedBroker(port=0)
    host, port = broker.start()
    try:
        assert host == "127.0.0.1"
        assert port > 0
        assert parse_mqtt_url(broker.url)[:3] == (host, port, broker.username)
        with socket.create_connection((host, port), timeout=2):
            pass
    finally:
        broker.stop()
    broker.stop()  # idempotent
    with pytest.raises(OSError), socket.create_connection((host, port), timeout=2):
        pass


def test_embedded_broker_fails_loudly_on_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="could not listen"):
            EmbeddedBroker(port=port).start()


def test_embedded_broker_from_settings_keeps_off_the_standard_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("URL", "EMBEDDED_PORT", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"KERBSIDE_MQTT_{name}", raising=False)
    settings = MqttSettings()
    assert settings.url is None
    assert settings.embedded_port != 1883
    broker = EmbeddedBroker.from_settings(settings.model_copy(update={"embedded_port": 0}))
    with broker:
        assert broker.address[1] not in (0, 1883)
        assert broker.username == "kerbside-ingest"
        assert len(broker.password) >= 24

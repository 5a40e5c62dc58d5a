"""paho-mqtt 2.x helpers for tests: publish, collect, and a subscriber that can drop its connection.

Every wait is bounded (a few seconds). Use `unique_prefix()` for topics so concurrent runs
against the shared Mosquitto do not see each other's messages.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from types import TracebackType
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sensors.settings import parse_mqtt_url

TIMEOUT_S = 5.0
V5 = mqtt.MQTTv5
V311 = mqtt.MQTTv311


def unique_prefix(name: str = "t") -> str:
    """A topic prefix no other test run uses."""
    return f"kerbside-test/{name}/{uuid.uuid4().hex}"


def unique_client_id(name: str = "t") -> str:
    return f"kerbside-test-{name}-{uuid.uuid4().hex[:12]}"


class ConnectFailed(RuntimeError):
    """The broker refused the CONNECT (or did not answer in time)."""


def _client(
    url: str,
    *,
    client_id: str = "",
    protocol: int = V311,
    clean: bool = True,
    manual_ack: bool = False,
) -> tuple[mqtt.Client, str, int]:
    host, port, username, password = parse_mqtt_url(url)
    kwargs: dict[str, object] = {}
    if protocol != V5:
        kwargs["clean_session"] = clean
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        manual_ack=manual_ack,
        **kwargs,
    )
    if username is not None:
        client.username_pw_set(username, password)
    return client, host, port


def _connect(
    client: mqtt.Client,
    host: str,
    port: int,
    *,
    protocol: int,
    clean: bool,
    session_expiry_s: int,
    timeout_s: float,
) -> bool:
    """Connect with the network loop running; return the CONNACK's session-present flag."""
    done = threading.Event()
    outcome: dict[str, object] = {}

    def on_connect(_c, _u, flags, reason_code, _props) -> None:
        outcome.setdefault("reason", reason_code)
        outcome.setdefault("session_present", flags.session_present)
        done.set()

    def on_disconnect(_c, _u, _flags, reason_code, _props) -> None:
        outcome.setdefault("reason", reason_code)
        outcome.setdefault("session_present", False)
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    if protocol == V5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        client.connect(host, port, keepalive=30, clean_start=clean, properties=props)
    else:
        client.connect(host, port, keepalive=30)
    client.loop_start()
    if not done.wait(timeout_s):
        client.loop_stop()
        raise ConnectFailed(f"no CONNACK from {host}:{port} within {timeout_s} s")
    reason = outcome["reason"]
    if reason.is_failure or not client.is_connected():  # type: ignore[attr-defined]
        client.loop_stop()
        raise ConnectFailed(f"{host}:{port} refused the connection: {reason}")
    client.on_connect = None
    client.on_disconnect = None
    return bool(outcome["session_present"])


def publish(
    url: str,
    topic: str,
    payload: bytes | str,
    qos: int = 1,
    retain: bool = False,
    *,
    timeout_s: float = TIMEOUT_S,
) -> None:
    """Publish one message (MQTT 3.1.1, which both brokers speak) and wait for the broker's ack."""
    publish_many(url, [(topic, payload)], qos=qos, retain=retain, timeout_s=timeout_s)


def publish_many(
    url: str,
    messages: list[tuple[str, bytes | str]],
    qos: int = 1,
    retain: bool = False,
    *,
    timeout_s: float = TIMEOUT_S,
) -> None:
    """Publish several messages over one connection; wait until each is acknowledged."""
    client, host, port = _client(url, client_id=unique_client_id("pub"))
    _connect(client, host, port, protocol=V311, clean=True, session_expiry_s=0, timeout_s=timeout_s)
    try:
        infos = [
            client.publish(topic, payload, qos=qos, retain=retain) for topic, payload in messages
        ]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.01))
            if not info.is_published():
                raise TimeoutError(f"broker did not acknowledge a publish within {timeout_s} s")
    finally:
        client.disconnect()
        client.loop_stop()


class Subscriber:
    """A paho client that subscribes and queues what it receives; usable as a context manager.

    `persistent=True` asks for a session that outlives the connection: MQTT 5 `clean_start=False`
    with a SessionExpiryInterval, or MQTT 3.1.1 `clean_session=False` (amqtt speaks only 3.1.1).
    """

    def __init__(
        self,
        url: str,
        topics: list[str] | str,
        *,
        client_id: str | None = None,
        protocol: int = V311,
        persistent: bool = False,
        manual_ack: bool = False,
        session_expiry_s: int = 120,
        qos: int = 1,
    ) -> None:
        self.url = url
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.client_id = client_id or unique_client_id("sub")
        self.protocol = protocol
        self.persistent = persistent
        self.manual_ack = manual_ack
        self.session_expiry_s = session_expiry_s
        self.qos = qos
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.session_present = False
        self._client: mqtt.Client | None = None

    def connect(self, *, subscribe: bool = True, timeout_s: float = TIMEOUT_S) -> Self:
        clean = not self.persistent
        client, host, port = _client(
            self.url,
            client_id=self.client_id,
            protocol=self.protocol,
            clean=clean,
            manual_ack=self.manual_ack,
        )
        client.on_message = lambda _c, _u, message: self.messages.put(message)
        self._client = client
        self.session_present = _connect(
            client,
            host,
            port,
            protocol=self.protocol,
            clean=clean,
            session_expiry_s=self.session_expiry_s if self.persistent else 0,
            timeout_s=timeout_s,
        )
        if subscribe:
            self.subscribe(timeout_s=timeout_s)
        return self

    def subscribe(self, *, timeout_s: float = TIMEOUT_S) -> list[int]:
        """Subscribe to the topics; return the granted QoS (or reason) per filter."""
        assert self._client is not None
        done = threading.Event()
        granted: list[int] = []

        def on_subscribe(_c, _u, _mid, reason_codes, _props) -> None:
            granted.extend(int(code.value) for code in reason_codes)
            done.set()

        self._client.on_subscribe = on_subscribe
        self._client.subscribe([(topic, self.qos) for topic in self.topics])
        if not done.wait(timeout_s):
            raise TimeoutError(f"no SUBACK within {timeout_s} s")
        return granted

    def ack(self, message: mqtt.MQTTMessage) -> None:
        assert self._client is not None
        self._client.ack(message.mid, message.qos)

    def wait_for(self, count: int, timeout_s: float = TIMEOUT_S) -> list[mqtt.MQTTMessage]:
        """Up to `count` messages, waiting at most `timeout_s` in all."""
        deadline = time.monotonic() + timeout_s
        got: list[mqtt.MQTTMessage] = []
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                got.append(self.messages.get(timeout=remaining))
            except queue.Empty:
                break
        return got

    def drain(self, quiet_s: float = 0.5) -> list[mqtt.MQTTMessage]:
        """Whatever arrives until nothing has come for `quiet_s`."""
        got: list[mqtt.MQTTMessage] = []
        while True:
            try:
                got.append(self.messages.get(timeout=quiet_s))
            except queue.Empty:
                return got

    def disconnect(self) -> None:
        """A clean DISCONNECT (the session stays if persistent)."""
        if self._client is None:
            return
        client, self._client = self._client, None
        client.disconnect()
        client.loop_stop()

    def drop(self) -> None:
        """Lose the connection without DISCONNECT, as a crashed process would."""
        if self._client is None:
            return
        client, self._client = self._client, None
        client.loop_stop()
        sock = client.socket()
        if sock is not None:
            sock.close()

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()


def collect(
    url: str,
    topic: str,
    *,
    count: int = 1,
    timeout_s: float = TIMEOUT_S,
    protocol: int = V311,
) -> list[mqtt.MQTTMessage]:
    """Subscribe with a fresh clean session and return up to `count` messages within the timeout."""
    with Subscriber(url, topic, protocol=protocol) as subscriber:
        return subscriber.wait_for(count, timeout_s)


def forget_session(url: str, client_id: str, *, protocol: int = V311) -> None:
    """Remove a persistent session from the broker (connect clean, expiry 0, disconnect)."""
    subscriber = Subscriber(url, [], client_id=client_id, protocol=protocol, persistent=False)
    try:
        subscriber.connect(subscribe=False)
    except ConnectFailed:
        return
    subscriber.disconnect()

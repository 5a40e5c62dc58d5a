"""MqttPublisher: simulated messages published over MQTT with paho-mqtt 2.x, QoS 1."""

from __future__ import annotations

import logging
import threading
import uuid
from types import TracebackType
from typing import Any, Literal, Self

import paho.mqtt.client as mqtt

from sensors.settings import MqttSettings

log = logging.getLogger("kerbside.simulator")


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

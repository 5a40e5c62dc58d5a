"""The MQTT ingest consumer: QoS 1, a persistent session, acknowledged only after commit.

paho's network thread queues messages; one worker thread drains them in batches (bounded by
count and time), applies each batch in one transaction, and only then acknowledges its
messages. Unacknowledged messages are redelivered by the broker after a reconnect, so a
crash loses nothing; a database outage holds the batch and retries it with backoff. That
redelivery is the broker's promise: Mosquitto keeps it, the embedded amqtt broker (MQTT 3.1.1,
all-in-one mode only) drops what was unacknowledged when a connection breaks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sensors.ingest import BatchResult, Ingestor, Message
from sensors.settings import MqttSettings

log = logging.getLogger("kerbside.consumer")
RETRY_MAX_S = 30.0


class Consumer:
    """Subscribes, batches, applies, acknowledges; `on_batch` hears about each applied batch."""

    def __init__(
        self,
        settings: MqttSettings,
        ingestor: Ingestor,
        *,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.settings = settings
        self.ingestor = ingestor
        self.on_batch = on_batch
        self.host, self.port, username, password = settings.broker_address()
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._worker = threading.Thread(target=self._drain, name="kerbside-ingest", daemon=True)
        self._v5 = settings.protocol == "5"
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            # MQTT 3.1.1 keeps the session with clean_session=False (MQTT 5 uses clean_start).
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        self._filters = list(settings.topics)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.applied_batches = 0

    def start(self) -> None:
        """Connect (with a persistent session) and start consuming in the background."""
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.session_expiry_s
            self.client.connect_async(
                self.host, self.port, keepalive=30, clean_start=False, properties=properties
            )
        else:
            self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._worker.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until subscribed to the broker (for tests and startup logs)."""
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """Disconnect first, then apply what already arrived; the broker keeps the rest.

        Disconnecting first stops the inflow, so stopping cannot be held up by a broker
        that keeps sending; acknowledgements after it are no-ops, and the broker redelivers
        those messages to the next consumer, where they count as duplicates.
        """
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._worker.join(timeout=30)

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker refused the connection: %s", reason)
            return
        client.subscribe([(topic, 1) for topic in self.settings.subscriptions()])
        log.info("ingest connected", extra={"broker": f"{self.host}:{self.port}"})

    def _on_subscribe(self, *_args: object) -> None:
        # Ready only once the broker confirmed the subscriptions (SUBACK), not at CONNACK.
        self._connected.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _props: object,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("ingest lost the broker (%s); reconnecting", reason)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self._inbox.put(message)

    def _drain(self) -> None:
        while not self._stop.is_set() or not self._inbox.empty():
            batch = self._next_batch()
            if batch:
                self._apply_until_done(batch)
            elif self._stop.is_set():
                return

    def _next_batch(self) -> list[mqtt.MQTTMessage]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_ms / 1000
        while len(batch) < self.settings.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _apply_until_done(self, batch: list[mqtt.MQTTMessage]) -> None:
        messages = [Message(m.topic, m.payload, m.mid, m.qos) for m in batch]
        delay = 0.5
        while True:
            try:
                result = self.ingestor.handle(messages)
                break
            except Exception:
                if self._stop.is_set():
                    return  # unacknowledged: the broker redelivers them to the next consumer
                log.exception("could not apply a batch of %d; retrying in %.1fs", len(batch), delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        for message in batch:
            if message.qos > 0:
                self.client.ack(message.mid, message.qos)
        self.applied_batches += 1
        if self.on_batch is not None:
            try:
                self.on_batch(result)
            except Exception:
                log.exception("batch listener failed")

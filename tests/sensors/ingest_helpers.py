"""Helpers for the ingest consumer tests: a running consumer, bounded polling, a private Mosquitto.

- `running_consumer(...)`: the real `sensors.consumer.Consumer` with a real `Ingestor`, started,
  waited for until the broker has acknowledged its subscriptions (SUBACK, not just CONNACK),
  and stopped on exit; it sums the `BatchResult`s it reports.
- `wait_until(...)`, `wait_for_count(...)`: poll until a deadline; never a fixed sleep.
- `ConnectedSensor`: a publisher that stays connected, for latency measurements.
- `private_mosquitto(...)`: a Mosquitto of our own on a free loopback port with our own
  configuration (the shared one on 1883 keeps the default `max_queued_messages 1000`, which
  silently drops what a consumer that is down a while would need).
- `SignalledBroker`: the embedded amqtt broker plus a plugin that says when amqtt has marked
  a client's session disconnected (`disconnected(client_id)`): amqtt keeps a session
  "connected" until it has stopped the connection's handler, and hands messages routed in
  that window to the dying handler, which loses them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from amqtt.plugins.base import BasePlugin
from sqlalchemy import Engine

from booking.policy import Policy
from sensors.broker import EmbeddedBroker
from sensors.consumer import Consumer
from sensors.ingest import BatchResult, Ingestor
from sensors.settings import MqttSettings, parse_mqtt_url

T = TypeVar("T")
SUBSCRIBE_TIMEOUT_S = 10.0


@dataclass
class Totals:
    """The sum of the BatchResults a consumer reported (thread-safe)."""

    batches: int = 0
    readings: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: int = 0
    redelivered: int = 0
    """Messages that arrived with the DUP flag: sent before, not acknowledged in time."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: BatchResult) -> None:
        with self._lock:
            self.batches += 1
            self.readings += result.readings
            self.duplicates += result.duplicates
            self.late += result.late
            self.dead_letters += result.dead_letters

    def wait_quiet(self, *, quiet_s: float = 0.5, timeout_s: float = 10.0) -> None:
        """Return once no batch has been reported for `quiet_s` (redeliveries would be)."""
        deadline = time.monotonic() + timeout_s
        seen = self.batches
        while True:
            time.sleep(quiet_s)
            if self.batches == seen:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"batches still arriving after {timeout_s} s")
            seen = self.batches

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "batches": self.batches,
                "readings": self.readings,
                "duplicates": self.duplicates,
                "late": self.late,
                "dead_letters": self.dead_letters,
                "redelivered": self.redelivered,
            }

    def received(self, dup: bool) -> None:
        if dup:
            with self._lock:
                self.redelivered += 1


@dataclass
class RunningConsumer:
    consumer: Consumer
    totals: Totals


def consumer_settings(
    url: str,
    *,
    client_id: str,
    protocol: str,
    topics: list[str] | None = None,
    session_expiry_s: int = 600,
) -> MqttSettings:
    """Settings for a consumer under test; nothing is read from the environment that matters."""
    fields: dict[str, object] = {
        "url": url,
        "client_id": client_id,
        "protocol": protocol,
        "session_expiry_s": session_expiry_s,
        "username": None,
        "password": None,
        "shared_group": None,
    }
    if topics is not None:
        fields["topics"] = topics
    return MqttSettings(**fields)  # type: ignore[arg-type]


@contextmanager
def running_consumer(
    engine: Engine,
    settings: MqttSettings,
    *,
    clock: Callable[[], datetime],
    policy: Policy | None = None,
    subscribe_timeout_s: float = SUBSCRIBE_TIMEOUT_S,
) -> Iterator[RunningConsumer]:
    """A started consumer whose subscriptions the broker has granted; stopped on exit.

    It counts the messages that arrive flagged DUP (redeliveries) in `totals.redelivered`.
    """
    totals = Totals()
    ingestor = Ingestor(engine, policy or Policy(), clock)
    consumer = Consumer(settings, ingestor, on_batch=totals.add)
    deliver = consumer.client.on_message

    def on_message(client: object, userdata: object, message: object) -> None:
        totals.received(bool(getattr(message, "dup", False)))
        deliver(client, userdata, message)

    consumer.client.on_message = on_message
    consumer.start()
    try:
        # wait_connected returns once the broker has granted the subscriptions (SUBACK).
        if not consumer.wait_connected(subscribe_timeout_s):
            raise TimeoutError(f"the consumer did not subscribe within {subscribe_timeout_s} s")
        yield RunningConsumer(consumer, totals)
    finally:
        consumer.stop()


def wait_until(
    check: Callable[[], T], *, timeout_s: float, interval_s: float = 0.01, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy; return it, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s (last: {value!r})")
        time.sleep(interval_s)


def wait_for_count(
    count: Callable[[], int],
    target: int,
    *,
    stall_s: float = 5.0,
    timeout_s: float = 180.0,
    interval_s: float = 0.05,
) -> int:
    """Poll `count()` until it reaches `target`; give up when it has not grown for `stall_s`
    (what is lost will not come) or after `timeout_s`. Returns the last count."""
    deadline = time.monotonic() + timeout_s
    last, grew = count(), time.monotonic()
    while last < target:
        now = time.monotonic()
        if now >= deadline or now - grew >= stall_s:
            break
        time.sleep(interval_s)
        current = count()
        if current != last:
            last, grew = current, time.monotonic()
    return last


class ConnectedSensor:
    """A sensor that stays connected (MQTT 3.1.1, QoS 1), so a measured latency holds no
    connection set-up; `publish` returns once the broker has acknowledged the message."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        host, port, username, password = parse_mqtt_url(url)
        self.timeout_s = timeout_s
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"kerbside-test-sensor-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        connected = threading.Event()
        self.client.on_connect = lambda *_args: connected.set()
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(timeout_s) or not self.client.is_connected():
            self.close()
            raise TimeoutError(f"could not connect to {host}:{port}")

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK within {self.timeout_s} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# -- a private Mosquitto --------------------------------------------------------------------


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def private_mosquitto(
    workdir: Path, *, options: dict[str, str], startup_timeout_s: float = 10.0
) -> Iterator[str]:
    """Run `mosquitto -c <our config>` on a free loopback port; yield its mqtt:// URL.

    `options` are extra mosquitto.conf lines, e.g. {"max_queued_messages": "0"}.
    The process is ours: it is terminated (by its pid) on exit.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise FileNotFoundError("mosquitto is not installed")
    port = _free_port()
    config = workdir / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        *(f"{key} {value}" for key, value in options.items()),
    ]
    config.write_text("\n".join(lines) + "\n")
    log = (workdir / "mosquitto.log").open("wb")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {process.returncode}: "
                    f"{(workdir / 'mosquitto.log').read_text(errors='replace')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("mosquitto did not start") from None
                time.sleep(0.02)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


# -- the embedded broker, telling when it has let a client go -------------------------------

_DISCONNECTED: dict[str, threading.Event] = {}
_DISCONNECTED_LOCK = threading.Lock()


def disconnected(client_id: str) -> threading.Event:
    """Set once a SignalledBroker has marked `client_id`'s session disconnected."""
    with _DISCONNECTED_LOCK:
        return _DISCONNECTED.setdefault(client_id, threading.Event())


class DisconnectSignal(BasePlugin[Any]):
    """amqtt plugin: fires after `transitions.disconnect()` (amqtt.broker._handle_disconnect)."""

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Any) -> None:
        disconnected(client_id).set()


class SignalledBroker(EmbeddedBroker):
    """The embedded broker with `DisconnectSignal` loaded next to the ingest's auth plugin."""

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["plugins"][f"{__name__}.DisconnectSignal"] = {}
        return config

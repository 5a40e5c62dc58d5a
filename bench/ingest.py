"""Sensor ingest: MQTT (Mosquitto) into committed bay state, on SQLite and on PostgreSQL.

Goals from the issue: sustained ingest >= 10,000 readings/s and >= 0.5x a bare paho
subscriber draining the same stream in the same run; p99 sensor-to-state latency at 2,000
readings/s <= 500 ms; ingest RSS <= 300 MB; for 100,000 bays (`--bays 100000`; the default
is smaller so that a run fits in a few minutes on a small machine).

The real `sensors.consumer.Consumer` with the real `sensors.ingest.Ingestor` runs in a child
process (so its RSS is its own); the publisher runs here. The shared Mosquitto on 1883 queues
at most 1000 messages per client and drops the rest, so the publisher keeps at most
`--window` messages published but not yet committed (a closed loop through a shared
counter): the stream is bounded and nothing is dropped. The bare paho baseline drains the
identical stream under the identical window.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, text

from bench import Goal, Report, percentiles_ms
from bench.http_load import process_memory_mb
from booking import demo, migrate, sensor_registry, zones
from booking.database import make_engine, normalise_url, transaction

RATE_GOAL = Goal(">=", 10_000.0)
RATIO_GOAL = Goal(">=", 0.5)
P99_GOAL = Goal("<=", 500.0)
RSS_GOAL = Goal("<=", 300.0)
TOPIC_FILTER = "kerbside/v1/sensors/+/state"
MQTT_URL = "mqtt://127.0.0.1:1883"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_TZ = "Europe/Berlin"
BASE_TS_MS = 1_700_000_000_000


def run(argv: Sequence[str]) -> Report:
    """Load bays, then per backend: baseline drain, sustained ingest, paced latency, RSS."""
    args = _parse(argv)
    report = Report(
        name="ingest",
        title=f"MQTT ingest into committed state, {args.bays:,} bays",
        parameters=vars(args),
    )
    tag = uuid.uuid4().hex[:6]
    for backend in args.backends.split(","):
        try:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory(prefix="kerbside-bench-ingest-") as tmp:
                    _backend(f"sqlite:///{Path(tmp) / 'ingest.db'}", backend, tag, args, report)
            else:
                with _postgres_database() as url:
                    _backend(url, backend, tag, args, report)
        except Exception as exc:  # a missing server is news
            report.notes.append(f"{backend}: not measured ({type(exc).__name__}: {exc})")
    return report


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__)
    parser.add_argument("--bays", type=int, default=20_000, help="bays with a sensor")
    parser.add_argument("--messages", type=int, default=50_000, help="readings in the stream")
    parser.add_argument("--rate", type=float, default=2_000, help="paced rate for latency")
    parser.add_argument("--latency-s", type=float, default=10, help="seconds of paced load")
    parser.add_argument("--window", type=int, default=800, help="max published, uncommitted")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    return parser.parse_args(list(argv))


class _postgres_database:  # used as a context manager
    def __enter__(self) -> str:
        self.admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        self.name = f"kerbside_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        return POSTGRES_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def __exit__(self, *_exc: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _backend(url: str, backend: str, tag: str, args: argparse.Namespace, report: Report) -> None:
    sensors = _load(url, backend, tag, args, report)
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    ctx = mp.get_context("spawn")

    base_rate = _drain(ctx, _bare_child, None, sensors, 0, args)["rate"]
    report.add(f"{label}: bare paho subscriber drain", base_rate, "msgs/s")

    done = ctx.Value("q", 0)
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_consumer_child, args=(url, child, done), daemon=True)
    process.start()
    try:
        if not parent.poll(60) or parent.recv() != "ready":
            raise TimeoutError("the consumer did not subscribe")
        # Sustained: as fast as the consumer commits, under the same window as the baseline.
        first_round = 0
        sustained = _publish(sensors, first_round, args.messages, done, args.window, None)
        rate = args.messages / (sustained["last_done"] - sustained["start"])
        report.add(f"{label}: sustained ingest (committed)", rate, "readings/s", RATE_GOAL)
        report.add(f"{label}: ingest / bare paho", rate / base_rate, "x", RATIO_GOAL)
        # Paced: the latency from the publish call to the commit of the batch holding it.
        parent.send("latency")
        paced = int(args.rate * args.latency_s)
        rounds = -(-args.messages // len(sensors)) + 1
        before = done.value
        paced_result = _publish(sensors, rounds, paced, done, 10**9, args.rate, offset=before)
        parent.send("report")
        if not parent.poll(60):
            raise TimeoutError("the consumer did not report")
        result = parent.recv()
    finally:
        parent.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()
    lat = percentiles_ms(result["latencies_ns"])
    report.add(f"{label}: latency at {args.rate:g}/s p50", lat["p50"], "ms")
    report.add(f"{label}: latency at {args.rate:g}/s p99", lat["p99"], "ms", P99_GOAL)
    report.add(f"{label}: latency samples", len(result["latencies_ns"]), "readings")
    report.add(f"{label}: paced readings published", paced, "readings")
    # Mosquitto drops past 1000 queued per client: a shortfall means ingest fell behind.
    report.add(f"{label}: paced readings committed", paced_result["done"], "readings")
    report.add(f"{label}: ingest process peak RSS", result["peak_mb"], "MB", RSS_GOAL)
    report.notes.append(f"{label}: consumer totals {result['totals']}")


def _load(url: str, backend: str, tag: str, args: argparse.Namespace, report: Report) -> list[str]:
    label = "SQLite" if backend == "sqlite" else "PostgreSQL"
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        migrate.upgrade(engine)
        # demo zones hold 1-6 bays (mean ~2.9): half as many zones always holds enough bays.
        specs = list(demo.generate(args.bays // 2 + 1, seed=1))
        with transaction(engine) as session:
            zones.upsert_many(
                session=session, specs=specs, now=datetime.now(UTC), default_tz=DEFAULT_TZ
            )
        prefix = f"b{tag}-"
        with transaction(engine) as session:
            session.execute(
                text(
                    "UPDATE bays SET sensor_id = :prefix || CAST(id AS VARCHAR) WHERE id IN "
                    "(SELECT id FROM bays ORDER BY id LIMIT :n)"
                ),
                {"prefix": prefix, "n": args.bays},
            )
            sensors = [
                row[0]
                for row in session.execute(
                    text("SELECT sensor_id FROM bays WHERE sensor_id IS NOT NULL ORDER BY id")
                )
            ]
        # Enrol the sensors now, so the measured ingest does not pay for first sightings.
        for start in range(0, len(sensors), 5_000):
            with transaction(engine) as session:
                sensor_registry.resolve(
                    session=session, devices=sensors[start : start + 5_000], now=datetime.now(UTC)
                )
        report.add(f"{label}: set-up (zones, bays, sensors)", time.perf_counter() - started, "s")
    finally:
        engine.dispose()
    return sensors


def _payload(sensor_index: int, round_: int, sent: float | None) -> bytes:
    body: dict[str, Any] = {
        "occupied": (round_ + sensor_index) % 2 == 0,
        "ts": BASE_TS_MS + round_ * 1000,
    }
    if sent is not None:
        body["sent"] = sent  # unknown keys are ignored by the native envelope
    return json.dumps(body, separators=(",", ":")).encode()


def _publish(
    sensors: list[str],
    first_round: int,
    count: int,
    done: Synchronized,  # type: ignore[type-arg]
    window: int,
    rate: float | None,
    *,
    offset: int = 0,
) -> dict[str, float]:
    """Publish `count` readings (round-robin over sensors, ts rising per round); wait for them."""
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"kerbside-bench-pub-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect("127.0.0.1", 1883, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise TimeoutError("publisher could not connect")
    start = time.time()
    last_info = None
    try:
        for n in range(count):
            if rate is not None:
                delay = start + n / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            else:
                while n - (done.value - offset) >= window:
                    time.sleep(0.0005)
            index = n % len(sensors)
            round_ = first_round + n // len(sensors)
            topic = f"kerbside/v1/sensors/{sensors[index]}/state"
            sent = time.time() if rate is not None else None
            last_info = client.publish(topic, _payload(index, round_, sent), qos=1)
        if last_info is not None:
            last_info.wait_for_publish(30)
        deadline = time.monotonic() + 120
        seen, grew = done.value, time.monotonic()
        while done.value - offset < count and time.monotonic() < deadline:
            time.sleep(0.002)
            if done.value != seen:
                seen, grew = done.value, time.monotonic()
            elif time.monotonic() - grew > 10:
                break
        return {"start": start, "last_done": time.time(), "done": done.value - offset}
    finally:
        client.disconnect()
        client.loop_stop()


def _drain(
    ctx: Any, target: Any, url: str | None, sensors: list[str], first_round: int, args: Any
) -> dict[str, float]:
    done = ctx.Value("q", 0)
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, done), daemon=True)
    process.start()
    try:
        if not parent.poll(60) or parent.recv() != "ready":
            raise TimeoutError("the subscriber did not subscribe")
        result = _publish(sensors, first_round, args.messages, done, args.window, None)
    finally:
        parent.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()
    return {"rate": result["done"] / (result["last_done"] - result["start"])}


def _bare_child(conn: Any, done: Synchronized) -> None:  # type: ignore[type-arg]
    """A bare paho subscriber (MQTT 5, QoS 1, acknowledged on receipt) counting messages."""
    subscribed = threading.Event()
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"kerbside-bench-bare-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    count = 0

    def on_message(*_a: object) -> None:
        nonlocal count
        count += 1
        done.value = count

    client.on_connect = lambda c, *_a: c.subscribe([(TOPIC_FILTER, 1)])
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_message = on_message
    client.connect("127.0.0.1", 1883, keepalive=30)
    client.loop_start()
    if subscribed.wait(30):
        conn.send("ready")
    conn.recv()
    client.disconnect()
    client.loop_stop()


def _consumer_child(url: str, conn: Any, done: Synchronized) -> None:  # type: ignore[type-arg]
    """The real consumer + ingestor; counts committed messages, times sent-to-commit."""
    from booking.policy import Policy
    from sensors.consumer import Consumer
    from sensors.ingest import BatchResult, Ingestor, Message
    from sensors.settings import MqttSettings

    engine = make_engine(url)
    ingestor = Ingestor(engine, Policy(), lambda: datetime.now(UTC))
    latencies: list[int] = []
    totals = {"readings": 0, "duplicates": 0, "late": 0, "dead_letters": 0}
    handle = ingestor.handle

    def timed_handle(messages: Sequence[Message]) -> BatchResult:
        result = handle(messages)
        committed = time.time()
        for message in messages:
            if b'"sent"' in message.payload:
                sent = json.loads(message.payload).get("sent")
                if isinstance(sent, float):
                    latencies.append(int((committed - sent) * 1e9))
        return result

    def on_batch(result: BatchResult) -> None:
        totals["readings"] += result.readings
        totals["duplicates"] += result.duplicates
        totals["late"] += result.late
        totals["dead_letters"] += result.dead_letters
        done.value = sum(totals.values())

    ingestor.handle = timed_handle  # type: ignore[method-assign]
    settings = MqttSettings(
        url=MQTT_URL,
        client_id=f"kerbside-bench-ingest-{uuid.uuid4().hex[:8]}",
        protocol="5",
        session_expiry_s=60,
        username=None,
        password=None,
        shared_group=None,
        topics=[TOPIC_FILTER],
        batch_size=500,
        batch_ms=100,
    )
    consumer = Consumer(settings, ingestor, on_batch=on_batch)
    consumer.start()
    try:
        if consumer.wait_connected(30):
            conn.send("ready")
        while (command := conn.recv()) != "stop":
            if command == "latency":
                latencies.clear()
            elif command == "report":
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                conn.send(
                    {
                        "latencies_ns": list(latencies),
                        "peak_mb": max(peak, process_memory_mb()["peak_mb"]),
                        "totals": dict(totals),
                    }
                )
    finally:
        consumer.stop()
        engine.dispose()

"""The console's event stream: 100 clients while 1,000 occupancy changes a second arrive.

Goal from the console issue: a zone's update reaches the console within 2 s of the sensor
change. The changes are written straight into the database by this process (as the sensor
ingest would); the server's Broadcaster polls every 0.5 s and sends an `event: zone` per changed
zone to every staff client.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import Goal, Report, percentiles_ms
from bench.feeds import serve_api
from bench.http_load import serve_in_child
from booking import accounts, migrate, occupancy, sensor_registry, zones
from booking.database import make_engine, transaction
from booking.policy import Policy
from booking.zone_specs import BaySpec, ZoneSpec

LAG_GOAL = Goal("<=", 2000.0)
EMAIL, PASSWORD = "operator@bench.example", "bench-operator-password"
DEFAULT_TZ = "Europe/Berlin"
STREAM_PATH = "/api/v1/events/stream"


def run(argv: Sequence[str]) -> Report:
    """Open the streams, write changes at the set rate, and measure delivery and lag."""
    args = _parse(argv)
    report = Report(
        name="stream",
        title=(
            f"event stream to {args.clients} clients at {args.rate:,} changes/s "
            f"({args.zones:,} zones x {args.bays} sensed bays, SQLite)"
        ),
        parameters=vars(args),
    )
    with tempfile.TemporaryDirectory(prefix="kerbside-bench-stream-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'stream.db'}"
        sensors = _prepare(database_url, args)
        with serve_in_child(serve_api, database_url, 5.0) as server:
            asyncio.run(_measure(server.url, database_url, sensors, args, report))
    return report


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench stream", description=__doc__)
    parser.add_argument("--zones", type=int, default=1_000, help="zones, each with sensed bays")
    parser.add_argument("--bays", type=int, default=2, help="bays (sensors) per zone")
    parser.add_argument("--clients", type=int, default=100, help="concurrent SSE clients")
    parser.add_argument("--rate", type=int, default=1_000, help="occupancy changes per second")
    parser.add_argument("--batch", type=int, default=100, help="changes per committed batch")
    parser.add_argument("--duration", type=float, default=10, help="seconds of changes")
    parser.add_argument("--drain", type=float, default=4, help="seconds to wait after writing")
    return parser.parse_args(list(argv))


def _prepare(database_url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """Zones with sensed bays, an operator, sensors enrolled; returns (sensor, zone) pairs."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    width = len(str(args.zones))
    specs, pairs = [], []
    for n in range(args.zones):
        zone_id = f"STR-{n + 1:0{width}d}"
        lon, lat = 9.9 + (n % 100) * 0.001, 53.5 + (n // 100) * 0.001
        bays = [
            BaySpec(label=str(b + 1), sensor_id=f"{zone_id}-s{b + 1}") for b in range(args.bays)
        ]
        pairs += [(bay.sensor_id or "", zone_id) for bay in bays]
        specs.append(
            ZoneSpec(
                id=zone_id,
                name=f"Stream zone {n + 1}",
                geometry={"type": "LineString", "coordinates": [[lon, lat], [lon + 0.0003, lat]]},
                bays=bays,
            )
        )
    with transaction(engine) as session:
        zones.upsert_many(session=session, specs=specs, now=now, default_tz=DEFAULT_TZ)
        accounts.register(session=session, email=EMAIL, password=PASSWORD, now=now, role="operator")
    with transaction(engine) as session:
        sensor_registry.resolve(session=session, devices=[s for s, _ in pairs], now=now)
    engine.dispose()
    return pairs


class Client:
    """One console connection: when each zone event arrived."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.received: list[tuple[float, str]] = []
        self.bytes = 0


async def _listen(http: httpx.AsyncClient, url: str, client: Client, stop: asyncio.Event) -> None:
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        event = ""
        async for line in response.aiter_lines():
            client.bytes += len(line) + 1
            if line.startswith(": connected"):
                client.connected.set()
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "zone":
                client.received.append((time.time(), json.loads(line[6:])["zone_id"]))
            if stop.is_set():
                return


def _write(
    database_url: str,
    sensors: list[tuple[str, str]],
    args: argparse.Namespace,
    commits: dict[str, list[float]],
    batch_ms: list[int],
    done: threading.Event,
) -> None:
    """Write flips at the set rate in committed batches; commit times per zone."""
    engine = make_engine(database_url)
    policy = Policy()
    state = dict.fromkeys((s for s, _ in sensors), False)
    per_s = args.rate / args.batch
    batches = int(args.duration * per_s)
    started = time.perf_counter()
    cursor = 0
    for n in range(batches):
        delay = started + n / per_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        chosen = [sensors[(cursor + i) % len(sensors)] for i in range(args.batch)]
        cursor += args.batch
        now = datetime.now(UTC)
        readings = []
        for sensor_id, _ in chosen:
            state[sensor_id] = not state[sensor_id]
            readings.append(
                occupancy.OccupancyReading(sensor_id=sensor_id, at=now, occupied=state[sensor_id])
            )
        t0 = time.perf_counter_ns()
        with transaction(engine) as session:
            occupancy.apply(session=session, readings=readings, now=now, policy=policy)
        committed = time.time()
        batch_ms.append(time.perf_counter_ns() - t0)
        for _, zone_id in chosen:
            commits.setdefault(zone_id, []).append(committed)
    done.set()
    engine.dispose()


async def _measure(
    base_url: str,
    database_url: str,
    sensors: list[tuple[str, str]],
    args: argparse.Namespace,
    report: Report,
) -> None:
    token = httpx.post(
        base_url + "/api/v1/auth/token",
        data={"username": EMAIL, "password": PASSWORD},
        timeout=30,
    ).json()["access_token"]
    url = f"{base_url}{STREAM_PATH}?access_token={token}"
    limits = httpx.Limits(max_connections=args.clients + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(30, read=None)
    clients = [Client() for _ in range(args.clients)]
    stop = asyncio.Event()
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        tasks = [asyncio.create_task(_listen(http, url, c, stop)) for c in clients]
        connect_started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), timeout=60)
        report.add("all clients connected in", time.perf_counter() - connect_started, "s")
        await asyncio.sleep(1.5)  # the first poll only sets the Broadcaster's marks
        commits: dict[str, list[float]] = {}
        batch_ns: list[int] = []
        done = threading.Event()
        writer = threading.Thread(
            target=_write, args=(database_url, sensors, args, commits, batch_ns, done)
        )
        write_started = time.time()
        writer.start()
        while not done.is_set():
            await asyncio.sleep(0.1)
        write_ended = time.time()
        await asyncio.sleep(args.drain)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    writer.join()
    _figures(clients, commits, batch_ns, write_started, write_ended, args, report)


def _figures(
    clients: list[Client],
    commits: dict[str, list[float]],
    batch_ns: list[int],
    write_started: float,
    write_ended: float,
    args: argparse.Namespace,
    report: Report,
) -> None:
    written = sum(len(times) for times in commits.values())
    write_s = write_ended - write_started
    report.add("changes committed", written, "changes")
    report.add("achieved change rate", written / write_s, "changes/s", Goal(">=", args.rate))
    batch = percentiles_ms(batch_ns)
    report.add("apply+commit per batch p50", batch["p50"], "ms")
    report.add("apply+commit per batch p99", batch["p99"], "ms")
    # Lag of every change: from its commit to the first zone event for its zone that a client
    # received after it. A change with no such event by the end is counted as not delivered.
    lags_ns: list[int] = []
    undelivered = 0
    first_lags_ns: list[int] = []
    for client in clients:
        by_zone: dict[str, list[float]] = {}
        for at, zone_id in client.received:
            by_zone.setdefault(zone_id, []).append(at)
        for zone_id, times in commits.items():
            received = by_zone.get(zone_id, [])
            for committed in times:
                i = bisect.bisect_left(received, committed)
                if i == len(received):
                    undelivered += 1
                else:
                    lags_ns.append(int((received[i] - committed) * 1e9))
        if client is clients[0]:
            first_lags_ns = list(lags_ns)
    received_total = sum(len(c.received) for c in clients)
    window = write_s + args.drain
    per_client = [len(c.received) / window for c in clients]
    report.add("zone events delivered, total", received_total, "events")
    report.add("delivered rate, all clients", received_total / window, "events/s")
    report.add("delivered rate per client (mean)", sum(per_client) / len(per_client), "events/s")
    report.add("delivered rate per client (min)", min(per_client), "events/s")
    report.add("stream bytes per client (mean)", sum(c.bytes for c in clients) / len(clients), "B")
    lag = percentiles_ms(lags_ns)
    report.add("lag change->client p50", lag["p50"], "ms", LAG_GOAL)
    report.add("lag change->client p99", lag["p99"], "ms", LAG_GOAL)
    report.add("lag change->client max", lag["max"], "ms")
    total = len(lags_ns) + undelivered
    report.add("changes not delivered (client x change)", undelivered, "pairs")
    report.add("share of changes delivered", len(lags_ns) / total if total else 0.0, "ratio")
    one = percentiles_ms(first_lags_ns)
    report.add("lag for client 0 p99", one["p99"], "ms")
    report.notes.append(
        f"Writes: {args.batch} flips per transaction every {args.batch / args.rate:g} s from a "
        "thread of the benchmark process, which also reads the 100 streams (httpx, one asyncio "
        "loop), so client-side parsing shares a GIL with the writer. Lag uses the wall clock "
        "of this one process for both commit and receipt; each change counts once per client. "
        f"Rates are over the write window plus {args.drain:g} s drain."
    )

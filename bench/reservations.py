"""Reservations: bookings per second end to end over HTTP on PostgreSQL, and no double booking.

Goal from the reservations issue: >= 300 bookings/s end to end over HTTP with 32 concurrent
clients spread over 1,000 zones on PostgreSQL, with 0 overlaps; report p50/p99, the hot case
(20 zones, with its conflict rate) and the ratio to raw SQL inserts under the same exclusion
constraint, measured in the same run.

Runs on a scratch database (`kerbside_bench_<random>`) created on the PostgreSQL server of
`--database-url` and dropped at the end. Zones are `demo.generate` zones made bookable around
the clock (loading hours 24/7, max stay 60 min), so every zone takes bookings on any weekday.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench import Goal, Report, percentiles_ms
from bench.http_load import (
    ChildServer,
    LoadResult,
    Prepared,
    pick_generator,
    replay,
    serve_in_child,
)
from bench.scratch import scratch_database
from booking import accounts, demo, zones
from booking.database import make_engine, transaction

DEFAULT_SERVER_URL = os.environ.get(
    "KERBSIDE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
RATE_GOAL = Goal(">=", 300.0)
OVERLAP_GOAL = Goal("<=", 0.0)
LOST_GOAL = Goal("<=", 0.0)
TZ = "Europe/Berlin"
LOCAL = ZoneInfo(TZ)
PASSWORD = "bench-password-1"
JWT_SECRET = "bench-secret-" + "x" * 40
BOOK_PATH = "/api/v1/reservations"
STEP = timedelta(minutes=5)
# Far more requests are prepared than any run can send: a replay that runs out is flagged.
PREPARED_PER_S = 3000
# Spread bookings sit in 65-minute slots so one plate's bookings never overlap each other.
SLOT_MIN = 65
SLOT = timedelta(minutes=SLOT_MIN)
PLATE_LANES = 64
DURATIONS_MIN = tuple(range(15, 61, 5))
LIVE_SQL = "('booked', 'active', 'overstay')"
PROFILE_TOP = 45


def run(argv: Sequence[str]) -> Report:
    """Book over HTTP spread and hot, insert raw rows, check overlaps; report the figures."""
    args = _parse(argv)
    generator = pick_generator(args.load)
    report = Report(
        name="reservations",
        title=(
            f"bookings over HTTP, {args.connections} clients, {args.zones:,} zones (PostgreSQL)"
        ),
        parameters={
            **vars(args),
            "database_url": make_url(args.database_url).render_as_string(hide_password=True),
            "generator": generator,
            "load_average_before": _load_average(),
        },
    )
    with scratch_database(args.database_url) as url:
        engine = make_engine(url, pool_size=4)
        try:
            city = _prepare(engine, args, report)
            http_rate = _http_runs(url, city, args, generator, report)
            raw_rate = _raw_inserts(url, city, args, report)
            report.add("HTTP spread bookings/s / raw inserts/s", http_rate / raw_rate, "x")
            _check_overlaps(engine, report)
        finally:
            engine.dispose()
    report.parameters["load_average_after"] = _load_average()
    report.notes.append(
        "Load averages are the machine's (1 min) before and after: anything else running "
        "shares the cores with the server, PostgreSQL and wrk and lowers every rate. "
        "PostgreSQL CPU is that of the scratch database's backends (not the WAL writer or "
        "checkpointer); CPU per request is the figure least moved by other load."
    )
    return report


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench reservations", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER_URL,
        help="PostgreSQL server (any database on it) to create the scratch database on",
    )
    parser.add_argument("--zones", type=int, default=1000, help="zones in the city")
    parser.add_argument("--hot-zones", type=int, default=20, help="zones of the hot case")
    parser.add_argument(
        "--hot-hours",
        type=float,
        default=12,
        help="hot case: bookings start within this many hours (from 20 min ahead)",
    )
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--pool-size", type=int, default=20, help="KERBSIDE_DB_POOL_SIZE of each worker"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of zones and requests")
    parser.add_argument(
        "--load", choices=("auto", "wrk", "httpx"), default="auto", help="HTTP load generator"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the server (all threads, 1 worker); slows it, so figures are not the goal's",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (3 s), for a smoke test")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.duration, args.warmup = min(args.duration, 3.0), min(args.warmup, 1.0)
    if args.profile and args.workers != 1:
        parser.error("--profile needs --workers 1")
    if args.workers * args.pool_size + args.connections + 8 > 100:
        parser.error("workers x pool size + connections must stay below max_connections (100)")
    return args


# -- the database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    """What the load needs to know of the loaded inventory."""

    zone_ids: list[str]
    bays: dict[str, list[int]]
    hot_zone_ids: list[str]
    account_ids: list[int]
    emails: list[str]


def _prepare(engine: Engine, args: argparse.Namespace, report: Report) -> City:
    # 24/7 and 60 min: every zone takes every request shape on any weekday.
    specs = [
        spec.model_copy(update={"loading_hours": "24/7", "max_stay_min": 60})
        for spec in demo.generate(args.zones, seed=args.seed, prefix="BEN")
    ]
    now = datetime.now(UTC)
    started = time.perf_counter()
    with transaction(engine) as session:
        zones.upsert_many(session=session, specs=specs, now=now, default_tz=TZ)
        emails = [f"driver{n:02d}@bench.example" for n in range(args.connections)]
        account_ids = [
            accounts.register(session=session, email=email, password=PASSWORD, now=now).id
            for email in emails
        ]
    report.notes.append(
        f"setup: {args.zones:,} zones and {len(emails)} driver accounts in "
        f"{time.perf_counter() - started:.1f} s"
    )
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT zone_id, id FROM bays WHERE active ORDER BY zone_id, position, id")
        ).all()
    bays: dict[str, list[int]] = {}
    for zone_id, bay_id in rows:
        bays.setdefault(zone_id, []).append(bay_id)
    zone_ids = sorted(bays)
    hot = zone_ids[: args.hot_zones]
    report.parameters["bays"] = len(rows)
    report.parameters["hot_bays"] = sum(len(bays[z]) for z in hot)
    return City(zone_ids, bays, hot, [a for a in account_ids if a is not None], emails)


# -- the server -----------------------------------------------------------------------------


def serve_booking_api(config: dict[str, Any], host: str, port: int) -> None:
    """Serve the real app with uvicorn (run in a child process by the benchmark)."""
    import uvicorn

    os.environ.update(config["env"])
    if not config["profile"]:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=config["workers"],
            log_level="warning",
            access_log=False,
        )
        return
    from api.app import create_app

    # uvicorn re-raises the SIGTERM that stopped it once it has shut down: with the default
    # handler that would kill the process before the profile is written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    profiles = _profile_all_threads()
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)
    finally:
        _write_profile(profiles, Path(config["profile"]))


def _profile_all_threads() -> list[cProfile.Profile]:
    # cProfile sees one thread; handlers run in anyio's worker threads. Each new thread starts
    # its own profiler on its first call, and the main thread (the event loop) has one too.
    # Timed by each thread's CPU clock: wall time would count waits for the GIL and the
    # database as the cost of whatever function was waiting.
    profiles: list[cProfile.Profile] = []

    def start(*_: object) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()  # replaces this hook for the thread

    threading.setprofile(start)
    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    main.enable()
    return profiles


def _write_profile(profiles: list[cProfile.Profile], path: Path) -> None:
    threading.setprofile(None)  # type: ignore[arg-type]
    for profile in profiles:
        profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for profile in profiles[1:]:
        stats.add(profile)
    out.write(f"cProfile (thread CPU time) of the API server, {len(profiles)} threads merged\n\n")
    for key in ("tottime", "cumulative"):
        out.write(f"== top {PROFILE_TOP} by {key} ==\n")
        stats.sort_stats(key).print_stats(PROFILE_TOP)
    path.write_text(out.getvalue())
    stats.dump_stats(path.with_suffix(".prof"))  # for `python -m pstats` or snakeviz


@dataclass(frozen=True)
class ServerConfig:
    """How the API child is started."""

    url: str
    workers: int
    pool_size: int
    profile: Path | None = None

    def as_child_config(self) -> dict[str, Any]:
        env = {
            "KERBSIDE_DATABASE_URL": self.url,
            "KERBSIDE_DB_POOL_SIZE": str(self.pool_size),
            # The per-driver limit of 3 live bookings would answer nearly all of them 422.
            "KERBSIDE_MAX_LIVE_BOOKINGS": "1000000",
            "KERBSIDE_ENV": "test",
            "KERBSIDE_JWT_SECRET": JWT_SECRET,
            "KERBSIDE_TIMEZONE": TZ,
            "KERBSIDE_LOG_LEVEL": "WARNING",
        }
        profile = str(self.profile) if self.profile else None
        return {"env": env, "workers": self.workers, "profile": profile}


# -- requests -------------------------------------------------------------------------------


def _ceil_to_step(moment: datetime) -> datetime:
    moment = moment.replace(second=0, microsecond=0) + STEP
    return moment - timedelta(minutes=moment.minute % 5)


def _booking(token: str, zone_id: str, start: datetime, minutes: int, plate: str) -> Prepared:
    body = json.dumps(
        {
            "zone_id": zone_id,
            "start": start.isoformat(timespec="seconds"),
            "duration_min": minutes,
            "plate": plate,
        },
        separators=(",", ":"),
    )
    headers = (
        ("Authorization", f"Bearer {token}"),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", str(uuid.uuid4())),
    )
    return Prepared("POST", BOOK_PATH, headers, body)


def spread_requests(
    count: int, *, zone_ids: Sequence[str], tokens: Sequence[str], prefix: str, seed: int
) -> list[Prepared]:
    """Bookings on random zones over the whole horizon; one plate's never overlap each other.

    A plate books one 65-minute slot after another from a random first slot, so the fleet's
    vehicles stay few (a handful per driver), as with real drivers, instead of one new vehicle
    per booking.
    """
    rng = random.Random(seed)
    base = _ceil_to_step(datetime.now(UTC) + timedelta(minutes=20))
    slots = int((timedelta(hours=60) - timedelta(minutes=30)) / SLOT)
    first_slot: dict[int, int] = {}
    requests = []
    for n in range(count):
        lane, turn = n % PLATE_LANES, n // PLATE_LANES
        generation, step = divmod(turn, slots)
        plate_no = generation * PLATE_LANES + lane
        first = first_slot.setdefault(plate_no, rng.randrange(slots))
        slot_start = base + ((first + step) % slots) * SLOT
        while True:
            minutes = rng.choice(DURATIONS_MIN)
            start = slot_start + rng.randrange((SLOT_MIN - minutes) // 5 + 1) * STEP
            if not crosses_local_midnight(start, minutes):
                break
        token = tokens[plate_no % len(tokens)]
        plate = f"{prefix}{plate_no:06d}"
        requests.append(_booking(token, rng.choice(zone_ids), start, minutes, plate))
    return requests


def hot_requests(
    count: int, *, zone_ids: Sequence[str], tokens: Sequence[str], hours: float, seed: int
) -> list[Prepared]:
    """Bookings on a few zones, starting within a few hours: windows collide, zones fill."""
    rng = random.Random(seed)
    base = _ceil_to_step(datetime.now(UTC) + timedelta(minutes=20))
    starts = max(1, int(timedelta(hours=hours) / STEP))
    requests = []
    for n in range(count):
        zone_id = rng.choice(zone_ids)
        while True:
            start, minutes = base + rng.randrange(starts) * STEP, rng.choice(DURATIONS_MIN)
            if not crosses_local_midnight(start, minutes):
                break
        requests.append(_booking(tokens[n % len(tokens)], zone_id, start, minutes, f"H{n:07d}"))
    return requests


def crosses_local_midnight(start: datetime, minutes: int) -> bool:
    """Whether the booking runs past midnight in the zones' time zone.

    Even a 24/7 zone answers such a booking 422 (loading_hours): its window is 00:00-24:00 and
    windows do not cross midnight. The load avoids it so that 422s mean something else.
    """
    local_start = start.astimezone(LOCAL)
    local_end = (start + timedelta(minutes=minutes)).astimezone(LOCAL)
    return local_end.date() != local_start.date() and local_end.time() != dt_time(0)


# -- the HTTP runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRun:
    """A measured replay with the CPU the server and PostgreSQL used meanwhile."""

    result: LoadResult
    server_cores: float
    postgres_cores: float

    def count(self, status: int) -> int:
        return self.result.statuses.get(status, 0)

    @property
    def other(self) -> int:
        return sum(n for s, n in self.result.statuses.items() if s not in (201, 409, 422))


def _http_runs(
    url: str, city: City, args: argparse.Namespace, generator: str, report: Report
) -> float:
    """The spread and the hot run, each on a fresh server; returns spread bookings/s."""
    prepared = max(1000, math.ceil(args.duration * PREPARED_PER_S))
    warmup_count = max(500, math.ceil(args.warmup * PREPARED_PER_S))
    tokens: list[str] = []

    def serve(scenario: str) -> AbstractContextManager[ChildServer]:
        profile = None
        if args.profile:
            profile = Path(__file__).parent / "results" / f"reservations-profile-{scenario}.txt"
        config = ServerConfig(url, args.workers, args.pool_size, profile)
        # uvicorn's workers are processes of the child, which a daemonic child may not have.
        return serve_in_child(serve_booking_api, config.as_child_config(), daemon=args.workers == 1)

    def warm_up(server_url: str, prefix: str, seed: int) -> None:
        requests = spread_requests(
            warmup_count, zone_ids=city.zone_ids, tokens=tokens, prefix=prefix, seed=seed
        )
        _check_booking(server_url, requests[0])
        if args.warmup > 0:
            _drive(server_url, requests[1:], args, generator, args.warmup)

    with serve("spread") as server:
        tokens.extend(_log_in(server.url, city.emails))
        warm_up(server.url, "W", args.seed + 10)
        spread = spread_requests(
            prepared, zone_ids=city.zone_ids, tokens=tokens, prefix="S", seed=args.seed + 1
        )
        spread_run = _measure(server, url, spread, args, generator)
    with serve("hot") as server:
        warm_up(server.url, "V", args.seed + 11)
        hot = hot_requests(
            prepared,
            zone_ids=city.hot_zone_ids,
            tokens=tokens,
            hours=args.hot_hours,
            seed=args.seed + 2,
        )
        hot_run = _measure(server, url, hot, args, generator)

    conditions = f"{args.workers} worker(s), {args.connections} clients, {generator}"
    label = f"spread over {len(city.zone_ids):,} zones"
    _report_run(report, label, spread_run, RATE_GOAL)
    label = f"hot: {len(city.hot_zone_ids)} zones, starts within {args.hot_hours:g} h"
    _report_run(report, label, hot_run, None)
    answered = sum(hot_run.result.statuses.values())
    conflicts = 100 * hot_run.count(409) / max(answered, 1)
    report.add(f"{label}: conflict rate (409 share of answers)", conflicts, "%")
    report.parameters["http_conditions"] = conditions
    report.parameters["prepared_requests_per_run"] = prepared
    _check_stored(url, {"S": spread_run.count(201), "H": hot_run.count(201)}, report)
    report.notes.append(
        "Each booking request carries a fresh Idempotency-Key; spread requests go to random "
        "zones and starts over the 60 h horizon, hot ones to the hot zones within the hot "
        "window, so the hot zones fill up as the run goes on and the 409 share grows with it."
    )
    report.notes.append(
        "Requests never run past local midnight: a 24/7 zone answers those 422 loading_hours "
        "(its window is 00:00-24:00 and windows do not cross midnight)."
    )
    if args.profile:
        report.notes.append(
            "Profiled run (cProfile in every server thread): rates are well below unprofiled "
            "ones. Profiles: bench/results/reservations-profile-{spread,hot}.txt"
        )
    if generator == "httpx":
        report.notes.append(
            "HTTP load came from httpx, not wrk: the client shares the 2 cores with the server."
        )
    for name, http_run in (("spread", spread_run), ("hot", hot_run)):
        if http_run.result.exhausted:
            report.notes.append(
                f"{name}: the prepared requests ran out ({http_run.result.exhausted} extra "
                "GET /healthz in the totals); raise PREPARED_PER_S."
            )
    return spread_run.count(201) / spread_run.result.duration_s


def _log_in(base_url: str, emails: Sequence[str]) -> list[str]:
    tokens = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for email in emails:
            response = client.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            )
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
    return tokens


def _check_booking(base_url: str, prepared: Prepared) -> None:
    response = httpx.request(
        prepared.method,
        base_url + prepared.path,
        headers=dict(prepared.headers),
        content=prepared.body.encode(),
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(
            f"a first booking answered {response.status_code}, not 201: {response.text[:500]}\n"
            f"request: {prepared.body}"
        )


def _drive(
    base_url: str,
    requests: Sequence[Prepared],
    args: argparse.Namespace,
    generator: str,
    seconds: float,
) -> LoadResult:
    return replay(
        base_url, requests, generator=generator, connections=args.connections, duration_s=seconds
    )


def _measure(
    server: ChildServer,
    database_url: str,
    requests: Sequence[Prepared],
    args: argparse.Namespace,
    generator: str,
) -> HttpRun:
    with BackendCpu(database_url) as backends:
        server_before, postgres_before = cpu_seconds(server.pid), backends.snapshot()
        result = _drive(server.url, requests, args, generator, args.duration)
        server_after, postgres = cpu_seconds(server.pid), backends.since(postgres_before)
    return HttpRun(
        result, (server_after - server_before) / result.duration_s, postgres / result.duration_s
    )


def _report_run(report: Report, label: str, http_run: HttpRun, goal: Goal | None) -> None:
    result = http_run.result
    report.add(f"{label}: bookings/s (201)", http_run.count(201) / result.duration_s, "/s", goal)
    report.add(f"{label}: requests/s (all answers)", result.requests_per_s, "req/s")
    report.add(f"{label}: p50 (all answers)", result.p50_ms, "ms")
    report.add(f"{label}: p99 (all answers)", result.p99_ms, "ms")
    for status in (201, 409, 422):
        report.add(f"{label}: {status} answers", http_run.count(status), "requests")
    report.add(f"{label}: other answers", http_run.other, "requests")
    if result.errors:
        report.add(f"{label}: transport errors", result.errors, "requests")
    report.add(f"{label}: API server CPU", http_run.server_cores, "cores")
    report.add(f"{label}: PostgreSQL CPU", http_run.postgres_cores, "cores")
    # CPU per request holds up better than rates when other work shares the machine.
    answered = max(sum(result.statuses.values()), 1) / result.duration_s
    report.add(f"{label}: API server CPU per request", 1e3 * http_run.server_cores / answered, "ms")
    report.add(
        f"{label}: PostgreSQL CPU per request", 1e3 * http_run.postgres_cores / answered, "ms"
    )


def _check_stored(url: str, acknowledged: dict[str, int], report: Report) -> None:
    # wrk does not count answers still in flight when it stops, so stored >= acknowledged.
    with psycopg.connect(url, autocommit=True) as connection:
        for prefix, count in acknowledged.items():
            row = connection.execute(
                "SELECT count(*) FROM reservations WHERE plate LIKE %s", (prefix + "%",)
            ).fetchone()
            stored = row[0] if row else 0
            name = "spread" if prefix == "S" else "hot"
            report.add(
                f"{name}: 201 answers without a stored reservation",
                max(0, count - stored),
                "bookings",
                LOST_GOAL,
            )


# -- raw SQL --------------------------------------------------------------------------------

_INSERT = """
INSERT INTO reservations (id, code, account_id, vehicle_id, plate, zone_id, bay_id, start_at,
    end_at, status, source, idempotency_key, request_hash, created_at, updated_at)
VALUES (%s, %s, %s, NULL, %s, %s, %s, %s, %s, 'booked', 'advance', NULL, NULL, %s, %s)
"""
_CODE_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _raw_code(number: int) -> str:
    # "Z" never starts an app code (booking.codes leaves Z out), so these never collide.
    digits = []
    for _ in range(5):
        number, digit = divmod(number, 36)
        digits.append(_CODE_DIGITS[digit])
    return "Z" + "".join(reversed(digits))


def _raw_inserts(url: str, city: City, args: argparse.Namespace, report: Report) -> float:
    """Single-row INSERT transactions from as many connections as HTTP clients; returns rows/s."""
    base = _ceil_to_step(datetime.now(UTC) + timedelta(minutes=20))
    starts = int((timedelta(hours=60) - timedelta(minutes=30)) / STEP)

    def worker(
        n: int, connection: psycopg.Connection[Any], deadline: float
    ) -> tuple[int, int, list[int]]:
        rng = random.Random(args.seed * 1000 + n)
        account_id = city.account_ids[n % len(city.account_ids)]
        inserted = conflicts = 0
        timings: list[int] = []
        counter = 0
        while time.perf_counter() < deadline:
            counter += 1
            zone_id = rng.choice(city.zone_ids)
            start = base + rng.randrange(starts) * STEP
            end = start + timedelta(minutes=rng.choice(DURATIONS_MIN))
            now = datetime.now(UTC)
            values = (
                str(uuid.uuid4()),
                _raw_code(n * 1_000_000 + counter),
                account_id,
                f"R{n:02d}{counter:07d}",
                zone_id,
                rng.choice(city.bays[zone_id]),
                start,
                end,
                now,
                now,
            )
            started = time.perf_counter_ns()
            try:
                connection.execute(_INSERT, values)
            except pg_errors.ExclusionViolation:
                conflicts += 1
                continue
            timings.append(time.perf_counter_ns() - started)
            inserted += 1
        return inserted, conflicts, timings

    # Connections open before the clock starts and close after PostgreSQL's CPU is read.
    connections = [psycopg.connect(url, autocommit=True) for _ in range(args.connections)]
    try:
        with BackendCpu(url) as backends:
            postgres_before, client_before = backends.snapshot(), time.process_time()
            started = time.perf_counter()
            deadlines = [started + args.duration] * len(connections)
            with ThreadPoolExecutor(max_workers=args.connections) as pool:
                outcomes = list(pool.map(worker, range(len(connections)), connections, deadlines))
            elapsed = time.perf_counter() - started
            postgres_cores = backends.since(postgres_before) / elapsed
            client_cores = (time.process_time() - client_before) / elapsed
    finally:
        for connection in connections:
            connection.close()
    inserted = sum(o[0] for o in outcomes)
    conflicts = sum(o[1] for o in outcomes)
    latency = percentiles_ms([t for o in outcomes for t in o[2]])
    label = f"raw SQL INSERT, {args.connections} connections"
    rate = inserted / elapsed
    report.add(f"{label}: inserts/s", rate, "/s")
    report.add(f"{label}: p50", latency["p50"], "ms")
    report.add(f"{label}: p99", latency["p99"], "ms")
    report.add(f"{label}: exclusion conflicts", conflicts, "rows")
    report.add(f"{label}: PostgreSQL CPU", postgres_cores, "cores")
    attempts = (inserted + conflicts) / elapsed
    report.add(f"{label}: PostgreSQL CPU per INSERT", 1e3 * postgres_cores / attempts, "ms")
    report.add(f"{label}: client CPU (Python threads)", client_cores, "cores")
    report.notes.append(
        "Raw inserts: one row per autocommit INSERT (what a booking commits besides its event "
        "and notification rows), random zone, bay and start over the horizon, Python threads "
        "with psycopg in the benchmark process."
    )
    return rate


# -- checks ---------------------------------------------------------------------------------


def _check_overlaps(engine: Engine, report: Report) -> None:
    pairs = """
        SELECT count(*) FROM reservations a JOIN reservations b
          ON a.{key} = b.{key} AND a.id < b.id
         AND tstzrange(a.start_at, a.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)')
         WHERE a.status IN {live} AND b.status IN {live}
    """
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM reservations")).scalar_one()
        for key, what in (("bay_id", "bay"), ("plate", "plate")):
            found = connection.execute(text(pairs.format(key=key, live=LIVE_SQL))).scalar_one()
            report.add(
                f"overlapping live reservations of one {what} (all runs)",
                found,
                "pairs",
                OVERLAP_GOAL,
            )
    report.add("reservations stored (all runs)", total, "rows")


# -- CPU accounting -------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its descendants (live ones), in seconds."""
    total = 0.0
    for process in [pid, *_descendants(pid)]:
        total += _process_cpu(process)
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields after the command: state is [0]; utime and stime are [11] and [12].
    return (int(fields[11]) + int(fields[12])) / _TICKS


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database, read from /proc (a local server).

    Other databases' backends and the server's own processes (WAL writer, checkpointer) are
    left out, so other work on the same server does not count. NaN when the server is not
    on this machine.
    """

    def __init__(self, database_url: str) -> None:
        self.connection = psycopg.connect(database_url, autocommit=True)

    def __enter__(self) -> BackendCpu:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def snapshot(self) -> dict[int, float]:
        """CPU seconds so far of each backend connected to the database (but this one)."""
        rows = self.connection.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return {pid: _process_cpu(pid) for (pid,) in rows if _is_postgres(pid)}

    def since(self, before: dict[int, float]) -> float:
        """CPU seconds the backends used since `before` (backends that quit meanwhile: lost)."""
        after = self.snapshot()
        if not after:
            return math.nan
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False

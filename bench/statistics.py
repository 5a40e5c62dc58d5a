"""Statistics: 30 days of occupancy and booking history for 1,000 zones on PostgreSQL.

Goal from the statistics issue: `booking.statistics.compute` over 30 days of history for
1,000 zones on PostgreSQL in <= 2 s.

Runs on a scratch database (`kerbside_bench_<random>`) created on the PostgreSQL server of
`--database-url` and dropped at the end. Zones are `demo.generate` zones (their mix of
loading hours, one of them 24/7) with two sensor bays each. Each bay-day is cut into
`--sessions-per-bay-day` slots between 05:00 and 21:00 UTC; nine slots in ten hold a stay
(log-normal dwell, median 14 min), a share of them booked (some overstaying), and empty
slots get no-shows and cancellations. The default, 20 slots, makes about 2.2 million
occupancy events; 11 makes the 1.2 million the issue estimates. History goes in by binary
COPY in time order (as sensors write it), then VACUUM ANALYZE, as autovacuum would have
left a table of that age. Besides wall time, each run reports its CPU time (this process
plus its PostgreSQL backend): on a busy machine that is the figure to compare.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench import Goal, Report
from bench.scratch import scratch_database
from booking import accounts, demo, statistics, zones
from booking.database import make_engine, new_session, transaction
from booking.statistics import records
from booking.statistics.calendar import MINUTE, to_us
from booking.zone_specs import BaySpec

# Importing this module rebinds `bench.statistics` (the stdlib module bench/__init__.py
# imports) to this one; `median` here keeps `bench.percentiles_ms` working all the same.
__all__ = ["median", "run"]

DEFAULT_SERVER_URL = os.environ.get(
    "KERBSIDE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TIME_GOAL = Goal("<=", 2.0)
TZ = "Europe/Berlin"
# The window ends here (a Monday midnight UTC), so runs are reproducible.
END = datetime(2026, 11, 30, tzinfo=UTC)
DAY_FROM_MIN, DAY_TO_MIN = 5 * 60, 21 * 60
PG_EPOCH_US = records.PG_EPOCH_US
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)


def run(argv: Sequence[str]) -> Report:
    """Load the history, then time statistics over it per grouping."""
    args = _parse(argv)
    report = Report(
        name="statistics",
        title=f"statistics over {args.days} days of {args.zones:,} zones (PostgreSQL)",
        parameters={
            **vars(args),
            "database_url": make_url(args.database_url).render_as_string(hide_password=True),
            "load_average_before": _load_average(),
        },
    )
    with scratch_database(args.database_url) as url:
        engine = make_engine(url, pool_size=2)
        try:
            _load(engine, url, args, report)
            _measure(engine, args, report)
        finally:
            engine.dispose()
    return report


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench statistics", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER_URL,
        help="PostgreSQL server (any database on it) to create the scratch database on",
    )
    parser.add_argument("--zones", type=int, default=1000, help="zones, two sensor bays each")
    parser.add_argument("--days", type=int, default=30, help="days of history (and window)")
    parser.add_argument(
        "--sessions-per-bay-day", type=int, default=20, help="stay slots per bay and day"
    )
    parser.add_argument("--booked-share", type=float, default=0.4, help="stays with a booking")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per grouping")
    parser.add_argument("--seed", type=int, default=1, help="seed of zones and history")
    return parser.parse_args(list(argv))


# -- the history ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stays:
    """Generated stays: bay, start and end (µs)."""

    bay: np.ndarray
    start: np.ndarray
    end: np.ndarray


def _load(engine: Engine, url: str, args: argparse.Namespace, report: Report) -> None:
    started = time.perf_counter()
    specs = [
        spec.model_copy(
            update={"bays": [BaySpec(label=str(n), sensor_id=f"{spec.id}-s{n}") for n in (1, 2)]}
        )
        for spec in demo.generate(args.zones, seed=args.seed, prefix="STA")
    ]
    with transaction(engine) as session:
        zones.upsert_many(session=session, specs=specs, now=END, default_tz=TZ)
        account = accounts.register(
            session=session, email="bench@kerbside.example", password="bench-password", now=END
        )
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, zone_id FROM bays ORDER BY id")).all()
    bay_ids = np.array([r[0] for r in rows], dtype=np.int64)
    # demo.generate pads zone numbers, so every zone id has one length: fixed-width COPY.
    zone_ids = Zones(bay_ids, np.array([r[1].encode() for r in rows]))
    rng = np.random.default_rng(args.seed)
    stays, empty = _stays(rng, bay_ids, args)
    with psycopg.connect(url, autocommit=True) as connection:
        # A scratch database: skip the per-row foreign-key triggers while loading.
        connection.execute("SET session_replication_role = replica")
        _copy_events(connection, stays, zone_ids)
        booked = _copy_bookings(connection, rng, stays, empty, zone_ids, account.id or 0, args)
        loaded = time.perf_counter() - started
        connection.execute("VACUUM ANALYZE occupancy_events")
        connection.execute("VACUUM ANALYZE reservations")
    report.parameters.update(bays=len(bay_ids), events=2 * len(stays.bay), reservations=booked)
    report.add("setup: zones and history loaded (binary COPY)", loaded, "s")
    report.add("setup: occupancy events", 2 * len(stays.bay), "rows")
    report.add("setup: reservations", booked, "rows")


def _stays(
    rng: np.random.Generator, bay_ids: np.ndarray, args: argparse.Namespace
) -> tuple[Stays, Stays]:
    """Stays in (bay, day, slot) slots: nine in ten taken; the empty ones returned apart."""
    slots = args.sessions_per_bay_day
    slot_us = (DAY_TO_MIN - DAY_FROM_MIN) * MINUTE // slots
    first_day = to_us(END - timedelta(days=args.days))
    bay = np.repeat(bay_ids, args.days * slots)
    day = np.tile(np.repeat(np.arange(args.days), slots), len(bay_ids))
    slot = np.tile(np.arange(slots), len(bay_ids) * args.days)
    slot_start = first_day + day * 86_400_000_000 + DAY_FROM_MIN * MINUTE + slot * slot_us
    offset = rng.integers(0, slot_us // 2, len(bay)) // 1_000_000 * 1_000_000
    dwell = np.exp(rng.normal(np.log(14), 0.8, len(bay))) * MINUTE
    dwell = np.clip(dwell.astype(np.int64) // 1_000_000 * 1_000_000, MINUTE, slot_us - offset - 1)
    taken = rng.random(len(bay)) < 0.9
    start = slot_start + offset
    stays = Stays(bay[taken], start[taken], (start + dwell)[taken])
    empty = Stays(bay[~taken], slot_start[~taken], slot_start[~taken] + 30 * MINUTE)
    return stays, empty


@dataclass(frozen=True)
class Zones:
    """The zone id of each bay, for the rows that carry both."""

    bay_ids: np.ndarray  # sorted
    zone_ids: np.ndarray  # fixed-width bytes

    def of(self, bay: np.ndarray) -> np.ndarray:
        """Zone ids of these bays."""
        return self.zone_ids[np.searchsorted(self.bay_ids, bay)]


def _copy_events(connection: psycopg.Connection[Any], stays: Stays, zone_ids: Zones) -> None:
    # In time order, as sensors write the log (one COPY per kind: each has a fixed width).
    for kind, times in ((b"park_start", stays.start), (b"park_end", stays.end)):
        order = np.argsort(times, kind="stable")
        at, bay = times[order], stays.bay[order]
        zone = zone_ids.of(bay)
        copy_in(
            connection,
            "occupancy_events",
            [
                ("bay_id", ">i4", bay),
                ("zone_id", zone.dtype.str, zone),
                ("kind", f"S{len(kind)}", kind),
                ("at", ">i8", at - PG_EPOCH_US),
                ("received_at", ">i8", at - PG_EPOCH_US),
            ],
        )


def _copy_bookings(
    connection: psycopg.Connection[Any],
    rng: np.random.Generator,
    stays: Stays,
    empty: Stays,
    zone_ids: Zones,
    account_id: int,
    args: argparse.Namespace,
) -> int:
    """Bookings for a share of the stays, no-shows and cancellations in empty slots."""
    pick = rng.random(len(stays.bay)) < args.booked_share
    bay, used_from, used_to = stays.bay[pick], stays.start[pick], stays.end[pick]
    start = (used_from - rng.integers(0, 5, len(bay)) * MINUTE) // MINUTE * MINUTE
    end = start + -(-(used_to - start) // (15 * MINUTE)) * 15 * MINUTE
    # One in five overstays: the booking ended a quarter hour before the van left.
    late = rng.random(len(bay)) < 0.2
    end = np.where(late & (end - 15 * MINUTE > start), end - 15 * MINUTE, end)
    overstays = used_to > end
    source = rng.choice(3, len(bay), p=[0.7, 0.25, 0.05])
    count = 0
    for overstayed in (False, True):
        for code in range(3):
            mine = (overstays == overstayed) & (source == code)
            extra = [("overstay_at", ">i8", end[mine])] if overstayed else []
            count += _copy_reservations(
                connection, bay[mine], start[mine], end[mine], zone_ids, account_id,
                status=b"completed", source=records.SOURCE_CODES[code].encode(),
                stamps=[("activated_at", ">i8", used_from[mine]),
                        ("completed_at", ">i8", used_to[mine]), *extra],
                first_id=count,
            )  # fmt: skip
    for status, share, stamp in ((b"no_show", 0.5, "no_show_at"), (b"cancelled", 0.2, None)):
        mine = rng.random(len(empty.bay)) < share
        stamps = [(stamp, ">i8", empty.start[mine] + 10 * MINUTE)] if stamp else []
        if not stamp:
            stamps = [("cancelled_at", ">i8", empty.start[mine] - 60 * MINUTE)]
        count += _copy_reservations(
            connection, empty.bay[mine], empty.start[mine], empty.end[mine], zone_ids, account_id,
            status=status, source=b"advance", stamps=stamps, first_id=count,
        )  # fmt: skip
    return count


def _copy_reservations(
    connection: psycopg.Connection[Any],
    bay: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    zone_ids: Zones,
    account_id: int,
    *,
    status: bytes,
    source: bytes,
    stamps: list[tuple[str, str, np.ndarray]],
    first_id: int,
) -> int:
    n = len(bay)
    if not n:
        return 0
    ids = np.char.zfill(np.arange(first_id, first_id + n).astype("S36"), 36)
    zone = zone_ids.of(bay)
    created = start - 120 * MINUTE
    copy_in(
        connection,
        "reservations",
        [
            ("id", "S36", ids),
            ("code", "S6", b"BENCH1"),
            ("account_id", ">i4", account_id),
            ("plate", "S8", b"HH-BN123"),
            ("zone_id", zone.dtype.str, zone),
            ("bay_id", ">i4", bay),
            ("start_at", ">i8", start - PG_EPOCH_US),
            ("end_at", ">i8", end - PG_EPOCH_US),
            ("status", f"S{len(status)}", status),
            ("source", f"S{len(source)}", source),
            ("created_at", ">i8", created - PG_EPOCH_US),
            ("updated_at", ">i8", end - PG_EPOCH_US),
            *[(name, kind, values - PG_EPOCH_US) for name, kind, values in stamps],
        ],
    )
    return n


def copy_in(
    connection: psycopg.Connection[Any], table: str, columns: list[tuple[str, str, Any]]
) -> None:
    """Binary COPY of fixed-width, never-NULL columns built as one numpy record array."""
    lengths = [np.dtype(kind).itemsize for _, kind, _ in columns]
    size = max(np.size(values) for _, _, values in columns)
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, kind, _ in columns:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    rows = np.zeros(size, dtype=np.dtype(layout))
    rows["fields"] = len(columns)
    for (name, _, values), length in zip(columns, lengths, strict=True):
        rows[f"{name}_len"] = length
        rows[name] = values
    names = ", ".join(name for name, _, _ in columns)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(COPY_HEADER)
        body = rows.tobytes()
        for at in range(0, len(body), 1 << 24):
            copy.write(body[at : at + (1 << 24)])
        copy.write(b"\xff\xff")


# -- the measurement ------------------------------------------------------------------------


def _measure(engine: Engine, args: argparse.Namespace, report: Report) -> None:
    start, end = END - timedelta(days=args.days), END
    lo, hi = to_us(start), to_us(end)
    with new_session(engine) as session:
        reads = (("occupancy log", records.events), ("reservations", records.bookings))
        for label, read in reads:
            began, cpu = time.perf_counter(), _backend_cpu(session)
            found = read(session=session, lo=lo, hi=hi, zone_id=None)
            report.add(f"read {label} (first read)", time.perf_counter() - began, "s")
            report.add(f"read {label}: PostgreSQL CPU", _backend_cpu(session) - cpu, "s")
            report.parameters[f"{label.replace(' ', '_')}_rows_read"] = len(found.bay)
        session.rollback()
    for group_by in ("day", "hour", "zone"):
        walls, cpus = [], []
        for _ in range(args.runs):
            with new_session(engine) as session:
                backend = _backend_cpu(session)
                began, own = time.perf_counter(), time.process_time()
                found = statistics.compute(
                    session=session, now=end, start=start, end=end, group_by=group_by
                )
                walls.append(time.perf_counter() - began)
                cpus.append(time.process_time() - own + _backend_cpu(session) - backend)
        label = f"statistics {args.days} d x {args.zones:,} zones, group_by={group_by}"
        report.add(f"{label}: median of {args.runs}", median(walls), "s", TIME_GOAL)
        report.add(f"{label}: fastest", min(walls), "s")
        report.add(f"{label}: CPU, PostgreSQL + Python (median)", median(cpus), "s")
        if group_by == "day":
            _describe(found.totals, report)
    report.parameters["load_average_after"] = _load_average()
    report.notes.append(
        "A timed run opens a session and calls booking.statistics.compute: zones, bays, the "
        "occupancy log and reservations read from PostgreSQL, then all arithmetic in numpy. "
        f"PostgreSQL and this process share the machine's {os.cpu_count()} CPUs with anything "
        "else running (see the load averages): the CPU figure is what the run itself cost, "
        "and what its wall time comes to on an idle machine, less the overlap of the reads "
        "with the arithmetic."
    )


def _describe(totals: statistics.Metrics, report: Report) -> None:
    report.notes.append(
        f"totals: occupancy {totals.occupancy_pct} %, reserved share {totals.reserved_share_pct}"
        f" %, {totals.sessions:,} sessions in loading hours, turnover "
        f"{totals.turnover_per_bay_day}/bay/day, median dwell {totals.median_dwell_min} min, "
        f"{totals.bookings:,} bookings, no-shows {totals.no_show_rate_pct} %, overstays "
        f"{totals.overstay_rate_pct} %"
    )


def _backend_cpu(session: Session) -> float:
    """CPU seconds the session's PostgreSQL backend has used (NaN unless it runs here)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)

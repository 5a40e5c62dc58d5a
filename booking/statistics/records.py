"""Reading the history statistics need into numpy arrays: zones, bays, occupancy log, bookings.

Two readers, one shape: on PostgreSQL (psycopg) the big tables come aggregated into a few
rows of arrays over binary COPY and become numpy arrays without a Python object per value,
which is what keeps 30 days of 1,000 zones within the time budget; elsewhere (SQLite) the
same rows come from an ordinary query. Both produce int64 microseconds, so both backends
feed identical numbers to the same arithmetic.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text
from sqlmodel import Session

from booking.database import UTCDateTime
from booking.statistics.calendar import from_us, to_us

# Event kinds as codes: anything but a start or an end ends an occupied stretch. At equal
# times OTHER sorts first: a sensor back from silence logs comms_restored, then its reading.
OTHER, START, END = 0, 1, 2
STATUS_CODES = ("booked", "active", "completed", "cancelled", "no_show", "overstay")
SOURCE_CODES = ("advance", "on_arrival", "operator")
NOT_SET = np.iinfo(np.int64).min
# PostgreSQL's binary timestamps count from 2000-01-01.
PG_EPOCH_US = 946_684_800_000_000
_PG_HEADER = 19  # signature, flags, header extension length


@dataclass(frozen=True)
class Inventory:
    """The zones in scope and all their bays (active, inactive, with or without a sensor)."""

    zone_ids: list[str]
    zone_names: list[str]
    zone_timezones: list[str]
    zone_hours: list[str]
    bay_ids: np.ndarray  # sorted
    bay_zone: np.ndarray  # index into zone_ids
    bay_measured: np.ndarray  # active and has a sensor


@dataclass(frozen=True)
class EventLog:
    """Occupancy events of the window, plus each bay's last before and first after it.

    In no particular order; the arithmetic sorts them by bay, time and kind.
    """

    bay: np.ndarray
    at: np.ndarray
    kind: np.ndarray


@dataclass(frozen=True)
class Bookings:
    """Reservations that may touch the window; unset times are NOT_SET."""

    bay: np.ndarray
    start: np.ndarray
    end: np.ndarray
    activated: np.ndarray
    completed: np.ndarray
    overstayed: np.ndarray  # reached overstay at some point
    status: np.ndarray  # index into STATUS_CODES
    source: np.ndarray  # index into SOURCE_CODES


def inventory(*, session: Session, zone_id: str | None) -> Inventory:
    """The zones in scope (one, or all) with their bays."""
    where = "WHERE id = :zone" if zone_id else ""
    zones = session.execute(
        text(f"SELECT id, name, timezone, loading_hours FROM zones {where} ORDER BY id"),
        {"zone": zone_id} if zone_id else {},
    ).all()
    where = "WHERE zone_id = :zone" if zone_id else ""
    bays = session.execute(
        text(
            "SELECT id, zone_id, CASE WHEN active AND sensor_id IS NOT NULL THEN 1 ELSE 0 END "
            f"FROM bays {where} ORDER BY id"
        ),
        {"zone": zone_id} if zone_id else {},
    ).all()
    position = {row[0]: n for n, row in enumerate(zones)}
    return Inventory(
        zone_ids=[row[0] for row in zones],
        zone_names=[row[1] for row in zones],
        zone_timezones=[row[2] for row in zones],
        zone_hours=[row[3] for row in zones],
        bay_ids=np.array([row[0] for row in bays], dtype=np.int64),
        bay_zone=np.array([position[row[1]] for row in bays], dtype=np.int64),
        bay_measured=np.array([bool(row[2]) for row in bays], dtype=bool),
    )


def _window_sql(zone_id: str | None, style: str) -> str:
    """The window's events as rows (bay_id, kind, at)."""
    lo, hi, zone = _placeholders(style)
    in_zone = f"AND zone_id = {zone}" if zone_id else ""
    return f"SELECT bay_id, kind, at FROM occupancy_events WHERE at >= {lo} AND at < {hi} {in_zone}"


def _neighbours_sql(zone_id: str | None) -> str:
    """Each measured bay's last event before the window and first after it."""
    in_zone = "AND b.zone_id = :zone" if zone_id else ""

    def neighbour(compare: str, order: str) -> str:
        # One index probe per bay on (zone_id, at): the bay's state at the window's edge.
        return (
            "SELECT bay_id, kind, at FROM occupancy_events WHERE id IN ("
            "SELECT (SELECT p.id FROM occupancy_events p "
            f"WHERE p.zone_id = b.zone_id AND p.bay_id = b.id AND p.at {compare} "
            f"ORDER BY p.at {order}, p.id {order} LIMIT 1) "
            f"FROM bays b WHERE b.active AND b.sensor_id IS NOT NULL {in_zone})"
        )

    return f"{neighbour('< :lo', 'DESC')} UNION ALL {neighbour('>= :hi', 'ASC')}"


def _bookings_where(zone_id: str | None, style: str) -> str:
    lo, hi, zone = _placeholders(style)
    in_zone = f"AND zone_id = {zone}" if zone_id else ""
    return (
        f"WHERE (start_at < {hi} OR activated_at < {hi}) "
        f"AND (end_at > {lo} OR completed_at > {lo} OR status = 'overstay') {in_zone}"
    )


def _placeholders(style: str) -> tuple[str, str, str]:
    if style == "psycopg":
        return "%(lo)s", "%(hi)s", "%(zone)s"
    return ":lo", ":hi", ":zone"


def events(*, session: Session, lo: int, hi: int, zone_id: str | None) -> EventLog:
    """The occupancy log of [lo, hi) and each bay's last event before and first after it."""
    params = _params(lo, hi, zone_id)
    if _is_psycopg(session):
        # Two arrays per kind: four rows instead of millions, and the cheapest aggregate to
        # build (grouping by bay as well costs PostgreSQL more than numpy's sort saves).
        sql = (
            "SELECT kind, array_agg(bay_id), array_agg(at) "
            f"FROM ({_window_sql(zone_id, 'psycopg')}) AS e GROUP BY kind"
        )
        rows = _copy_rows(session, sql, params)
        bays = [_array(row[1], ">i4") for row in rows]
        window = EventLog(
            bay=_joined(bays),
            at=_joined([_array(row[2], ">i8") for row in rows]) + PG_EPOCH_US,
            kind=np.repeat([_kind(_text(row[0])) for row in rows], [len(b) for b in bays]),
        )
    else:
        window = _event_rows(session, _window_sql(zone_id, "sqlalchemy"), params, zone_id)
    edges = _event_rows(session, _neighbours_sql(zone_id), params, zone_id)
    return EventLog(
        bay=np.concatenate([window.bay, edges.bay]),
        at=np.concatenate([window.at, edges.at]),
        kind=np.concatenate([window.kind, edges.kind]).astype(np.int8),
    )


def _event_rows(
    session: Session, sql: str, params: dict[str, Any], zone_id: str | None
) -> EventLog:
    query = text(sql).bindparams(*_binds(zone_id)).columns(bay_id=None, kind=None, at=UTCDateTime)
    found = session.execute(query, params).all()
    return EventLog(
        bay=np.array([row[0] for row in found], dtype=np.int64),
        at=np.array([to_us(row[2]) for row in found], dtype=np.int64),
        kind=np.array([_kind(row[1]) for row in found], dtype=np.int8),
    )


def bookings(*, session: Session, lo: int, hi: int, zone_id: str | None) -> Bookings:
    """Reservations that started, were held or were used in [lo, hi)."""
    params = _params(lo, hi, zone_id)
    if _is_psycopg(session):
        return _bookings_pg(session, _bookings_where(zone_id, "psycopg"), params)
    query = (
        text(
            "SELECT bay_id, start_at, end_at, activated_at, completed_at, "
            "CASE WHEN overstay_at IS NULL THEN 0 ELSE 1 END, status, source "
            f"FROM reservations {_bookings_where(zone_id, 'sqlalchemy')}"
        )
        .bindparams(*_binds(zone_id))
        .columns(
            bay_id=None,
            start_at=UTCDateTime,
            end_at=UTCDateTime,
            activated_at=UTCDateTime,
            completed_at=UTCDateTime,
        )
    )
    found = session.execute(query, params).all()
    columns = list(zip(*found, strict=True)) if found else [()] * 8

    def stamp(values: tuple[datetime | None, ...]) -> np.ndarray:
        return np.array([NOT_SET if v is None else to_us(v) for v in values], dtype=np.int64)

    return Bookings(
        bay=np.array(columns[0], dtype=np.int64),
        start=stamp(columns[1]),
        end=stamp(columns[2]),
        activated=stamp(columns[3]),
        completed=stamp(columns[4]),
        overstayed=np.array(columns[5], dtype=bool),
        status=np.array([_code(STATUS_CODES, v) for v in columns[6]], dtype=np.int8),
        source=np.array([_code(SOURCE_CODES, v) for v in columns[7]], dtype=np.int8),
    )


def _bookings_pg(session: Session, where: str, params: dict[str, Any]) -> Bookings:
    # Grouped by what is the same for many bookings; the rest comes as arrays.
    rows = _copy_rows(
        session,
        "SELECT status, source, overstay_at IS NOT NULL, activated_at IS NULL, "
        "completed_at IS NULL, array_agg(bay_id), array_agg(start_at), array_agg(end_at), "
        "array_agg(activated_at) FILTER (WHERE activated_at IS NOT NULL), "
        "array_agg(completed_at) FILTER (WHERE completed_at IS NOT NULL) "
        f"FROM reservations {where} GROUP BY 1, 2, 3, 4, 5",
        params,
    )
    parts: dict[str, list[np.ndarray]] = {name: [] for name in Bookings.__dataclass_fields__}
    for status, source, overstayed, no_activation, no_completion, *arrays in rows:
        bay = _array(arrays[0], ">i4").astype(np.int64)
        size = len(bay)
        parts["bay"].append(bay)
        parts["start"].append(_array(arrays[1], ">i8") + PG_EPOCH_US)
        parts["end"].append(_array(arrays[2], ">i8") + PG_EPOCH_US)
        for name, unset, field in (
            ("activated", no_activation, arrays[3]),
            ("completed", no_completion, arrays[4]),
        ):
            parts[name].append(
                np.full(size, NOT_SET) if _bool(unset) else _array(field, ">i8") + PG_EPOCH_US
            )
        parts["overstayed"].append(np.full(size, _bool(overstayed)))
        parts["status"].append(np.full(size, _code(STATUS_CODES, _text(status)), dtype=np.int8))
        parts["source"].append(np.full(size, _code(SOURCE_CODES, _text(source)), dtype=np.int8))
    kinds = {"overstayed": bool, "status": np.int8, "source": np.int8}
    return Bookings(
        **{
            name: _joined(arrays).astype(kinds.get(name, np.int64))
            for name, arrays in parts.items()
        }
    )


def _kind(name: str) -> int:
    return START if name == "park_start" else END if name == "park_end" else OTHER


def _code(names: tuple[str, ...], name: str) -> int:
    return names.index(name) if name in names else 0


def _params(lo: int, hi: int, zone_id: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"lo": from_us(lo), "hi": from_us(hi)}
    return {**params, "zone": zone_id} if zone_id else params


def _binds(zone_id: str | None) -> list[Any]:
    # Typed binds, so SQLite compares against timestamps written the way UTCDateTime writes them.
    binds = [bindparam("lo", type_=UTCDateTime), bindparam("hi", type_=UTCDateTime)]
    return [*binds, bindparam("zone")] if zone_id else binds


def _is_psycopg(session: Session) -> bool:
    dialect = session.get_bind().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


Field = memoryview | None


def _copy_rows(session: Session, sql: str, params: dict[str, Any]) -> list[list[Field]]:
    """The rows of a binary COPY, each a list of raw fields (None for NULL)."""
    connection = session.connection()
    # Big aggregates: no JIT compile (it costs more than it saves here) and room for the
    # arrays in memory; both only for this transaction.
    connection.exec_driver_sql("SET LOCAL jit = off")
    connection.exec_driver_sql("SET LOCAL work_mem = '128MB'")
    buffer = bytearray()
    with (
        connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy,
    ):
        for chunk in copy:
            buffer += chunk
    view = memoryview(buffer)  # read-only from here on
    at = _PG_HEADER + int.from_bytes(view[15:19], "big")
    rows: list[list[Field]] = []
    while (count := int.from_bytes(view[at : at + 2], "big", signed=True)) != -1:
        at += 2
        row: list[Field] = []
        for _ in range(count):
            length = int.from_bytes(view[at : at + 4], "big", signed=True)
            at += 4
            row.append(None if length < 0 else view[at : at + length])
            at += max(length, 0)
        rows.append(row)
    return rows


def _array(field: Field, element: str) -> np.ndarray:
    """A one-dimensional array of fixed-size, non-NULL elements in binary form, as int64."""
    if field is None:
        return np.zeros(0, dtype=np.int64)
    dimensions, has_null = struct.unpack_from(">ii", field, 0)
    if dimensions == 0:
        return np.zeros(0, dtype=np.int64)
    if dimensions != 1 or has_null:
        raise RuntimeError("expected a one-dimensional array without NULLs")
    (size,) = struct.unpack_from(">i", field, 12)
    cells = np.frombuffer(
        field, dtype=[("length", ">i4"), ("value", element)], count=size, offset=20
    )
    return cells["value"].astype(np.int64)


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def _text(field: Field) -> str:
    return "" if field is None else bytes(field).decode()


def _bool(field: Field) -> bool:
    return field is not None and field[0] != 0

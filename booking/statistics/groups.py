"""Groupings (UTC hour, local day, zone, hour x weekday) and the sums per group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from booking.statistics.calendar import HOUR, from_us
from booking.statistics.records import SOURCE_CODES, Inventory
from booking.statistics.tally import SHORT_STAY_US, Booked, Occupancy, ZoneCalendar

KeyOf = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Grouping:
    """How pieces (with their zone) and instants (with their zone) map to groups 0..n-1."""

    keys: list[str]
    of_piece: KeyOf  # (global piece index, zone index) -> group
    of_instant: KeyOf  # (UTC µs, zone index) -> group
    zone_names: list[str] | None = None  # set when the groups are zones


def by_zone(inventory: Inventory) -> Grouping:
    """One group per zone in scope."""
    return Grouping(
        list(inventory.zone_ids), _second, _second, zone_names=list(inventory.zone_names)
    )


def by_hour(calendar: ZoneCalendar, lo: int, hi: int) -> Grouping:
    """One group per UTC hour the window touches, keyed by its start."""
    first, last = lo // HOUR, (hi - 1) // HOUR
    keys = [from_us(h * HOUR).isoformat() for h in range(first, last + 1)]
    return Grouping(
        keys,
        lambda piece, zone: calendar.pieces.utc_hour[piece] - first,
        lambda moment, zone: moment // HOUR - first,
    )


def by_day(calendar: ZoneCalendar, lo: int, hi: int) -> Grouping:
    """One group per local calendar day (each zone's own) the window touches."""
    clocks = list(calendar.clocks.values())
    edges = np.array([lo, hi - 1], dtype=np.int64)
    days = [clock.local_day(edges) for clock in clocks] or [edges // (24 * HOUR)]
    first = int(min(d[0] for d in days))
    last = int(max(d[1] for d in days))
    keys = [(date(1970, 1, 1) + timedelta(days=d)).isoformat() for d in range(first, last + 1)]

    def of_instant(moment: np.ndarray, zone: np.ndarray) -> np.ndarray:
        day = np.zeros(len(moment), dtype=np.int64)
        for tz, clock in calendar.clocks.items():
            mine = np.flatnonzero(np.isin(zone, _zones_in(calendar, tz)))
            day[mine] = clock.local_day(moment[mine])
        return day - first

    return Grouping(keys, lambda piece, zone: calendar.pieces.local_day[piece] - first, of_instant)


def heatmap(calendar: ZoneCalendar) -> Grouping:
    """Local hour of day x weekday, Monday first: group = weekday * 24 + hour."""
    keys = [f"{day}:{hour:02d}" for day in range(7) for hour in range(24)]
    return Grouping(
        keys,
        lambda piece, zone: calendar.pieces.weekday[piece] * 24 + calendar.pieces.local_hour[piece],
        _zeros,
    )


def _zones_in(calendar: ZoneCalendar, tz: str) -> np.ndarray:
    return np.array([n for n, name in enumerate(calendar.zone_clock) if name == tz], dtype=np.int64)


def _zeros(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.zeros(len(first), dtype=np.int64)


def _second(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return second


@dataclass(frozen=True)
class Supply:
    """Every (zone, loading piece) pair of zones with measured bays, weighted by those bays."""

    zone: np.ndarray
    piece: np.ndarray
    bays: np.ndarray

    @classmethod
    def of(cls, inventory: Inventory, calendar: ZoneCalendar) -> Supply:
        """Pair each zone with its template's pieces."""
        measured = np.bincount(
            inventory.bay_zone[inventory.bay_measured], minlength=len(inventory.zone_ids)
        )
        zones = np.flatnonzero(measured)
        counts = np.array([len(calendar.templates[calendar.zone_template[z]]) for z in zones])
        counts = counts.astype(np.int64)
        zone = np.repeat(zones, counts)
        step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        piece = calendar.offset[calendar.zone_template[zone]] + step
        return cls(zone=zone, piece=piece, bays=measured[zone])


@dataclass(frozen=True)
class Sums:
    """Per-group sums, the raw material of the metrics."""

    bays: np.ndarray
    available: np.ndarray  # bay-µs
    bay_days: np.ndarray
    occupied: np.ndarray  # µs
    reserved: np.ndarray  # µs
    sessions: np.ndarray
    dwell: np.ndarray  # µs, summed
    short: np.ndarray
    median_dwell: np.ndarray  # µs, NaN without sessions
    bookings: np.ndarray  # not cancelled
    cancelled: np.ndarray
    no_shows: np.ndarray
    used: np.ndarray
    overstays: np.ndarray
    sources: np.ndarray  # shape (n, len(SOURCE_CODES))


def occupancy_only(
    grouping: Grouping, *, calendar: ZoneCalendar, supply: Supply, occupancy: Occupancy
) -> tuple[np.ndarray, np.ndarray]:
    """Occupied and available µs per group: all the heatmap needs."""
    n = len(grouping.keys)
    pieces = calendar.pieces
    length = pieces.end[supply.piece] - pieces.start[supply.piece]
    available = np.bincount(
        grouping.of_piece(supply.piece, supply.zone), weights=length * supply.bays, minlength=n
    )
    occupied = np.bincount(
        grouping.of_piece(occupancy.piece, occupancy.zone), weights=occupancy.occupied, minlength=n
    )
    return occupied[:n], available[:n]


def sums(
    grouping: Grouping,
    *,
    inventory: Inventory,
    calendar: ZoneCalendar,
    supply: Supply,
    occupancy: Occupancy,
    booked: Booked,
) -> Sums:
    """Add everything up per group."""
    n = len(grouping.keys)
    pieces = calendar.pieces

    def add(keys: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(keys, weights=weights, minlength=n)[:n]

    supply_key = grouping.of_piece(supply.piece, supply.zone)
    bays_per_zone = np.bincount(
        inventory.bay_zone[inventory.bay_measured], minlength=len(inventory.zone_ids)
    )
    if grouping.zone_names is not None:
        bays = bays_per_zone.astype(np.int64)
    else:
        bays = np.full(n, int(bays_per_zone.sum()), dtype=np.int64)
    length = pieces.end[supply.piece] - pieces.start[supply.piece]
    cut_key = grouping.of_piece(occupancy.piece, occupancy.zone)
    session_key = grouping.of_piece(occupancy.session_piece, occupancy.session_zone)
    dwell = occupancy.session_dwell
    booking_key = grouping.of_instant(booked.start, booked.zone)
    counted = ~booked.cancelled
    sources = np.stack(
        [add(booking_key[counted & (booked.source == s)]) for s in range(len(SOURCE_CODES))],
        axis=1,
    )
    return Sums(
        bays=bays,
        available=add(supply_key, length * supply.bays),
        bay_days=add(supply_key, pieces.day_share[supply.piece] * supply.bays),
        occupied=add(cut_key, occupancy.occupied),
        reserved=add(cut_key, occupancy.reserved),
        sessions=add(session_key),
        dwell=add(session_key, dwell),
        short=add(session_key[dwell < SHORT_STAY_US]),
        median_dwell=_medians(session_key, dwell, n),
        bookings=add(booking_key[counted]),
        cancelled=add(booking_key[booked.cancelled]),
        no_shows=add(booking_key[counted & booked.no_show]),
        used=add(booking_key[counted & booked.used]),
        overstays=add(booking_key[counted & booked.used & booked.overstayed]),
        sources=sources,
    )


def total_of(per_group: Sums, *, dwell: np.ndarray, bays: int) -> Sums:
    """The whole window from its groups: every group sum adds up; the median is taken anew."""
    added = {
        name: getattr(per_group, name).sum(axis=0, keepdims=True)
        for name in Sums.__dataclass_fields__
        if name not in ("bays", "median_dwell")
    }
    median = np.array([np.median(dwell) if len(dwell) else np.nan])
    return Sums(bays=np.array([bays]), median_dwell=median, **added)


def _medians(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The median of the values of each group (the mean of the middle two when even)."""
    result = np.full(n, np.nan)
    if not len(keys):
        return result
    # By value, then stably by group: small integer keys sort by radix, far faster than lexsort.
    by_value = np.argsort(values, kind="stable")
    narrow = keys[by_value].astype(np.int16 if n < 2**15 else np.int64)
    ordered = values[by_value[np.argsort(narrow, kind="stable")]].astype(np.float64)
    counts = np.bincount(keys, minlength=n)[:n]
    starts = np.cumsum(counts) - counts
    some = counts > 0
    low = starts[some] + (counts[some] - 1) // 2
    high = starts[some] + counts[some] // 2
    result[some] = (ordered[low] + ordered[high]) / 2
    return result

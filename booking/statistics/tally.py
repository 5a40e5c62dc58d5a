"""The arithmetic: occupied stretches, sessions and reservation cover, summed per group.

All vectorised over numpy arrays of int64 microseconds; no Python loop runs per event, per
session or per booking, only per distinct (time zone, loading hours) template.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from booking.hours import LoadingHours
from booking.statistics.calendar import LocalClock, Pieces, loading_pieces
from booking.statistics.records import (
    END,
    NOT_SET,
    START,
    STATUS_CODES,
    Bookings,
    EventLog,
    Inventory,
)

SHORT_STAY_US = 15 * 60_000_000
COVERING = [STATUS_CODES.index(s) for s in ("booked", "active", "overstay", "completed")]
CANCELLED = STATUS_CODES.index("cancelled")
NO_SHOW = STATUS_CODES.index("no_show")
OVERSTAY = STATUS_CODES.index("overstay")


class ZoneCalendar:
    """Loading pieces of every zone in scope; zones with the same hours and zone share them."""

    def __init__(self, inventory: Inventory, lo: int, hi: int) -> None:
        self.clocks = {tz: LocalClock(ZoneInfo(tz), lo, hi) for tz in set(inventory.zone_timezones)}
        self.zone_clock = list(inventory.zone_timezones)
        templates: dict[tuple[str, str], int] = {}
        self.templates: list[Pieces] = []
        zone_template = []
        for tz, hours in zip(inventory.zone_timezones, inventory.zone_hours, strict=True):
            if (tz, hours) not in templates:
                templates[tz, hours] = len(self.templates)
                pieces = loading_pieces(LoadingHours.parse(hours), self.clocks[tz], lo, hi)
                self.templates.append(pieces)
            zone_template.append(templates[tz, hours])
        self.zone_template = np.array(zone_template, dtype=np.int64)
        sizes = [len(p) for p in self.templates]
        self.offset = np.concatenate(([0], np.cumsum(sizes)))[:-1].astype(np.int64)
        self.pieces = _concatenate(self.templates)
        # All templates on one axis, each in its own stretch of it, so one binary search
        # serves every zone: template * span + (t - lo), with t in [lo, hi].
        self.lo, self.span = lo, hi - lo + 1
        shift = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes) * self.span - lo
        self.axis_start, self.axis_end = self.pieces.start + shift, self.pieces.end + shift

    def on_axis(self, zone: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """Instants in [lo, hi] of these zones as positions on the shared axis."""
        return self.zone_template[zone] * self.span + (moments - self.lo)


def _concatenate(templates: list[Pieces]) -> Pieces:
    if not templates:
        return Pieces.none()
    fields = Pieces.__dataclass_fields__
    return Pieces(
        **{name: np.concatenate([getattr(p, name) for p in templates]) for name in fields}
    )


@dataclass(frozen=True)
class Stays:
    """Occupied time cut into loading-hour pieces, and the completed sessions."""

    bay: np.ndarray  # per cut: bay rank
    zone: np.ndarray  # per cut: zone index
    piece: np.ndarray  # per cut: global piece index
    start: np.ndarray  # per cut: µs
    end: np.ndarray
    session_zone: np.ndarray
    session_piece: np.ndarray  # piece the session started in (only sessions that did)
    session_dwell: np.ndarray  # µs


def stays(
    *, inventory: Inventory, calendar: ZoneCalendar, log: EventLog, lo: int, hi: int
) -> Stays:
    """Occupied stretches and sessions of measured bays, clipped to loading hours."""
    rank, at, kind = _bay_rank(inventory, log.bay), log.at, log.kind
    if (rank < 0).any():
        keep = rank >= 0
        rank, at, kind = rank[keep], at[keep], kind[keep]
    order = _by_bay_time_kind(rank, at, kind)
    # A start is occupied until the bay's next event of any kind (an end, a lost sensor).
    places = np.flatnonzero(kind[order] == START)
    starts = order[places]
    following = order[np.minimum(places + 1, max(len(order) - 1, 0))]
    bay, start = rank[starts], at[starts]
    has_next = (places + 1 < len(order)) & (rank[following] == bay)
    end = np.where(has_next, at[following], hi)
    s, e = np.maximum(start, lo), np.minimum(end, hi)
    stretch = e > s
    cut = _cut(calendar, inventory.bay_zone[bay[stretch]], bay[stretch], s[stretch], e[stretch])
    complete = has_next & (kind[following] == END) & (start >= lo) & (start < hi)
    session_zone = inventory.bay_zone[bay[complete]]
    session_piece = _containing(calendar, session_zone, start[complete])
    began = session_piece >= 0
    return Stays(
        bay=cut.bay,
        zone=cut.zone,
        piece=cut.piece,
        start=cut.start,
        end=cut.end,
        session_zone=session_zone[began],
        session_piece=session_piece[began],
        session_dwell=(end - start)[complete][began],
    )


@dataclass(frozen=True)
class Occupancy:
    """Occupied and reserved time per cut, and the sessions: what the sums add up."""

    zone: np.ndarray  # per cut: zone index
    piece: np.ndarray  # per cut: global piece index
    occupied: np.ndarray  # per cut: µs occupied
    reserved: np.ndarray  # per cut: µs of that also covered by a reservation of the bay
    session_zone: np.ndarray
    session_piece: np.ndarray
    session_dwell: np.ndarray

    @classmethod
    def of(cls, stays: Stays, cover: Cover) -> Occupancy:
        """The stays with the part of each cut that a reservation covers."""
        return cls(
            zone=stays.zone,
            piece=stays.piece,
            occupied=stays.end - stays.start,
            reserved=cover.between(stays.bay, stays.start, stays.end),
            session_zone=stays.session_zone,
            session_piece=stays.session_piece,
            session_dwell=stays.session_dwell,
        )


def _by_bay_time_kind(rank: np.ndarray, at: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The order of events by bay, time and kind (codes make OTHER first at equal times)."""
    # Three stable sorts beat one lexsort several times over: kinds and bay ranks are small
    # integers (radix sorts), and a log read in time order is nearly sorted by time already.
    by_kind = np.argsort(kind, kind="stable")
    by_time = by_kind[np.argsort(at[by_kind], kind="stable")]
    narrow = np.int16 if len(rank) == 0 or rank.max() < 2**15 else np.int32
    return by_time[np.argsort(rank[by_time].astype(narrow), kind="stable")]


def _bay_rank(
    inventory: Inventory, bay_ids: np.ndarray, *, measured_only: bool = True
) -> np.ndarray:
    """Position of each bay id among the inventory's bays, or -1 (unknown, or not measured)."""
    ids = inventory.bay_ids
    if not len(ids) or not len(bay_ids):
        return np.full(len(bay_ids), -1, dtype=np.int64)
    wanted = inventory.bay_measured if measured_only else np.ones(len(ids), dtype=bool)
    top = int(max(ids.max(), bay_ids.max()))
    if top < 64 * (len(ids) + len(bay_ids)):
        # Bay ids are a serial: a lookup table beats a binary search per event.
        table = np.full(top + 1, -1, dtype=np.int64)
        table[ids[wanted]] = np.flatnonzero(wanted)
        return table[np.maximum(bay_ids, 0)]
    rank = np.minimum(np.searchsorted(ids, bay_ids), len(ids) - 1)
    return np.where((ids[rank] == bay_ids) & wanted[rank], rank, -1)


@dataclass(frozen=True)
class _Cut:
    bay: np.ndarray
    zone: np.ndarray
    piece: np.ndarray
    start: np.ndarray
    end: np.ndarray


def _cut(
    calendar: ZoneCalendar, zone: np.ndarray, bay: np.ndarray, s: np.ndarray, e: np.ndarray
) -> _Cut:
    """Intersect stretches with their zone's loading pieces: one row per (stretch, piece)."""
    first = np.searchsorted(calendar.axis_end, calendar.on_axis(zone, s), side="right")
    last = np.searchsorted(calendar.axis_start, calendar.on_axis(zone, e), side="left")
    counts = np.maximum(last - first, 0)
    row = np.repeat(np.arange(len(s)), counts)
    # A ragged arange: first, first+1, ... last-1 for every stretch.
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    piece = np.repeat(first, counts) + step
    pieces = calendar.pieces
    start = np.maximum(s[row], pieces.start[piece])
    end = np.minimum(e[row], pieces.end[piece])
    return _Cut(bay[row], zone[row], piece, start, end)


def _containing(calendar: ZoneCalendar, zone: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """Global index of the loading piece each instant (in [lo, hi)) lies in, or -1."""
    position = calendar.on_axis(zone, moments)
    found = np.searchsorted(calendar.axis_start, position, side="right") - 1
    inside = (found >= 0) & (position < calendar.axis_end[np.maximum(found, 0)])
    return np.where(inside, found, -1)


class Cover:
    """The union of each bay's reservation cover, to measure it between any two instants."""

    def __init__(self, inventory: Inventory, bookings: Bookings, lo: int, hi: int) -> None:
        self.lo, self.width = lo, hi - lo + 1
        if len(inventory.bay_ids) * self.width >= 2**62:
            raise ValueError("too many bays for one statistics window; narrow it or pick a zone")
        rank = _bay_rank(inventory, bookings.bay)
        keep = (rank >= 0) & np.isin(bookings.status, COVERING)
        # Covered from the start (or an earlier arrival) to the end (or a later departure);
        # an overstay still going covers to the end of the window.
        start = bookings.start[keep]
        activated = bookings.activated[keep]
        start = np.where((activated != NOT_SET) & (activated < start), activated, start)
        end = np.maximum(bookings.end[keep], bookings.completed[keep])
        end = np.where(bookings.status[keep] == OVERSTAY, hi, end)
        start, end = np.clip(start, lo, hi), np.clip(end, lo, hi)
        real = end > start
        base = rank[keep][real] * self.width - lo
        g_start, g_end = base + start[real], base + end[real]
        order = np.argsort(g_start, kind="stable")
        g_start, g_end = g_start[order], g_end[order]
        # Merge overlapping covers of a bay (a booking overstaying into the next one).
        reach = np.maximum.accumulate(g_end) if len(g_end) else g_end
        fresh = np.ones(len(g_start), dtype=bool)
        fresh[1:] = g_start[1:] > reach[:-1]
        heads = np.flatnonzero(fresh)
        self.start = g_start[heads]
        self.end = np.maximum.reduceat(g_end, heads) if len(heads) else g_end[:0]
        self.before = np.concatenate(([0], np.cumsum(self.end - self.start)))

    def between(self, bay: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Covered microseconds of each bay within [a, b)."""
        base = bay * self.width - self.lo
        return self._upto(base + b) - self._upto(base + a)

    def _upto(self, x: np.ndarray) -> np.ndarray:
        if not len(self.start):
            return np.zeros(len(x), dtype=np.int64)
        k = np.searchsorted(self.start, x, side="right") - 1
        safe = np.maximum(k, 0)
        inside = np.minimum(x, self.end[safe]) - self.start[safe]
        return np.where(k >= 0, self.before[safe] + inside, 0)


@dataclass(frozen=True)
class Booked:
    """Bookings whose start lies in the window, with what became of them."""

    zone: np.ndarray
    start: np.ndarray
    cancelled: np.ndarray
    no_show: np.ndarray
    used: np.ndarray  # reached active: the driver arrived
    overstayed: np.ndarray
    source: np.ndarray  # index into SOURCE_CODES


def booked(*, inventory: Inventory, bookings: Bookings, lo: int, hi: int) -> Booked:
    """The bookings that rates count: those that start in [lo, hi)."""
    rank = _bay_rank(inventory, bookings.bay, measured_only=False)
    inside = (rank >= 0) & (bookings.start >= lo) & (bookings.start < hi)
    return Booked(
        zone=inventory.bay_zone[rank[inside]],
        start=bookings.start[inside],
        cancelled=bookings.status[inside] == CANCELLED,
        no_show=bookings.status[inside] == NO_SHOW,
        used=bookings.activated[inside] != NOT_SET,
        overstayed=bookings.overstayed[inside],
        source=bookings.source[inside],
    )

"""Statistics of the kerb over a window: occupancy, sessions, bookings, and their impact.

Definitions (all over the window [from, to): `to` defaults to now and is capped there, `from`
to 7 days earlier, at most 92 days; local means each zone's own time zone; bays means active
bays with a sensor, as they are now):

- **occupancy %** = occupied bay-time / available bay-time, both within loading hours.
  Available bay-time is bays x the zone's loading hours in the window (closures and sensor
  outages are not subtracted). A bay is occupied from a `park_start` until its next event
  of any kind (`park_end`, or `comms_lost`: an unknown bay is not counted as occupied); a
  bay occupied when the window opens counts from `from`, one still occupied at `to` until
  `to`. Events of one bay at the same instant count comms_lost/comms_restored first.
- **reserved share %** = occupied time (within loading hours) that a reservation of the
  same bay covers / occupied time. A reservation covers its bay while booked, active,
  overstaying or completed, from its start (or its earlier check-in) to its end (or its
  later check-out; an overstay still going covers to `to`). Cancelled and no-show
  reservations cover nothing. **unreserved share %** = the rest: the time bays were
  blocked by vehicles without a booking.
- **sessions**: a `park_start` followed by that bay's `park_end` (with no event between),
  counted when it starts in the window within loading hours; it may end after `to`.
  **turnover** = sessions / bay-days, where a local day with loading hours counts as one
  day per bay (a window that cuts a day counts the share of its loading time inside).
- **mean / median dwell** (minutes) = over those sessions, park_start to park_end;
  **short-stay share %** = sessions under 15 minutes / sessions.
- **bookings** = reservations whose start lies in the window, not cancelled (cancelled
  ones are counted apart). **no-show rate %** = no_show / bookings. **overstay rate %** =
  used bookings that reached overstay / used bookings, where used means it became active.
  **advance / on-arrival / operator** = bookings by source, with shares of bookings.
- Groups: `hour` = UTC hours (ISO key of the hour's start); `day` = local calendar days
  (ISO date); `zone` = zones ranked by occupancy, highest first. Sessions fall in the group
  where they start, bookings where their start lies, occupied and available time is split
  where it falls. The heatmap is occupancy % by local weekday (rows, Monday first) x local
  hour (24 columns), None where a cell has no loading hours.
- Percentages are rounded to 0.01, hours to 0.001, minutes to 0.01; a figure whose
  denominator is zero is None (empty in CSV).
- The impact estimate (`booking.impact`) scales used bookings by stated assumptions.

SQLite and PostgreSQL give identical answers: both read the same rows into int64
microseconds (PostgreSQL as aggregated arrays over binary COPY, for speed) and the same
numpy arithmetic does the rest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlmodel import Session

from booking.errors import NotFound, RuleViolation
from booking.impact import ImpactAssumptions, estimate
from booking.statistics import groups, records, tally
from booking.statistics.calendar import from_us, to_us
from booking.statistics.report import METRIC_NAMES, Group, Metrics, Statistics, to_csv

GROUP_BY = ("hour", "day", "zone")
DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=92)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

__all__ = [
    "DEFAULT_WINDOW",
    "GROUP_BY",
    "MAX_WINDOW",
    "METRIC_NAMES",
    "Group",
    "Metrics",
    "Statistics",
    "compute",
    "to_csv",
    "window",
]


def window(
    start: datetime | None, end: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The window asked for: `to` defaults to now and is capped there, `from` to 7 days before.

    Raises RuleViolation("stats_window") for times without offset, an empty window, one
    longer than 92 days or one that starts before 2000.
    """
    if any(t is not None and t.utcoffset() is None for t in (start, end)):
        raise RuleViolation("stats_window", "Give from and to with a UTC offset, e.g. +01:00.")
    end = min(end or now, now)
    start = start or end - DEFAULT_WINDOW
    if start < EARLIEST:
        raise RuleViolation("stats_window", "Statistics cover times from the year 2000 on.")
    if start >= end:
        raise RuleViolation(
            "stats_window", "The window is empty: from must lie before to, and before now."
        )
    if end - start > MAX_WINDOW:
        raise RuleViolation(
            "stats_window", f"The window is longer than {MAX_WINDOW.days} days; ask for less."
        )
    return start, end


def compute(
    *,
    session: Session,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
    zone_id: str | None = None,
    group_by: str = "day",
    assumptions: ImpactAssumptions | None = None,
) -> Statistics:
    """Statistics of the zones (or one zone) over the window, grouped by hour, day or zone."""
    if group_by not in GROUP_BY:
        raise RuleViolation("stats_group_by", f"Group by one of {', '.join(GROUP_BY)}.")
    start, end = window(start, end, now=now)
    lo, hi = to_us(start), to_us(end)
    inventory = records.inventory(session=session, zone_id=zone_id)
    if zone_id is not None and not inventory.zone_ids:
        raise NotFound(f"There is no zone {zone_id}.")
    facts = _facts(session=session, inventory=inventory, lo=lo, hi=hi, zone_id=zone_id)
    grouping = {
        "hour": lambda: groups.by_hour(facts.calendar, lo, hi),
        "day": lambda: groups.by_day(facts.calendar, lo, hi),
        "zone": lambda: groups.by_zone(inventory),
    }[group_by]()
    per_group = groups.sums(
        grouping, inventory=inventory, calendar=facts.calendar, supply=facts.supply,
        occupancy=facts.occupancy, booked=facts.booked,
    )  # fmt: skip
    names = grouping.zone_names
    rows = [
        Group(key, Metrics.of(per_group, n), names[n] if names else None)
        for n, key in enumerate(grouping.keys)
    ]
    if group_by == "zone":
        rows.sort(key=lambda g: (g.metrics.occupancy_pct is None, -(g.metrics.occupancy_pct or 0)))
    total = groups.total_of(
        per_group, dwell=facts.occupancy.session_dwell, bays=int(inventory.bay_measured.sum())
    )
    totals = Metrics.of(total, 0)
    cells = groups.occupancy_only(
        groups.heatmap(facts.calendar), calendar=facts.calendar, supply=facts.supply,
        occupancy=facts.occupancy,
    )  # fmt: skip
    return Statistics(
        start=from_us(lo),
        end=from_us(hi),
        zone_id=zone_id,
        group_by=group_by,
        totals=totals,
        groups=rows,
        heatmap=_heatmap(*cells),
        impact=estimate(bookings_used=totals.used, assumptions=assumptions or ImpactAssumptions()),
    )


@dataclass(frozen=True)
class _Facts:
    calendar: tally.ZoneCalendar
    supply: groups.Supply
    occupancy: tally.Occupancy
    booked: tally.Booked


def _facts(
    *, session: Session, inventory: records.Inventory, lo: int, hi: int, zone_id: str | None
) -> _Facts:
    """Read the history and work out occupancy, sessions and bookings of the window."""
    # The database reads the bookings while numpy works through the occupancy log: one
    # reader thread, sequential on the session's connection, which nothing else touches then.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats-read") as reader:
        log = reader.submit(records.events, session=session, lo=lo, hi=hi, zone_id=zone_id)
        read = reader.submit(records.bookings, session=session, lo=lo, hi=hi, zone_id=zone_id)
        calendar = tally.ZoneCalendar(inventory, lo, hi)
        supply = groups.Supply.of(inventory, calendar)
        stays = tally.stays(inventory=inventory, calendar=calendar, log=log.result(), lo=lo, hi=hi)
        bookings = read.result()
    return _Facts(
        calendar=calendar,
        supply=supply,
        occupancy=tally.Occupancy.of(stays, tally.Cover(inventory, bookings, lo, hi)),
        booked=tally.booked(inventory=inventory, bookings=bookings, lo=lo, hi=hi),
    )


def _heatmap(occupied: np.ndarray, available: np.ndarray) -> list[list[float | None]]:
    cells = [
        None if not whole else round(100 * part / whole, 2)
        for part, whole in zip(occupied.tolist(), available.tolist(), strict=True)
    ]
    return [cells[day * 24 : day * 24 + 24] for day in range(7)]

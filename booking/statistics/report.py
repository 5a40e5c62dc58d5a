"""The statistics as results: metrics per group, the heatmap, the impact estimate, CSV."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from booking.impact import Impact
from booking.statistics.groups import Sums

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000


@dataclass(frozen=True)
class Metrics:
    """The figures of one group (or of the whole window); None where a denominator is zero.

    Rates first (occupancy leads: it is what the console charts), then the counts behind them.
    """

    occupancy_pct: float | None
    reserved_share_pct: float | None
    unreserved_share_pct: float | None
    turnover_per_bay_day: float | None
    mean_dwell_min: float | None
    median_dwell_min: float | None
    short_stay_share_pct: float | None
    no_show_rate_pct: float | None
    overstay_rate_pct: float | None
    advance_share_pct: float | None
    on_arrival_share_pct: float | None
    operator_share_pct: float | None
    bays: int
    available_hours: float
    occupied_hours: float
    sessions: int
    bookings: int
    cancelled: int
    no_shows: int
    used: int
    overstays: int
    advance: int
    on_arrival: int
    operator: int

    @classmethod
    def of(cls, sums: Sums, group: int) -> Metrics:
        """The metrics of one group of the sums."""
        available, occupied = float(sums.available[group]), float(sums.occupied[group])
        reserved = float(sums.reserved[group])
        sessions, bookings = int(sums.sessions[group]), int(sums.bookings[group])
        used = int(sums.used[group])
        advance, on_arrival, operator = (int(v) for v in sums.sources[group])
        median = float(sums.median_dwell[group])
        return cls(
            bays=int(sums.bays[group]),
            available_hours=round(available / HOUR_US, 3),
            occupied_hours=round(occupied / HOUR_US, 3),
            occupancy_pct=_pct(occupied, available),
            reserved_share_pct=_pct(reserved, occupied),
            unreserved_share_pct=_pct(occupied - reserved, occupied),
            sessions=sessions,
            turnover_per_bay_day=_ratio(sessions, float(sums.bay_days[group]), 3),
            mean_dwell_min=_ratio(float(sums.dwell[group]) / MINUTE_US, sessions, 2),
            median_dwell_min=None if math.isnan(median) else round(median / MINUTE_US, 2),
            short_stay_share_pct=_pct(int(sums.short[group]), sessions),
            bookings=bookings,
            cancelled=int(sums.cancelled[group]),
            no_shows=int(sums.no_shows[group]),
            no_show_rate_pct=_pct(int(sums.no_shows[group]), bookings),
            used=used,
            overstays=int(sums.overstays[group]),
            overstay_rate_pct=_pct(int(sums.overstays[group]), used),
            advance=advance,
            on_arrival=on_arrival,
            operator=operator,
            advance_share_pct=_pct(advance, bookings),
            on_arrival_share_pct=_pct(on_arrival, bookings),
            operator_share_pct=_pct(operator, bookings),
        )

    def as_dict(self) -> dict[str, Any]:
        """The metrics as a flat dict."""
        return asdict(self)


METRIC_NAMES = [f.name for f in fields(Metrics)]


def _pct(part: float, whole: float) -> float | None:
    return None if not whole else round(100 * part / whole, 2)


def _ratio(part: float, whole: float, digits: int) -> float | None:
    return None if not whole else round(part / whole, digits)


@dataclass(frozen=True)
class Group:
    """One row of a grouping: an hour, a day or a zone (with its name)."""

    key: str
    metrics: Metrics
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as a flat dict: key, name (zones only), then the metrics."""
        head: dict[str, Any] = {"key": self.key}
        if self.name is not None:
            head["name"] = self.name
        return {**head, **self.metrics.as_dict()}


@dataclass(frozen=True)
class Statistics:
    """Statistics of a window: totals, groups, hour x weekday heatmap, impact estimate."""

    start: datetime
    end: datetime
    zone_id: str | None
    group_by: str
    totals: Metrics
    groups: list[Group]
    heatmap: list[list[float | None]]  # 7 weekdays (Monday first) x 24 local hours, occupancy %
    impact: Impact

    def as_dict(self) -> dict[str, Any]:
        """The statistics as JSON-ready values, times in ISO 8601 with offset."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "zone_id": self.zone_id,
            "group_by": self.group_by,
            "totals": self.totals.as_dict(),
            "groups": [g.as_dict() for g in self.groups],
            "heatmap": self.heatmap,
            "impact": self.impact.as_dict(),
        }


def to_csv(statistics: Statistics) -> str:
    """One row per group after a `total` row; empty cells where a figure has no value."""
    by_zone = statistics.group_by == "zone"
    columns = ["key", *(["name"] if by_zone else []), *METRIC_NAMES]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    total = Group("total", statistics.totals, "" if by_zone else None)
    for group in [total, *statistics.groups]:
        writer.writerow({k: "" if v is None else v for k, v in group.as_dict().items()})
    return out.getvalue()

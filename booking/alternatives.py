"""What to offer when a zone is full: nearby zones free in the same window, or a later start."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlmodel import Session, col, select

from booking import availability, rules
from booking.errors import RuleViolation
from booking.geo import METRES_PER_DEGREE, haversine_m
from booking.policy import Policy
from booking.tables import Zone

MAX_NEARBY_CHECKED = 30


@dataclass(frozen=True)
class Alternative:
    """A bookable option: a zone, a window and how far it is from the zone asked for."""

    zone_id: str
    zone_name: str
    distance_m: float
    start: datetime
    end: datetime
    free_bays: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, times in ISO 8601 with offset."""
        return {
            "zone_id": self.zone_id,
            "zone_name": self.zone_name,
            "distance_m": self.distance_m,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "free_bays": self.free_bays,
        }


def for_full_zone(
    *,
    session: Session,
    zone: Zone,
    start: datetime,
    end: datetime,
    now: datetime,
    policy: Policy,
    limit: int = 3,
) -> list[Alternative]:
    """Up to `limit` options: nearby zones by distance, then the next free start here."""
    later = next_free_start(
        session=session, zone=zone, start=start, end=end, now=now, policy=policy
    )
    options = nearby(
        session=session,
        zone=zone,
        start=start,
        end=end,
        limit=limit - (1 if later else 0),
        radius_m=policy.nearby_radius_m,
        now=now,
    )
    return [*options, later] if later else options


def nearby(
    *,
    session: Session,
    zone: Zone,
    start: datetime,
    end: datetime,
    limit: int,
    radius_m: float,
    now: datetime | None = None,
) -> list[Alternative]:
    """Active zones within `radius_m` that have a bay free for the whole window, nearest first."""
    if limit <= 0:
        return []
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(zone.lat)), 0.01))
    candidates = list(
        session.exec(
            select(Zone).where(
                Zone.status == "active",
                Zone.id != zone.id,
                col(Zone.lat).between(zone.lat - dlat, zone.lat + dlat),
                col(Zone.lon).between(zone.lon - dlon, zone.lon + dlon),
            )
        )
    )
    if not candidates:
        return []
    distances = haversine_m(
        zone.lon,
        zone.lat,
        np.array([c.lon for c in candidates]),
        np.array([c.lat for c in candidates]),
    )
    ranked = sorted(zip(distances, candidates, strict=True), key=lambda pair: pair[0])
    ranked = [(d, c) for d, c in ranked if d <= radius_m][:MAX_NEARBY_CHECKED]
    options: list[Alternative] = []
    for distance, candidate in ranked:
        try:
            rules.check_loading_hours(candidate, start, end)
        except RuleViolation:
            continue
        minutes = (end - start) / timedelta(minutes=1)
        if not candidate.min_stay_min <= minutes <= candidate.max_stay_min:
            continue
        free = availability.window(
            session=session, zone=candidate, start=start, end=end
        ).free_bays()
        if free:
            options.append(
                Alternative(
                    candidate.id, candidate.name, round(float(distance), 1), start, end, len(free)
                )
            )
        if len(options) == limit:
            break
    return options


def next_free_start(
    *, session: Session, zone: Zone, start: datetime, end: datetime, now: datetime, policy: Policy
) -> Alternative | None:
    """The earliest later start in this zone with a bay free for the same duration."""
    duration = end - start
    horizon_end = now + timedelta(hours=zone.horizon_h)
    lookahead = availability.window(
        session=session, zone=zone, start=start, end=horizon_end + duration
    )
    step = timedelta(minutes=policy.granularity_min)
    candidates = sorted(
        {_ceil(b.end, step) for w in lookahead.bays for b in w.busy if b.end > start}
    )
    for candidate in candidates:
        if candidate > horizon_end:
            break
        try:
            rules.check_period(
                zone, candidate, candidate + duration, now=now, policy=policy, on_arrival=False
            )
        except RuleViolation:
            continue
        free = [w for w in lookahead.bays if w.free_during(candidate, candidate + duration)]
        if free:
            return Alternative(zone.id, zone.name, 0.0, candidate, candidate + duration, len(free))
    return None


def _ceil(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    remainder = (moment - epoch) % step
    return moment if not remainder else moment + (step - remainder)

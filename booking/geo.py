"""Geo search over the zone inventory: an in-memory STRtree kept in step with the database."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlmodel import Session, col, select

from booking import zones
from booking.tables import Zone

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = 111_320.0
# Rows whose updated_at falls this close to the watermark are re-checked, so a transaction
# that committed after a refresh with an earlier timestamp is still picked up.
REFRESH_OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class ZoneEntry:
    """What search needs to know about a zone, without a database round trip."""

    id: str
    name: str
    address: str
    district: str
    lon: float
    lat: float
    geometry: dict[str, Any]
    bay_count: int
    max_vehicle_length_m: float
    loading_hours: str
    max_stay_min: int
    timezone: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Hit:
    """A zone found by a search and its distance from the searched point, in metres."""

    zone: ZoneEntry
    distance_m: float | None = None


class ZoneIndex:
    """Active zones in an STRtree; rebuilt lazily after changes, refreshed from the database."""

    def __init__(self, *, refresh_interval_s: float = 1.0) -> None:
        self._entries: dict[str, ZoneEntry] = {}
        self._geoms: dict[str, BaseGeometry] = {}
        self._tree: shapely.STRtree | None = None
        self._order: list[ZoneEntry] = []
        self._tree_geoms: np.ndarray = np.empty(0, dtype=object)
        self._watermark: datetime | None = None
        self._checked_at = 0.0
        self._stale = True
        self._pending: set[str] = set()
        self._refresh_interval_s = refresh_interval_s
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self, *zone_ids: str) -> None:
        """This process changed these zones: the next search reloads them first."""
        self._pending.update(zone_ids)
        self._stale = True

    def ensure_fresh(self, *, session: Session, now: datetime | None = None) -> None:
        """Refresh if this process changed zones or the refresh interval has passed.

        A periodic refresh that another thread is already running is not waited for: the
        current snapshot serves meanwhile. A local change waits, so a writer sees its write.
        """
        if self._stale:
            with self._refresh_lock:
                if self._stale:
                    self.refresh(session=session, now=now)
            return
        due = time.monotonic() - self._checked_at >= self._refresh_interval_s
        if due and self._refresh_lock.acquire(blocking=False):
            try:
                self.refresh(session=session, now=now)
            finally:
                self._refresh_lock.release()

    def refresh(self, *, session: Session, now: datetime | None = None) -> int:
        """Apply zone changes committed since the last refresh; returns how many changed."""
        self._stale = False
        self._checked_at = time.monotonic()
        now = now or datetime.now(UTC)
        query = select(Zone.id, Zone.updated_at, Zone.status)
        if self._watermark is not None:
            if self._watermark >= now - REFRESH_OVERLAP:
                query = query.where(col(Zone.updated_at) >= self._watermark - REFRESH_OVERLAP)
            else:
                # Everything stamped at or before an old watermark committed long ago.
                query = query.where(col(Zone.updated_at) > self._watermark)
        rows = session.exec(query).all()
        pending, self._pending = self._pending, set()
        with self._lock:
            changed = [
                zone_id
                for zone_id, updated_at, status in rows
                if zone_id not in pending and self._differs(zone_id, updated_at, status)
            ]
        # Changes made here are reloaded by id: timestamps cannot tell two writes in one tick.
        changed.extend(pending)
        if rows:
            newest = max(updated_at for _, updated_at, _ in rows)
            self._watermark = max(self._watermark or newest, newest)
        if changed:
            self._load(session=session, zone_ids=changed)
        return len(changed)

    def near(self, lon: float, lat: float, *, radius_m: float, limit: int) -> list[Hit]:
        """Zones within `radius_m` of the point, nearest first, by distance to their kerb."""
        snapshot = self._snapshot()
        if snapshot is None:
            return []
        tree, geoms, order = snapshot
        dlat = radius_m / METRES_PER_DEGREE
        dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        candidates = tree.query(shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat))
        if len(candidates) == 0:
            return []
        point = shapely.Point(lon, lat)
        # The nearest point in degrees is the nearest in metres for kerb-sized shapes.
        nearest = shapely.get_coordinates(shapely.shortest_line(geoms[candidates], point)).reshape(
            -1, 2, 2
        )[:, 0, :]
        distances = haversine_m(lon, lat, nearest[:, 0], nearest[:, 1])
        inside = distances <= radius_m
        candidates, distances = candidates[inside], distances[inside]
        return [
            Hit(order[candidates[i]], round(float(distances[i]), 1))
            for i in np.argsort(distances, kind="stable")[:limit]
        ]

    def within(self, bbox: Sequence[float], *, limit: int, offset: int = 0) -> list[Hit]:
        """Zones intersecting the box (min lon, min lat, max lon, max lat), by id."""
        snapshot = self._snapshot()
        if snapshot is None:
            return []
        tree, _, order = snapshot
        found = tree.query(shapely.box(*bbox), predicate="intersects")
        entries = sorted((order[i] for i in found), key=lambda e: e.id)
        return [Hit(e) for e in entries[offset : offset + limit]]

    def all(self, *, limit: int, offset: int = 0) -> list[Hit]:
        """Every active zone, by id."""
        with self._lock:
            ids = sorted(self._entries)[offset : offset + limit]
            return [Hit(self._entries[i]) for i in ids]

    def _differs(self, zone_id: str, updated_at: datetime, status: str) -> bool:
        entry = self._entries.get(zone_id)
        if status != zones.ACTIVE:
            return entry is not None
        return entry is None or entry.updated_at != updated_at

    def _load(self, *, session: Session, zone_ids: list[str]) -> None:
        for start in range(0, len(zone_ids), 5000):
            ids = zone_ids[start : start + 5000]
            counts = zones.bay_counts(session=session, zone_ids=ids)
            loaded = list(session.exec(select(Zone).where(col(Zone.id).in_(ids))))
            geoms = shapely.from_geojson([_geojson(z.geometry) for z in loaded])
            with self._lock:
                self._apply(loaded, geoms, counts)

    def _apply(self, loaded: list[Zone], geoms: np.ndarray, counts: dict[str, int]) -> None:
        for zone, geom in zip(loaded, geoms, strict=True):
            if zone.status != zones.ACTIVE:
                self._entries.pop(zone.id, None)
                self._geoms.pop(zone.id, None)
                continue
            self._entries[zone.id] = _entry(zone, counts.get(zone.id, 0))
            self._geoms[zone.id] = geom
        self._tree = None

    def _snapshot(self) -> tuple[shapely.STRtree, np.ndarray, list[ZoneEntry]] | None:
        """The tree with the geometries and entries it indexes, built if changes are pending."""
        with self._lock:
            if self._tree is None and self._entries:
                self._order = list(self._entries.values())
                self._tree_geoms = np.array([self._geoms[e.id] for e in self._order], dtype=object)
                self._tree = shapely.STRtree(self._tree_geoms)
            if self._tree is None:
                return None
            return self._tree, self._tree_geoms, self._order


def haversine_m(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres from one point to many."""
    phi1, phi2 = math.radians(lat), np.radians(lats)
    dphi = phi2 - phi1
    dlmb = np.radians(lons) - math.radians(lon)
    a = np.sin(dphi / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def _geojson(geometry: dict[str, Any]) -> str:
    return json.dumps(geometry)


def _entry(zone: Zone, bay_count: int) -> ZoneEntry:
    return ZoneEntry(
        id=zone.id,
        name=zone.name,
        address=zone.address,
        district=zone.district,
        lon=zone.lon,
        lat=zone.lat,
        geometry=zone.geometry,
        bay_count=bay_count,
        max_vehicle_length_m=zone.max_vehicle_length_m,
        loading_hours=zone.loading_hours,
        max_stay_min=zone.max_stay_min,
        timezone=zone.timezone,
        updated_at=zone.updated_at,
    )

"""CDS geometry: zones and bays as polygons, in a local metric frame good to centimetres."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import substring

from booking.geo import METRES_PER_DEGREE
from booking.tables import Zone

# A kerb line becomes a polygon this wide (CDS prefers polygons for zones, requires them
# for spaces); it is the usual width of a loading bay.
KERB_WIDTH_M = 2.5


@dataclass(frozen=True)
class _Frame:
    """Equirectangular metres around (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def _kx(self) -> float:
        """Metres per degree of longitude here."""
        return METRES_PER_DEGREE * math.cos(math.radians(self.lat0))

    def to_metres(self, geom: BaseGeometry) -> BaseGeometry:
        """WGS84 to local metres."""
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self._kx, METRES_PER_DEGREE])
        return shapely.transform(geom, lambda c: (c - origin) * scale)

    def to_degrees(self, geom: BaseGeometry) -> BaseGeometry:
        """Local metres to WGS84."""
        origin = np.array([self.lon0, self.lat0])
        scale = np.array([self._kx, METRES_PER_DEGREE])
        return shapely.transform(geom, lambda c: c / scale + origin)


@dataclass(frozen=True)
class _Kerb:
    """A zone in metres: its outline, the line bays are laid along, and its width."""

    frame: _Frame
    outline: Polygon
    axis: LineString
    width_m: float
    from_line: bool


def _kerb(zone: Zone) -> _Kerb:
    """The zone in a metric frame around its pin: outline, axis and width."""
    frame = _Frame(zone.lon, zone.lat)
    geom = frame.to_metres(shape(zone.geometry))
    if isinstance(geom, LineString):
        outline = geom.buffer(KERB_WIDTH_M / 2, cap_style="flat", join_style="mitre")
        return _Kerb(frame, _largest(outline), geom, KERB_WIDTH_M, True)
    polygon = _largest(geom)
    rect = shapely.oriented_envelope(polygon)
    corners = np.asarray(rect.exterior.coords)[:4] if isinstance(rect, Polygon) else None
    if corners is None:  # degenerate outline: lay bays along its own extent
        return _Kerb(frame, polygon, LineString(polygon.exterior.coords[:2]), 0.0, False)
    a, b, c = corners[0], corners[1], corners[2]
    if np.hypot(*(b - a)) < np.hypot(*(c - b)):
        a, b, c = b, c, corners[3]
    half = (c - b) / 2  # the long side is a-b; the axis runs through the middle of the short
    return _Kerb(frame, polygon, LineString([a + half, b + half]), float(np.hypot(*(c - b))), False)


def _largest(geom: BaseGeometry) -> Polygon:
    """The polygon itself, or the largest polygon of a collection."""
    if isinstance(geom, Polygon):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    if not parts:
        raise ValueError(f"not an area: {geom.geom_type}")
    return max(parts, key=lambda g: g.area)


def _space_outline(kerb: _Kerb, index: int, count: int) -> Polygon:
    """The `index`-th of `count` equal slices of the kerb, in metres."""
    piece = substring(kerb.axis, index / count, (index + 1) / count, normalized=True)
    if kerb.from_line:
        return _largest(piece.buffer(KERB_WIDTH_M / 2, cap_style="flat", join_style="mitre"))
    # A slab across the whole outline, cut to it; the axis is straight, so slabs never overlap.
    slab = piece.buffer(kerb.width_m + 1.0, cap_style="flat", join_style="mitre")
    return _largest(kerb.outline.intersection(slab))


def _polygon_json(frame: _Frame, polygon: Polygon) -> dict[str, Any]:
    """A GeoJSON Polygon (RFC 7946: rings, counter-clockwise outside), 7 decimals (~1 cm)."""
    polygon = orient(frame.to_degrees(polygon), sign=1.0)
    rings = [polygon.exterior, *polygon.interiors]
    return {
        "type": "Polygon",
        "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring.coords] for ring in rings],
    }


def _point_json(frame: _Frame, geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON Point inside the (metric) geometry."""
    point = frame.to_degrees(geom.representative_point())
    return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}


def zone_geometry(zone: Zone) -> dict[str, Any]:
    """The zone as a CDS Polygon: a kerb line buffered to KERB_WIDTH_M, a polygon as it is."""
    kerb = _kerb(zone)
    return _polygon_json(kerb.frame, kerb.outline)


def space_geometry(zone: Zone, index: int, count: int) -> dict[str, Any]:
    """Bay `index` (0-based, sign order) of `count`: its equal share of the zone's kerb."""
    kerb = _kerb(zone)
    return _polygon_json(kerb.frame, _space_outline(kerb, index, count))


def _space_point(zone: Zone, index: int | None, count: int | None) -> dict[str, Any]:
    """A point in bay `index` of `count`, or the zone's pin when the bay cannot be placed."""
    kerb = _kerb(zone)
    if index is None or not count or not 0 <= index < count:
        return {"type": "Point", "coordinates": [zone.lon, zone.lat]}
    return _point_json(kerb.frame, _space_outline(kerb, index, count))

"""Zone geometry: GeoJSON LineString along the kerb or Polygon, WGS84."""

from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

ALLOWED_TYPES = ("LineString", "Polygon")


class GeometryError(ValueError):
    """A geometry Kerbside cannot accept, with the reason a person can act on."""


def parse(geometry: Any) -> BaseGeometry:
    """Validate a GeoJSON geometry and return it as a shapely geometry."""
    if not isinstance(geometry, dict):
        raise GeometryError("geometry must be a GeoJSON object with 'type' and 'coordinates'")
    kind = geometry.get("type")
    if kind not in ALLOWED_TYPES:
        raise GeometryError(f"geometry type must be LineString or Polygon, not {kind!r}")
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryError(f"geometry coordinates cannot be read: {exc}") from None
    if geom.is_empty:
        raise GeometryError("geometry is empty")
    coords = shapely.get_coordinates(geom)
    if not ((coords[:, 0] >= -180) & (coords[:, 0] <= 180)).all():
        raise GeometryError("longitude out of range [-180, 180]; coordinates are [lon, lat]")
    if not ((coords[:, 1] >= -90) & (coords[:, 1] <= 90)).all():
        raise GeometryError("latitude out of range [-90, 90]; coordinates are [lon, lat]")
    if not geom.is_valid:
        raise GeometryError(f"geometry is not valid: {shapely.is_valid_reason(geom)}")
    return geom


def anchor(geom: BaseGeometry) -> tuple[float, float]:
    """A (lon, lat) point on the geometry, for pins and coarse distances."""
    point = geom.interpolate(0.5, normalized=True) if geom.geom_type == "LineString" else None
    point = point if point is not None else geom.representative_point()
    return round(point.x, 7), round(point.y, 7)

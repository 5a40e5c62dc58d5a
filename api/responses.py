"""Response classes for media types beyond plain JSON."""

from fastapi.responses import JSONResponse


class GeoJSONResponse(JSONResponse):
    """A GeoJSON document (RFC 7946)."""

    media_type = "application/geo+json"

import pytest

from booking.geometry import GeometryError, anchor, parse


def line(*coords: tuple[float, float]) -> dict:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def test_a_kerb_line_is_accepted_and_anchored_on_itself() -> None:
    geom = parse(line((9.98, 53.55), (9.982, 53.55)))
    assert anchor(geom) == (9.981, 53.55)


def test_polygon_is_accepted() -> None:
    ring = [[9.98, 53.55], [9.981, 53.55], [9.981, 53.551], [9.98, 53.55]]
    assert parse({"type": "Polygon", "coordinates": [ring]}).area > 0


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        ({"type": "Point", "coordinates": [9.98, 53.55]}, "LineString or Polygon"),
        (line((9.98, 53.55)), "cannot be read"),
        (line((200, 53.55), (201, 53.55)), "longitude"),
        (line((9.98, 95), (9.98, 96)), "latitude"),
        ({"type": "LineString", "coordinates": "nope"}, "cannot be read"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "not valid",
        ),
        ({"type": "LineString", "coordinates": []}, "empty"),
        ("LINESTRING(0 0, 1 1)", "GeoJSON object"),
    ],
)
def test_bad_geometry_is_refused_with_its_reason(geometry: object, reason: str) -> None:
    with pytest.raises(GeometryError, match=reason):
        parse(geometry)

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from booking import demo, zones
from booking.database import transaction
from booking.geo import ZoneIndex, haversine_m
from tests.factories import T0, make_zone


def test_haversine_matches_a_known_distance() -> None:
    # Hamburg Rathaus to Berlin Brandenburger Tor: about 255.5 km.
    distance = haversine_m(9.9925, 53.5507, np.array([13.3777]), np.array([52.5163]))[0]
    assert distance == pytest.approx(255_500, rel=0.01)


def test_near_sorts_by_metric_distance_to_the_kerb(engine: Engine) -> None:
    with transaction(engine) as session:
        make_zone(session, "NEAR", lon=9.9860, lat=53.5550)
        make_zone(session, "FAR", lon=9.9900, lat=53.5550)
        make_zone(session, "OUT", lon=10.1, lat=53.6)
    index = ZoneIndex()
    with transaction(engine, write=False) as session:
        index.refresh(session=session)
    hits = index.near(9.9860, 53.5551, radius_m=1000, limit=10)
    assert [h.zone.id for h in hits] == ["NEAR", "FAR"]
    # 0.0001 deg of latitude is 11.1 m; the kerb line passes right below the point.
    assert hits[0].distance_m == pytest.approx(11.1, abs=0.2)
    # 0.004 deg of longitude at 53.55 N is 264.6 m.
    assert hits[1].distance_m == pytest.approx(264.8, abs=1)


def test_radius_and_limit_are_respected(engine: Engine) -> None:
    with transaction(engine) as session:
        for n in range(5):
            make_zone(session, f"Z-{n}", lon=9.98 + n * 0.001, lat=53.55)
    index = ZoneIndex()
    with transaction(engine, write=False) as session:
        index.refresh(session=session)
    assert len(index.near(9.98, 53.55, radius_m=150, limit=10)) == 3  # 0, 66 m, 132 m
    assert [h.zone.id for h in index.near(9.98, 53.55, radius_m=5000, limit=2)] == ["Z-0", "Z-1"]


def test_bbox_finds_intersecting_zones(engine: Engine) -> None:
    with transaction(engine) as session:
        make_zone(session, "IN", lon=9.98, lat=53.55)
        make_zone(session, "OUT", lon=10.5, lat=53.55)
    index = ZoneIndex()
    with transaction(engine, write=False) as session:
        index.refresh(session=session)
    assert [h.zone.id for h in index.within((9.9, 53.5, 10.0, 53.6), limit=10)] == ["IN"]


def test_refresh_follows_creates_updates_and_retirements(engine: Engine) -> None:
    index = ZoneIndex()
    with transaction(engine) as session:
        make_zone(session, "A", lon=9.98, lat=53.55)
    with transaction(engine, write=False) as session:
        assert index.refresh(session=session) == 1
        assert index.refresh(session=session) == 0  # nothing new
    with transaction(engine) as session:
        make_zone(session, "B", lon=9.981, lat=53.55, now=T0 + timedelta(minutes=1))
        zones.retire(session=session, zone_id="A", now=T0 + timedelta(minutes=1))
    with transaction(engine, write=False) as session:
        assert index.refresh(session=session) == 2
    assert [h.zone.id for h in index.near(9.98, 53.55, radius_m=500, limit=10)] == ["B"]
    assert len(index) == 1


def test_a_change_committed_late_with_an_older_timestamp_is_still_seen(engine: Engine) -> None:
    index = ZoneIndex()
    with transaction(engine) as session:
        make_zone(session, "A", now=T0 + timedelta(minutes=5))
    soon_after = T0 + timedelta(minutes=5, seconds=1)
    with transaction(engine, write=False) as session:
        index.refresh(session=session, now=soon_after)
    with transaction(engine) as session:  # stamped before the watermark, committed after
        make_zone(session, "B", lon=9.99, now=T0 + timedelta(minutes=4, seconds=58))
    with transaction(engine, write=False) as session:
        assert index.refresh(session=session, now=soon_after) == 1
    assert len(index) == 2


def test_synthetic_city_is_searchable(engine: Engine) -> None:
    with transaction(engine) as session:
        zones.upsert_many(
            session=session, specs=list(demo.generate(300, seed=3)), now=T0, default_tz="UTC"
        )
    index = ZoneIndex()
    with transaction(engine, write=False) as session:
        index.refresh(session=session)
    hits = index.near(10.0, 53.55, radius_m=5000, limit=500)
    distances = [h.distance_m for h in hits]
    assert hits and distances == sorted(distances) and max(distances) <= 5000


def test_an_old_watermark_does_not_reread_the_rows_it_stamped(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ZoneIndex()
    with transaction(engine) as session:
        zones.upsert_many(
            session=session, specs=list(demo.generate(50, seed=2)), now=T0, default_tz="UTC"
        )
    long_after = T0 + timedelta(minutes=10)
    with transaction(engine, write=False) as session:
        assert index.refresh(session=session, now=long_after) == 50
        compared: list[str] = []
        original = index._differs
        monkeypatch.setattr(
            index,
            "_differs",
            lambda zone_id, *rest: compared.append(zone_id) or original(zone_id, *rest),
        )
        assert index.refresh(session=session, now=long_after) == 0
        soon = T0 + timedelta(seconds=2)  # within the overlap the recent rows are re-checked
        assert index.refresh(session=session, now=soon) == 0
    assert len(compared) == 50

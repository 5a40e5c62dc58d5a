from datetime import timedelta

import pytest
from sqlmodel import Session

from booking import zones
from booking.errors import Conflict, InvalidInput, NotFound
from booking.zone_specs import ZonePatch
from tests.factories import T0, make_zone, zone_spec


def feature(zone_id: str, **overrides: object) -> dict:
    spec = zone_spec(zone_id)
    properties = spec.model_dump(exclude={"id", "geometry"})
    properties.update(overrides.pop("properties", {}))  # type: ignore[arg-type]
    return {
        "type": "Feature",
        "id": zone_id,
        "geometry": spec.geometry,
        "properties": properties,
        **overrides,
    }


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def test_a_new_zone_gets_numbered_bays_and_smala_rules(session: Session) -> None:
    zone = make_zone(session, "HH-1", bays=3)
    bays = zones.bays_of(session=session, zone_id="HH-1")
    assert [b.label for b in bays] == ["1", "2", "3"]
    assert (zone.min_stay_min, zone.max_stay_min, zone.horizon_h) == (15, 60, 60)
    assert zone.loading_hours == "Mo-Fr 08:00-19:00"
    assert zone.timezone == "Europe/Berlin"


def test_zone_ids_are_unique(session: Session) -> None:
    make_zone(session, "HH-1")
    with pytest.raises(Conflict):
        make_zone(session, "HH-1")


def test_unknown_zone_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="no zone 'NOPE'"):
        zones.get(session=session, zone_id="NOPE")


def test_update_changes_only_given_fields_and_keeps_bay_ids(session: Session) -> None:
    make_zone(session, "HH-1", bays=2)
    before = {b.label: b.id for b in zones.bays_of(session=session, zone_id="HH-1")}
    zone = zones.update(
        session=session,
        zone_id="HH-1",
        patch=ZonePatch(max_stay_min=30, bays=3),
        now=T0 + timedelta(hours=1),
        default_tz="Europe/Berlin",
    )
    after = {b.label: b.id for b in zones.bays_of(session=session, zone_id="HH-1")}
    assert zone.max_stay_min == 30 and zone.name == "Zone HH-1"
    assert after["1"] == before["1"] and after["2"] == before["2"] and "3" in after
    assert zone.updated_at == T0 + timedelta(hours=1)


def test_update_refuses_an_inconsistent_result(session: Session) -> None:
    make_zone(session, "HH-1")
    with pytest.raises(InvalidInput) as caught:
        zones.update(
            session=session,
            zone_id="HH-1",
            patch=ZonePatch(min_stay_min=90),
            now=T0,
            default_tz="Europe/Berlin",
        )
    assert "min_stay_min must not exceed max_stay_min" in caught.value.problems[0].detail


def test_removed_bays_are_deactivated_not_deleted(session: Session) -> None:
    make_zone(session, "HH-1", bays=3)
    zones.update(
        session=session, zone_id="HH-1", patch=ZonePatch(bays=1), now=T0, default_tz="Europe/Berlin"
    )
    every = zones.bays_of(session=session, zone_id="HH-1", include_inactive=True)
    assert [(b.label, b.active) for b in every] == [("1", True), ("2", False), ("3", False)]


def test_retired_zone_stays_readable_but_not_active(session: Session) -> None:
    make_zone(session, "HH-1")
    zones.retire(session=session, zone_id="HH-1", now=T0)
    assert zones.get(session=session, zone_id="HH-1").status == "retired"
    with pytest.raises(NotFound, match="retired"):
        zones.get_active(session=session, zone_id="HH-1")


def test_import_reports_every_bad_feature_by_index_and_writes_nothing(session: Session) -> None:
    bad_geometry = feature("B-1", geometry={"type": "Point", "coordinates": [1, 2]})
    bad_hours = feature("B-2", properties={"loading_hours": "whenever"})
    with pytest.raises(InvalidInput) as caught:
        zones.import_features(
            session=session,
            collection=collection(feature("OK-1"), bad_geometry, bad_hours, {"type": "Point"}),
            now=T0,
            default_tz="Europe/Berlin",
        )
    pointers = [p.pointer for p in caught.value.problems]
    assert pointers == ["features/1/geometry", "features/2/loading_hours", "features/3"]
    assert zones.export_features(session=session)["features"] == []


def test_import_refuses_repeated_ids(session: Session) -> None:
    with pytest.raises(InvalidInput, match="1 problem"):
        zones.parse_features(collection(feature("A"), feature("A")))


@pytest.mark.parametrize("document", [[], {"type": "Feature"}, {"type": "FeatureCollection"}])
def test_import_refuses_documents_that_are_not_collections(document: object) -> None:
    with pytest.raises(InvalidInput):
        zones.parse_features(document)


def test_importing_the_same_file_twice_changes_nothing(session: Session) -> None:
    document = collection(feature("A"), feature("B", properties={"bays": 4}))
    first = zones.import_features(session=session, collection=document, now=T0, default_tz="UTC")
    later = T0 + timedelta(days=1)
    second = zones.import_features(
        session=session, collection=document, now=later, default_tz="UTC"
    )
    assert (first.created, second.created, second.updated, second.unchanged) == (2, 0, 0, 2)
    assert zones.get(session=session, zone_id="A").updated_at == T0


def test_export_reads_back_as_the_same_inventory(session: Session) -> None:
    make_zone(session, "HH-1", bays=3, hours="Mo-Sa 07:00-19:00", max_stay_min=45)
    make_zone(session, "HH-2")
    exported = zones.export_features(session=session)
    again = zones.import_features(session=session, collection=exported, now=T0, default_tz="UTC")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert exported["features"][0]["properties"]["loading_hours"] == "Mo-Sa 07:00-19:00"


def test_retired_zones_are_not_exported_by_default(session: Session) -> None:
    make_zone(session, "HH-1")
    zones.retire(session=session, zone_id="HH-1", now=T0)
    assert zones.export_features(session=session)["features"] == []
    assert len(zones.export_features(session=session, include_retired=True)["features"]) == 1

"""CDS 1.1 feeds from the real domain, validated against the published OpenAPI YAML."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from shapely.geometry import shape
from sqlmodel import Session, select

from booking import closures, live, occupancy, reconcile, reservations, sensor_registry, zones
from booking.hours import LoadingHours
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import Bay, OccupancyEvent, Zone
from booking.zone_specs import ZoneSpec
from opendata import cds
from tests.factories import T0, make_account, make_zone
from tests.opendata import cds_schema

POLICY = Policy()
BERLIN = "Europe/Berlin"
NUMERIC = {
    "event_location_start_latitude": float,
    "event_location_start_longitude": float,
    "event_location_end_latitude": float,
    "event_location_end_longitude": float,
    "event_time_start": int,
    "event_time_end": int,
    "hour": int,
    "value": float,
}


def apply(session: Session, *readings: tuple[str, datetime, bool | None]) -> None:
    """Feed sensor readings through booking's occupancy service, as the ingest does."""
    batch = [OccupancyReading(sensor_id=s, at=at, occupied=o) for s, at, o in readings]
    occupancy.apply(session=session, readings=batch, now=max(r.at for r in batch), policy=POLICY)


def sensor_zone(session: Session, zone_id: str = "Z-1", **kwargs: Any) -> Zone:
    """A zone whose two bays have sensors, enrolled as their first message would."""
    zone = make_zone(session, zone_id, bays=2, sensors=True, **kwargs)
    sensor_registry.resolve(session=session, devices=[f"{zone_id}-s1", f"{zone_id}-s2"], now=T0)
    return zone


def log(session: Session) -> list[OccupancyEvent]:
    return list(session.exec(select(OccupancyEvent).order_by(OccupancyEvent.id)))


def all_bays(session: Session) -> list[Bay]:
    return list(session.exec(select(Bay)))


def now_of(session: Session, zone: Zone, at: datetime) -> live.ZoneNow:
    return live.now(session=session, zones=[zone], at=at)[0]


def body(data: Any, at: datetime) -> dict[str, Any]:
    return cds.envelope(data, last_updated=at, time_zone=BERLIN)


def parse_csv(text: str) -> list[dict[str, Any]]:
    """CSV rows back to typed objects, empty cells dropped (CDS: null when unknown)."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        rows.append({k: NUMERIC.get(k, str)(v) for k, v in raw.items() if v != ""})
    return rows


# --- the schema helper ------------------------------------------------------------------------


def test_the_published_geometry_models_are_defective_and_the_errata_fix_only_that() -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [[9.0, 53.0], [9.001, 53.0], [9.001, 53.0001], [9.0, 53.0001], [9.0, 53.0]]
        ],
    }
    line = {"type": "LineString", "coordinates": [[9.0, 53.0], [9.001, 53.0]]}
    zone_geometry = cds_schema.model_uri("curb_zone") + "#/properties/geometry"
    # As published: RFC 7946 Polygons fail, and no 2-D geometry passes the zone's oneOf.
    assert cds_schema.errors(cds_schema.model_uri("geoJSON_polygon"), polygon, errata=False)
    assert cds_schema.errors(zone_geometry, polygon, errata=False)
    assert cds_schema.errors(zone_geometry, line, errata=False)
    # Corrected: both pass, a flat ring is no Polygon, a type must match its model.
    assert cds_schema.errors(zone_geometry, polygon) == []
    assert cds_schema.errors(zone_geometry, line) == []
    flat = {"type": "Polygon", "coordinates": polygon["coordinates"][0]}
    assert cds_schema.errors(cds_schema.model_uri("geoJSON_polygon"), flat)
    assert cds_schema.errors(zone_geometry, {"type": "Point", "coordinates": [9.0, 53.0]})


def test_the_helper_resolves_refs_across_files_and_checks_formats() -> None:
    base = {
        "event_id": str(uuid.uuid4()),
        "event_type": "park_start",
        "event_time": 1,
        "event_publication_time": 1,
        "data_source_type": "in_ground",
        "data_source_device_id": str(uuid.uuid4()),
    }
    cds_schema.check_model("curb_event", base)
    messages = [
        e.message
        for bad in (
            base | {"event_type": "parked"},  # enum in event_type.yaml
            base | {"event_time": "2026-12-01"},  # timestamp.yaml
            base | {"event_id": "Z-1"},  # format: uuid
            {k: v for k, v in base.items() if k != "data_source_device_id"},
        )
        for e in cds_schema.errors(cds_schema.model_uri("curb_event"), bad)
    ]
    assert len(messages) == 4, messages
    with pytest.raises(AssertionError, match="version"):
        cds_schema.check_response("Curbs", "/curbs/zones", {"data": {"zones": []}})


# --- Curbs API --------------------------------------------------------------------------------


@pytest.fixture
def curbs(session: Session) -> Iterator[dict[str, Any]]:
    """Zones of every kind Kerbside has, with live data at T0 + 30 min."""
    at = T0 + timedelta(minutes=30)
    busy = sensor_zone(session, "Z-1", hours="Mo-Fr 08:00-12:00; Mo-Fr 14:00-18:00; Sa 08:00-24:00")
    apply(session, ("Z-1-s1", T0, True), ("Z-1-s2", T0, False))
    apply(session, ("Z-1-s1", at - timedelta(minutes=1), True))  # a fresh heartbeat
    always = make_zone(session, "Z-24", bays=2, hours="24/7", lon=9.99, address="ABC-Straße 10")
    withheld = make_zone(session, "Z-W", bays=2, sensors=True, lon=9.995)  # no reading yet
    closed = make_zone(session, "Z-C", bays=1, lon=9.98)
    operator = make_account(session, "op@city.example", role="operator")
    closures.close(
        session=session,
        zone_id="Z-C",
        start=T0,
        end=T0 + timedelta(hours=4),
        reason="roadworks",
        operator=operator,
        now=T0,
    )
    spec = ZoneSpec(
        id="Z-P",
        name="Square",
        geometry={
            "type": "Polygon",
            "coordinates": [
                [
                    [9.97, 53.55],
                    [9.9705, 53.55],
                    [9.9705, 53.55003],
                    [9.97, 53.55003],
                    [9.97, 53.55],
                ]
            ],
        },
        bays=3,
        user_classes=["commercial", "taxi"],
    )
    polygon = zones.create(session=session, spec=spec, now=T0, default_tz=BERLIN)
    all_zones = [busy, always, withheld, closed, polygon]
    yield {
        "at": at,
        "zones": {z.id: z for z in all_zones},
        "now": {n.zone.id: n for n in live.now(session=session, zones=all_zones, at=at)},
    }


def test_zones_validate_and_carry_what_kerbside_knows(curbs: dict[str, Any]) -> None:
    at, found = curbs["at"], curbs["now"]
    objects = {i: cds.curb_zone(n.zone, n, at=at) for i, n in found.items()}
    for obj in objects.values():
        cds_schema.check_model("curb_zone", obj)
    cds_schema.check_response("Curbs", "/curbs/zones", body({"zones": list(objects.values())}, at))
    cds_schema.check_response("Curbs", "/curbs/zones/{id}", body(objects["Z-1"], at))

    busy = objects["Z-1"]
    assert uuid.UUID(busy["curb_zone_id"]).version == 5
    assert busy["curb_zone_id"] == cds.zone_uuid("Z-1")
    assert busy["user_zone_id"] == "Z-1" and busy["name"] == "Zone Z-1"
    assert busy["published_date"] == busy["start_date"] == cds.ms(T0)
    assert busy["curb_policy_ids"] == [cds.policy_id(curbs["zones"]["Z-1"])]
    assert (busy["num_spaces"], busy["available"], busy["available_spaces"]) == (2, True, 1)
    assert busy["available_space_lengths"] == [1200]  # one free 12 m bay
    assert busy["availability_time"] == cds.ms(at) and busy["width"] == 250
    assert 2300 < busy["length"] < 2450  # 0.00036 degrees of longitude at 53.55 N
    assert busy["custom_attributes"]["max_vehicle_length_cm"] == "1200"
    ring = busy["geometry"]["coordinates"][0]
    assert busy["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 5
    assert shape(busy["geometry"]).is_valid

    assert objects["Z-C"]["available"] is False  # closed for roadworks
    assert (objects["Z-24"]["street_name"], objects["Z-24"]["address_number"]) == (
        "ABC-Straße",
        "10",
    )
    assert objects["Z-24"]["custom_attributes"]["availability_source"] == "bookings"
    assert objects["Z-P"]["width"] < objects["Z-P"]["length"]


def test_a_withheld_zone_publishes_no_realtime_availability(curbs: dict[str, Any]) -> None:
    at, withheld = curbs["at"], curbs["now"]["Z-W"]
    assert withheld.free is None  # booking.live withholds it: no sensor has spoken
    zone = cds.curb_zone(withheld.zone, withheld, at=at)
    spaces = cds.curb_spaces(withheld, at=at)
    for key in ("available_spaces", "available_space_lengths", "availability_time"):
        assert key not in zone
    assert zone["custom_attributes"]["availability_withheld"] == "no sensor data yet"
    assert all("available" not in s and "availability_time" not in s for s in spaces)
    cds_schema.check_response("Curbs", "/curbs/spaces", body({"spaces": spaces}, at))


def test_spaces_split_the_kerb_without_overlap_and_say_which_bay_is_free(
    curbs: dict[str, Any],
) -> None:
    at = curbs["at"]
    every = [s for n in curbs["now"].values() for s in cds.curb_spaces(n, at=at)]
    for space in every:
        cds_schema.check_model("curb_space", space)
    cds_schema.check_response("Curbs", "/curbs/spaces", body({"spaces": every}, at))
    cds_schema.check_response("Curbs", "/curbs/spaces/{id}", body(every[0], at))

    for zone_now in curbs["now"].values():
        outline = shape(cds.curb_zone(zone_now.zone, zone_now)["geometry"])
        spaces = cds.curb_spaces(zone_now, at=at)
        assert [s["space_number"] for s in spaces] == list(range(1, zone_now.bay_count + 1))
        shapes = [shape(s["geometry"]) for s in spaces]
        for i, piece in enumerate(shapes):
            assert outline.buffer(1e-6).contains(piece)  # within the zone (to ~10 cm rounding)
            assert all(
                piece.intersection(other).area < piece.area * 0.01 for other in shapes[i + 1 :]
            )
    busy = {s["name"]: s for s in cds.curb_spaces(curbs["now"]["Z-1"], at=at)}
    assert (busy["1"]["available"], busy["2"]["available"]) == (False, True)  # 1 is occupied
    assert busy["1"]["length"] == 1200 and busy["1"]["curb_zone_id"] == cds.zone_uuid("Z-1")
    assert cds.curb_spaces(curbs["now"]["Z-C"], at=at)[0]["available"] is False  # closed


def test_policies_follow_the_loading_hours_and_user_classes(curbs: dict[str, Any]) -> None:
    at, zone_rows = curbs["at"], curbs["zones"]
    policies = cds.unique_policies(zone_rows.values())
    for policy in policies:
        cds_schema.check_model("curb_policy", policy)
    cds_schema.check_response("Curbs", "/curbs/policies", body({"policies": policies}, at))
    cds_schema.check_response("Curbs", "/curbs/policies/{id}", body(policies[0], at))

    multi = cds.curb_policy(zone_rows["Z-1"])
    assert multi["rules"] == [
        {
            "activity": "loading",
            "max_stay": 60,
            "max_stay_unit": "minute",
            "user_classes": ["commercial"],
        }
    ]
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    assert multi["time_spans"] == [
        {"days_of_week": weekdays, "time_of_day_start": "08:00", "time_of_day_end": "12:00"},
        {"days_of_week": weekdays, "time_of_day_start": "14:00", "time_of_day_end": "18:00"},
        {"days_of_week": ["sat"], "time_of_day_start": "08:00", "time_of_day_end": "24:00"},
    ]
    assert "time_spans" not in cds.curb_policy(zone_rows["Z-24"])  # 24/7: no restriction
    assert cds.time_spans(LoadingHours.parse("Mo-Su 00:00-24:00")) == []
    assert cds.time_spans(LoadingHours.parse("Mo-Fr 00:00-24:00"))  # weekends are not covered
    # CDS requires every class of a rule to match; a Kerbside zone admits any of its classes.
    taxi = cds.curb_policy(zone_rows["Z-P"])
    assert [r["user_classes"] for r in taxi["rules"]] == [["commercial"], ["taxi"]]
    wanted = [policies[-1]["curb_policy_id"]]
    assert [
        p["curb_policy_id"] for p in cds.unique_policies(zone_rows.values(), ids=wanted)
    ] == wanted
    # One id, one policy forever: the id changes with the rules, not otherwise.
    assert cds.policy_id(zone_rows["Z-1"]) == multi["curb_policy_id"]
    zone_rows["Z-1"].max_stay_min = 30
    assert cds.policy_id(zone_rows["Z-1"]) != multi["curb_policy_id"]


def test_bbox_and_radius_filter_as_the_curbs_api_defines_them(session: Session) -> None:
    here = make_zone(session, "Z-1", lon=9.9857, lat=53.5549)
    east = make_zone(session, "Z-2", lon=9.9857 + 0.0015, lat=53.5549)  # ~99 m east
    north = make_zone(session, "Z-3", lon=9.9857, lat=53.5649)  # ~1.1 km north
    rows = [north, east, here]
    assert cds.within_bbox(rows, 53.55, 9.98, 53.56, 9.99) == [east, here]
    assert cds.within_bbox(rows, 53.5549, 9.9850, 53.5550, 9.9855) == []  # just west of Z-1
    # The zone starts at the point; `radius` is in centimetres; nearest first.
    assert cds.within_radius(rows, 53.5549, 9.9857, 9_000) == [here]
    assert cds.within_radius(rows, 53.5549, 9.9857, 10_500) == [here, east]
    assert cds.within_radius(rows, 53.5549, 9.9857 + 0.0016, 10_500) == [east, here]
    # The same filters work on the CDS objects themselves (zones, spaces, events).
    objects = [cds.curb_zone(z, None) for z in rows]
    near = cds.location_query(objects, lat=53.5549, lng=9.9857, radius=10_500)
    assert [o["user_zone_id"] for o in near] == ["Z-1", "Z-2"]
    assert cds.location_query(rows) == rows
    with pytest.raises(cds.QueryError, match="together"):
        cds.location_query(rows, min_lat=53.0, min_lng=9.0, max_lat=54.0)
    with pytest.raises(cds.QueryError, match="combined"):
        cds.location_query(rows, min_lat=53.0, min_lng=9.0, max_lat=54.0, max_lng=10.0, lat=53.5)
    with pytest.raises(cds.QueryError, match="together"):
        cds.location_query(rows, lat=53.5549, lng=9.9857)


def test_time_returns_zones_valid_then(session: Session) -> None:
    kept = make_zone(session, "Z-1")
    gone = make_zone(session, "Z-2", lon=9.99)
    zones.retire(session=session, zone_id="Z-2", now=T0 + timedelta(hours=1))
    rows = [kept, gone]
    assert cds.valid_at(rows, cds.ms(T0 + timedelta(minutes=30))) == rows
    assert cds.valid_at(rows, cds.ms(T0 + timedelta(hours=2))) == [kept]
    assert cds.valid_at(rows, cds.ms(T0 - timedelta(hours=1))) == []
    assert cds.valid_at(rows, None) == rows
    retired = cds.curb_zone(gone, None)
    assert retired["end_date"] == cds.ms(T0 + timedelta(hours=1))
    cds_schema.check_model("curb_zone", retired)
    dicts = [cds.curb_zone(z, None) for z in rows]
    assert cds.valid_at(dicts, cds.ms(T0 + timedelta(hours=2))) == dicts[:1]


# --- Events API -------------------------------------------------------------------------------


def test_events_from_a_real_occupancy_log(session: Session) -> None:
    zone = sensor_zone(session)
    apply(session, ("Z-1-s1", T0, True))
    apply(session, ("Z-1-s1", T0 + timedelta(minutes=20), False))
    later = T0 + timedelta(hours=25, minutes=21)
    reconcile.sweep(session=session, now=later, policy=POLICY)  # both sensors fall silent
    apply(session, ("Z-1-s1", later + timedelta(minutes=1), True))  # s1 is back, occupied
    rows = log(session)
    assert {e.kind for e in rows} == set(cds.EVENT_TYPES)

    events = cds.curb_events(rows, zones=[zone], bays=all_bays(session))
    for event in events:
        cds_schema.check_model("curb_event", event)
    cds_schema.check_response("Events", "/events/events", body({"events": events}, later))
    times = [e["event_time"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first
    assert len({e["event_id"] for e in events}) == len(rows)
    assert cds.curb_events(rows, zones=[zone], bays=all_bays(session)) == events  # stable ids
    lost = next(e for e in events if e["event_type"] == "comms_lost")
    assert lost["sensor_status_is_online"] is False
    start = next(e for e in events if e["event_type"] == "park_start")
    assert start["data_source_type"] == "in_ground"
    assert start["data_source_device_name"] in ("Z-1-s1", "Z-1-s2")
    assert start["data_source_device_id"] == cds.device_uuid(start["data_source_device_name"])
    assert start["curb_zone_id"] == cds.zone_uuid("Z-1")
    # Each event sits on its bay, inside that bay's published space.
    spaces = {s["curb_space_id"]: s for s in cds.curb_spaces(now_of(session, zone, later))}
    for event in events:
        space = shape(spaces[event["curb_space_id"]]["geometry"])
        assert space.buffer(1e-6).contains(shape(event["event_location"]))
    assert cds.within_radius(events, 53.5549, 9.9857, 2_000)  # events filter by place too
    assert cds.event_time_window("2026-12-01T09", now=later)[0] == T0
    with pytest.raises(cds.QueryError):
        cds.event_time_window("2026-12-01 09:00", now=later)


# --- Metrics API ------------------------------------------------------------------------------


@pytest.fixture
def metered(session: Session) -> dict[str, Any]:
    """Two bays over two hours, then both sensors silent (T0 is 10:00 in Berlin)."""
    zone = sensor_zone(session)
    minutes = [
        ("Z-1-s2", 0, False),  # s2 first seen free: no vehicle left
        ("Z-1-s1", 5, True),
        ("Z-1-s2", 10, True),
        ("Z-1-s2", 20, False),
        ("Z-1-s1", 35, False),
        ("Z-1-s1", 50, True),
        ("Z-1-s1", 70, False),
    ]
    for sensor, minute, occupied in minutes:
        apply(session, (sensor, T0 + timedelta(minutes=minute), occupied))
    silent = T0 + timedelta(hours=26, minutes=30)  # 12:30 local the next day
    reconcile.sweep(session=session, now=silent, policy=POLICY)
    return {"zone": zone, "bays": all_bays(session), "log": log(session), "silent": silent}


def test_sessions_pair_starts_with_ends_and_serve_as_cds_csv(metered: dict[str, Any]) -> None:
    rows = cds.session_metrics(
        metered["log"],
        zones=[metered["zone"]],
        bays=metered["bays"],
        start=T0,
        end=T0 + timedelta(hours=2),
    )
    for row in rows:
        cds_schema.check_model("session", row)
    durations = [(r["event_time_end"] - r["event_time_start"]) // 60_000 for r in rows]
    assert durations == [30, 10, 20]  # in order of arrival; s2's first "free" is no session
    assert {r["session_type"] for r in rows} == {"parking"}
    assert rows[0]["curb_space_id"] == cds.space_uuid("Z-1", "1")

    text = cds.to_csv(rows, cds.SESSION_COLUMNS)
    cds_schema.check_response("Metrics", "/metrics/sessions", text, media=cds.CSV_MEDIA_TYPE)
    assert text.splitlines()[0] == ",".join(cds.SESSION_COLUMNS)
    back = parse_csv(text)
    for row in back:
        cds_schema.check_model("session", row)
    assert back == rows
    one_bay = cds.by_place(rows, curb_place_type="space", curb_place_id=cds.space_uuid("Z-1", "2"))
    assert len(one_bay) == 1
    with pytest.raises(cds.QueryError):
        cds.by_place(rows, curb_place_type="zone", curb_place_id=None)


def test_a_session_cut_by_a_sensor_outage_has_no_end(session: Session) -> None:
    zone = sensor_zone(session)
    apply(session, ("Z-1-s1", T0, True))
    reconcile.sweep(session=session, now=T0 + timedelta(hours=25, minutes=1), policy=POLICY)
    apply(session, ("Z-1-s1", T0 + timedelta(hours=26), False))  # back, and the bay is free
    rows = cds.session_metrics(log(session), zones=[zone], bays=all_bays(session))
    assert len(rows) == 1 and "event_time_end" not in rows[0] and "event_id_end" not in rows[0]
    cds_schema.check_model("session", rows[0])
    assert parse_csv(cds.to_csv(rows, cds.SESSION_COLUMNS)) == rows


def test_aggregates_compute_the_cds_methodology_per_hour(metered: dict[str, Any]) -> None:
    zone, silent = metered["zone"], metered["silent"]
    rows = cds.aggregates(
        metered["log"],
        zones=[zone],
        bays=metered["bays"],
        start=T0,
        end=silent + timedelta(hours=2),
        now=silent + timedelta(hours=2),
    )
    for row in rows:
        cds_schema.check_model("aggregate", row)
    text = cds.to_csv(rows, cds.AGGREGATE_COLUMNS)
    cds_schema.check_response("Metrics", "/metrics/aggregates", text, media=cds.CSV_MEDIA_TYPE)
    for row in parse_csv(text):
        cds_schema.check_model("aggregate", row)

    def value(place: str, day: str, hour: int, metric: str) -> float | None:
        found = [
            r["value"]
            for r in rows
            if (r["curb_place_id"], r["date"], r["hour"], r["metric_type"])
            == (place, day, hour, metric)
        ]
        return found[0] if found else None

    z, s1, s2 = cds.zone_uuid("Z-1"), cds.space_uuid("Z-1", "1"), cds.space_uuid("Z-1", "2")
    assert value(z, "2026-12-01", 10, "total_sessions") == 3
    assert value(z, "2026-12-01", 10, "turnover") == 3
    assert value(z, "2026-12-01", 10, "average_dwell_time") == 20  # (30 + 20 + 10) / 3 minutes
    assert value(z, "2026-12-01", 10, "occupancy_percent") == 41.67  # 50 of 120 bay-minutes
    assert value(s1, "2026-12-01", 10, "occupancy_percent") == 66.67
    assert value(s2, "2026-12-01", 10, "occupancy_percent") == 16.67
    assert value(s1, "2026-12-01", 11, "occupancy_percent") == 16.67  # 11:00-11:10
    assert value(s1, "2026-12-01", 11, "total_sessions") == 0
    assert value(s1, "2026-12-01", 11, "average_dwell_time") is None  # nothing to average
    assert value(z, "2026-12-02", 12, "occupancy_percent") == 0  # offline half the hour only
    assert value(z, "2026-12-02", 13, "total_sessions") == cds.OFFLINE  # offline all hour
    assert value(s2, "2026-12-02", 13, "occupancy_percent") == cds.OFFLINE
    assert value(z, "2026-12-02", 14, "total_sessions") is None  # not over by `now`
    zone_only = cds.aggregates(
        metered["log"],
        zones=[zone],
        bays=metered["bays"],
        start=T0,
        end=T0 + timedelta(hours=1),
        now=silent,
        place_types=("zone",),
        metric_types=("turnover",),
    )
    assert zone_only == [
        {
            "curb_place_type": "zone",
            "curb_place_id": z,
            "metric_type": "turnover",
            "date": "2026-12-01",
            "hour": 10,
            "value": 3.0,
        }
    ]
    with pytest.raises(cds.QueryError):
        cds.aggregates([], zones=[zone], bays=[], start=T0, end=T0, now=T0, metric_types=["x"])


# --- Envelope and privacy ---------------------------------------------------------------------


def test_envelope_is_the_cds_response_wrapper() -> None:
    doc = cds.envelope({"zones": []}, last_updated=T0, time_zone=BERLIN)
    assert doc == {
        "version": "1.1",
        "time_zone": BERLIN,
        "last_updated": 1796115600000,
        "currency": "EUR",
        "author": "Kerbside",
        "license_url": cds.LICENSE_URL,
        "data": {"zones": []},
    }
    assert cds.MEDIA_TYPE == "application/vnd.cds+json;version=1.1"
    cds_schema.check_response("Curbs", "/curbs/zones", doc)
    with pytest.raises(ValueError, match="time zone"):
        cds.envelope({}, last_updated=T0, time_zone="Mars/Olympus")
    zone = Zone(id="X", name="X", geometry={}, lon=0, lat=0, timezone="Europe/Paris")
    assert cds.dataset_time_zone([zone], default=BERLIN) == "Europe/Paris"
    assert cds.dataset_time_zone([], default=BERLIN) == BERLIN


def test_no_personal_data_in_any_feed_even_with_bookings(session: Session) -> None:
    zone = sensor_zone(session)
    driver = make_account(session, "driver.private@example.com")
    booked = []
    for plate, minutes in (("HH KB 4711", 0), ("HH XY 99", 30)):
        request = BookingRequest(
            zone_id="Z-1", start=T0 + timedelta(minutes=minutes), duration_min=30, plate=plate
        )
        booked.append(
            reservations.book(
                session=session, request=request, account=driver, now=T0, policy=POLICY
            ).reservation
        )
    first = booked[0]
    apply(session, (f"Z-1-s{first.bay_id}", T0 + timedelta(minutes=1), True))  # it arrives
    apply(session, (f"Z-1-s{first.bay_id}", T0 + timedelta(minutes=25), False))
    at = T0 + timedelta(minutes=40)
    zone_now = now_of(session, zone, at)
    assert zone_now.reserved == 1  # the second booking is running
    bays, rows = all_bays(session), log(session)
    feeds = [
        body({"zones": [cds.curb_zone(zone, zone_now, at=at)]}, at),
        body({"spaces": cds.curb_spaces(zone_now, at=at)}, at),
        body({"policies": cds.unique_policies([zone])}, at),
        body({"events": cds.curb_events(rows, zones=[zone], bays=bays)}, at),
    ]
    text = json.dumps(feeds, ensure_ascii=False)
    text += cds.to_csv(cds.session_metrics(rows, zones=[zone], bays=bays), cds.SESSION_COLUMNS)
    text += cds.to_csv(
        cds.aggregates(rows, zones=[zone], bays=bays, start=T0, end=at, now=at),
        cds.AGGREGATE_COLUMNS,
    )
    secrets = {driver.email, "driver.private"}
    for r in booked:
        secrets |= {r.plate, r.plate.replace(" ", ""), r.id}
        if not r.code.isdigit():  # a digits-only code could match inside a timestamp
            secrets.add(r.code)
    leaked = sorted(s for s in secrets if s in text)
    assert leaked == [], leaked

    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    personal = {
        k
        for k in keys(feeds)
        if k.startswith("vehicle_") or any(w in k for w in ("plate", "account", "reservation"))
    }
    assert personal == set()  # e.g. CDS's vehicle_license_plate, vehicle_id are never filled

"""DATEX II v3.7 parking table and status: schema-valid, and the values where they belong."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlmodel import Session

from booking import accounts, closures, live, occupancy, reservations, sensor_registry
from booking.live import BayNow, ZoneNow
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import Zone
from opendata import datex2
from tests.factories import T0, make_account, make_zone

# <repo>/../shared, wherever the repo is cloned (CI puts shared/ beside its clone).
STANDARDS = Path(__file__).resolve().parents[3] / "shared" / "standards"
XSD = STANDARDS / "datex2" / "v3.7" / "DATEXII_3_D2Payload.xsd"
NS = datex2.NSMAP
TWO_WINDOWS = "Mo-Fr 08:00-19:00; Sa 08:00-14:00"
MEASURED = T0 - timedelta(minutes=1)


@pytest.fixture(scope="session")
def schema() -> etree.XMLSchema:
    """The DATEX II v3.7 payload schema with everything it imports, parsed once."""
    if not XSD.is_file():
        pytest.fail(f"DATEX II schema not found at {XSD}; shared/ must sit beside the repo")
    return etree.XMLSchema(etree.parse(str(XSD)))


def valid(schema: etree.XMLSchema, document: bytes) -> etree._Element:
    """The parsed document, after asserting it is UTF-8 with a declaration and schema-valid."""
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(document)
    if not schema.validate(root):
        pytest.fail("\n".join(str(e) for e in schema.error_log), pytrace=False)
    return root


def texts(node: etree._Element, path: str, **variables: Any) -> list[str]:
    """The text of every element an XPath finds."""
    return [e.text for e in node.xpath(path, namespaces=NS, **variables)]


def place_status(root: etree._Element, zone_id: str) -> etree._Element:
    """The one PlaceStatus of a zone in a status publication."""
    (found,) = root.xpath(
        "prk:parkingStatusInformation[@xsi:type='prk:PlaceStatus'][fac:reference/@id=$id]",
        namespaces=NS,
        id=zone_id,
    )
    return found


def space_statuses(root: etree._Element) -> dict[str, etree._Element]:
    """SpaceStatus records by bay id."""
    return {
        e.xpath("string(fac:reference/@id)", namespaces=NS): e
        for e in root.xpath(
            "prk:parkingStatusInformation[@xsi:type='prk:SpaceStatus']", namespaces=NS
        )
    }


def table_record(root: etree._Element, record_id: str) -> etree._Element:
    """A Place or Space of a parking table by id."""
    (found,) = root.xpath(
        "prk:parkingTable/prk:hierarchyElementGeneral[@id=$id]", namespaces=NS, id=record_id
    )
    return found


def zone(zone_id: str = "Z-1", *, hours: str = TWO_WINDOWS, **fields: Any) -> Zone:
    """A zone as booking stores it, not saved anywhere."""
    values: dict[str, Any] = {
        "name": f"Ladezone {zone_id}",
        "address": "ABC-Straße 12",
        "district": "Neustadt",
        "geometry": {"type": "LineString", "coordinates": [[9.9857, 53.5549], [9.986, 53.5549]]},
        "lon": 9.9857,
        "lat": 53.5549,
        "loading_hours": hours,
        "created_at": T0 - timedelta(days=30),
        "updated_at": T0 - timedelta(days=1),
    }
    return Zone(id=zone_id, **(values | fields))


def bay(
    label: str,
    occupied: bool | None,
    *,
    reserved: bool = False,
    closed: bool = False,
    sensor: bool = True,
    measured_at: datetime | None = MEASURED,
) -> BayNow:
    """A bay now; without a sensor nothing is measured."""
    return BayNow(
        bay_id=int(label) if label.isdigit() else 0,
        label=label,
        sensor_id=f"s-{label}" if sensor else None,
        occupied=occupied if sensor else None,
        reserved=reserved,
        closed=closed,
        measured_at=measured_at if sensor else None,
    )


def zone_now(
    z: Zone,
    bays: list[BayNow],
    *,
    status: str = live.OPEN,
    withheld: str | None = None,
) -> ZoneNow:
    """A ZoneNow with the figures booking.live would derive from the bays."""
    sensed = any(b.sensor_id for b in bays)
    free = sum(not (b.reserved or b.closed or b.occupied) for b in bays)
    occupied = sum(bool(b.occupied) for b in bays) if sensed else None
    if withheld is not None:
        free = occupied = None
    return ZoneNow(
        zone=z,
        bays=tuple(bays),
        status=status,
        free=free,
        occupied=occupied,
        reserved=sum(b.reserved for b in bays),
        data_age_s=60.0 if sensed else None,
        withheld=withheld,
        source="sensors" if sensed else "bookings",
    )


def documents(
    schema: etree.XMLSchema, zones: list[ZoneNow]
) -> tuple[etree._Element, etree._Element]:
    """Both publications for the zones, validated and parsed."""
    table = datex2.parking_table(zones, publication_time=T0)
    status = datex2.parking_status(
        zones, publication_time=T0, table_reference=datex2.table_reference(zones)
    )
    return valid(schema, table), valid(schema, status)


# --- from the real domain: database, sensors, a booking and a closure ---


def test_both_publications_from_live_availability_validate_and_say_what_is_free(
    session: Session, schema: etree.XMLSchema
) -> None:
    policy = Policy()
    z1 = make_zone(session, "Z-1", bays=2, sensors=True, hours=TWO_WINDOWS)
    z2 = make_zone(session, "Z-2", bays=2, hours="24/7")  # no sensors: from bookings only
    z3 = make_zone(session, "Z-3", bays=2, sensors=True)  # sensors that never spoke
    z4 = make_zone(session, "Z-4", bays=2, sensors=True)  # closed for roadworks
    sensor_registry.resolve(
        session=session, devices=["Z-1-s1", "Z-1-s2", "Z-4-s1", "Z-4-s2"], now=T0
    )
    occupancy.apply(
        session=session,
        readings=[
            OccupancyReading(sensor_id="Z-1-s1", at=T0, occupied=True),
            OccupancyReading(sensor_id="Z-1-s2", at=T0, occupied=False),
            OccupancyReading(sensor_id="Z-4-s1", at=T0, occupied=False),
            OccupancyReading(sensor_id="Z-4-s2", at=T0, occupied=False),
        ],
        now=T0,
        policy=policy,
    )
    driver = make_account(session)
    booked = reservations.book(
        session=session,
        request=BookingRequest(zone_id="Z-2", start=T0, duration_min=30, plate="HH AB 1234"),
        account=driver,
        now=T0,
        policy=policy,
    ).reservation
    operator = make_account(session, "op@example.com", role=accounts.OPERATOR)
    closures.close(
        session=session,
        zone_id="Z-4",
        start=T0,
        end=T0 + timedelta(hours=2),
        reason="roadworks",
        operator=operator,
        now=T0,
    )
    at = T0 + timedelta(minutes=2)
    now = live.now(session=session, zones=[z1, z2, z3, z4], at=at)

    table = valid(schema, datex2.parking_table(now, publication_time=at))
    status = valid(
        schema,
        datex2.parking_status(
            now, publication_time=at, table_reference=datex2.table_reference(now)
        ),
    )

    assert texts(place_status(status, "Z-1"), "prk:occupancy/*") == ["1", "1", "50.0"]
    assert texts(place_status(status, "Z-1"), "prk:status") == ["spacesAvailable"]
    bays = space_statuses(status)
    assert sorted(bays) == ["Z-1/1", "Z-1/2", "Z-4/1", "Z-4/2"]
    assert texts(bays["Z-1/1"], "prk:occupied") == ["true"]
    assert texts(bays["Z-1/1"], "prk:measurementOrCalculationTime") == ["2026-12-01T09:00:00Z"]
    assert texts(bays["Z-1/2"], "prk:occupied") == ["false"]
    # Bookings only: one of two bays reserved, so one vacant; nobody measured occupancy.
    assert texts(place_status(status, "Z-2"), "prk:occupancy/*") == ["1"]
    assert texts(place_status(status, "Z-2"), "fac:lastUpdated") == ["2026-12-01T09:02:00Z"]
    assert texts(place_status(status, "Z-3"), "prk:status") == ["unknown"]
    assert texts(place_status(status, "Z-3"), "prk:occupancy") == []
    assert texts(place_status(status, "Z-4"), "fac:openingStatus") == ["temporarilyClosed"]
    assert texts(bays["Z-4/1"], "fac:openingStatus") == ["temporarilyClosed"]
    assert texts(table_record(table, "Z-2"), ".//prk:validity/com:validPeriod") == []
    assert len(texts(table_record(table, "Z-1"), ".//prk:validity/com:validPeriod")) == 4

    # Invariant 3: open feeds carry no plates, accounts, booking codes or reservation ids.
    for document in (etree.tostring(table), etree.tostring(status)):
        text = document.decode()
        assert "HH AB 1234" not in text and "HHAB1234" not in text
        assert booked.id not in text
        assert f">{booked.code}<" not in text and f'"{booked.code}"' not in text
        assert driver.email not in text and operator.email not in text
        assert "roadworks" not in text  # an operator's free text stays internal


# --- the static table ---


def test_a_zone_is_a_place_with_its_location_address_vehicles_and_stay(
    schema: etree.XMLSchema,
) -> None:
    z = zone("HH-ABC-1", max_vehicle_length_m=10.5, max_stay_min=45, bay_length_m=11.0)
    table, _ = documents(schema, [zone_now(z, [bay("1", True), bay("2", False)])])

    assert table.get(f"{{{datex2.XSI}}}type") == "prk:ParkingTablePublication"
    assert table.get("modelBaseVersion") == "3"
    assert texts(table, "com:publicationTime") == ["2026-12-01T09:00:00Z"]
    place = table_record(table, "HH-ABC-1")
    assert place.get(f"{{{datex2.XSI}}}type") == "prk:Place"
    assert texts(place, "fac:name/com:values/com:value") == ["Ladezone HH-ABC-1"]
    assert texts(place, "prk:layer") == ["1"] and texts(place, "prk:type") == ["place"]
    point = "fac:locationReference[@xsi:type='loc:PointLocation']/loc:pointByCoordinates"
    assert texts(place, f"{point}/loc:pointCoordinates/loc:latitude") == ["53.5549"]
    assert texts(place, f"{point}/loc:pointCoordinates/loc:longitude") == ["9.9857"]
    address = ".//locx:facilityLocation/locx:address"
    assert texts(place, f"{address}/locx:addressLine/locx:type") == ["street", "districtTerritory"]
    assert texts(place, f"{address}/locx:addressLine/locx:text/com:values/com:value") == [
        "ABC-Straße 12",
        "Neustadt",
    ]
    vehicles = "fac:applicableForVehicles"
    assert texts(place, f"{vehicles}/com:vehicleUsage") == ["commercial"]
    assert texts(place, f"{vehicles}/com:lengthCharacteristic/*") == ["lessThanOrEqualTo", "10.5"]
    assignment = "prk:commonComponents/prk:additionalCharacteristics/prk:assignment"
    assert texts(place, f"{assignment}/prk:maximumParkingDuration") == ["2700"]
    assert texts(place, f"{assignment}/prk:reservation") == ["optional"]
    assert texts(place, "prk:supply/prk:quantity") == ["2"]
    assert texts(place, ".//prk:characteristics/prk:structureType") == ["onStreet"]
    assert place.xpath("prk:childId/@id", namespaces=NS) == ["HH-ABC-1/1", "HH-ABC-1/2"]

    space = table_record(table, "HH-ABC-1/2")
    assert space.get(f"{{{datex2.XSI}}}type") == "prk:Space"
    assert texts(space, "prk:type") == ["space"]
    assert space.xpath("prk:parentId/@id", namespaces=NS) == ["HH-ABC-1"]
    assert texts(space, "prk:spaceMaximumUsableDimensions/fac:length") == ["11.0"]
    assert texts(space, "prk:additionalCharacteristics/prk:occupancyDetection") == ["spaceSensor"]


def test_two_loading_windows_become_two_recurring_periods_of_a_commercial_loading_zone(
    schema: etree.XMLSchema,
) -> None:
    table, _ = documents(schema, [zone_now(zone(hours=TWO_WINDOWS), [bay("1", False)])])
    patterns = table_record(table, "Z-1").xpath(
        "prk:commonComponents/prk:operatingPattern", namespaces=NS
    )
    assert [(p.get(f"{{{datex2.XSI}}}type"), texts(p, "prk:type")) for p in patterns] == [
        ("prk:OperatingRestriction", ["loadingZoneCommercial"]),
        ("prk:UsageScenario", ["delivery"]),
    ]
    for pattern in patterns:
        assert texts(pattern, "prk:validity/com:overallStartTime") == ["2026-11-01T09:00:00Z"]
        weekdays, saturday = pattern.xpath("prk:validity/com:validPeriod", namespaces=NS)
        assert texts(weekdays, "com:recurringTimePeriodOfDay/*") == ["08:00:00", "19:00:00"]
        assert texts(weekdays, "com:recurringDayWeekMonthPeriod/com:applicableDay") == [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
        ]
        assert texts(saturday, "com:recurringTimePeriodOfDay/*") == ["08:00:00", "14:00:00"]
        assert texts(saturday, "com:recurringDayWeekMonthPeriod/com:applicableDay") == ["saturday"]


def test_24_7_is_valid_always_and_a_window_to_midnight_ends_at_24(
    schema: etree.XMLSchema,
) -> None:
    zones = [
        zone_now(zone("Z-A", hours="24/7"), [bay("1", False)]),
        zone_now(zone("Z-B", hours="Mo-Su 06:00-24:00"), [bay("1", False)]),
    ]
    table, _ = documents(schema, zones)
    always = table_record(table, "Z-A").xpath(".//prk:validity", namespaces=NS)
    assert len(always) == 2
    for validity in always:
        assert texts(validity, "com:overallStartTime") == ["2026-11-01T09:00:00Z"]
        assert texts(validity, "com:validPeriod") == []  # no recurring limit: always
    periods = table_record(table, "Z-B").xpath(".//prk:validity/com:validPeriod", namespaces=NS)
    assert [texts(p, "com:recurringTimePeriodOfDay/*") for p in periods] == [
        ["06:00:00", "24:00:00"]
    ] * 2
    assert [texts(p, "com:recurringDayWeekMonthPeriod") for p in periods] == [[], []]


def test_user_classes_and_reservable_share_map_to_their_enums(schema: etree.XMLSchema) -> None:
    classes = ["craft", "delivery_services", "taxi"]
    zones = [
        zone_now(zone("Z-A", user_classes=classes, reservable_share=0.5), [bay("1", False)]),
        zone_now(
            zone("Z-B", user_classes=["craft"], reservable_share=0.0),
            [bay("1", False, sensor=False)],
        ),
    ]
    table, _ = documents(schema, zones)
    a, b = table_record(table, "Z-A"), table_record(table, "Z-B")
    usages = a.xpath("fac:applicableForVehicles/com:vehicleUsage", namespaces=NS)
    # "craft" has no DATEX name (the schema closes even "_extended"), so it is left out.
    assert [(u.text, u.get("_extendedValue")) for u in usages] == [
        ("_extended", "deliveryServices"),
        ("taxi", None),
    ]
    assert len(a.xpath("fac:applicableForVehicles/com:lengthCharacteristic", namespaces=NS)) == 2
    assert texts(a, ".//prk:operatingPattern/prk:type") == ["loadingZone", "delivery"]
    assert texts(a, ".//prk:assignment/prk:reservation") == ["partly"]
    assert texts(b, "fac:applicableForVehicles/com:vehicleUsage") == []
    assert texts(b, "fac:applicableForVehicles/com:lengthCharacteristic/com:vehicleLength") == [
        "12.0"
    ]
    assert texts(b, ".//prk:assignment/prk:reservation") == ["notAvailable"]
    assert texts(b, ".//prk:occupancyDetection") == []  # no sensor, no claim of one


def test_names_with_markup_and_umlauts_survive_as_text(schema: etree.XMLSchema) -> None:
    name = 'Müller & Söhne <Hof> "Nord"'
    table, _ = documents(schema, [zone_now(zone(name=name), [bay("A&1", True)])])
    assert texts(table_record(table, "Z-1"), "fac:name/com:values/com:value") == [name]
    assert texts(table_record(table, "Z-1/A&1"), "fac:name/com:values/com:value") == ["A&1"]


# --- the live status ---


def test_percentages_count_vehicles_on_bays_not_reservations(schema: etree.XMLSchema) -> None:
    bays = [bay("1", True), bay("2", False, reserved=True), bay("3", False)]
    _, status = documents(schema, [zone_now(zone(), bays)])
    place = place_status(status, "Z-1")
    assert texts(place, "prk:occupancy/prk:numberOfVacantSpaces") == ["1"]
    assert texts(place, "prk:occupancy/prk:numberOfOccupiedSpaces") == ["1"]
    assert texts(place, "prk:occupancy/prk:occupancy") == ["33.3"]
    assert texts(place, "prk:status") == ["spacesAvailable"]
    assert texts(place, "fac:openingStatus") == ["open"]


def test_a_full_zone_says_full_with_no_vacant_space(schema: etree.XMLSchema) -> None:
    _, status = documents(schema, [zone_now(zone(), [bay("1", True), bay("2", True)])])
    place = place_status(status, "Z-1")
    assert texts(place, "prk:occupancy/*") == ["0", "2", "100.0"]
    assert texts(place, "prk:status") == ["full"]


def test_a_withheld_zone_says_unknown_and_publishes_no_numbers(schema: etree.XMLSchema) -> None:
    stale = "sensor data older than 15 minutes"
    z = zone_now(zone(), [bay("1", True), bay("2", False)], status=live.NO_DATA, withheld=stale)
    _, status = documents(schema, [z])
    place = place_status(status, "Z-1")
    assert texts(place, "prk:status") == ["unknown"]
    assert texts(place, "prk:parkingFault") == ["noParkingInformationAvailable"]
    assert texts(place, "fac:statusDescription/com:values/com:value") == [stale]
    assert place.xpath("prk:occupancy", namespaces=NS) == []
    # The bays' last states are as stale as the zone's: none is published.
    assert space_statuses(status) == {}
    # Its last measurement still says how old the data is.
    assert texts(place, "fac:lastUpdated") == ["2026-12-01T08:59:00Z"]


def test_a_closed_zone_is_temporarily_closed_and_not_for_parking(
    schema: etree.XMLSchema,
) -> None:
    bays = [bay("1", False, closed=True), bay("2", True, closed=True)]
    _, status = documents(schema, [zone_now(zone(), bays, status=live.CLOSED)])
    place = place_status(status, "Z-1")
    assert texts(place, "fac:openingStatus") == ["temporarilyClosed"]
    assert texts(place, "prk:occupancy/*") == ["0", "1", "50.0", "true"]
    assert texts(place, "prk:occupancy/prk:parkingNotAllowed") == ["true"]
    assert texts(place, "prk:status") == []  # neither "full" nor "available" fits a closure
    spaces = space_statuses(status)
    assert [texts(spaces[b], "fac:openingStatus") for b in ("Z-1/1", "Z-1/2")] == [
        ["temporarilyClosed"]
    ] * 2


def test_outside_loading_hours_the_zone_is_closed_but_bays_are_still_reported(
    schema: etree.XMLSchema,
) -> None:
    z = zone_now(zone(), [bay("1", False)], status=live.OUTSIDE_HOURS)
    _, status = documents(schema, [z])
    place = place_status(status, "Z-1")
    assert texts(place, "fac:openingStatus") == ["closed"]
    assert texts(place, "prk:status") == []
    assert texts(space_statuses(status)["Z-1/1"], "prk:occupied") == ["false"]


def test_bays_without_a_known_state_get_no_space_status(schema: etree.XMLSchema) -> None:
    bays = [bay("1", True), bay("2", None), bay("3", False, measured_at=None)]
    _, status = documents(schema, [zone_now(zone(), bays)])
    spaces = space_statuses(status)
    assert sorted(spaces) == ["Z-1/1", "Z-1/3"]  # prk:SpaceStatus requires `occupied`
    assert texts(spaces["Z-1/3"], "prk:measurementOrCalculationTime") == []


def test_status_references_the_table_and_its_records_by_id_and_version(
    schema: etree.XMLSchema,
) -> None:
    zones = [
        zone_now(zone("Z-1"), [bay("1", True), bay("2", False)]),
        zone_now(zone("Z-2", updated_at=T0 - timedelta(hours=1)), [bay("7", False)]),
    ]
    table, status = documents(schema, zones)
    (parking_table,) = table.xpath("prk:parkingTable", namespaces=NS)
    (reference,) = status.xpath("prk:parkingTableReference", namespaces=NS)
    assert reference.get("targetClass") == "prk:ParkingTable"
    assert (reference.get("id"), reference.get("version")) == (
        parking_table.get("id"),
        parking_table.get("version"),
    )
    records = {
        (e.get("id"), e.get("version"))
        for e in parking_table.xpath("prk:hierarchyElementGeneral", namespaces=NS)
    }
    references = {
        (e.get("id"), e.get("version"))
        for e in status.xpath("prk:parkingStatusInformation/fac:reference", namespaces=NS)
    }
    assert references <= records and len(references) == 5
    # The table's version follows its newest zone, and a zone's version its last change.
    assert parking_table.get("version") == datex2.record_version(zones[1].zone)
    assert datex2.record_version(zones[0].zone) != datex2.record_version(zones[1].zone)


def test_five_hundred_zones_still_validate(schema: etree.XMLSchema) -> None:
    states = [
        ([bay("1", True), bay("2", False), bay("3", False, reserved=True)], live.OPEN, None),
        ([bay("1", True), bay("2", True)], live.OPEN, None),
        ([bay("1", None), bay("2", False)], live.NO_DATA, "a sensor of this zone is offline"),
        ([bay("1", False, closed=True)], live.CLOSED, None),
        ([bay("1", False, sensor=False), bay("2", False, sensor=False)], live.OPEN, None),
        ([bay("1", False)], live.OUTSIDE_HOURS, None),
    ]
    hours = [TWO_WINDOWS, "24/7", "Mo-Sa 07:00-20:00", "Mo,We,Fr 06:00-10:00; Tu 12:00-24:00"]
    zones = [
        zone_now(
            zone(f"Z-{i:03d}", hours=hours[i % len(hours)]),
            states[i % len(states)][0],
            status=states[i % len(states)][1],
            withheld=states[i % len(states)][2],
        )
        for i in range(500)
    ]
    table, status = documents(schema, zones)
    for document in (table, status):
        # Records are copied from templates: namespaces must still be declared once, at the root.
        assert etree.tostring(document).count(b"xmlns:") == len(NS)
    assert len(table.xpath("prk:parkingTable/prk:hierarchyElementGeneral", namespaces=NS)) == (
        500 + sum(len(z.bays) for z in zones)
    )
    assert (
        len(
            status.xpath("prk:parkingStatusInformation[@xsi:type='prk:PlaceStatus']", namespaces=NS)
        )
        == 500
    )


def test_times_carry_their_offset_and_naive_ones_are_refused() -> None:
    z = zone_now(zone(), [bay("1", True, measured_at=datetime(2026, 12, 1, 10, 0, tzinfo=None))])
    with pytest.raises(ValueError, match="naive"):
        datex2.parking_status([z], publication_time=T0, table_reference=datex2.table_reference([z]))
    with pytest.raises(ValueError, match="naive"):
        datex2.parking_table([zone_now(zone(), [])], publication_time=datetime(2026, 12, 1))


def test_local_offsets_are_written_in_utc(schema: etree.XMLSchema) -> None:
    berlin = datetime.fromisoformat("2026-12-01T10:00:00+01:00")
    z = zone_now(zone(), [bay("1", True, measured_at=berlin - timedelta(seconds=30))])
    status = valid(
        schema,
        datex2.parking_status(
            [z], publication_time=berlin, table_reference=datex2.table_reference([z])
        ),
    )
    assert texts(status, "com:publicationTime") == ["2026-12-01T09:00:00Z"]
    assert texts(space_statuses(status)["Z-1/1"], "prk:measurementOrCalculationTime") == [
        "2026-12-01T08:59:30Z"
    ]


def test_an_empty_publication_is_refused_because_datex_needs_one_record() -> None:
    with pytest.raises(ValueError, match="at least one zone"):
        datex2.parking_table([], publication_time=T0)
    with pytest.raises(ValueError, match="at least one zone"):
        datex2.parking_status(
            [], publication_time=T0, table_reference=datex2.TableReference("t", "1")
        )

"""DATEX II v3.7 parking publications: the loading zones as a table and their live status.

A zone is a `prk:Place`, each of its bays a `prk:Space` (id "<zone>/<bay label>"); the static
table says where they are and when they are loading zones, the status publication how many
bays are free now. Both are built from `booking.live.ZoneNow` only, so nothing personal (plates,
accounts, booking codes, reservation ids) can reach them. Where booking withholds the live
figures, the status says "unknown" with a fault instead of inventing numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from lxml import etree

from booking import hours
from booking.live import CLOSED, OPEN, OUTSIDE_HOURS, ZoneNow
from booking.tables import Zone

MEDIA_TYPE = "application/xml"
TABLE_ID = "kerbside-loading-zones"

D2 = "http://datex2.eu/schema/3/d2Payload"
COM = "http://datex2.eu/schema/3/common"
FAC = "http://datex2.eu/schema/3/facilities"
PRK = "http://datex2.eu/schema/3/parking"
LOC = "http://datex2.eu/schema/3/locationReferencing"
LOCX = "http://datex2.eu/schema/3/locationExtension"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"d2": D2, "com": COM, "fac": FAC, "prk": PRK, "loc": LOC, "locx": LOCX, "xsi": XSI}

# Clark names computed once rather than formatted for each of hundreds of thousands of elements.
_XSI_TYPE = f"{{{XSI}}}type"
_D2_PAYLOAD = f"{{{D2}}}payload"


def _clark(namespace: str, names: str) -> dict[str, str]:
    """Clark names ("{namespace}name") by local name, for space-separated local names."""
    return {name: f"{{{namespace}}}{name}" for name in names.split()}


def _by_lower_case(names: str) -> dict[str, str]:
    """Space-separated enum values by their lower-case spelling."""
    return {name.lower(): name for name in names.split()}


_C = _clark(
    COM,
    "applicableDay comparisonOperator country endTimeOfPeriod feedDescription"
    " lengthCharacteristic nationalIdentifier overallStartTime publicationCreator"
    " publicationTime recurringDayWeekMonthPeriod recurringTimePeriodOfDay"
    " startTimeOfPeriod validPeriod value values vehicleLength vehicleUsage",
)
_F = _clark(
    FAC,
    "applicableForVehicles lastUpdated length locationReference name openingStatus"
    " reference statusDescription",
)
_P = _clark(
    PRK,
    "additionalCharacteristics assignment characteristics childId commonComponents"
    " hierarchyElementGeneral informationManager layer maximumParkingDuration"
    " measurementOrCalculationTime name numberOfOccupiedSpaces numberOfVacantSpaces"
    " occupancy occupancyDetection occupied operatingPattern parentId parkingFault"
    " parkingNotAllowed parkingStatusInformation parkingTable parkingTableReference"
    " quantity reservation spaceMaximumUsableDimensions spacesTotal status"
    " structuralCharacteristics structureGrade structureType supply type validity"
    " versionTime viewType",
)
_L = _clark(
    LOC,
    "_locationReferenceExtension latitude longitude pointByCoordinates pointCoordinates",
)
_LX = _clark(LOCX, "address addressLine countryCode facilityLocation text type")

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Zone user classes DATEX II can name, by normalised name (see _usage_key): com:VehicleUsageEnum
# values, then the values its "_extended" escape is restricted to (no free text is allowed).
_USAGES = _by_lower_case(
    "agricultural carSharing cityLogistics commercial emergencyServices military"
    " nonCommercial patrol recoveryServices roadMaintenanceOrConstruction roadOperator taxi"
)
_EXTENDED_USAGES = _by_lower_case(
    "deliveryServices funeralProcession government marketVehicle nightlySurveillance"
    " publicTransportation removals transportOfPeopleWithDisabilities entertainment schoolBus"
)

_sub = etree.SubElement


@dataclass(frozen=True)
class TableReference:
    """The parking table a status publication refers to: its id and version."""

    id: str
    version: str


def record_version(zone: Zone) -> str:
    """A zone's record version: its last change in epoch milliseconds (bay changes bump it)."""
    return str(round(_utc(zone.updated_at, "zone.updated_at").timestamp() * 1000))


def table_reference(zones: Sequence[ZoneNow], *, table_id: str = TABLE_ID) -> TableReference:
    """The table's id and version: the version moves whenever any of its zones changes."""
    version = max((record_version(z.zone) for z in zones), key=int, default="0")
    return TableReference(table_id, version)


def parking_table(
    zones: Sequence[ZoneNow],
    *,
    publication_time: datetime,
    publisher: str = "Kerbside",
    country: str = "DE",
    national_identifier: str | None = None,
    lang: str = "de",
    table: TableReference | None = None,
) -> bytes:
    """The static ParkingTablePublication: each zone a Place, each bay a Space, with its rules."""
    if not zones:
        # prk:ParkingTable needs at least one hierarchyElementGeneral.
        raise ValueError("a DATEX II parking table needs at least one zone")
    table = table or table_reference(zones)
    identifier = national_identifier or publisher
    root = _payload("prk:ParkingTablePublication", lang)
    _header(root, f"{publisher}: loading zones", publication_time, country, identifier, lang)
    table_element = _sub(root, _P["parkingTable"], id=table.id, version=table.version)
    _multilingual(table_element, _P["name"], f"{publisher} loading zones", lang)
    _text(table_element, _P["versionTime"], _iso(max(z.zone.updated_at for z in zones)))
    manager = _sub(table_element, _P["informationManager"])
    _text(manager, _C["country"], country)
    _text(manager, _C["nationalIdentifier"], identifier)
    spaces = {sensed: _space_template(sensed, lang) for sensed in (False, True)}
    append = table_element.append
    for zone_now in zones:
        zone = zone_now.zone
        zone_id, version = zone.id, record_version(zone)
        _place(table_element, zone_now, version, country, lang)
        length = _float(zone.bay_length_m)
        for bay in zone_now.bays:
            # A copy of a finished Space with its four varying values filled in.
            space = spaces[bay.sensor_id is not None].__copy__()
            space.set("id", f"{zone_id}/{bay.label}")
            space.set("version", version)
            space[0][0][0].text = bay.label
            parent = space[3]
            parent.set("id", zone_id)
            parent.set("version", version)
            space[4][0].text = length
            append(space)
    return _serialise(root)


def parking_status(
    zones: Sequence[ZoneNow],
    *,
    publication_time: datetime,
    table_reference: TableReference,
    publisher: str = "Kerbside",
    country: str = "DE",
    national_identifier: str | None = None,
    lang: str = "de",
) -> bytes:
    """The dynamic ParkingStatusPublication: a PlaceStatus per zone, a SpaceStatus per known bay."""
    if not zones:
        # prk:ParkingStatusPublication needs at least one parkingStatusInformation.
        raise ValueError("a DATEX II parking status publication needs at least one zone")
    root = _payload("prk:ParkingStatusPublication", lang)
    _header(
        root,
        f"{publisher}: loading zone availability",
        publication_time,
        country,
        national_identifier or publisher,
        lang,
    )
    _sub(
        root,
        _P["parkingTableReference"],
        targetClass="prk:ParkingTable",
        id=table_reference.id,
        version=table_reference.version,
    )
    publication = _iso(publication_time)
    spaces = _space_templates()
    places: dict[_PlaceShape, tuple[etree._Element, dict[str, tuple[int, ...]]]] = {}
    append = root.append
    for zone_now in zones:
        zone = zone_now.zone
        zone_id, version = zone.id, record_version(zone)
        shape, texts = _place_texts(zone_now, publication)
        if shape not in places:
            places[shape] = _place_template(shape)
        template, slots = places[shape]
        # Copying a finished template is cheaper than building the elements one by one.
        place = template.__copy__()
        reference = place[0]
        reference.set("id", zone_id)
        reference.set("version", version)
        for name, path in slots.items():
            element = place
            for step in path:
                element = element[step]
            element.text = texts[name]
        append(place)
        if zone_now.withheld is not None:
            # Booking withheld this zone's figures (stale or partial data): no bay states either.
            continue
        for bay in zone_now.bays:
            if bay.occupied is None:
                # prk:SpaceStatus requires `occupied`; a bay nobody can see gets no record.
                continue
            space = spaces[bay.closed, bay.occupied].__copy__()
            reference = space[0]
            reference.set("id", f"{zone_id}/{bay.label}")
            reference.set("version", version)
            if bay.measured_at is None:
                del space[-1]
            else:
                space[-1].text = _iso(bay.measured_at)
            append(space)
    return _serialise(root)


def _space_templates() -> dict[tuple[bool, bool], etree._Element]:
    """A SpaceStatus per (closed, occupied), its reference and measurement time left to fill."""
    templates = {}
    for closed in (False, True):
        for occupied in (False, True):
            space = etree.Element(
                _P["parkingStatusInformation"], {_XSI_TYPE: "prk:SpaceStatus"}, nsmap=NSMAP
            )
            _sub(space, _F["reference"], targetClass="fac:FacilityObject", id="", version="")
            if closed:
                _text(space, _F["openingStatus"], "temporarilyClosed")
            _text(space, _P["occupied"], "true" if occupied else "false")
            _sub(space, _P["measurementOrCalculationTime"])
            templates[closed, occupied] = space
    return templates


# The texts of a PlaceStatus that vary from zone to zone; everything else depends on its shape.
_PlaceShape = tuple[tuple[str, ...], str, bool, str | None]


def _place_texts(zone_now: ZoneNow, publication: str) -> tuple[_PlaceShape, dict[str, str]]:
    """The shape of a zone's PlaceStatus and its varying texts; None figures are left out."""
    texts: dict[str, str] = {}
    measured = [b.measured_at for b in zone_now.bays if b.measured_at is not None]
    if measured:
        texts["lastUpdated"] = _iso(max(measured))
    elif zone_now.source == "bookings":
        # Without sensors the figures come from bookings, which are current at publication.
        texts["lastUpdated"] = publication
    if zone_now.withheld is not None:
        texts["statusDescription"] = zone_now.withheld
    bays = len(zone_now.bays)
    if zone_now.free is not None:
        texts["numberOfVacantSpaces"] = str(max(0, min(zone_now.free, bays)))
    if zone_now.occupied is not None:
        texts["numberOfOccupiedSpaces"] = str(zone_now.occupied)
        if bays:
            # Share of bays with a vehicle on them; reserved but empty bays are not counted.
            texts["occupancy"] = f"{100 * zone_now.occupied / bays:.1f}"
    status = None
    if zone_now.withheld is not None:
        status = "unknown"
    elif zone_now.status == OPEN and zone_now.free is not None:
        status = "full" if zone_now.free <= 0 else "spacesAvailable"
    return (tuple(texts), zone_now.status, zone_now.withheld is not None, status), texts


def _place_template(shape: _PlaceShape) -> tuple[etree._Element, dict[str, tuple[int, ...]]]:
    """A PlaceStatus of this shape with empty texts, and where each varying text goes."""
    names, zone_status, withheld, status = shape
    info = etree.Element(
        _P["parkingStatusInformation"], {_XSI_TYPE: "prk:PlaceStatus"}, nsmap=NSMAP
    )
    _sub(info, _F["reference"], targetClass="fac:FacilityObject", id="", version="")
    slots: dict[str, etree._Element] = {}
    if "lastUpdated" in names:
        slots["lastUpdated"] = _sub(info, _F["lastUpdated"])
    _text(info, _F["openingStatus"], _opening_status(zone_status))
    if withheld:
        description = _multilingual(info, _F["statusDescription"], "", "en")
        slots["statusDescription"] = description[0][0]
        _text(info, _P["parkingFault"], "noParkingInformationAvailable")
    counts = [
        n for n in ("numberOfVacantSpaces", "numberOfOccupiedSpaces", "occupancy") if n in names
    ]
    if counts or zone_status == CLOSED:
        occupancy = _sub(info, _P["occupancy"])
        for name in counts:
            slots[name] = _sub(occupancy, _P[name])
        if zone_status == CLOSED:
            _text(occupancy, _P["parkingNotAllowed"], "true")
    if status is not None:
        _text(info, _P["status"], status)
    return info, {name: _path(element) for name, element in slots.items()}


def _path(element: etree._Element) -> tuple[int, ...]:
    """Child indexes from the tree's root down to `element`, to find the same spot in a copy."""
    steps = []
    parent = element.getparent()
    while parent is not None:
        steps.append(parent.index(element))
        element, parent = parent, parent.getparent()
    return tuple(reversed(steps))


def _opening_status(status: str) -> str:
    if status == CLOSED:
        return "temporarilyClosed"  # a closure (roadworks, market day) covers every bay
    if status == OUTSIDE_HOURS:
        return "closed"  # outside its loading hours the kerb is no loading zone
    return "open"


def _place(
    parent: etree._Element, zone_now: ZoneNow, version: str, country: str, lang: str
) -> None:
    zone = zone_now.zone
    place = _sub(
        parent,
        _P["hierarchyElementGeneral"],
        {_XSI_TYPE: "prk:Place", "id": zone.id, "version": version},
    )
    _multilingual(place, _F["name"], zone.name, lang)
    _text(place, _F["lastUpdated"], _iso(zone.updated_at))
    _location(place, zone, country, lang)
    _vehicles(place, zone)
    _text(place, _P["layer"], "1")
    _text(place, _P["type"], "place")
    for bay in zone_now.bays:
        _sub(
            place,
            _P["childId"],
            targetClass="fac:FacilityObject",
            id=f"{zone.id}/{bay.label}",
            version=version,
        )
    supply = _sub(place, _P["supply"])
    _text(supply, _P["quantity"], str(len(zone_now.bays)))
    _text(supply, _P["viewType"], "spaceView")
    common = _sub(place, _P["commonComponents"])
    characteristics = _sub(common, _P["characteristics"])
    _text(characteristics, _P["structureGrade"], "groundLevel")
    _text(characteristics, _P["structureType"], "onStreet")
    _text(characteristics, _P["spacesTotal"], str(len(zone_now.bays)))
    extra = _sub(common, _P["additionalCharacteristics"])
    _text(extra, _P["structuralCharacteristics"], "kerbside")
    if any(b.sensor_id for b in zone_now.bays):
        _text(extra, _P["occupancyDetection"], "spaceSensor")
    assignment = _sub(extra, _P["assignment"])
    _text(assignment, _P["maximumParkingDuration"], str(zone.max_stay_min * 60))
    _text(assignment, _P["reservation"], _reservation(zone.reservable_share))
    restriction = "loadingZoneCommercial" if "commercial" in zone.user_classes else "loadingZone"
    validity = _validity(_windows(zone.loading_hours), _iso(zone.created_at))
    for index, (kind, value) in enumerate(
        (("prk:OperatingRestriction", restriction), ("prk:UsageScenario", "delivery")), start=1
    ):
        pattern = _sub(
            common,
            _P["operatingPattern"],
            {_XSI_TYPE: kind, "operatingPatternIndex": str(index)},
        )
        # Both patterns hold in the loading hours; appending moves, so the first takes a copy.
        pattern.append(validity.__copy__() if index == 1 else validity)
        _text(pattern, _P["type"], value)


def _space_template(sensed: bool, lang: str) -> etree._Element:
    """A bay's Space with empty ids, name and length; whether a sensor watches it is fixed."""
    space = etree.Element(
        _P["hierarchyElementGeneral"],
        {_XSI_TYPE: "prk:Space", "id": "", "version": ""},
        nsmap=NSMAP,
    )
    _multilingual(space, _F["name"], "", lang)
    _text(space, _P["layer"], "2")
    _text(space, _P["type"], "space")
    _sub(space, _P["parentId"], targetClass="fac:FacilityObject", id="", version="")
    _sub(_sub(space, _P["spaceMaximumUsableDimensions"]), _F["length"])
    if sensed:
        extra = _sub(space, _P["additionalCharacteristics"])
        _text(extra, _P["occupancyDetection"], "spaceSensor")
    return space


def _location(place: etree._Element, zone: Zone, country: str, lang: str) -> None:
    location = _sub(place, _F["locationReference"], {_XSI_TYPE: "loc:PointLocation"})
    if zone.address or zone.district:
        # DATEX II carries a postal address only through the location extension.
        address = _sub(
            _sub(_sub(location, _L["_locationReferenceExtension"]), _LX["facilityLocation"]),
            _LX["address"],
        )
        _text(address, _LX["countryCode"], country)
        lines = [("street", zone.address), ("districtTerritory", zone.district)]
        for order, (kind, text) in enumerate(((k, t) for k, t in lines if t), start=1):
            line = _sub(address, _LX["addressLine"], order=str(order))
            _text(line, _LX["type"], kind)
            _multilingual(line, _LX["text"], text, lang)
    coordinates = _sub(_sub(location, _L["pointByCoordinates"]), _L["pointCoordinates"])
    _text(coordinates, _L["latitude"], _float(zone.lat))
    _text(coordinates, _L["longitude"], _float(zone.lon))


def _vehicles(place: etree._Element, zone: Zone) -> None:
    # One set of characteristics per user class: DATEX lists alternatives as repeated sets.
    keys = [_usage_key(c) for c in zone.user_classes]
    usages: list[tuple[str, str | None]] = [
        (_USAGES[k], None) if k in _USAGES else ("_extended", _EXTENDED_USAGES[k])
        for k in keys
        if k in _USAGES or k in _EXTENDED_USAGES
    ]
    # Classes DATEX cannot name are left out; with none left, only the length limit is said.
    for usage, extended in usages or [(None, None)]:
        vehicles = _sub(place, _F["applicableForVehicles"])
        if usage is not None:
            element = _text(vehicles, _C["vehicleUsage"], usage)
            if extended is not None:
                element.set("_extendedValue", extended)
        length = _sub(vehicles, _C["lengthCharacteristic"])
        _text(length, _C["comparisonOperator"], "lessThanOrEqualTo")
        _text(length, _C["vehicleLength"], _float(zone.max_vehicle_length_m))


def _usage_key(user_class: str) -> str:
    return "".join(c for c in user_class.lower() if c.isalnum())


@lru_cache(maxsize=256)
def _windows(loading_hours: str) -> tuple[hours.Window, ...]:
    """Parsed loading hours; most zones of a city share a handful of them."""
    return hours.LoadingHours.parse(loading_hours).windows


def _validity(windows: Sequence[hours.Window], start: str) -> etree._Element:
    """A prk:validity: from `start` on, within the windows (none for "24/7")."""
    # One validPeriod per window (periods add up); inside one, days and times of day intersect.
    # Times of day are the zone's local wall-clock times, as the signs say; xs:time takes no
    # zone name and a fixed offset would be wrong for half the year.
    validity = etree.Element(_P["validity"], nsmap=NSMAP)
    _text(validity, _C["overallStartTime"], start)
    if any(len(w.days) == 7 and (w.start, w.end) == (0, 1440) for w in windows):
        return validity  # "24/7": no recurring period at all means always, from the start on
    for window in windows:
        period = _sub(validity, _C["validPeriod"])
        if (window.start, window.end) != (0, 1440):
            time_of_day = _sub(period, _C["recurringTimePeriodOfDay"])
            _text(time_of_day, _C["startTimeOfPeriod"], _clock(window.start))
            _text(time_of_day, _C["endTimeOfPeriod"], _clock(window.end))
        if len(window.days) < 7:
            days = _sub(period, _C["recurringDayWeekMonthPeriod"])
            for day in sorted(window.days):
                _text(days, _C["applicableDay"], _DAYS[day])
    return validity


def _reservation(share: float) -> str:
    if share <= 0:
        return "notAvailable"
    return "optional" if share >= 1 else "partly"


def _payload(kind: str, lang: str) -> etree._Element:
    return etree.Element(
        _D2_PAYLOAD,
        {_XSI_TYPE: kind, "lang": lang, "modelBaseVersion": "3"},
        nsmap=NSMAP,
    )


def _header(
    root: etree._Element,
    description: str,
    at: datetime,
    country: str,
    identifier: str,
    lang: str,
) -> None:
    _multilingual(root, _C["feedDescription"], description, lang)
    _text(root, _C["publicationTime"], _iso(at))
    creator = _sub(root, _C["publicationCreator"])
    _text(creator, _C["country"], country)
    _text(creator, _C["nationalIdentifier"], identifier)


def _multilingual(parent: etree._Element, tag: str, text: str, lang: str) -> etree._Element:
    element = _sub(parent, tag)
    _sub(element, _C["values"]).append(_value(text, lang))
    return element


def _value(text: str, lang: str) -> etree._Element:
    value = etree.Element(_C["value"], lang=lang)
    value.text = text
    return value


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = _sub(parent, tag)
    element.text = text
    return element


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} is naive; DATEX II times must carry an offset")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # what the database returns already is UTC: skip converting
        moment = _utc(moment, "a time")
    return moment.isoformat().replace("+00:00", "Z")


def _clock(minutes: int) -> str:
    # 24:00:00 is xs:time's end of day, which "…-24:00" windows mean.
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _float(value: float) -> str:
    return repr(float(value))

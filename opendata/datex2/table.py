"""The static ParkingTablePublication: each zone a Place, each bay a Space, with its rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from lxml import etree

from booking import hours
from booking.live import ZoneNow
from booking.tables import Zone
from opendata.datex2.elements import (
    _C,
    _F,
    _L,
    _LX,
    _P,
    _XSI_TYPE,
    NSMAP,
    _float,
    _header,
    _iso,
    _multilingual,
    _payload,
    _serialise,
    _sub,
    _text,
    _utc,
)

TABLE_ID = "kerbside-loading-zones"


def _by_lower_case(names: str) -> dict[str, str]:
    """Space-separated enum values by their lower-case spelling."""
    return {name.lower(): name for name in names.split()}


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


def _clock(minutes: int) -> str:
    # 24:00:00 is xs:time's end of day, which "…-24:00" windows mean.
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"

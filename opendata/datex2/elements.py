"""DATEX II XML shared by both publications: namespaces, Clark names, element builders."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

MEDIA_TYPE = "application/xml"

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


_sub = etree.SubElement


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


def _float(value: float) -> str:
    return repr(float(value))

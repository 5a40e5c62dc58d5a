"""The dynamic ParkingStatusPublication: a PlaceStatus per zone, a SpaceStatus per bay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lxml import etree

from booking.live import CLOSED, OPEN, OUTSIDE_HOURS, ZoneNow
from opendata.datex2.elements import (
    _F,
    _P,
    _XSI_TYPE,
    NSMAP,
    _header,
    _iso,
    _multilingual,
    _payload,
    _serialise,
    _sub,
    _text,
)
from opendata.datex2.table import TableReference, record_version


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

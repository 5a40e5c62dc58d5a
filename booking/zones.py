"""The zone inventory: create, update, retire, read, import and export loading zones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from booking import geometry
from booking.errors import Conflict, InvalidInput, NotFound, Problem
from booking.tables import Bay, Zone
from booking.zone_specs import BaySpec, ZonePatch, ZoneSpec

ACTIVE = "active"
RETIRED = "retired"
_IMPORT_CHUNK = 500


@dataclass
class ImportResult:
    """How an import changed the inventory."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


def get(*, session: Session, zone_id: str) -> Zone:
    """The zone with this id, retired or not; NotFound otherwise."""
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise NotFound(f"There is no zone '{zone_id}'.")
    return zone


def get_active(*, session: Session, zone_id: str) -> Zone:
    """The zone with this id if it is in service; NotFound for unknown or retired zones."""
    zone = get(session=session, zone_id=zone_id)
    if zone.status != ACTIVE:
        raise NotFound(f"Zone '{zone_id}' has been retired.")
    return zone


def bays_of(*, session: Session, zone_id: str, include_inactive: bool = False) -> list[Bay]:
    """The zone's bays in sign order."""
    query = select(Bay).where(Bay.zone_id == zone_id)
    if not include_inactive:
        query = query.where(col(Bay.active).is_(True))
    return list(session.exec(query.order_by(col(Bay.position), col(Bay.id))))


def bay_counts(*, session: Session, zone_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Active bays per zone, for all zones or the ones given."""
    query = select(Bay.zone_id, func.count()).where(col(Bay.active).is_(True))
    if zone_ids is not None:
        query = query.where(col(Bay.zone_id).in_(zone_ids))
    return dict(session.exec(query.group_by(col(Bay.zone_id))).all())


def create(*, session: Session, spec: ZoneSpec, now: datetime, default_tz: str) -> Zone:
    """Add a new zone with its bays; Conflict if the id is taken."""
    if session.get(Zone, spec.id) is not None:
        raise Conflict(f"A zone with id '{spec.id}' exists already; update it with PATCH.")
    zone = Zone(**_zone_fields(spec, default_tz), created_at=now, updated_at=now)
    session.add(zone)
    session.flush()
    _sync_bays(session=session, zone_id=zone.id, specs=spec.bay_specs(), existing=[])
    session.flush()
    return zone


def update(
    *, session: Session, zone_id: str, patch: ZonePatch, now: datetime, default_tz: str
) -> Zone:
    """Change the given fields of a zone (retired zones come back by updating them)."""
    zone = get(session=session, zone_id=zone_id)
    current = spec_of(zone, bays_of(session=session, zone_id=zone_id))
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    try:
        merged = ZoneSpec.model_validate({**current.model_dump(), **changes, "id": zone_id})
    except ValidationError as exc:
        raise InvalidInput(
            "The zone would be inconsistent after this change.", _problems(exc, prefix="")
        ) from None
    _apply(session=session, zone=zone, spec=merged, now=now, default_tz=default_tz, revive=True)
    session.flush()
    return zone


def retire(*, session: Session, zone_id: str, now: datetime) -> Zone:
    """Take a zone out of service; it stays readable by id but is no longer found or booked."""
    zone = get(session=session, zone_id=zone_id)
    if zone.status != RETIRED:
        zone.status = RETIRED
        zone.updated_at = now
        session.add(zone)
        session.flush()
    return zone


def parse_features(collection: Any) -> list[ZoneSpec]:
    """Validate a GeoJSON FeatureCollection; InvalidInput lists every bad feature at once."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise InvalidInput(
            "Expected a GeoJSON FeatureCollection.",
            [Problem("", "the document's 'type' must be 'FeatureCollection'")],
        )
    features = collection.get("features")
    if not isinstance(features, list):
        raise InvalidInput(
            "The FeatureCollection has no feature list.",
            [Problem("features", "'features' must be a list of zone features")],
        )
    specs: list[ZoneSpec] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        try:
            spec = ZoneSpec.model_validate(_feature_to_fields(feature))
        except ValidationError as exc:
            problems.extend(_problems(exc, prefix=f"features/{index}"))
            continue
        except ValueError as exc:
            problems.append(Problem(f"features/{index}", str(exc)))
            continue
        if spec.id in seen:
            problems.append(
                Problem(f"features/{index}/id", f"id '{spec.id}' repeats feature {seen[spec.id]}")
            )
        seen[spec.id] = index
        specs.append(spec)
    if problems:
        raise InvalidInput(
            f"{len(problems)} problem(s) in the import; nothing was written.", problems
        )
    return specs


def upsert_many(
    *,
    session: Session,
    specs: Sequence[ZoneSpec],
    now: datetime,
    default_tz: str,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Create or update zones by id; zones that would not change are left untouched."""
    result = ImportResult()
    for start in range(0, len(specs), _IMPORT_CHUNK):
        chunk = specs[start : start + _IMPORT_CHUNK]
        ids = [s.id for s in chunk]
        existing = {z.id: z for z in session.exec(select(Zone).where(col(Zone.id).in_(ids)))}
        bays: dict[str, list[Bay]] = {}
        for bay in session.exec(select(Bay).where(col(Bay.zone_id).in_(ids))):
            bays.setdefault(bay.zone_id, []).append(bay)
        new_zones: list[ZoneSpec] = []
        for spec in chunk:
            zone = existing.get(spec.id)
            if zone is None:
                session.add(Zone(**_zone_fields(spec, default_tz), created_at=now, updated_at=now))
                new_zones.append(spec)
                result.created += 1
            elif _apply(
                session=session,
                zone=zone,
                spec=spec,
                now=now,
                default_tz=default_tz,
                revive=True,
                existing_bays=sorted(bays.get(spec.id, []), key=lambda b: (b.position, b.id)),
            ):
                result.updated += 1
            else:
                result.unchanged += 1
        # One flush for the chunk's new zones, then their bays: far cheaper than one per zone.
        session.flush()
        for spec in new_zones:
            _sync_bays(session=session, zone_id=spec.id, specs=spec.bay_specs(), existing=[])
        session.flush()
        if progress:
            progress(len(chunk))
    return result


def import_features(
    *, session: Session, collection: Any, now: datetime, default_tz: str
) -> ImportResult:
    """Validate a whole FeatureCollection, then upsert it; nothing is written if any is bad."""
    specs = parse_features(collection)
    return upsert_many(session=session, specs=specs, now=now, default_tz=default_tz)


def export_features(*, session: Session, include_retired: bool = False) -> dict[str, Any]:
    """All zones as a FeatureCollection that `import_features` reads back unchanged."""
    query = select(Zone).order_by(col(Zone.id))
    if not include_retired:
        query = query.where(Zone.status == ACTIVE)
    bays: dict[str, list[Bay]] = {}
    for bay in session.exec(
        select(Bay).where(col(Bay.active).is_(True)).order_by(col(Bay.position), col(Bay.id))
    ):
        bays.setdefault(bay.zone_id, []).append(bay)
    features = [feature_of(zone, bays.get(zone.id, [])) for zone in session.exec(query)]
    return {"type": "FeatureCollection", "features": features}


def spec_of(zone: Zone, bays: Iterable[Bay]) -> ZoneSpec:
    """The spec that describes a stored zone."""
    return ZoneSpec(
        id=zone.id,
        name=zone.name,
        address=zone.address,
        district=zone.district,
        geometry=zone.geometry,
        bays=[BaySpec(label=b.label, sensor_id=b.sensor_id) for b in bays if b.active],
        bay_length_m=zone.bay_length_m,
        max_vehicle_length_m=zone.max_vehicle_length_m,
        loading_hours=zone.loading_hours,
        min_stay_min=zone.min_stay_min,
        max_stay_min=zone.max_stay_min,
        horizon_h=zone.horizon_h,
        user_classes=zone.user_classes,
        reservable_share=zone.reservable_share,
        timezone=zone.timezone,
    )


def feature_of(zone: Zone, bays: Iterable[Bay]) -> dict[str, Any]:
    """A zone as a GeoJSON Feature with its rules and bays as properties."""
    properties = spec_of(zone, bays).model_dump(exclude={"id", "geometry"})
    properties["status"] = zone.status
    return {"type": "Feature", "id": zone.id, "geometry": zone.geometry, "properties": properties}


def _feature_to_fields(feature: Any) -> dict[str, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("each item of 'features' must be a GeoJSON Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("a feature's 'properties' must be an object")
    fields = {k: v for k, v in properties.items() if k != "status"}
    fields["geometry"] = feature.get("geometry")
    fields.setdefault("id", feature.get("id"))
    return fields


def _problems(exc: ValidationError, *, prefix: str) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        location = "/".join(str(part) for part in error["loc"])
        pointer = "/".join(p for p in (prefix, location) if p)
        problems.append(Problem(pointer, error["msg"].removeprefix("Value error, ")))
    return problems


def _zone_fields(spec: ZoneSpec, default_tz: str) -> dict[str, Any]:
    lon, lat = geometry.anchor(geometry.parse(spec.geometry))
    fields = spec.model_dump(exclude={"bays"})
    fields["timezone"] = spec.timezone or default_tz
    return {**fields, "lon": lon, "lat": lat, "status": ACTIVE}


def _apply(
    *,
    session: Session,
    zone: Zone,
    spec: ZoneSpec,
    now: datetime,
    default_tz: str,
    revive: bool,
    existing_bays: list[Bay] | None = None,
) -> bool:
    """Write `spec` onto `zone` and its bays; True when anything changed."""
    fields = _zone_fields(spec, default_tz)
    if not revive:
        fields["status"] = zone.status
    changed = False
    for name, value in fields.items():
        if getattr(zone, name) != value:
            setattr(zone, name, value)
            changed = True
    if existing_bays is None:
        existing_bays = bays_of(session=session, zone_id=zone.id, include_inactive=True)
    if _sync_bays(session=session, zone_id=zone.id, specs=spec.bay_specs(), existing=existing_bays):
        changed = True
    if changed:
        zone.updated_at = now
        session.add(zone)
    return changed


def _sync_bays(
    *, session: Session, zone_id: str, specs: list[BaySpec], existing: list[Bay]
) -> bool:
    """Make the zone's active bays match `specs`; removed bays are deactivated, not deleted."""
    by_label = {bay.label: bay for bay in existing}
    wanted = {spec.label for spec in specs}
    changed = False
    for position, spec in enumerate(specs):
        bay = by_label.get(spec.label)
        if bay is None:
            session.add(
                Bay(zone_id=zone_id, label=spec.label, position=position, sensor_id=spec.sensor_id)
            )
            changed = True
        elif (bay.position, bay.sensor_id, bay.active) != (position, spec.sensor_id, True):
            bay.position, bay.sensor_id, bay.active = position, spec.sensor_id, True
            session.add(bay)
            changed = True
    for bay in existing:
        if bay.label not in wanted and bay.active:
            bay.active = False
            session.add(bay)
            changed = True
    return changed


def labels(
    *, session: Session, zone_ids: Iterable[str], bay_ids: Iterable[int]
) -> tuple[dict[str, str], dict[int, str]]:
    """Zone names and bay labels for display, fetched in two queries."""
    names = dict(
        session.exec(select(Zone.id, Zone.name).where(col(Zone.id).in_(set(zone_ids)))).all()
    )
    bays = dict(session.exec(select(Bay.id, Bay.label).where(col(Bay.id).in_(set(bay_ids)))).all())
    return names, bays


def all_(*, session: Session, include_retired: bool = False) -> list[Zone]:
    """Every zone, by id."""
    query = select(Zone).order_by(col(Zone.id))
    if not include_retired:
        query = query.where(Zone.status == ACTIVE)
    return list(session.exec(query))


def bays_of_zones(*, session: Session, zone_ids: Sequence[str] | None = None) -> list[Bay]:
    """Bays (active or not) of these zones, or of all zones."""
    query = select(Bay)
    if zone_ids is not None:
        query = query.where(col(Bay.zone_id).in_(zone_ids))
    return list(session.exec(query.order_by(col(Bay.zone_id), col(Bay.position))))

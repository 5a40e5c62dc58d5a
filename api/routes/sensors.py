"""Sensors and violations over REST (operators)."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ClockDep, DbDep, IntId, StaffAccount
from api.errors import PROBLEM_RESPONSES
from api.schemas_sensors import (
    DeadLetterListOut,
    DeadLetterOut,
    ResolveIn,
    SensorIn,
    SensorOut,
    ViolationOut,
)
from booking import audit, dead_letters, sensor_registry, violations

router = APIRouter(prefix="/api/v1", tags=["sensors"], responses=PROBLEM_RESPONSES)


@router.post("/sensors", status_code=201)
def register_sensor(
    body: SensorIn, operator: StaffAccount, db: DbDep, clock: ClockDep
) -> SensorOut:
    """Register a sensor (by id, or devEUI for LoRaWAN) with its codec, into a bay."""
    with db.write() as session:
        sensor_registry.register(
            session=session,
            sensor_id=body.sensor_id,
            zone_id=body.zone_id,
            bay_label=body.bay,
            codec=body.codec,
            dev_eui=body.dev_eui,
            heartbeat_s=body.heartbeat_s,
            now=clock(),
        )
        found = [
            h for h in sensor_registry.health(session=session) if h.sensor.id == body.sensor_id
        ]
        return SensorOut.of(found[0])


@router.get("/sensors")
def list_sensors(operator: StaffAccount, db: DbDep, offline: bool = False) -> list[SensorOut]:
    """Every sensor with last seen, battery and bay state; `offline=true` for the silent ones."""
    with db.read() as session:
        return [
            SensorOut.of(h) for h in sensor_registry.health(session=session, offline_only=offline)
        ]


@router.get("/sensors/dead-letters")
def list_dead_letters(
    operator: StaffAccount,
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DeadLetterListOut:
    """Messages the ingest could not read: topic, payload (truncated), reason, time."""
    with db.read() as session:
        found, total = dead_letters.list_(session=session, limit=limit, offset=offset)
        return DeadLetterListOut(total=total, items=[DeadLetterOut.of(d) for d in found])


@router.get("/violations")
def list_violations(
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)$")] = None,
    kind: Annotated[str | None, Query(pattern="^(" + "|".join(violations.KINDS) + ")$")] = None,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ViolationOut]:
    """Violations, newest first: unreserved occupancy, overstay, no-show, sensor offline, ..."""
    with db.write() as session:  # plates shown are logged
        found = violations.list_(
            session=session, status=status, kind=kind, zone_id=zone_id, limit=limit, offset=offset
        )
        plated = [v for v in found if v.plate]
        if plated:
            audit.record(
                session=session,
                viewer=operator,
                action="violations_list",
                subject=f"{len(plated)} plates",
                zone_id=zone_id,
                now=clock(),
            )
        return [ViolationOut.of(v) for v in found]


@router.post("/violations/{violation_id}/ack")
def acknowledge_violation(
    violation_id: IntId, operator: StaffAccount, db: DbDep, clock: ClockDep
) -> ViolationOut:
    """An operator has seen it and is on it."""
    with db.write() as session:
        found = violations.acknowledge(
            session=session, violation_id=violation_id, operator=operator, now=clock()
        )
        return ViolationOut.of(found)


@router.post("/violations/{violation_id}/resolve")
def resolve_violation(
    violation_id: IntId,
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    body: ResolveIn | None = None,
) -> ViolationOut:
    """Close it, saying how (fined, towed, false alarm...)."""
    with db.write() as session:
        found = violations.resolve(
            session=session,
            violation_id=violation_id,
            operator=operator,
            now=clock(),
            resolution=(body or ResolveIn()).resolution,
        )
        return ViolationOut.of(found)

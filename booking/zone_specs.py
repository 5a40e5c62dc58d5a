"""What a zone is made of when it comes in: validated specs for create, update and import."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from booking import geometry, hours

ZONE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
SMALA_HOURS = "Mo-Fr 08:00-19:00"


class BaySpec(BaseModel):
    """A bay as written in a zone: its label and, when it has one, its sensor."""

    model_config = ConfigDict(extra="forbid")

    label: Annotated[str, Field(min_length=1, max_length=32)]
    sensor_id: Annotated[str | None, Field(default=None, min_length=1, max_length=64)] = None


def _check_hours(value: str) -> str:
    hours.LoadingHours.parse(value)
    return value.strip()


def _check_timezone(value: str | None) -> str | None:
    if value is not None:
        hours.zone_info(value)
    return value


def _check_geometry(value: dict[str, Any]) -> dict[str, Any]:
    geometry.parse(value)
    return value


def _check_classes(value: list[str]) -> list[str]:
    return sorted({c.strip().lower() for c in value if c.strip()})


class ZoneRules(BaseModel):
    """The booking rules of a zone; defaults follow SMALA Hamburg."""

    model_config = ConfigDict(extra="forbid")

    bay_length_m: Annotated[float, Field(gt=0, le=50)] = 12.0
    max_vehicle_length_m: Annotated[float, Field(gt=0, le=50)] = 12.0
    loading_hours: Annotated[str, Field(min_length=1, max_length=500)] = SMALA_HOURS
    min_stay_min: Annotated[int, Field(ge=5, le=1440)] = 15
    max_stay_min: Annotated[int, Field(ge=5, le=1440)] = 60
    horizon_h: Annotated[int, Field(ge=0, le=720)] = 60
    user_classes: Annotated[list[str], Field(min_length=1, max_length=20)] = ["commercial"]
    reservable_share: Annotated[float, Field(ge=0, le=1)] = 1.0
    timezone: Annotated[str | None, Field(default=None, max_length=64)] = None

    _hours = field_validator("loading_hours")(_check_hours)
    _tz = field_validator("timezone")(_check_timezone)
    _classes = field_validator("user_classes")(_check_classes)

    @model_validator(mode="after")
    def _stay_range(self) -> ZoneRules:
        if self.min_stay_min > self.max_stay_min:
            raise ValueError("min_stay_min must not exceed max_stay_min")
        return self


class ZoneSpec(ZoneRules):
    """A whole zone: identity, place, bays and rules."""

    id: Annotated[str, Field(pattern=ZONE_ID_PATTERN, examples=["HH-ABC-1"])]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Annotated[str, Field(max_length=300)] = ""
    district: Annotated[str, Field(max_length=120)] = ""
    geometry: dict[str, Any] = Field(
        examples=[{"type": "LineString", "coordinates": [[9.9840, 53.5559], [9.9843, 53.5557]]}]
    )
    bays: (
        Annotated[int, Field(ge=1, le=500)]
        | Annotated[list[BaySpec], Field(min_length=1, max_length=500)]
    ) = 2

    _geometry = field_validator("geometry")(_check_geometry)

    @field_validator("bays")
    @classmethod
    def _unique_labels(cls, value: int | list[BaySpec]) -> int | list[BaySpec]:
        if isinstance(value, list) and len({b.label for b in value}) != len(value):
            raise ValueError("bay labels must be unique within a zone")
        return value

    def bay_specs(self) -> list[BaySpec]:
        """The bays as a list, numbering them 1..n when only a count was given."""
        if isinstance(self.bays, int):
            return [BaySpec(label=str(n)) for n in range(1, self.bays + 1)]
        return self.bays


class ZonePatch(BaseModel):
    """A partial update of a zone; fields left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    address: Annotated[str | None, Field(max_length=300)] = None
    district: Annotated[str | None, Field(max_length=120)] = None
    geometry: dict[str, Any] | None = None
    bays: (
        Annotated[int, Field(ge=1, le=500)]
        | Annotated[list[BaySpec], Field(min_length=1, max_length=500)]
        | None
    ) = None
    bay_length_m: Annotated[float | None, Field(gt=0, le=50)] = None
    max_vehicle_length_m: Annotated[float | None, Field(gt=0, le=50)] = None
    loading_hours: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    min_stay_min: Annotated[int | None, Field(ge=5, le=1440)] = None
    max_stay_min: Annotated[int | None, Field(ge=5, le=1440)] = None
    horizon_h: Annotated[int | None, Field(ge=0, le=720)] = None
    user_classes: Annotated[list[str] | None, Field(min_length=1, max_length=20)] = None
    reservable_share: Annotated[float | None, Field(ge=0, le=1)] = None
    timezone: Annotated[str | None, Field(max_length=64)] = None

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_geometry(value)

    @field_validator("loading_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        return None if value is None else _check_hours(value)

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("user_classes")
    @classmethod
    def _classes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_classes(value)

"""Statistics over REST (operators): occupancy, sessions, bookings and impact, as JSON or CSV."""

from dataclasses import fields
from typing import Annotated, Any, Literal, get_type_hints

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from api.deps import ClockDep, DbDep, StaffAccount
from api.errors import PROBLEM_RESPONSES
from booking import statistics
from booking.impact import ImpactAssumptions

router = APIRouter(prefix="/api/v1", tags=["statistics"], responses=PROBLEM_RESPONSES)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

# One source of truth: the response models carry the domain's metrics, field for field.
_METRIC_TYPES = get_type_hints(statistics.Metrics)
MetricsOut: type[BaseModel] = create_model(
    "MetricsOut", **{f.name: (_METRIC_TYPES[f.name], ...) for f in fields(statistics.Metrics)}
)
GroupOut: type[BaseModel] = create_model(
    "GroupOut",
    key=(str, Field(description="UTC hour start, local date, or zone id")),
    name=(str | None, Field(default=None, description="the zone's name (group_by=zone)")),
    **{f.name: (_METRIC_TYPES[f.name], ...) for f in fields(statistics.Metrics)},
)


class ImpactOut(BaseModel):
    """The impact estimate and the assumptions it rests on."""

    assumptions: dict[str, Any]
    bookings_used: int
    avoided_double_parking: float
    cruising_km_avoided: float
    co2_kg_avoided: float


class StatsOut(BaseModel):
    """Totals, one row per group, the hour x weekday heatmap and the impact estimate."""

    model_config = ConfigDict(populate_by_name=True)

    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    zone_id: str | None
    group_by: str
    totals: MetricsOut  # type: ignore[valid-type]
    groups: list[GroupOut]  # type: ignore[valid-type]
    heatmap: list[list[float | None]] = Field(
        description="occupancy % by local weekday (7 rows, Monday first) x local hour (24)"
    )
    impact: ImpactOut


_ASSUMPTIONS = ImpactAssumptions()


async def impact_assumptions() -> ImpactAssumptions:
    """The impact assumptions of this process (`KERBSIDE_IMPACT_*`, read at import)."""
    return _ASSUMPTIONS


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "Statistics"}
}


@router.get("/stats", response_model=StatsOut, responses=CSV_RESPONSE)
def get_stats(
    operator: StaffAccount,
    db: DbDep,
    clock: ClockDep,
    assumptions: Annotated[ImpactAssumptions, Depends(impact_assumptions)],
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    group_by: Annotated[Literal["hour", "day", "zone"], Query()] = "day",
    output: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Occupancy, sessions, bookings and their impact over a window, for operators.

    The window defaults to the last 7 days and may span 92; groups are UTC hours, local days
    or zones (ranked by occupancy). `format=csv`, or `Accept: text/csv` without `format`,
    downloads the groups as CSV after a total row. Every figure is defined in the docstring
    of `booking.statistics`.
    """
    with db.read() as session:
        found = statistics.compute(
            session=session, now=clock(), start=start, end=end, zone_id=zone_id,
            group_by=group_by, assumptions=assumptions,
        )  # fmt: skip
    if output == "csv" or (output is None and "text/csv" in (accept or "")):
        name = f"kerbside-stats-{found.start:%Y%m%dT%H%MZ}-{found.end:%Y%m%dT%H%MZ}.csv"
        return Response(
            statistics.to_csv(found),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return found.as_dict()

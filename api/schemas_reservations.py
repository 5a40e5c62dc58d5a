"""Request and response bodies for reservations, availability, closures and enforcement."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from booking.availability import ZoneWindow
from booking.enforcement import Verdict
from booking.reservations import BookingRequest
from booking.tables import Closure, Notification, Reservation


class ReservationIn(BaseModel):
    """A booking request: a zone, when (or "now"), for how long, and which vehicle."""

    model_config = ConfigDict(extra="forbid")

    zone_id: Annotated[str, Field(min_length=1, max_length=64, examples=["HH-ABC-1"])]
    start: AwareDatetime | Literal["now"] = "now"
    end: AwareDatetime | None = None
    duration_min: Annotated[int | None, Field(ge=5, le=1440, examples=[30])] = None
    vehicle_id: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    plate: Annotated[str | None, Field(min_length=1, max_length=24, examples=["HH-AB 123"])] = None
    vehicle_length_m: Annotated[float | None, Field(ge=1, le=25)] = None

    def to_domain(self, idempotency_key: str | None) -> BookingRequest:
        """The domain's booking request."""
        return BookingRequest(
            zone_id=self.zone_id,
            start=None if self.start == "now" else self.start,  # type: ignore[arg-type]
            end=self.end,
            duration_min=self.duration_min,
            vehicle_id=self.vehicle_id,
            plate=self.plate,
            vehicle_length_m=self.vehicle_length_m,
            idempotency_key=idempotency_key,
        )


class ExtendIn(BaseModel):
    """How many minutes to add to the end."""

    model_config = ConfigDict(extra="forbid")

    minutes: Annotated[int, Field(ge=5, le=1440, examples=[15])]


class ReservationOut(BaseModel):
    """A reservation as its driver, fleet manager or an operator sees it."""

    id: str
    code: str
    status: str
    source: str
    zone_id: str
    zone_name: str
    bay_id: int
    bay_label: str
    plate: str
    vehicle_id: int | None
    start: datetime
    end: datetime
    created_at: datetime
    activated_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    no_show_at: datetime | None
    overstay_at: datetime | None

    @classmethod
    def of(cls, r: Reservation, *, zone_name: str, bay_label: str) -> ReservationOut:
        return cls(
            **r.model_dump(exclude={"start_at", "end_at"}),
            start=r.start_at,
            end=r.end_at,
            zone_name=zone_name,
            bay_label=bay_label,
        )


class BusyOut(BaseModel):
    """A period a bay is taken: reserved or closed."""

    start: datetime
    end: datetime
    kind: str


class BayAvailabilityOut(BaseModel):
    """A bay and its busy periods in the window."""

    bay_id: int
    label: str
    busy: list[BusyOut]


class SlotOut(BaseModel):
    """Bays free for a whole 5-minute slot."""

    start: datetime
    free: int


class AvailabilityOut(BaseModel):
    """A zone's availability over a window."""

    zone_id: str
    start: datetime
    end: datetime
    free_bays: int
    bays: list[BayAvailabilityOut]
    slots: list[SlotOut]

    @classmethod
    def of(cls, window: ZoneWindow) -> AvailabilityOut:
        return cls(
            zone_id=window.zone.id,
            start=window.start,
            end=window.end,
            free_bays=len(window.free_bays()),
            bays=[
                BayAvailabilityOut(
                    bay_id=w.bay.id or 0,
                    label=w.bay.label,
                    busy=[BusyOut(start=b.start, end=b.end, kind=b.kind) for b in w.busy],
                )
                for w in window.bays
            ],
            slots=[SlotOut(start=s, free=n) for s, n in window.slots()],
        )


class ClosureIn(BaseModel):
    """A closure of a whole zone, or of the bays named."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[str, Field(min_length=1, max_length=300, examples=["Roadworks"])]
    bays: Annotated[list[Annotated[str, Field(max_length=32)]] | None, Field(max_length=500)] = None


class ClosureOut(BaseModel):
    """A closure, with how many bookings it cancelled (or would, on a dry run)."""

    id: int | None
    zone_id: str
    start: datetime
    end: datetime
    reason: str
    bay_ids: list[int] | None
    cancelled: int
    dry_run: bool = False

    @classmethod
    def of(cls, closure: Closure, *, cancelled: int, dry_run: bool = False) -> ClosureOut:
        return cls(
            id=closure.id,
            zone_id=closure.zone_id,
            start=closure.start_at,
            end=closure.end_at,
            reason=closure.reason,
            bay_ids=closure.bay_ids,
            cancelled=cancelled,
            dry_run=dry_run,
        )


class CheckOut(BaseModel):
    """An officer's answer for a plate: valid, expired or none."""

    result: Literal["valid", "expired", "none"]
    plate: str
    zone_id: str
    code: str | None = None
    bay: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(cls, verdict: Verdict) -> CheckOut:
        r = verdict.reservation
        return cls(
            result=verdict.result,  # type: ignore[arg-type]
            plate=verdict.plate,
            zone_id=verdict.zone_id,
            code=r.code if r else None,
            bay=verdict.bay_label,
            status=r.status if r else None,
            start=r.start_at if r else None,
            end=r.end_at if r else None,
        )


class NotificationOut(BaseModel):
    """A message to the logged-in account."""

    id: int
    kind: str
    message: str
    reservation_id: str | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls.model_validate(n, from_attributes=True)

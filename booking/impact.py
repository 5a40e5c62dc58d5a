"""What bookable bays are estimated to save: double parking, cruising kilometres and CO2.

An estimate, not a measurement: every figure is a count of used bookings times an
assumption, and the assumptions travel with the result so nobody mistakes one for the
other. They are settings (`KERBSIDE_IMPACT_*`), so a city can put in its own survey values.

- avoided double-parking events = used bookings x `double_parking_share`
- cruising km avoided = used bookings x `cruising_km_per_booking`
- CO2 avoided (kg) = cruising km avoided x `co2_g_per_km` / 1000

A used booking is one that reached `active` (the driver arrived) and whose start lies in
the window: a booking nobody used avoided nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BASIS = "bookings that started in the window and were used (the driver arrived)"


class ImpactAssumptions(BaseSettings):
    """The assumptions behind the impact estimate, read from `KERBSIDE_IMPACT_*` variables."""

    model_config = SettingsConfigDict(env_prefix="KERBSIDE_IMPACT_", extra="ignore")

    # Share of deliveries that double-park (or park on the footway) when no bay can be
    # booked; surveys of inner-city deliveries find one in two or more.
    double_parking_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Kilometres a van circles looking for a kerb space when it cannot book one.
    cruising_km_per_booking: Annotated[float, Field(ge=0, le=100)] = 0.5
    # Tailpipe CO2 of a diesel delivery van in stop-and-go city traffic.
    co2_g_per_km: Annotated[float, Field(ge=0, le=5000)] = 250.0

    def stated(self) -> dict[str, Any]:
        """The assumptions as they appear in a result, with what they are applied to."""
        return {
            "double_parking_share": self.double_parking_share,
            "cruising_km_per_booking": self.cruising_km_per_booking,
            "co2_g_per_km": self.co2_g_per_km,
            "basis": BASIS,
        }


@dataclass(frozen=True)
class Impact:
    """The estimate for one window, with the assumptions it rests on."""

    assumptions: dict[str, Any]
    bookings_used: int
    avoided_double_parking: float
    cruising_km_avoided: float
    co2_kg_avoided: float

    def as_dict(self) -> dict[str, Any]:
        """The estimate as plain JSON-ready values."""
        return {
            "assumptions": self.assumptions,
            "bookings_used": self.bookings_used,
            "avoided_double_parking": self.avoided_double_parking,
            "cruising_km_avoided": self.cruising_km_avoided,
            "co2_kg_avoided": self.co2_kg_avoided,
        }


def estimate(*, bookings_used: int, assumptions: ImpactAssumptions) -> Impact:
    """Scale the used bookings by the assumptions."""
    km = bookings_used * assumptions.cruising_km_per_booking
    return Impact(
        assumptions=assumptions.stated(),
        bookings_used=bookings_used,
        avoided_double_parking=round(bookings_used * assumptions.double_parking_share, 1),
        cruising_km_avoided=round(km, 2),
        co2_kg_avoided=round(km * assumptions.co2_g_per_km / 1000, 2),
    )

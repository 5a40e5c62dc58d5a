"""Demo data: Hamburg's four SMALA launch zones, and synthetic cities for benchmarks."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlmodel import Session, select

from booking import zones
from booking.tables import Zone
from booking.zone_specs import BaySpec, ZoneSpec

# Two bays of about 12 m each along the kerb, where SMALA signed its first bookable zones.
SMALA_ZONES: tuple[ZoneSpec, ...] = (
    ZoneSpec(
        id="HH-ABC-1",
        name="ABC-Straße",
        address="ABC-Straße 46, 20354 Hamburg",
        district="Neustadt",
        geometry={"type": "LineString", "coordinates": [[9.98582, 53.55505], [9.98570, 53.55483]]},
        bays=[
            BaySpec(label="1", sensor_id="smala-abc-1"),
            BaySpec(label="2", sensor_id="smala-abc-2"),
        ],
    ),
    ZoneSpec(
        id="HH-ALS-1",
        name="Alter Steinweg",
        address="Alter Steinweg 10, 20459 Hamburg",
        district="Neustadt",
        geometry={"type": "LineString", "coordinates": [[9.98104, 53.55139], [9.98140, 53.55150]]},
        bays=[
            BaySpec(label="1", sensor_id="smala-als-1"),
            BaySpec(label="2", sensor_id="smala-als-2"),
        ],
    ),
    ZoneSpec(
        id="HH-HER-1",
        name="Hermannstraße",
        address="Hermannstraße 13, 20095 Hamburg",
        district="Altstadt",
        geometry={"type": "LineString", "coordinates": [[9.99783, 53.55166], [9.99820, 53.55180]]},
        bays=[
            BaySpec(label="1", sensor_id="smala-her-1"),
            BaySpec(label="2", sensor_id="smala-her-2"),
        ],
    ),
    ZoneSpec(
        id="HH-LRE-1",
        name="Lange Reihe",
        address="Lange Reihe 50, 20099 Hamburg",
        district="St. Georg",
        geometry={
            "type": "LineString",
            "coordinates": [[10.01322, 53.55720], [10.01352, 53.55736]],
        },
        bays=[
            BaySpec(label="1", sensor_id="smala-lre-1"),
            BaySpec(label="2", sensor_id="smala-lre-2"),
        ],
    ),
)

HAMBURG_BBOX = (9.85, 53.45, 10.15, 53.65)
_HOURS = ("Mo-Fr 08:00-19:00", "Mo-Sa 07:00-19:00", "Mo-Fr 06:00-11:00; Sa 07:00-12:00", "24/7")


def generate(
    count: int, *, bbox: Sequence[float] = HAMBURG_BBOX, seed: int = 1, prefix: str = "SYN"
) -> Iterator[ZoneSpec]:
    """Synthetic zones: short kerb segments scattered over the box, 1-6 bays each."""
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = bbox
    width = len(str(count))
    for n in range(count):
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        bays = rng.choice((1, 2, 2, 2, 3, 4, 6))
        length_m = bays * 12.0
        heading = rng.uniform(0, math.pi)
        dlon = length_m * math.cos(heading) / (111_320 * math.cos(math.radians(lat)))
        dlat = length_m * math.sin(heading) / 111_320
        yield ZoneSpec(
            id=f"{prefix}-{n + 1:0{width}d}",
            name=f"Loading zone {n + 1}",
            address=f"Synthetic Street {n + 1}",
            district="Synthetic",
            geometry={
                "type": "LineString",
                "coordinates": [
                    [round(lon, 7), round(lat, 7)],
                    [round(lon + dlon, 7), round(lat + dlat, 7)],
                ],
            },
            bays=bays,
            loading_hours=rng.choice(_HOURS),
            max_stay_min=rng.choice((30, 60, 60, 90)),
        )


def load_smala(*, session: Session, now: datetime, default_tz: str) -> int:
    """Load the SMALA zones into an empty inventory; returns how many were created."""
    if session.exec(select(Zone.id).limit(1)).first() is not None:
        return 0
    return zones.upsert_many(
        session=session, specs=SMALA_ZONES, now=now, default_tz=default_tz
    ).created

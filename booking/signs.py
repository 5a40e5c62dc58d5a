"""The text on a zone's matrix sign: per bay free, occupied, or reserved with time and code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from booking import availability, hours, occupancy
from booking.policy import Policy
from booking.tables import Zone
from booking.tables.sensors import OCCUPIED


@dataclass(frozen=True)
class SignLine:
    """One bay's line on the sign."""

    bay: str
    state: str  # free, occupied, reserved, closed
    text: str
    code: str | None = None


@dataclass(frozen=True)
class Sign:
    """A zone's sign; `text` is what the matrix shows, one bay per line."""

    zone_id: str
    lines: tuple[SignLine, ...]

    @property
    def text(self) -> str:
        """The sign as plain text."""
        return "\n".join(line.text for line in self.lines)


def signs_for(
    *, session: Session, zones: Sequence[Zone], now: datetime, policy: Policy
) -> dict[str, Sign]:
    """Each zone's sign as of now: the booking that holds a bay now or within the early window."""
    if not zones:
        return {}
    windows = availability.windows(
        session=session, zones=zones, start=now, end=now + policy.early_arrival
    )
    states = occupancy.states_of(session=session, zone_ids=[z.id for z in zones])
    codes = {
        r.id: r
        for r in availability.live_reservations(
            session=session,
            zone_ids=[z.id for z in zones],
            start=now,
            end=now + policy.early_arrival,
        )
    }
    by_bay_period = {(r.bay_id, r.start_at, r.end_at): r for r in codes.values()}
    signs = {}
    for zone in zones:
        tz = hours.zone_info(zone.timezone)
        lines = []
        for bay_window in windows[zone.id].bays:
            bay = bay_window.bay
            label = f"Bay {bay.label}"
            busy = bay_window.busy[0] if bay_window.busy else None
            if busy is not None and busy.kind == "closed":
                lines.append(SignLine(bay.label, "closed", f"{label}: CLOSED"))
            elif busy is not None:
                r = by_bay_period.get((bay.id or 0, busy.start, busy.end))
                span = f"{busy.start.astimezone(tz):%H:%M}-{busy.end.astimezone(tz):%H:%M}"
                code = r.code if r else None
                lines.append(
                    SignLine(
                        bay.label,
                        "reserved",
                        f"{label}: RESERVED {span} {code or ''}".rstrip(),
                        code,
                    )
                )
            elif getattr(states.get(bay.id or 0), "state", None) == OCCUPIED:
                lines.append(SignLine(bay.label, "occupied", f"{label}: OCCUPIED"))
            else:
                lines.append(SignLine(bay.label, "free", f"{label}: FREE"))
        signs[zone.id] = Sign(zone.id, tuple(lines))
    return signs

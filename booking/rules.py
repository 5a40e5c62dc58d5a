"""The booking rules of a zone, each with a name a driver's app can show and search for."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking import hours
from booking.errors import RuleViolation
from booking.policy import Policy
from booking.tables import Account, Zone


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def check_zone_bookable(zone: Zone) -> None:
    """A retired zone takes no bookings."""
    if zone.status != "active":
        raise RuleViolation("zone_retired", f"{zone.name} is no longer a loading zone.")


def check_user_class(zone: Zone, account: Account) -> None:
    """The account's user class must be allowed in the zone."""
    if account.user_class not in zone.user_classes:
        allowed = ", ".join(zone.user_classes)
        raise RuleViolation(
            "user_class",
            f"{zone.name} is reserved for {allowed}; your account is {account.user_class}.",
        )


def check_vehicle_length(zone: Zone, length_m: float) -> None:
    """The vehicle must fit the zone's bays."""
    if length_m > zone.max_vehicle_length_m:
        raise RuleViolation(
            "vehicle_length",
            f"Your vehicle is {length_m:g} m long; {zone.name} takes vehicles up to "
            f"{zone.max_vehicle_length_m:g} m.",
        )


def check_period(
    zone: Zone,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    policy: Policy,
    on_arrival: bool,
    check_start: bool = True,
) -> None:
    """Period rules: order, not in the past, 5-minute marks, stay limits, horizon, loading hours."""
    if end <= start:
        raise RuleViolation("period", "The booking must end after it starts.")
    if check_start and start < now - policy.clock_skew:
        raise RuleViolation("start_in_past", "That start time has passed; book from now on.")
    step = policy.granularity_min
    duration = end - start
    if on_arrival:
        if duration % timedelta(minutes=step):
            raise RuleViolation(
                "granularity", f"Book in steps of {step} minutes, e.g. 15, 20 or 30 minutes."
            )
    elif not (_on_mark(start, step) and _on_mark(end, step)):
        raise RuleViolation(
            "granularity", f"Bookings start and end on {step}-minute marks, such as 10:05 or 10:10."
        )
    minutes = duration / timedelta(minutes=1)
    if minutes < zone.min_stay_min:
        raise RuleViolation(
            "min_stay", f"Book at least {zone.min_stay_min} minutes in {zone.name}."
        )
    if minutes > zone.max_stay_min:
        raise RuleViolation(
            "max_stay", f"{zone.name} allows at most {zone.max_stay_min} minutes per booking."
        )
    if check_start and start > now + timedelta(hours=zone.horizon_h):
        raise RuleViolation(
            "horizon", f"{zone.name} can be booked at most {zone.horizon_h} hours ahead."
        )
    check_loading_hours(zone, start, end)


def check_loading_hours(zone: Zone, start: datetime, end: datetime) -> None:
    """The whole booking must lie inside one loading window, in the zone's local time."""
    tz = hours.zone_info(zone.timezone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    window_end = hours.LoadingHours.parse(zone.loading_hours).window_end(local_start)
    if window_end is None:
        raise RuleViolation(
            "loading_hours",
            f"{zone.name} is not a loading zone at {_hhmm(local_start)} on that day; "
            f"loading hours are {zone.loading_hours}.",
        )
    if local_end.replace(tzinfo=None) > window_end.replace(tzinfo=None):
        raise RuleViolation(
            "loading_hours",
            f"Loading hours in {zone.name} end at {_hhmm(window_end)}; "
            f"the booking must end by then.",
        )


def _on_mark(moment: datetime, step: int) -> bool:
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % step == 0

from datetime import datetime

import pytest

from booking.hours import HoursError, LoadingHours, zone_info


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_smala_hours_are_open_on_a_weekday_morning() -> None:
    hours = LoadingHours.parse("Mo-Fr 08:00-19:00")
    assert hours.is_open(local("2026-12-01T08:00"))
    assert not hours.is_open(local("2026-12-01T07:59"))
    assert not hours.is_open(local("2026-12-01T19:00"))


def test_weekend_is_closed_unless_listed() -> None:
    hours = LoadingHours.parse("Mo-Fr 08:00-19:00; Sa 08:00-14:00")
    assert hours.is_open(local("2026-12-05T13:59"))  # Saturday
    assert not hours.is_open(local("2026-12-05T14:00"))
    assert not hours.is_open(local("2026-12-06T10:00"))  # Sunday


def test_day_lists_and_wrapping_ranges() -> None:
    assert LoadingHours.parse("Mo,We 06:00-10:00").is_open(local("2026-12-02T06:30"))
    wrapping = LoadingHours.parse("Sa-Mo 06:00-10:00")
    assert wrapping.is_open(local("2026-12-07T07:00"))  # Monday
    assert not wrapping.is_open(local("2026-12-02T07:00"))  # Wednesday


def test_window_end_is_the_close_of_the_current_window() -> None:
    hours = LoadingHours.parse("Mo-Fr 08:00-12:00; Mo-Fr 14:00-19:00")
    assert hours.window_end(local("2026-12-01T11:00")) == local("2026-12-01T12:00")
    assert hours.window_end(local("2026-12-01T13:00")) is None


def test_always_open() -> None:
    hours = LoadingHours.parse("24/7")
    assert hours.is_open(local("2026-12-06T23:59"))
    # Open around the clock: the window runs on through the week, not to midnight.
    assert hours.window_end(local("2026-12-06T23:59")) >= local("2026-12-13T00:00")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mo-Fr",
        "Mo-Fr 8-19",
        "Xx 08:00-19:00",
        "Mo 19:00-08:00",
        "Mo 08:00-25:00",
        "Mo 08:61-09:00",
    ],
)
def test_unreadable_hours_are_refused(text: str) -> None:
    with pytest.raises(HoursError):
        LoadingHours.parse(text)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(HoursError, match="not a known time zone"):
        zone_info("Mars/Olympus")


def test_round_the_clock_windows_run_on_past_midnight() -> None:
    assert LoadingHours.parse("24/7").window_end(local("2026-12-01T23:50")) > local(
        "2026-12-02T00:05"
    )
    evening_and_morning = LoadingHours.parse("Mo 18:00-24:00; Tu 00:00-06:00")
    assert evening_and_morning.window_end(local("2026-11-30T23:00")) == local("2026-12-01T06:00")
    assert LoadingHours.parse("Mo 18:00-24:00").window_end(local("2026-11-30T23:00")) == local(
        "2026-12-01T00:00"
    )

"""Statistics on a generated history whose every figure is worked out by hand, on both backends.

The history (Z-1, two bays, loading hours Mo-Fr 08:00-19:00 Berlin, Tuesday 2026-12-01;
times below are local, UTC+1):

bay 1  10:00-10:10 unreserved                         10 min in hours, session
       11:00-11:30 booking R1 11:00-11:30 (advance)   30 min reserved, session
       15:05-15:25 booking R5 cancelled               20 min unreserved, session
       18:30-19:30 booking R2 18:30-19:00, overstayed,
                   checked out 19:30 (on arrival)     30 min in hours, reserved, session of 60
       booking R6 13:00-13:30 no-show (operator)
bay 2  Monday 18:00 - 08:20 unreserved                20 min in hours, started before: no session
       09:00-09:05 booking R3 08:55-09:25 (on arrival) 5 min reserved, session
       12:10-12:20 while R4 12:00-12:30 is a no-show  10 min unreserved, session
       14:00 - sensor lost 14:40 - back free 15:00    40 min unreserved, no session
       18:50-20:10 unreserved                         10 min in hours, session of 80
       20:30 - Wednesday 07:30                        outside loading hours: nothing

Occupied 175 min of 2 x 11 h = 1320 min (13.26 %); reserved 65 min (37.14 %), unreserved
110 min (62.86 %); sessions 5, 10, 10, 20, 30, 60, 80 min: 7 in 2 bay-days (3.5), mean
30.71, median 20, 3 under 15 min (42.86 %); bookings R1 R2 R3 R4 R6 (R5 cancelled):
2 no-shows (40 %), 3 used, 1 overstay (33.33 %), 2 advance, 2 on arrival, 1 operator.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from booking import statistics, zones
from booking.errors import NotFound, RuleViolation
from booking.impact import ImpactAssumptions
from booking.tables import Account, Bay, OccupancyEvent, Reservation
from tests.factories import make_account, make_zone

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
DAY_START = datetime(2026, 12, 1, tzinfo=BERLIN)
DAY_END = datetime(2026, 12, 2, tzinfo=BERLIN)


def local(hour: int, minute: int = 0, day: int = 1) -> datetime:
    """A Berlin wall-clock time in December 2026 (UTC+1)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)


def park(session: Session, bay: Bay, start: datetime, end: datetime | None) -> None:
    """A vehicle on the bay from start to end (None: still there)."""
    log(session, bay, "park_start", start)
    if end is not None:
        log(session, bay, "park_end", end)


def log(session: Session, bay: Bay, kind: str, at: datetime) -> None:
    session.add(
        OccupancyEvent(
            bay_id=bay.id, zone_id=bay.zone_id, sensor_id=bay.sensor_id, kind=kind, at=at,
            received_at=at,
        )
    )  # fmt: skip


def book(
    session: Session,
    account: Account,
    bay: Bay,
    start: datetime,
    end: datetime,
    *,
    status: str = "completed",
    source: str = "advance",
    activated: datetime | None = None,
    completed: datetime | None = None,
    overstay: datetime | None = None,
) -> None:
    session.add(
        Reservation(
            id=str(uuid.uuid4()), code=uuid.uuid4().hex[:6].upper(), account_id=account.id,
            plate="HH-AB123", zone_id=bay.zone_id, bay_id=bay.id, start_at=start, end_at=end,
            status=status, source=source, created_at=start - timedelta(hours=1),
            activated_at=activated, completed_at=completed, overstay_at=overstay,
            no_show_at=end if status == "no_show" else None,
            cancelled_at=start if status == "cancelled" else None,
        )
    )  # fmt: skip


@pytest.fixture
def tuesday(session: Session) -> Session:
    """The history of the module docstring, committed."""
    make_zone(session, "Z-1", bays=2, sensors=True)
    account = make_account(session)
    bay1, bay2 = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay1, local(10), local(10, 10))
    park(session, bay1, local(11), local(11, 30))
    book(session, account, bay1, local(11), local(11, 30), activated=local(11),
         completed=local(11, 30))  # fmt: skip
    park(session, bay1, local(15, 5), local(15, 25))
    book(session, account, bay1, local(15), local(15, 30), status="cancelled")
    park(session, bay1, local(18, 30), local(19, 30))
    book(session, account, bay1, local(18, 30), local(19), source="on_arrival",
         activated=local(18, 30), overstay=local(19), completed=local(19, 30))  # fmt: skip
    book(session, account, bay1, local(13), local(13, 30), status="no_show", source="operator")
    park(session, bay2, datetime(2026, 11, 30, 18, tzinfo=BERLIN), local(8, 20))
    park(session, bay2, local(9), local(9, 5))
    book(session, account, bay2, local(8, 55), local(9, 25), source="on_arrival",
         activated=local(9), completed=local(9, 5))  # fmt: skip
    park(session, bay2, local(12, 10), local(12, 20))
    book(session, account, bay2, local(12), local(12, 30), status="no_show")
    log(session, bay2, "park_start", local(14))
    log(session, bay2, "comms_lost", local(14, 40))
    log(session, bay2, "comms_restored", local(15))
    log(session, bay2, "park_end", local(15))
    park(session, bay2, local(18, 50), local(20, 10))
    park(session, bay2, local(20, 30), local(7, 30, day=2))
    session.commit()
    return session


def test_totals_of_a_known_tuesday(tuesday: Session) -> None:
    found = statistics.compute(session=tuesday, now=NOW, start=DAY_START, end=DAY_END)
    assert found.totals.as_dict() == {
        "bays": 2,
        "available_hours": 22.0,
        "occupied_hours": round(175 / 60, 3),
        "occupancy_pct": 13.26,
        "reserved_share_pct": 37.14,
        "unreserved_share_pct": 62.86,
        "sessions": 7,
        "turnover_per_bay_day": 3.5,
        "mean_dwell_min": 30.71,
        "median_dwell_min": 20.0,
        "short_stay_share_pct": 42.86,
        "bookings": 5,
        "cancelled": 1,
        "no_shows": 2,
        "no_show_rate_pct": 40.0,
        "used": 3,
        "overstays": 1,
        "overstay_rate_pct": 33.33,
        "advance": 2,
        "on_arrival": 2,
        "operator": 1,
        "advance_share_pct": 40.0,
        "on_arrival_share_pct": 40.0,
        "operator_share_pct": 20.0,
    }


def test_heatmap_is_occupancy_by_local_weekday_and_hour(tuesday: Session) -> None:
    found = statistics.compute(session=tuesday, now=NOW, start=DAY_START, end=DAY_END)
    closed: list[float | None] = [None] * 24
    open_hours = [16.67, 4.17, 8.33, 25.0, 8.33, 0.0, 33.33, 16.67, 0.0, 0.0, 33.33]
    assert found.heatmap == [closed, [*closed[:8], *open_hours, *closed[19:]], *[closed] * 5]


def test_groups_by_utc_hour_split_occupancy_where_it_falls(tuesday: Session) -> None:
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, group_by="hour"
    )
    assert [g.key for g in found.groups][:2] == [
        "2026-11-30T23:00:00+00:00",
        "2026-12-01T00:00:00+00:00",
    ]
    assert len(found.groups) == 24
    by_key = {g.key: g.metrics for g in found.groups}
    eight = by_key["2026-12-01T07:00:00+00:00"]  # 08:00 in Berlin: the overnight car's tail
    assert (eight.occupancy_pct, eight.sessions, eight.unreserved_share_pct) == (16.67, 0, 100.0)
    six_pm = by_key["2026-12-01T17:00:00+00:00"]  # C (reserved 30 min) and F (10 min)
    assert (six_pm.occupied_hours, six_pm.reserved_share_pct, six_pm.sessions) == (
        round(40 / 60, 3), 75.0, 2,
    )  # fmt: skip
    assert (six_pm.mean_dwell_min, six_pm.turnover_per_bay_day) == (70.0, 11.0)
    twelve = by_key["2026-12-01T11:00:00+00:00"]  # R4 starts and is a no-show
    assert (twelve.bookings, twelve.no_shows, twelve.no_show_rate_pct) == (1, 1, 100.0)
    night = by_key["2026-12-01T20:00:00+00:00"]
    assert (night.available_hours, night.occupancy_pct, night.sessions) == (0.0, None, 0)


def test_group_by_day_is_the_local_calendar_day(tuesday: Session) -> None:
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, group_by="day"
    )
    assert [g.key for g in found.groups] == ["2026-12-01"]
    assert found.groups[0].metrics == found.totals


def test_a_session_past_the_window_counts_whole_but_occupies_only_inside(session: Session) -> None:
    make_zone(session, "Z-1", bays=1, sensors=True)
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay, local(11, 50), local(12, 20))
    session.commit()
    found = statistics.compute(session=session, now=NOW, start=local(11), end=local(12))
    assert (found.totals.occupied_hours, found.totals.sessions) == (round(10 / 60, 3), 1)
    assert (found.totals.mean_dwell_min, found.totals.turnover_per_bay_day) == (30.0, 11.0)


def test_a_vehicle_still_parked_occupies_until_to_and_is_no_session(session: Session) -> None:
    make_zone(session, "Z-1", bays=1, sensors=True)
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay, local(10), None)
    session.commit()
    found = statistics.compute(session=session, now=local(10, 30), start=local(9))
    assert found.end == local(10, 30)
    assert (found.totals.occupancy_pct, found.totals.sessions) == (33.33, 0)


def test_zones_are_ranked_by_occupancy(tuesday: Session) -> None:
    make_zone(tuesday, "Z-0", bays=1, sensors=True, lon=9.99)
    make_zone(tuesday, "Z-9", bays=1, sensors=False, lon=9.98)
    (bay,) = zones.bays_of(session=tuesday, zone_id="Z-0")
    park(tuesday, bay, local(9), local(10, 6))
    tuesday.commit()
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, group_by="zone"
    )
    ranking = [(g.key, g.name, g.metrics.bays, g.metrics.occupancy_pct) for g in found.groups]
    assert ranking == [
        ("Z-1", "Zone Z-1", 2, 13.26),
        ("Z-0", "Zone Z-0", 1, 10.0),
        ("Z-9", "Zone Z-9", 0, None),
    ]
    assert found.totals.occupancy_pct == round(100 * (175 + 66) / (3 * 660), 2)


def test_one_zone_only(tuesday: Session) -> None:
    make_zone(tuesday, "Z-0", bays=1, sensors=True, lon=9.99)
    (bay,) = zones.bays_of(session=tuesday, zone_id="Z-0")
    park(tuesday, bay, local(9), local(10, 6))
    tuesday.commit()
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, zone_id="Z-0"
    )
    assert (found.totals.bays, found.totals.occupancy_pct, found.totals.bookings) == (1, 10.0, 0)


def test_impact_scales_used_bookings_by_stated_assumptions(tuesday: Session) -> None:
    assumptions = ImpactAssumptions(
        double_parking_share=0.6, cruising_km_per_booking=0.8, co2_g_per_km=200
    )
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, assumptions=assumptions
    )
    assert found.impact.as_dict() == {
        "assumptions": {
            "double_parking_share": 0.6,
            "cruising_km_per_booking": 0.8,
            "co2_g_per_km": 200.0,
            "basis": "bookings that started in the window and were used (the driver arrived)",
        },
        "bookings_used": 3,
        "avoided_double_parking": 1.8,
        "cruising_km_avoided": 2.4,
        "co2_kg_avoided": 0.48,
    }


def test_impact_assumptions_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERBSIDE_IMPACT_CO2_G_PER_KM", "180")
    assert ImpactAssumptions().co2_g_per_km == 180.0


def test_csv_has_a_total_row_then_the_groups(tuesday: Session) -> None:
    found = statistics.compute(
        session=tuesday, now=NOW, start=DAY_START, end=DAY_END, group_by="zone"
    )
    rows = list(csv.DictReader(io.StringIO(statistics.to_csv(found))))
    assert [(r["key"], r["name"]) for r in rows] == [("total", ""), ("Z-1", "Zone Z-1")]
    assert (rows[0]["occupancy_pct"], rows[1]["median_dwell_min"]) == ("13.26", "20.0")
    assert list(rows[0])[:3] == ["key", "name", "occupancy_pct"]


def test_loading_time_follows_the_clock_change(session: Session) -> None:
    # 25 October 2026: Berlin's clocks go back, so a 24/7 day has 25 hours and is one day.
    make_zone(session, "Z-1", bays=1, sensors=True, hours="24/7")
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    # 01:00-02:00 UTC is the second 02:00-03:00 in Berlin.
    park(session, bay, datetime(2026, 10, 25, 1, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC))
    session.commit()
    start, end = datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
    found = statistics.compute(session=session, now=NOW, start=start, end=end, group_by="day")
    assert [g.key for g in found.groups] == ["2026-10-25"]
    assert (found.totals.available_hours, found.totals.turnover_per_bay_day) == (25.0, 1.0)
    # Both 02:00s in Berlin land in the Sunday 02:00 cell: one occupied hour out of two.
    assert found.heatmap[6][2] == 50.0


def test_window_defaults_to_the_last_seven_days() -> None:
    start, end = statistics.window(None, None, now=NOW)
    assert (start, end) == (NOW - timedelta(days=7), NOW)


def test_window_is_capped_at_now() -> None:
    assert statistics.window(None, NOW + timedelta(days=1), now=NOW)[1] == NOW


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOW - timedelta(days=93), NOW),
        (NOW, NOW - timedelta(hours=1)),
        (datetime(2026, 12, 1), NOW),
    ],
    ids=["longer than 92 days", "empty", "without offset"],
)
def test_refuses_a_window_it_cannot_answer(start: datetime, end: datetime) -> None:
    with pytest.raises(RuleViolation) as refused:
        statistics.window(start, end, now=NOW)
    assert refused.value.rule == "stats_window"


def test_unknown_zone_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        statistics.compute(session=session, now=NOW, zone_id="nowhere")


def test_unknown_grouping_is_refused(session: Session) -> None:
    with pytest.raises(RuleViolation) as refused:
        statistics.compute(session=session, now=NOW, group_by="week")
    assert refused.value.rule == "stats_group_by"


def test_an_empty_city_has_no_figures(session: Session) -> None:
    found = statistics.compute(session=session, now=NOW, group_by="zone")
    assert (found.totals.bays, found.totals.occupancy_pct, found.groups) == (0, None, [])


def test_a_booking_covers_its_early_arrival(session: Session) -> None:
    make_zone(session, "Z-1", bays=1, sensors=True)
    account = make_account(session)
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay, local(9, 50), local(10, 20))
    book(session, account, bay, local(10), local(10, 30), activated=local(9, 50),
         completed=local(10, 20))  # fmt: skip
    session.commit()
    found = statistics.compute(session=session, now=NOW, start=DAY_START, end=DAY_END)
    assert (found.totals.reserved_share_pct, found.totals.unreserved_share_pct) == (100.0, 0.0)


def test_an_overstay_still_going_covers_to_the_end_of_the_window(session: Session) -> None:
    make_zone(session, "Z-1", bays=1, sensors=True)
    account = make_account(session)
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay, local(10), None)
    book(session, account, bay, local(10), local(10, 30), status="overstay",
         activated=local(10), overstay=local(10, 30))  # fmt: skip
    session.commit()
    found = statistics.compute(session=session, now=local(11), start=local(9))
    assert (found.totals.occupied_hours, found.totals.reserved_share_pct) == (1.0, 100.0)
    assert (found.totals.used, found.totals.overstays, found.totals.sessions) == (1, 1, 0)


def test_bays_without_a_sensor_count_for_bookings_not_occupancy(session: Session) -> None:
    make_zone(session, "Z-1", bays=1, sensors=False)
    account = make_account(session)
    (bay,) = zones.bays_of(session=session, zone_id="Z-1")
    park(session, bay, local(10), local(10, 30))
    book(session, account, bay, local(10), local(10, 30), source="on_arrival",
         activated=local(10), completed=local(10, 30))  # fmt: skip
    session.commit()
    found = statistics.compute(session=session, now=NOW, start=DAY_START, end=DAY_END)
    assert (found.totals.bays, found.totals.occupancy_pct, found.totals.sessions) == (0, None, 0)
    assert (found.totals.bookings, found.totals.on_arrival_share_pct) == (1, 100.0)

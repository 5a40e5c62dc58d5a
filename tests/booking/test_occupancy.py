"""Sensor readings against bookings: arrivals, moves, strangers, departures, silence."""

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from booking import notifications, occupancy, reconcile, reservations, signs, violations
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import Account, BayState, OccupancyEvent, Reservation, Sensor, Violation, Zone
from tests.factories import T0, make_account, make_zone

POLICY = Policy()
START = T0 + timedelta(hours=1)


@pytest.fixture
def zone(session: Session) -> Zone:
    zone = make_zone(session, "Z-1", bays=2, sensors=True)
    from booking import sensor_registry

    sensor_registry.resolve(session=session, devices=["Z-1-s1", "Z-1-s2"], now=T0)
    return zone


@pytest.fixture
def driver(session: Session, zone: Zone) -> Account:
    return make_account(session)


def reading(
    sensor: str, at: datetime, occupied: bool | None = True, **kw: object
) -> OccupancyReading:
    return OccupancyReading(sensor_id=sensor, at=at, occupied=occupied, **kw)  # type: ignore[arg-type]


def apply(
    session: Session, *readings: OccupancyReading, now: datetime | None = None
) -> occupancy.ApplyResult:
    return occupancy.apply(
        session=session, readings=list(readings), now=now or readings[-1].at, policy=POLICY
    )


def book(
    session: Session, account: Account, *, plate: str = "HH A 1", start: datetime = START
) -> Reservation:
    request = BookingRequest(zone_id="Z-1", start=start, duration_min=30, plate=plate)
    return reservations.book(
        session=session, request=request, account=account, now=T0, policy=POLICY
    ).reservation


def state(session: Session, bay_id: int) -> str:
    found = session.get(BayState, bay_id)
    return found.state if found else "none"


def open_kinds(session: Session) -> list[str]:
    return sorted(
        v.kind for v in session.exec(select(Violation).where(Violation.status != "resolved"))
    )


def test_readings_set_the_live_state_and_log_changes(session: Session, zone: Zone) -> None:
    result = apply(
        session, reading("Z-1-s1", T0), reading("Z-1-s1", T0 + timedelta(minutes=5), False)
    )
    assert (result.applied, result.changes) == (2, 2)
    assert state(session, 1) == "free"
    kinds = [e.kind for e in session.exec(select(OccupancyEvent).order_by(OccupancyEvent.id))]
    assert kinds == ["park_start", "park_end"]


def test_duplicates_and_late_readings_change_nothing_and_are_counted(
    session: Session, zone: Zone
) -> None:
    apply(session, reading("Z-1-s1", T0 + timedelta(minutes=2)))
    result = apply(
        session,
        reading("Z-1-s1", T0 + timedelta(minutes=2), False),  # same timestamp: a duplicate
        reading("Z-1-s1", T0 + timedelta(minutes=1), False),  # older: late
        now=T0 + timedelta(minutes=3),
    )
    assert (result.duplicates, result.late, result.applied) == (1, 1, 0)
    assert state(session, 1) == "occupied"


def test_a_batch_is_applied_in_sensor_time_order(session: Session, zone: Zone) -> None:
    apply(
        session,
        reading("Z-1-s1", T0 + timedelta(minutes=2), False),
        reading("Z-1-s1", T0 + timedelta(minutes=1), True),
    )
    assert state(session, 1) == "free"


def test_arrival_on_the_booked_bay_confirms_the_booking_and_departure_completes_it(
    session: Session, driver: Account
) -> None:
    r = book(session, driver)
    sensor = f"Z-1-s{r.bay_id}"
    apply(session, reading(sensor, START - timedelta(minutes=3)))
    assert r.status == "active" and r.activated_at == START - timedelta(minutes=3)
    apply(session, reading(sensor, START + timedelta(minutes=20), False))
    assert r.status == "completed"


def test_driver_on_the_other_free_bay_is_moved_not_flagged(
    session: Session, driver: Account
) -> None:
    r = book(session, driver)
    other_bay = 2 if r.bay_id == 1 else 1
    apply(session, reading(f"Z-1-s{other_bay}", START))
    assert (r.bay_id, r.status) == (other_bay, "active")
    assert notifications.list_for(session=session, account=driver)[0].kind == "moved"
    reconcile.sweep(session=session, now=START + timedelta(minutes=10), policy=POLICY)
    assert open_kinds(session) == []


def test_a_stranger_becomes_a_violation_after_the_tolerance(session: Session, zone: Zone) -> None:
    apply(session, reading("Z-1-s1", T0))
    reconcile.sweep(session=session, now=T0 + timedelta(minutes=4), policy=POLICY)
    assert open_kinds(session) == []
    result = reconcile.sweep(session=session, now=T0 + timedelta(minutes=5), policy=POLICY)
    assert result.unreserved == 1 and open_kinds(session) == ["unreserved_occupancy"]
    reconcile.sweep(session=session, now=T0 + timedelta(minutes=6), policy=POLICY)
    assert open_kinds(session) == ["unreserved_occupancy"]  # opened once
    apply(session, reading("Z-1-s1", T0 + timedelta(minutes=8), False))
    assert open_kinds(session) == []  # closes by itself when the bay is free


def test_no_violation_outside_loading_hours(session: Session, zone: Zone) -> None:
    evening = T0 + timedelta(hours=10)  # 20:00 Berlin
    apply(session, reading("Z-1-s1", evening))
    reconcile.sweep(session=session, now=evening + timedelta(minutes=30), policy=POLICY)
    assert open_kinds(session) == []


def test_booking_of_a_blocked_bay_moves_to_a_free_one(session: Session, driver: Account) -> None:
    r = book(session, driver, start=T0 + timedelta(minutes=15))
    blocked = r.bay_id
    apply(session, reading(f"Z-1-s{blocked}", T0))
    result = reconcile.sweep(session=session, now=T0 + timedelta(minutes=5), policy=POLICY)
    assert result.displaced == 1 and r.bay_id != blocked
    assert notifications.list_for(session=session, account=driver)[0].kind == "moved"


def test_booking_of_a_blocked_bay_with_no_other_gets_alternatives(
    session: Session, driver: Account
) -> None:
    mine = book(session, driver, start=T0 + timedelta(minutes=15))
    book(session, driver, start=T0 + timedelta(minutes=15), plate="HH B 2")
    apply(session, reading(f"Z-1-s{mine.bay_id}", T0))
    reconcile.sweep(session=session, now=T0 + timedelta(minutes=5), policy=POLICY)
    note = notifications.list_for(session=session, account=driver)[0]
    assert note.kind == "bay_blocked" and "alternatives" in note.data


def test_overstay_opens_and_departure_closes_it(session: Session, driver: Account) -> None:
    from booking import lifecycle

    r = book(session, driver)
    sensor = f"Z-1-s{r.bay_id}"
    apply(session, reading(sensor, START))
    lifecycle.run(session=session, now=START + timedelta(minutes=31), policy=POLICY)
    reconcile.sweep(session=session, now=START + timedelta(minutes=31), policy=POLICY)
    assert r.status == "overstay" and open_kinds(session) == ["overstay"]
    overstay = session.exec(select(Violation)).one()
    assert overstay.plate == "HHA1"
    apply(session, reading(sensor, START + timedelta(minutes=40), False))
    assert r.status == "completed" and open_kinds(session) == []


def test_silent_sensor_makes_the_bay_unknown_until_it_speaks(session: Session, zone: Zone) -> None:
    apply(session, reading("Z-1-s1", T0), now=T0)
    day_later = T0 + timedelta(hours=25, minutes=1)
    result = reconcile.sweep(session=session, now=day_later, policy=POLICY)
    assert result.offline == 2  # s1 fell silent; s2 never spoke since its enrolment at T0
    assert state(session, 1) == "unknown" and "sensor_offline" in open_kinds(session)
    apply(
        session,
        reading("Z-1-s1", day_later + timedelta(minutes=1), False),
        now=day_later + timedelta(minutes=1),
    )
    assert state(session, 1) == "free"
    assert session.get(Sensor, "Z-1-s1").offline is False
    kinds = [e.kind for e in session.exec(select(OccupancyEvent).order_by(OccupancyEvent.id))]
    assert kinds[-2:] == ["comms_restored", "park_end"]


def test_low_battery_opens_once_and_closes_when_replaced(session: Session, zone: Zone) -> None:
    apply(session, reading("Z-1-s1", T0, battery=12.0))
    apply(session, reading("Z-1-s1", T0 + timedelta(minutes=1), battery=11.0))
    assert open_kinds(session) == ["battery_low"]
    apply(session, reading("Z-1-s1", T0 + timedelta(minutes=2), battery=98.0))
    assert open_kinds(session) == []


def test_operators_acknowledge_and_resolve(session: Session, zone: Zone) -> None:
    operator = make_account(session, "op@city.example", role="operator")
    apply(session, reading("Z-1-s1", T0))
    reconcile.sweep(session=session, now=T0 + timedelta(minutes=5), policy=POLICY)
    found = violations.list_(session=session, status="open")
    assert [v.kind for v in found] == ["unreserved_occupancy"]
    violations.acknowledge(session=session, violation_id=found[0].id, operator=operator, now=T0)
    done = violations.resolve(
        session=session, violation_id=found[0].id, operator=operator, now=T0, resolution="fined"
    )
    assert (done.status, done.resolution, done.resolved_by) == ("resolved", "fined", operator.id)


def test_sign_shows_reserved_with_code_occupied_and_free(
    session: Session, driver: Account, zone: Zone
) -> None:
    r = book(session, driver, start=T0 + timedelta(minutes=30))
    other = 2 if r.bay_id == 1 else 1
    apply(session, reading(f"Z-1-s{other}", T0))  # before the booking's early window: a stranger
    sign = signs.signs_for(
        session=session, zones=[zone], now=T0 + timedelta(minutes=20), policy=POLICY
    )
    by_bay = {line.bay: line for line in sign["Z-1"].lines}
    assert by_bay[str(r.bay_id)].text == f"Bay {r.bay_id}: RESERVED 10:30-11:00 {r.code}"
    assert by_bay[str(other)].text == f"Bay {other}: OCCUPIED"
    later = signs.signs_for(
        session=session, zones=[zone], now=T0 + timedelta(hours=2), policy=POLICY
    )["Z-1"]
    assert f"Bay {r.bay_id}: FREE" in later.text


def test_booking_on_arrival_avoids_a_bay_reported_occupied(
    session: Session, driver: Account
) -> None:
    apply(session, reading("Z-1-s1", T0 - timedelta(minutes=1)))
    request = BookingRequest(zone_id="Z-1", start=None, duration_min=15, plate="HH N 1")
    now_booking = reservations.book(
        session=session, request=request, account=driver, now=T0, policy=POLICY
    )
    assert now_booking.reservation.bay_id == 2
    with pytest.raises(Exception, match="taken"):
        reservations.book(
            session=session,
            request=BookingRequest(zone_id="Z-1", start=None, duration_min=15, plate="HH N 2"),
            account=driver,
            now=T0,
            policy=POLICY,
        )


def test_advance_booking_ignores_who_stands_there_now(session: Session, driver: Account) -> None:
    apply(session, reading("Z-1-s1", T0 - timedelta(minutes=1)))
    first = book(session, driver, plate="HH N 1")
    second = book(session, driver, plate="HH N 2")
    assert {first.bay_id, second.bay_id} == {1, 2}  # later, the stranger will be gone or displaced

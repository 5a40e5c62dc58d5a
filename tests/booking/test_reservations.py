from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from booking import reservations
from booking.errors import NotFound, RuleViolation, ZoneFull
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import Account
from tests.factories import T0, make_account, make_zone

POLICY = Policy()
AT_10 = T0  # Tuesday 10:00 in Berlin


def at(hh: int, mm: int = 0, day: int = 1) -> datetime:
    """A time on December `day` 2026, Berlin wall clock (UTC+1)."""
    return datetime(2026, 12, day, hh - 1, mm, tzinfo=UTC)


def book(session: Session, account: Account, **fields: object) -> reservations.Booked:
    fields.setdefault("zone_id", "Z-1")
    fields.setdefault("plate", "HH AB 1")
    fields.setdefault("start", at(11))
    if "end" not in fields:
        fields.setdefault("duration_min", 30)
    request = BookingRequest(**fields)  # type: ignore[arg-type]
    return reservations.book(
        session=session, request=request, account=account, now=AT_10, policy=POLICY
    )


@pytest.fixture
def driver(session: Session) -> Account:
    make_zone(session, "Z-1", bays=2)
    return make_account(session)


def test_a_booking_gets_a_bay_a_code_and_a_history(session: Session, driver: Account) -> None:
    booked = book(session, driver)
    r = booked.reservation
    assert (r.status, r.source, r.start_at, r.end_at) == ("booked", "advance", at(11), at(11, 30))
    assert len(r.code) == 6 and set(r.code) <= set("ACDEFHJKMNPQRTUVWXY34679")
    assert r.plate == "HHAB1" and r.bay_id is not None
    assert not booked.replayed


def test_booking_now_starts_at_now_and_is_on_arrival(session: Session, driver: Account) -> None:
    r = book(session, driver, start=None, duration_min=15).reservation
    assert (r.start_at, r.end_at, r.source) == (AT_10, AT_10 + timedelta(minutes=15), "on_arrival")


def test_two_bays_take_two_bookings_then_the_zone_is_full(
    session: Session, driver: Account
) -> None:
    first = book(session, driver, plate="HH A 1").reservation
    second = book(session, driver, plate="HH A 2").reservation
    assert first.bay_id != second.bay_id
    with pytest.raises(ZoneFull) as caught:
        book(session, driver, plate="HH A 3")
    later = caught.value.alternatives[-1]
    assert later["zone_id"] == "Z-1" and later["start"] == at(11, 30).isoformat()


def test_full_zone_offers_nearby_zones_by_distance(session: Session, driver: Account) -> None:
    make_zone(session, "FAR", lon=9.9957, lat=53.5549)  # ~660 m east
    make_zone(session, "NEAR", lon=9.9877, lat=53.5549)  # ~130 m east
    make_zone(session, "OUT-OF-RANGE", lon=10.1, lat=53.6)
    book(session, driver, plate="HH A 1")
    book(session, driver, plate="HH A 2")
    with pytest.raises(ZoneFull) as caught:
        book(session, driver, plate="HH A 3")
    zones = [a["zone_id"] for a in caught.value.alternatives]
    assert zones == ["NEAR", "FAR", "Z-1"]
    assert caught.value.alternatives[0]["distance_m"] < caught.value.alternatives[1]["distance_m"]


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"start": at(11), "end": at(11)}, "period"),
        ({"start": at(11), "end": at(10, 30)}, "period"),
        ({"start": at(9, 50)}, "start_in_past"),
        ({"start": at(11, 3)}, "granularity"),
        ({"duration_min": 10}, "min_stay"),
        ({"duration_min": 90}, "max_stay"),
        ({"start": at(11, day=4)}, "horizon"),
        ({"start": at(7, day=2)}, "loading_hours"),
        ({"start": at(18, 45)}, "loading_hours"),
        ({"start": at(19, 30)}, "loading_hours"),  # after hours
        ({"plate": "??"}, "plate"),
        ({"plate": None}, "vehicle"),
        ({"duration_min": None}, "period"),
        ({"start": None, "duration_min": 17}, "granularity"),
        ({"vehicle_length_m": 14}, "vehicle_length"),
    ],
)
def test_each_refusal_names_its_rule(
    session: Session, driver: Account, fields: dict, rule: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        book(session, driver, **fields)
    assert caught.value.rule == rule
    assert caught.value.detail.endswith(".")


def test_start_within_clock_skew_is_accepted(session: Session, driver: Account) -> None:
    skewed = BookingRequest(
        zone_id="Z-1", plate="HH A 1", start=AT_10 - timedelta(seconds=30), duration_min=15
    )
    with pytest.raises(RuleViolation) as caught:  # not on a 5-minute mark, but not "in the past"
        reservations.book(session=session, request=skewed, account=driver, now=AT_10, policy=POLICY)
    assert caught.value.rule == "granularity"


def test_user_class_must_be_allowed(session: Session) -> None:
    make_zone(session, "TAXI", user_classes=["taxi"])
    account = make_account(session)
    with pytest.raises(RuleViolation) as caught:
        book(session, account, zone_id="TAXI")
    assert caught.value.rule == "user_class"


def test_retired_zone_and_unknown_zone(session: Session, driver: Account) -> None:
    from booking import zones

    zones.retire(session=session, zone_id="Z-1", now=T0)
    with pytest.raises(RuleViolation) as caught:
        book(session, driver)
    assert caught.value.rule == "zone_retired"
    with pytest.raises(NotFound):
        book(session, driver, zone_id="NOPE")


def test_one_vehicle_is_never_booked_twice_at_once(session: Session, driver: Account) -> None:
    make_zone(session, "Z-2", lon=9.99)
    book(session, driver, plate="HH-AB 123")
    with pytest.raises(RuleViolation) as caught:
        book(session, driver, zone_id="Z-2", plate="hh ab123", start=at(11, 15))
    assert caught.value.rule == "vehicle_overlap"
    book(session, driver, zone_id="Z-2", plate="hh ab123", start=at(11, 30))  # back to back is fine


def test_at_most_three_live_bookings_per_driver(session: Session, driver: Account) -> None:
    for hour in (11, 12, 13):
        book(session, driver, start=at(hour))
    with pytest.raises(RuleViolation) as caught:
        book(session, driver, start=at(14))
    assert caught.value.rule == "max_live_bookings"


def test_fleet_managers_limit_is_per_vehicle(session: Session) -> None:
    make_zone(session, "Z-1", bays=5)
    manager = make_account(session, "m@vans.example", role="fleet_manager", fleet="Vans")
    for van in range(4):
        book(session, manager, plate=f"HH V {van}")


def test_reservable_share_keeps_first_come_bays(session: Session) -> None:
    make_zone(session, "Z-1", bays=4, reservable_share=0.5)
    account = make_account(session)
    book(session, account, plate="HH A 1")
    book(session, account, plate="HH A 2")
    with pytest.raises(ZoneFull, match="first come"):
        book(session, account, plate="HH A 3")


def test_whole_zone_closure_refuses_and_bay_closure_skips_the_bay(
    session: Session, driver: Account
) -> None:
    from booking import closures

    operator = make_account(session, "op@city.example", role="operator")
    closures.close(
        session=session,
        zone_id="Z-1",
        start=at(12),
        end=at(13),
        reason="market",
        operator=operator,
        now=AT_10,
    )
    with pytest.raises(RuleViolation) as caught:
        book(session, driver, start=at(12))
    assert caught.value.rule == "zone_closed" and "market" in caught.value.detail
    closures.close(
        session=session, zone_id="Z-1", start=at(11), end=at(12), reason="crane", operator=operator,
        now=AT_10, bay_labels=["1"],
    )  # fmt: skip
    r = book(session, driver, start=at(11)).reservation
    with pytest.raises(ZoneFull):
        book(session, driver, start=at(11), plate="HH B 2")
    assert r.bay_id == 2 or r.bay_id is not None


def test_idempotency_key_replays_and_refuses_a_different_body(
    session: Session, driver: Account
) -> None:
    first = book(session, driver, idempotency_key="k-1")
    again = book(
        session, driver, idempotency_key="k-1", plate="hh-ab-1"
    )  # same plate, other spelling
    assert again.replayed and again.reservation.id == first.reservation.id
    with pytest.raises(RuleViolation) as caught:
        book(session, driver, idempotency_key="k-1", duration_min=45)
    assert caught.value.rule == "idempotency_key"


def test_visibility_own_fleet_and_staff(session: Session) -> None:
    make_zone(session, "Z-1", bays=3)
    driver = make_account(session, "d@vans.example", fleet="Vans")
    manager = make_account(session, "m@vans.example", role="fleet_manager", fleet="Vans")
    stranger = make_account(session, "s@example.com")
    operator = make_account(session, "op@city.example", role="operator")
    mine = book(session, driver).reservation
    for account in (driver, manager, operator):
        assert (
            reservations.get_for(session=session, account=account, reservation_id=mine.id) == mine
        )
        assert [r.id for r in reservations.list_for(session=session, account=account)] == [mine.id]
    with pytest.raises(NotFound):
        reservations.get_for(session=session, account=stranger, reservation_id=mine.id)
    assert reservations.list_for(session=session, account=stranger) == []


def test_a_round_the_clock_zone_takes_a_booking_across_midnight(session: Session) -> None:
    make_zone(session, "NIGHT", hours="24/7")
    account = make_account(session)
    late = datetime(2026, 12, 1, 22, 50, tzinfo=UTC)  # 23:50 in Berlin
    request = BookingRequest(zone_id="NIGHT", start=late, duration_min=30, plate="HH N 1")
    booked = reservations.book(
        session=session, request=request, account=account, now=AT_10, policy=POLICY
    )
    assert booked.reservation.end_at == late + timedelta(minutes=30)

"""After booking: changes, time-driven transitions, closures and enforcement, on a fixed clock."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from booking import changes, closures, enforcement, history, lifecycle, notifications, reservations
from booking.errors import RuleViolation
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import AccessLog, Account, Reservation
from tests.factories import T0, make_account, make_zone

POLICY = Policy()
START = T0 + timedelta(hours=1)  # 11:00 Berlin


@pytest.fixture
def driver(session: Session) -> Account:
    make_zone(session, "Z-1", bays=2)
    return make_account(session)


@pytest.fixture
def operator(session: Session) -> Account:
    return make_account(session, "op@city.example", role="operator")


def book(
    session: Session, account: Account, *, start=START, minutes: int = 30, plate: str = "HH A 1"
) -> Reservation:
    request = BookingRequest(zone_id="Z-1", start=start, duration_min=minutes, plate=plate)
    return reservations.book(
        session=session, request=request, account=account, now=T0, policy=POLICY
    ).reservation


def kinds(session: Session, reservation: Reservation) -> list[str]:
    return [e.kind for e in history.events_of(session=session, reservation_id=reservation.id)]


def test_check_in_and_out_record_each_transition(session: Session, driver: Account) -> None:
    r = book(session, driver)
    changes.check_in(
        session=session, reservation=r, now=START - timedelta(minutes=5), policy=POLICY, actor="app"
    )
    changes.check_out(
        session=session, reservation=r, now=START + timedelta(minutes=20), actor="app"
    )
    assert r.status == "completed"
    assert (r.activated_at, r.completed_at) == (
        START - timedelta(minutes=5),
        START + timedelta(minutes=20),
    )
    assert kinds(session, r) == ["booked", "active", "completed"]


def test_check_in_too_early_or_twice_is_refused(session: Session, driver: Account) -> None:
    r = book(session, driver)
    with pytest.raises(RuleViolation, match="Too early"):
        changes.check_in(
            session=session,
            reservation=r,
            now=START - timedelta(minutes=16),
            policy=POLICY,
            actor="app",
        )
    changes.check_in(session=session, reservation=r, now=START, policy=POLICY, actor="app")
    with pytest.raises(RuleViolation):
        changes.check_in(session=session, reservation=r, now=START, policy=POLICY, actor="app")


def test_nobody_arrives_within_grace_is_a_no_show_that_frees_the_bay(
    session: Session, driver: Account
) -> None:
    r = book(session, driver)
    assert (
        lifecycle.run(session=session, now=START + timedelta(minutes=10), policy=POLICY).no_shows
        == 0
    )
    result = lifecycle.run(
        session=session, now=START + timedelta(minutes=10, seconds=1), policy=POLICY
    )
    assert result.no_shows == 1 and r.status == "no_show"
    assert notifications.list_for(session=session, account=driver)[0].kind == "no_show"
    other = make_account(session, "next@example.com")
    again = reservations.book(
        session=session,
        request=BookingRequest(
            zone_id="Z-1", start=START + timedelta(minutes=15), duration_min=15, plate="HH B 2"
        ),
        account=other,
        now=START + timedelta(minutes=11),
        policy=POLICY,
    ).reservation
    assert again.bay_id == r.bay_id  # the released bay is bookable again


def test_active_past_end_overstays_with_a_sensor_and_completes_without(session: Session) -> None:
    from booking import zones
    from booking.zone_specs import BaySpec, ZonePatch

    make_zone(session, "Z-1", bays=2)
    zones.update(
        session=session,
        zone_id="Z-1",
        patch=ZonePatch(bays=[BaySpec(label="1", sensor_id="s-1"), BaySpec(label="2")]),
        now=T0,
        default_tz="Europe/Berlin",
    )
    driver = make_account(session)
    sensed = book(session, driver, plate="HH A 1")
    plain = book(session, driver, plate="HH A 2")
    assert {sensed.bay_id, plain.bay_id} == {1, 2}
    for r in (sensed, plain):
        changes.check_in(session=session, reservation=r, now=START, policy=POLICY, actor="app")
    result = lifecycle.run(session=session, now=START + timedelta(minutes=30), policy=POLICY)
    by_bay = {sensed.bay_id: sensed.status, plain.bay_id: plain.status}
    assert (result.overstays, result.completed) == (1, 1)
    assert by_bay == {1: "overstay", 2: "completed"}


def test_cancel_only_before_check_in_for_drivers(
    session: Session, driver: Account, operator: Account
) -> None:
    r = book(session, driver)
    changes.check_in(session=session, reservation=r, now=START, policy=POLICY, actor="app")
    with pytest.raises(RuleViolation, match="check out instead"):
        changes.cancel(session=session, reservation=r, account=driver, now=START)
    changes.cancel(session=session, reservation=r, account=operator, now=START)
    assert (r.status, r.cancel_reason) == ("cancelled", "operator")


def test_extend_within_max_stay_while_the_bay_stays_free(session: Session, driver: Account) -> None:
    r = book(session, driver, minutes=30)
    changes.extend(
        session=session, reservation=r, account=driver, minutes=15, now=T0, policy=POLICY
    )
    assert r.end_at == START + timedelta(minutes=45)
    with pytest.raises(RuleViolation) as caught:
        changes.extend(
            session=session, reservation=r, account=driver, minutes=30, now=T0, policy=POLICY
        )
    assert caught.value.rule == "max_stay"
    assert kinds(session, r) == ["booked", "extended"]


def test_extend_refused_when_the_next_booking_takes_the_bay(session: Session) -> None:
    make_zone(session, "Z-1", bays=1)
    driver = make_account(session)
    first = book(session, driver, minutes=30, plate="HH A 1")
    book(session, driver, start=START + timedelta(minutes=30), minutes=30, plate="HH A 2")
    with pytest.raises(RuleViolation) as caught:
        changes.extend(
            session=session, reservation=first, account=driver, minutes=5, now=T0, policy=POLICY
        )
    assert caught.value.rule == "bay_taken"


def test_closure_cancels_and_notifies_hit_bookings_only(
    session: Session, driver: Account, operator: Account
) -> None:
    hit = book(session, driver, plate="HH A 1")
    spared = book(session, driver, start=START + timedelta(hours=2), plate="HH A 2")
    window = {"zone_id": "Z-1", "start": START, "end": START + timedelta(hours=1)}
    preview = closures.close(
        session=session, **window, reason="roadworks", operator=operator, now=T0, dry_run=True
    )
    assert [r.id for r in preview.cancelled] == [hit.id] and hit.status == "booked"
    closures.close(session=session, **window, reason="roadworks", operator=operator, now=T0)
    assert (hit.status, hit.cancel_reason, spared.status) == ("cancelled", "closure", "booked")
    message = notifications.list_for(session=session, account=driver)[0]
    assert message.kind == "cancelled_by_closure" and "roadworks" in message.message


def test_closure_of_one_bay_keeps_the_other(
    session: Session, driver: Account, operator: Account
) -> None:
    first = book(session, driver, plate="HH A 1")
    second = book(session, driver, plate="HH A 2")
    closed_label = "1" if first.bay_id == 1 else "2"
    closures.close(
        session=session, zone_id="Z-1", start=START, end=START + timedelta(hours=1), reason="crane",
        operator=operator, now=T0, bay_labels=[closed_label],
    )  # fmt: skip
    assert sorted([first.status, second.status]) == ["booked", "cancelled"]
    with pytest.raises(RuleViolation, match="no bay 9"):
        closures.close(
            session=session, zone_id="Z-1", start=START, end=START + timedelta(hours=1), reason="x",
            operator=operator, now=T0, bay_labels=["9"],
        )  # fmt: skip


def test_enforcement_verdicts_and_access_log(
    session: Session, driver: Account, operator: Account
) -> None:
    r = book(session, driver, plate="HH-AB 123")

    def verdict(now_offset: timedelta, plate: str = "hh ab 123") -> str:
        return enforcement.check(
            session=session,
            plate=plate,
            zone_id="Z-1",
            officer=operator,
            now=START + now_offset,
            policy=POLICY,
        ).result

    assert verdict(timedelta(minutes=-30)) == "none"  # not due yet
    assert verdict(timedelta(minutes=5)) == "valid"  # booked, within grace
    assert verdict(timedelta(minutes=5), plate="HH XY 9") == "none"
    changes.check_in(
        session=session, reservation=r, now=START + timedelta(minutes=6), policy=POLICY, actor="app"
    )
    assert verdict(timedelta(minutes=20)) == "valid"
    assert verdict(timedelta(minutes=31)) == "expired"
    logged = session.exec(select(AccessLog)).all()
    assert len(logged) == 5 and {entry.account_id for entry in logged} == {operator.id}
    assert logged[0].subject == "plate:HHAB123" and logged[0].action == "enforcement_check"


def test_reminders_starts_soon_and_five_minutes_left_once_each(
    session: Session, driver: Account
) -> None:
    r = book(session, driver)
    assert (
        lifecycle.run(session=session, now=START - timedelta(minutes=11), policy=POLICY).reminders
        == 0
    )
    assert (
        lifecycle.run(session=session, now=START - timedelta(minutes=9), policy=POLICY).reminders
        == 1
    )
    assert (
        lifecycle.run(session=session, now=START - timedelta(minutes=8), policy=POLICY).reminders
        == 0
    )
    changes.check_in(session=session, reservation=r, now=START, policy=POLICY, actor="app")
    assert (
        lifecycle.run(session=session, now=START + timedelta(minutes=26), policy=POLICY).reminders
        == 1
    )
    assert (
        lifecycle.run(session=session, now=START + timedelta(minutes=27), policy=POLICY).reminders
        == 0
    )
    kinds = [n.kind for n in notifications.list_for(session=session, account=driver)]
    assert kinds[:2] == ["ends_soon", "starts_soon"]
    assert "4 min left" in notifications.list_for(session=session, account=driver)[0].message


def test_a_staff_booking_made_now_off_the_mark_can_be_extended(
    session: Session, operator: Account
) -> None:
    make_zone(session, "Z-OP", bays=1)
    odd = T0 + timedelta(minutes=2)  # 10:02, not on a 5-minute mark
    request = BookingRequest(zone_id="Z-OP", start=None, duration_min=30, plate="HH OP 1")
    r = reservations.book(
        session=session, request=request, account=operator, now=odd, policy=POLICY
    ).reservation
    changes.extend(
        session=session, reservation=r, account=operator, minutes=10, now=odd, policy=POLICY
    )
    assert r.end_at == odd + timedelta(minutes=40)

import pytest
from sqlmodel import Session

from booking import accounts
from booking.errors import Conflict, Forbidden, NotFound, RuleViolation
from tests.factories import PASSWORD, T0, make_account


def test_registered_driver_can_authenticate_and_password_is_hashed(session: Session) -> None:
    account = make_account(session, "Driver@Example.com")
    assert account.email == "driver@example.com"
    assert account.password_hash.startswith("$argon2id$")
    assert accounts.authenticate(session=session, email="DRIVER@example.com", password=PASSWORD)
    assert accounts.authenticate(session=session, email=account.email, password="wrong-one") is None
    assert (
        accounts.authenticate(session=session, email="nobody@example.com", password=PASSWORD)
        is None
    )


def test_email_is_unique(session: Session) -> None:
    make_account(session, "a@example.com")
    with pytest.raises(Conflict):
        make_account(session, "A@example.com")


@pytest.mark.parametrize(
    ("email", "password", "role", "rule"),
    [
        ("not-an-email", PASSWORD, "driver", "email"),
        ("a@example.com", "short", "driver", "password"),
        ("a@example.com", PASSWORD, "king", "role"),
        ("a@example.com", PASSWORD, "fleet_manager", "fleet"),
    ],
)
def test_registration_rules(
    session: Session, email: str, password: str, role: str, rule: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        accounts.register(session=session, email=email, password=password, role=role, now=T0)
    assert caught.value.rule == rule


def test_one_plate_in_any_spelling_is_one_vehicle(session: Session) -> None:
    account = make_account(session)
    vehicle = accounts.add_vehicle(
        session=session, account=account, plate="HH-AB 123", length_m=7, now=T0
    )
    assert (vehicle.plate, vehicle.plate_display) == ("HHAB123", "HH-AB 123")
    with pytest.raises(Conflict):
        accounts.add_vehicle(session=session, account=account, plate="hh ab123", length_m=7, now=T0)


def test_bad_plate_and_length_are_rule_violations(session: Session) -> None:
    account = make_account(session)
    with pytest.raises(RuleViolation) as caught:
        accounts.add_vehicle(session=session, account=account, plate="??", length_m=7, now=T0)
    assert caught.value.rule == "plate"
    with pytest.raises(RuleViolation):
        accounts.add_vehicle(session=session, account=account, plate="HH A 1", length_m=40, now=T0)


def test_fleet_manager_sees_and_uses_the_fleets_vehicles(session: Session) -> None:
    manager = make_account(session, "boss@fleet.example", role="fleet_manager", fleet="Blue Vans")
    colleague = make_account(
        session, "boss2@fleet.example", role="fleet_manager", fleet="Blue Vans"
    )
    outsider = make_account(session, "other@example.com")
    van = accounts.add_vehicle(
        session=session, account=colleague, plate="HH BV 1", length_m=7, now=T0
    )
    assert van.fleet_id == manager.fleet_id
    assert [v.id for v in accounts.vehicles_of(session=session, account=manager)] == [van.id]
    assert accounts.vehicle_of(session=session, account=manager, vehicle_id=van.id or 0) == van
    with pytest.raises(NotFound):
        accounts.vehicle_of(session=session, account=outsider, vehicle_id=van.id or 0)


def test_removed_vehicle_can_be_registered_again(session: Session) -> None:
    account = make_account(session)
    van = accounts.add_vehicle(session=session, account=account, plate="HH A 1", length_m=7, now=T0)
    accounts.remove_vehicle(session=session, account=account, vehicle_id=van.id or 0)
    assert accounts.vehicles_of(session=session, account=account) == []
    again = accounts.add_vehicle(
        session=session, account=account, plate="hh-a-1", length_m=8, now=T0
    )
    assert again.id == van.id and again.length_m == 8


def test_require_role(session: Session) -> None:
    driver = make_account(session)
    accounts.require_role(driver, "driver")
    with pytest.raises(Forbidden, match="operator or admin"):
        accounts.require_role(driver, *accounts.STAFF)

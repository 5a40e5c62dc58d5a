"""Invariant 1 under random operations: no two live reservations of a bay, or a plate, overlap.

A hypothesis state machine books, cancels, extends, checks in and lets bookings lapse into
no-shows, each step in its own committed write transaction as the API does, and after every
step reads back all reservations and checks the live ones pairwise, per bay and per plate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from typing import TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, Table
from sqlmodel import Session, SQLModel, select

from booking import changes, lifecycle, reservations
from booking.database import transaction
from booking.errors import RuleViolation, ZoneFull
from booking.policy import Policy
from booking.reservations import BookingRequest
from booking.tables import Account, Reservation, Vehicle
from booking.tables.reservations import BOOKED, LIVE
from tests.conftest import FixedClock
from tests.factories import T0, make_account, make_zone

POLICY = Policy()
ZONES = {"PROP-A": 2, "PROP-B": 3}  # zone id -> bays
PLATES = [f"HH PB {n}" for n in range(1, 7)]  # few, so vehicle overlaps happen
DRIVERS = 3
CROWD = 3  # live bookings before cancelling or lapsing, so zones fill up
MAX_STAY_MIN = 120  # room for extensions beyond the longest first booking
STEP = timedelta(minutes=5)
T = TypeVar("T")

ZONE_IDS = st.sampled_from(sorted(ZONES))
DURATION_STEPS = st.integers(min_value=3, max_value=12)  # 15 to 60 minutes
BOOKERS = st.integers(min_value=0, max_value=DRIVERS)  # DRIVERS means the operator
PICK = st.integers(min_value=0, max_value=99)  # which of the candidates, modulo their number

SETTINGS = settings(
    max_examples=50,
    stateful_step_count=40,
    deadline=None,
    # The explain phase traces every line SQLAlchemy runs and makes shrinking take minutes.
    phases=[phase for phase in Phase if phase is not Phase.explain],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class World:
    """What every example shares: zones, accounts and the tally of outcomes across examples."""

    drivers: list[Account]
    operator: Account
    outcomes: Counter[str] = field(default_factory=Counter)

    def account(self, account_id: int) -> Account:
        """The seeded account with this id."""
        return next(a for a in [*self.drivers, self.operator] if a.id == account_id)


def seed(engine: Engine) -> World:
    """Create the zones and accounts once per test (hashing passwords is the slow part)."""
    with transaction(engine) as session:
        for n, (zone_id, bays) in enumerate(ZONES.items()):
            make_zone(session, zone_id, bays=bays, lon=9.98 + n * 0.002, max_stay_min=MAX_STAY_MIN)
        drivers = [make_account(session, f"prop-driver-{n}@example.com") for n in range(DRIVERS)]
        operator = make_account(session, "prop-operator@city.example", role="operator")
    return World(drivers=drivers, operator=operator)


def booking_tables() -> list[Table]:
    """Reservations, vehicles and every table that refers to them, dependents first."""
    doomed = {Reservation.__tablename__, Vehicle.__tablename__}
    for table in SQLModel.metadata.sorted_tables:  # a table comes after those it refers to
        if any(fk.column.table.name in doomed for fk in table.foreign_keys):
            doomed.add(table.name)
    return [t for t in reversed(SQLModel.metadata.sorted_tables) if t.name in doomed]


def clashes(found: Iterable[Reservation]) -> list[str]:
    """Pairs of live reservations sharing a bay or a plate whose [start, end) overlap."""
    by_key: dict[tuple[str, object], list[Reservation]] = defaultdict(list)
    for reservation in found:
        if reservation.status in LIVE:
            by_key["bay", reservation.bay_id].append(reservation)
            by_key["plate", reservation.plate].append(reservation)
    return [
        f"{kind} {key}: {describe(a)} overlaps {describe(b)}"
        for (kind, key), group in by_key.items()
        for a, b in combinations(group, 2)
        if a.start_at < b.end_at and b.start_at < a.end_at
    ]


def describe(reservation: Reservation) -> str:
    """A reservation in one line, for failure messages."""
    r = reservation
    return f"{r.status} [{r.start_at:%H:%M}, {r.end_at:%H:%M}) bay {r.bay_id} {r.plate} ({r.id})"


def ceil_to_step(moment: datetime) -> datetime:
    """The first 5-minute mark at or after the moment."""
    floored = moment.replace(second=0, microsecond=0)
    floored -= timedelta(minutes=floored.minute % 5)
    return floored if floored == moment else floored + STEP


class NoDoubleBooking(RuleBasedStateMachine):
    """Random bookings and changes against one database, the invariant checked after each."""

    def __init__(self, engine: Engine, world: World) -> None:
        super().__init__()
        self.engine = engine
        self.world = world
        self.clock = FixedClock(T0)
        self.stored: list[Reservation] = []  # refreshed by the invariant after every step
        with engine.begin() as connection:
            for table in booking_tables():
                connection.execute(table.delete())

    def attempt(self, step: str, change: Callable[[Session], T]) -> T | None:
        """Run a change in its own write transaction; domain refusals are expected outcomes."""
        try:
            with transaction(self.engine) as session:
                result = change(session)
        except RuleViolation as refusal:
            self.world.outcomes[f"{step}: refused ({refusal.rule})"] += 1
            return None
        except ZoneFull:
            self.world.outcomes[f"{step}: refused (zone full)"] += 1
            return None
        self.world.outcomes[f"{step}: done"] += 1
        return result

    def live(self, *statuses: str) -> list[Reservation]:
        """Live reservations (or those in `statuses`) as the last invariant check read them."""
        return [r for r in self.stored if r.status in (statuses or LIVE)]

    def request(
        self,
        step: str,
        *,
        zone_id: str,
        start: datetime | None,
        minutes: int,
        plate: str,
        booker: int,
    ) -> None:
        """Ask for a booking as driver number `booker`, or as the operator past the last one."""
        account = self.world.drivers[booker] if booker < DRIVERS else self.world.operator
        request = BookingRequest(zone_id=zone_id, start=start, duration_min=minutes, plate=plate)
        self.attempt(
            step,
            lambda session: reservations.book(
                session=session, request=request, account=account, now=self.clock(), policy=POLICY
            ),
        )

    @rule(
        zone_id=ZONE_IDS,
        offset_steps=st.none() | st.integers(min_value=0, max_value=12),
        duration_steps=DURATION_STEPS,
        plate=st.sampled_from(PLATES),
        booker=BOOKERS,
    )
    def book(
        self, zone_id: str, offset_steps: int | None, duration_steps: int, plate: str, booker: int
    ) -> None:
        """Book ahead on a 5-minute mark, or from now (on arrival) when no offset is drawn."""
        start = None
        if offset_steps is not None:
            start = ceil_to_step(self.clock()) + offset_steps * STEP
        self.request(
            "book",
            zone_id=zone_id,
            start=start,
            minutes=duration_steps * 5,
            plate=plate,
            booker=booker,
        )

    @rule(
        pick=PICK,
        zone_id=ZONE_IDS,
        duration_steps=DURATION_STEPS,
        plate=st.none() | st.sampled_from(PLATES),
        booker=BOOKERS,
    )
    def book_right_after(
        self, pick: int, zone_id: str, duration_steps: int, plate: str | None, booker: int
    ) -> None:
        """Book from the end of a live booking (no plate drawn: for the same vehicle again)."""
        live = self.live()
        if not live:
            return
        before = live[pick % len(live)]
        self.request(
            "book_right_after",
            zone_id=zone_id,
            start=ceil_to_step(before.end_at),
            minutes=duration_steps * 5,
            plate=plate or before.plate,
            booker=booker,
        )

    @precondition(lambda self: len(self.live()) >= CROWD)
    @rule(pick=PICK, by_operator=st.booleans())
    def cancel(self, pick: int, by_operator: bool) -> None:
        """Cancel a live booking as its driver or as an operator."""
        live = self.live()
        if not live:
            return
        target = live[pick % len(live)]
        account = self.world.operator if by_operator else self.world.account(target.account_id)
        self.attempt(
            "cancel",
            lambda session: changes.cancel(
                session=session,
                reservation=session.get_one(Reservation, target.id),
                account=account,
                now=self.clock(),
            ),
        )

    @rule(pick=PICK, steps=st.integers(min_value=1, max_value=6))
    def extend(self, pick: int, steps: int) -> None:
        """Push a live booking's end back by 5 to 30 minutes."""
        live = self.live()
        if not live:
            return
        target = live[pick % len(live)]
        self.attempt(
            "extend",
            lambda session: changes.extend(
                session=session,
                reservation=session.get_one(Reservation, target.id),
                account=self.world.account(target.account_id),
                minutes=steps * 5,
                now=self.clock(),
                policy=POLICY,
            ),
        )

    @rule(pick=PICK)
    def check_in(self, pick: int) -> None:
        """The vehicle of a booking due now arrives (early arrivals are allowed)."""
        now = self.clock()
        due = [r for r in self.live(BOOKED) if r.start_at - POLICY.early_arrival <= now < r.end_at]
        if not due:
            return
        target = due[pick % len(due)]
        self.attempt(
            "check_in",
            lambda session: changes.check_in(
                session=session,
                reservation=session.get_one(Reservation, target.id),
                now=now,
                policy=POLICY,
                actor="test",
            ),
        )

    @precondition(lambda self: len(self.live(BOOKED)) >= CROWD)
    @rule(pick=PICK)
    def no_show(self, pick: int) -> None:
        """Let time pass beyond a booking's grace period and run the lifecycle job."""
        booked = self.live(BOOKED)
        lapsed = booked[pick % len(booked)].start_at + POLICY.grace + timedelta(minutes=1)
        self.clock.now = max(self.clock.now, lapsed)
        result = self.attempt(
            "no_show",
            lambda session: lifecycle.run(session=session, now=self.clock(), policy=POLICY),
        )
        self.world.outcomes["no_show: released"] += result.no_shows if result else 0

    @invariant()
    def no_live_reservations_overlap(self) -> None:
        """No bay and no plate has two live reservations at once."""
        with transaction(self.engine, write=False) as session:
            found = session.exec(select(Reservation)).all()
        overlaps = clashes(found)
        assert not overlaps, "\n".join(overlaps)
        # In an order stable across runs (ids are random), so a drawn `pick` means the same.
        self.stored = sorted(found, key=lambda r: (r.start_at, r.end_at, r.zone_id, r.bay_id))


def test_random_bookings_and_changes_never_overlap_per_bay_or_plate(engine: Engine) -> None:
    world = seed(engine)
    run_state_machine_as_test(lambda: NoDoubleBooking(engine, world), settings=SETTINGS)
    # Not vacuous: the runs met full zones and busy vehicles, and every kind of change happened.
    exercised = {
        "book: done",
        "book: refused (zone full)",
        "book: refused (vehicle_overlap)",
        "book_right_after: done",
        "cancel: done",
        "extend: done",
        "check_in: done",
        "no_show: released",
    }
    assert {o for o in exercised if world.outcomes[o] == 0} == set(), world.outcomes

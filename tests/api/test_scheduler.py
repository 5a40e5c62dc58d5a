import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from api import scheduler
from booking import reservations
from booking.database import make_engine, transaction
from booking.reservations import BookingRequest
from booking.settings import BookingSettings
from tests.conftest import FixedClock
from tests.factories import make_account, make_zone


def test_lifecycle_job_releases_no_shows(engine: Engine, clock: FixedClock) -> None:
    settings = BookingSettings()
    with transaction(engine) as session:
        make_zone(session, "Z-1")
        account = make_account(session)
        request = BookingRequest(zone_id="Z-1", start=None, duration_min=30, plate="HH A 1")
        booked = reservations.book(
            session=session, request=request, account=account, now=clock(), policy=settings.policy()
        ).reservation
    jobs = scheduler.Jobs(engine, settings, clock)
    assert jobs.lifecycle().no_shows == 0
    clock.advance(minutes=11)
    assert jobs.lifecycle().no_shows == 1
    with transaction(engine, write=False) as session:
        assert session.get(type(booked), booked.id).status == "no_show"


def test_scheduler_runs_the_lifecycle_job_every_minute(engine: Engine, clock: FixedClock) -> None:
    built = scheduler.build(scheduler.Jobs(engine, BookingSettings(), clock))
    job = built.get_job("lifecycle")
    assert job.trigger.interval == timedelta(seconds=60) and job.max_instances == 1 and job.coalesce


@pytest.mark.postgres
def test_a_second_scheduler_waits_while_the_first_leads(postgres_server_url: str) -> None:
    first_engine, second_engine = make_engine(postgres_server_url), make_engine(postgres_server_url)
    stop = threading.Event()
    try:
        with scheduler.leadership(first_engine, stop=stop) as leading:
            assert leading
            waited: list[bool] = []
            follower = threading.Thread(
                target=lambda: waited.append(_lead(second_engine, stop)), daemon=True
            )
            follower.start()
            follower.join(timeout=1.0)
            assert follower.is_alive()  # standing by while the first one leads
        follower.join(timeout=10)
        assert waited == [True]  # took over once the first let go
    finally:
        stop.set()
        first_engine.dispose()
        second_engine.dispose()


def _lead(engine: Engine, stop: threading.Event) -> bool:
    with scheduler.leadership(engine, stop=stop, poll_s=0.1) as leading:
        return leading


def test_the_portal_push_runs_only_when_a_portal_is_configured(
    engine: Engine, clock: FixedClock
) -> None:
    from opendata.settings import PortalSettings

    jobs = scheduler.Jobs(engine, BookingSettings(), clock)
    without = scheduler.build(jobs, PortalSettings(url=None))
    assert without.get_job("portal_push") is None
    configured = scheduler.build(jobs, PortalSettings(url="http://127.0.0.1:9/v1.1", interval_s=60))
    push = configured.get_job("portal_push")
    assert push.trigger.interval == timedelta(seconds=60) and push.max_instances == 1
    configured.portal_job.close()

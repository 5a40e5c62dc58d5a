"""The scheduler: time-driven jobs (reservation lifecycle, later the open-data push).

APScheduler 3 job stores cannot be shared between processes, so exactly one scheduler runs:
inside `kerbside run`, or as `kerbside scheduler`, where a PostgreSQL advisory lock makes
further replicas wait as standbys.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, text

from booking import lifecycle, reconcile
from booking.database import transaction
from booking.settings import BookingSettings
from opendata.sensorthings import PushJob
from opendata.settings import PortalSettings

log = logging.getLogger("kerbside.scheduler")
LEADER_LOCK_KEY = 0x6B657262  # "kerb": one scheduler per database
LIFECYCLE_INTERVAL_S = 60
SWEEP_INTERVAL_S = 30


class Jobs:
    """The jobs the scheduler runs, callable directly (tests, CLI) or on a timer."""

    def __init__(
        self, engine: Engine, settings: BookingSettings, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def lifecycle(self) -> lifecycle.LifecycleResult:
        """No-shows, overstays and endings as of now."""
        with transaction(self.engine) as session:
            result = lifecycle.run(session=session, now=self.clock(), policy=self.settings.policy())
        if result.no_shows or result.overstays or result.completed:
            log.info(
                "lifecycle",
                extra={
                    "no_shows": result.no_shows,
                    "overstays": result.overstays,
                    "completed": result.completed,
                },
            )
        return result

    def sweep(self) -> reconcile.SweepResult:
        """Strangers past the tolerance, silent sensors, overstays."""
        with transaction(self.engine) as session:
            return reconcile.sweep(session=session, now=self.clock(), policy=self.settings.policy())


def build(jobs: Jobs, portal: PortalSettings | None = None) -> BackgroundScheduler:
    """A background scheduler with every job; one run of a job at a time, missed runs merged.

    With a portal configured (KERBSIDE_PORTAL_URL) availability is pushed to the city's
    SensorThings server too; the caller closes `scheduler.portal_job` after shutdown.
    """
    scheduler = BackgroundScheduler(timezone=UTC)
    portal = portal if portal is not None else PortalSettings()
    scheduler.portal_job = None  # type: ignore[attr-defined]
    if portal.enabled:
        push = PushJob(jobs.engine, portal, jobs.clock)
        scheduler.portal_job = push  # type: ignore[attr-defined]
        scheduler.add_job(
            push,
            "interval",
            seconds=portal.interval_s,
            id="portal_push",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_job(
        jobs.lifecycle,
        "interval",
        seconds=LIFECYCLE_INTERVAL_S,
        id="lifecycle",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        jobs.sweep,
        "interval",
        seconds=SWEEP_INTERVAL_S,
        id="sweep",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    return scheduler


@contextmanager
def leadership(engine: Engine, *, stop: threading.Event, poll_s: float = 5.0) -> Iterator[bool]:
    """Hold the scheduler lock (PostgreSQL advisory lock) while the block runs.

    Yields True once this process leads, False if `stop` was set while waiting. SQLite
    means one machine and one process: no lock needed.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        while not stop.is_set():
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
            ).scalar()
            connection.commit()
            if got:
                break
            log.info("another scheduler leads; waiting as standby")
            stop.wait(poll_s)
        else:
            yield False
            return
        try:
            yield True
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
            connection.commit()


def shutdown(scheduler: BackgroundScheduler) -> None:
    """Stop the jobs and close the portal client."""
    scheduler.shutdown(wait=True)
    push = getattr(scheduler, "portal_job", None)
    if push is not None:
        push.close()

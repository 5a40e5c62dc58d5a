"""The FastAPI application: wiring of settings, database, routers and error handling."""

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from api import errors, scheduler
from api.deps import Database, system_clock
from api.feeds import FeedCache
from api.routes import (
    accounts,
    auth,
    cds,
    console,
    enforcement,
    feeds,
    health,
    me,
    reservations,
    sensors,
    stats,
    streams,
    webapp,
    zones,
)
from api.settings import ApiSettings
from api.streams import Broadcaster
from booking.database import make_engine, new_session
from booking.geo import ZoneIndex
from booking.settings import BookingSettings


class Background(Protocol):
    """Something that runs beside the API in the all-in-one process."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


DESCRIPTION = (
    "Bookable kerbside loading bays: zones, reservations, sensors, enforcement and open data. "
    "Errors are RFC 9457 problem+json; times are ISO 8601 with offsets."
)


def create_app(
    api_settings: ApiSettings | None = None,
    booking_settings: BookingSettings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = system_clock,
    run_scheduler: bool = False,
    background: Sequence[Background] = (),
) -> FastAPI:
    """Build the API; pass an engine to share one, else it is made from the settings.

    `run_scheduler` starts the time-driven jobs in this process and `background` services
    (the MQTT ingest) run alongside: the all-in-one mode. The caller composes them, so the
    API never imports the other adapters.
    """
    api_settings = api_settings or ApiSettings()
    booking_settings = booking_settings or BookingSettings()
    api_settings.check()
    owns_engine = engine is None
    engine = engine or make_engine(
        booking_settings.database_url, pool_size=booking_settings.db_pool_size
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Never more handler threads than pooled connections, so no thread waits on a
        # connection held by a request that needs a thread to finish.
        anyio.to_thread.current_default_thread_limiter().total_tokens = (
            booking_settings.db_pool_size
        )
        with new_session(engine) as session:
            app.state.zone_index.refresh(session=session)
        # The index is long-lived: keep its objects out of the cyclic collector's full scans,
        # which otherwise pause every request for ~250 ms at 100,000 zones.
        gc.freeze()
        jobs = None
        if run_scheduler:
            jobs = scheduler.build(scheduler.Jobs(engine, booking_settings, clock))
            jobs.start()
        for service in background:
            service.start()
        app.state.broadcaster.start()
        yield
        await app.state.broadcaster.stop()
        for service in reversed(background):
            service.stop()
        if jobs is not None:
            scheduler.shutdown(jobs)
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="Kerbside",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.database = Database(engine)
    app.state.clock = clock
    app.state.api_settings = api_settings
    app.state.booking_settings = booking_settings
    app.state.zone_index = ZoneIndex()
    app.state.feed_cache = FeedCache(api_settings.feed_ttl_s)
    app.state.broadcaster = Broadcaster(engine, clock=clock)
    errors.install(app)
    for module in (
        health, auth, me, accounts, zones, reservations, enforcement, sensors, feeds, streams, cds,
        stats,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(accounts.audit_router)
    app.include_router(console.router)
    console.mount(app)
    app.include_router(webapp.router)
    webapp.mount(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app

"""The SensorThings push against a real server (django-ogc-sensorthings on loopback).

Everything is read back through the server's own API. Known quirks of that server: it
ignores `properties/...` filters (answers with an empty list), 500s on
`$orderby=phenomenonTime` (so Observations are ordered here, client-side), rejects null
units, caps `$top` at 100 with a 422 above, only takes POST /Observations (405 on
Datastreams(id)/Observations), and answers a POST /Observations for a missing Datastream
with 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlmodel import col, select

from booking import occupancy, sensor_registry
from booking.database import transaction
from booking.occupancy import OccupancyReading
from booking.policy import Policy
from booking.tables import PortalObservation, PortalThing
from booking.tables.portal import DEAD, PENDING, SENT
from opendata import sensorthings
from opendata.sensorthings import (
    Portal,
    PushJob,
    PushResult,
    entity_path,
    id_from_link,
    push,
)
from opendata.settings import PortalSettings
from tests.conftest import FixedClock
from tests.factories import T0, make_zone
from tests.opendata.conftest import StaServer

POLICY = Policy()
COUNT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"


# --------------------------------------------------------------------------------------------
# helpers: our side
# --------------------------------------------------------------------------------------------


def settings_for(server: StaServer, **overrides: Any) -> PortalSettings:
    return PortalSettings(url=server.url, **overrides)


def add_zones(engine: Engine, ids: list[str], *, bays: int = 2, sensors: bool = False) -> None:
    """Zones on ABC-Straße; with sensors, each enrolled and reporting every bay free."""
    with transaction(engine) as session:
        for n, zone_id in enumerate(ids):
            make_zone(
                session,
                zone_id,
                bays=bays,
                sensors=sensors,
                address=f"ABC-Straße {n + 1}",
                district="Neustadt",
                lon=9.98 + n * 0.001,
            )
        if sensors:
            devices = [f"{z}-s{b}" for z in ids for b in range(1, bays + 1)]
            sensor_registry.resolve(session=session, devices=devices, now=T0)


def report(engine: Engine, at: datetime, states: dict[str, bool]) -> None:
    """Sensor readings: {sensor id: occupied}."""
    with transaction(engine) as session:
        occupancy.apply(
            session=session,
            readings=[OccupancyReading(sensor_id=s, at=at, occupied=o) for s, o in states.items()],
            now=at,
            policy=POLICY,
        )


def all_free(zone_ids: list[str], bays: int = 2) -> dict[str, bool]:
    return {f"{z}-s{b}": False for z in zone_ids for b in range(1, bays + 1)}


def outbox(engine: Engine, zone_id: str | None = None) -> list[PortalObservation]:
    with transaction(engine, write=False) as session:
        query = select(PortalObservation).order_by(col(PortalObservation.id))
        if zone_id is not None:
            query = query.where(PortalObservation.zone_id == zone_id)
        return list(session.exec(query))


def portal_things(engine: Engine) -> dict[str, PortalThing]:
    with transaction(engine, write=False) as session:
        return {t.zone_id: t for t in session.exec(select(PortalThing))}


def run(engine: Engine, portal: Portal, settings: PortalSettings, now: datetime) -> PushResult:
    return push(engine=engine, portal=portal, settings=settings, now=now)


@pytest.fixture
def portals() -> Iterator[Callable[..., Portal]]:
    """Make Portals that are closed at the end of the test."""
    made: list[Portal] = []

    def make(settings: PortalSettings, **kwargs: Any) -> Portal:
        portal = Portal(settings, **kwargs)
        made.append(portal)
        return portal

    yield make
    for portal in made:
        portal.close()


# --------------------------------------------------------------------------------------------
# helpers: the server's side, through its own API
# --------------------------------------------------------------------------------------------


def fetch(server: StaServer, path: str, params: dict[str, str] | None = None) -> list[dict]:
    """Every entity of a collection, following nextLink."""
    url: str | None = f"{server.url}/{path}"
    out: list[dict] = []
    with httpx.Client(timeout=10) as client:
        while url:
            response = client.get(url, params=params)
            assert response.status_code == 200, response.text
            data = response.json()
            out.extend(data["value"])
            url, params = data.get("@iot.nextLink"), None
    return out


def things_by_asset(server: StaServer) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for thing in fetch(server, "Things", {"$expand": "Locations,Datastreams"}):
        found.setdefault(thing["properties"]["assetID"], []).append(thing)
    return found


def observations(server: StaServer, datastream: Any) -> list[tuple[datetime, int, str]]:
    """(phenomenonTime, result, server id) in the order the server stored them.

    The server's ids are UUIDv7, time-ordered at creation: sorting by id is arrival order.
    ($orderby=phenomenonTime answers 500 on this server.)
    """
    rows = fetch(server, entity_path("Datastreams", datastream) + "/Observations")
    got = [
        (datetime.fromisoformat(o["phenomenonTime"]), int(o["result"]), o["@iot.id"]) for o in rows
    ]
    return sorted(got, key=lambda r: r[2])


def count(server: StaServer, path: str) -> int:
    return len(fetch(server, path, {"$select": "id"}))


class Recorder(httpx.BaseTransport):
    """Passes requests to the real server, keeping (method, path); optionally plays tricks."""

    def __init__(self, before: Callable[[httpx.Request], httpx.Response | None] | None = None):
        self.inner = httpx.HTTPTransport()
        self.before = before
        self.seen: list[tuple[str, str]] = []
        self.after: Callable[[httpx.Request, httpx.Response], None] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path.rsplit("/", 1)[-1]))
        if self.before is not None:
            faked = self.before(request)
            if faked is not None:
                return faked
        response = self.inner.handle_request(request)
        if self.after is not None:
            response.read()
            self.after(request, response)
        return response

    def posts(self, what: str) -> int:
        return sum(1 for method, last in self.seen if method == "POST" and last == what)

    def close(self) -> None:
        self.inner.close()


# --------------------------------------------------------------------------------------------
# provisioning
# --------------------------------------------------------------------------------------------


def test_provisioning_makes_one_of_each_per_zone_and_never_twice(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = ["HH-ABC-1", "HH-ABC-2", "HH-ABC-3"]
    add_zones(engine, ids, bays=3)
    settings = settings_for(sta_server)
    portal = portals(settings)

    first = run(engine, portal, settings, clock.now)
    assert (first.created, first.adopted, first.refused) == (3, 0, [])

    things = things_by_asset(sta_server)
    assert sorted(things) == ids
    for n, zone_id in enumerate(ids):
        [thing] = things[zone_id]
        assert thing["properties"] == {
            "assetID": zone_id,
            "address": f"ABC-Straße {n + 1}",
            "district": "Neustadt",
            "bays": 3,
            "serviceName": "HH_STA_Ladezonen",
        }
        [location] = thing["Locations"]
        assert location["encodingType"] == "application/geo+json"
        assert location["location"]["type"] == "LineString"
        [datastream] = thing["Datastreams"]
        assert datastream["observationType"] == COUNT
        assert datastream["unitOfMeasurement"]["symbol"] == "{count}"
        assert datastream["properties"] == {
            "serviceName": "HH_STA_Ladezonen",
            "layerName": "Ladezonen_Verfuegbarkeit",
        }
        stored = portal_things(engine)[zone_id]
        assert (stored.thing_id, stored.location_id, stored.datastream_id) == (
            thing["@iot.id"],
            location["@iot.id"],
            datastream["@iot.id"],
        )
        assert stored.sensor_id and stored.observed_property_id
    counts = {
        s: count(sta_server, s)
        for s in ("Things", "Locations", "Datastreams", "Sensors", "ObservedProperties")
    }
    assert counts == dict.fromkeys(counts, 3)

    # A second run creates nothing.
    second = run(engine, portal, settings, clock.advance(minutes=1))
    assert (second.created, second.adopted) == (0, 0)

    # A restart that lost our ids (remote entities still there) adopts them, creates nothing.
    before = portal_things(engine)
    with transaction(engine) as session:
        session.exec(delete(PortalObservation))  # type: ignore[call-overload]
        session.exec(delete(PortalThing))  # type: ignore[call-overload]
    restarted = portals(settings)
    third = run(engine, restarted, settings, clock.advance(minutes=1))
    assert (third.created, third.adopted) == (0, 3)
    after = portal_things(engine)
    for zone_id in ids:
        assert after[zone_id].model_dump(include={"thing_id", "datastream_id"}) == before[
            zone_id
        ].model_dump(include={"thing_id", "datastream_id"})
    assert {s: count(sta_server, s) for s in counts} == counts


def test_adoption_pages_through_more_things_than_one_page(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = [f"HH-Z-{n:03d}" for n in range(105)]  # the server pages at 100
    add_zones(engine, ids, bays=1)
    settings = settings_for(sta_server)
    assert run(engine, portals(settings), settings, clock.now).created == 105
    with transaction(engine) as session:
        session.exec(delete(PortalObservation))  # type: ignore[call-overload]
        session.exec(delete(PortalThing))  # type: ignore[call-overload]
    again = run(engine, portals(settings), settings, clock.advance(minutes=1))
    assert (again.created, again.adopted) == (0, 105)
    assert count(sta_server, "Things") == 105


# --------------------------------------------------------------------------------------------
# observations
# --------------------------------------------------------------------------------------------


def test_only_changed_zones_get_observations_and_withheld_counts_none(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = ["Z-A", "Z-B", "Z-C"]
    add_zones(engine, [*ids, "Z-SILENT"], sensors=True)
    report(engine, clock.now, all_free(ids))
    settings = settings_for(sta_server)
    portal = portals(settings)

    first = run(engine, portal, settings, clock.now)
    assert (first.queued, first.sent, first.pending) == (3, 3, 0)  # Z-SILENT: no data, no number

    report(engine, clock.advance(seconds=30), {"Z-A-s1": True})
    second = run(engine, portal, settings, clock.advance(seconds=30))
    assert (second.queued, second.sent) == (1, 1)

    report(engine, clock.advance(seconds=30), {"Z-A-s2": True, "Z-C-s1": True})
    third = run(engine, portal, settings, clock.advance(seconds=30))
    assert (third.queued, third.sent) == (2, 2)

    stored = portal_things(engine)
    assert [r for _, r, _ in observations(sta_server, stored["Z-A"].datastream_id)] == [2, 1, 0]
    assert [r for _, r, _ in observations(sta_server, stored["Z-B"].datastream_id)] == [2]
    assert [r for _, r, _ in observations(sta_server, stored["Z-C"].datastream_id)] == [2, 1]
    assert observations(sta_server, stored["Z-SILENT"].datastream_id) == []
    assert all(row.status == SENT for row in outbox(engine))


def test_keepalive_repeats_an_unchanged_count_every_n_minutes(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    add_zones(engine, ["Z-K"], bays=4)  # no sensors: free comes from bookings alone
    settings = settings_for(sta_server, keepalive_min=15)
    portal = portals(settings)
    t0 = clock.now
    queued = [run(engine, portal, settings, clock.now).queued]
    for _ in range(4):  # +5, +10, +15, +20 minutes
        queued.append(run(engine, portal, settings, clock.advance(minutes=5)).queued)
    assert queued == [1, 0, 0, 1, 0]
    datastream = portal_things(engine)["Z-K"].datastream_id
    got = observations(sta_server, datastream)
    assert [(t, r) for t, r, _ in got] == [(t0, 4), (t0 + timedelta(minutes=15), 4)]


def test_observations_go_as_data_array(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = [f"Z-{n}" for n in range(7)]
    add_zones(engine, ids)
    settings = settings_for(sta_server, batch_size=3)
    recorder = Recorder()
    portal = portals(settings, transport=recorder)
    result = run(engine, portal, settings, clock.now)
    assert (result.sent, result.pending, result.data_array) == (7, 0, True)
    assert recorder.posts("CreateObservations") == 3  # 3 + 3 + 1
    assert recorder.posts("Observations") == 0
    assert count(sta_server, "Observations") == 7


@pytest.mark.parametrize("how", ["server answers 404", "switched off"])
def test_without_data_array_each_observation_is_posted(
    how: str,
    engine: Engine,
    sta_server: StaServer,
    clock: FixedClock,
    portals: Callable[..., Portal],
) -> None:
    add_zones(engine, ["Z-1", "Z-2", "Z-3"])

    def no_data_array(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/CreateObservations"):
            return httpx.Response(404, text="Not Found")
        return None

    if how == "switched off":
        settings = settings_for(sta_server, data_array=False)
        recorder = Recorder()
    else:
        settings = settings_for(sta_server)
        recorder = Recorder(before=no_data_array)
    portal = portals(settings, transport=recorder)
    result = run(engine, portal, settings, clock.now)
    assert (result.sent, result.pending, result.data_array) == (3, 0, False)
    assert recorder.posts("CreateObservations") == (1 if how == "server answers 404" else 0)
    assert recorder.posts("Observations") == 3
    stored = portal_things(engine)
    for zone_id in ("Z-1", "Z-2", "Z-3"):
        assert [r for _, r, _ in observations(sta_server, stored[zone_id].datastream_id)] == [2]

    # Once found missing, the extension is not asked for again.
    report_free = run(engine, portal, settings, clock.advance(minutes=20))
    assert report_free.sent == 3
    assert recorder.posts("CreateObservations") == (1 if how == "server answers 404" else 0)


# --------------------------------------------------------------------------------------------
# outages, doubt, dead letters
# --------------------------------------------------------------------------------------------


def test_outage_queues_in_order_and_delivers_each_exactly_once(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = [f"Z-{n}" for n in range(6)]
    add_zones(engine, ids, sensors=True)
    report(engine, clock.now, all_free(ids))
    settings = settings_for(sta_server, batch_size=2, max_backoff_s=60)
    recorder = Recorder()
    portal = portals(settings, transport=recorder)

    # The server goes down in the middle of a run: after its first batch of observations.
    def stop_after_first_batch(request: httpx.Request, response: httpx.Response) -> None:
        if request.url.path.endswith("/CreateObservations") and sta_server.running:
            sta_server.stop()

    recorder.after = stop_after_first_batch
    first = run(engine, portal, settings, clock.now)
    assert first.created == 6
    assert first.sent == 2 and first.pending == 4 and first.unavailable
    held = [r for r in outbox(engine) if r.status == PENDING]
    assert all(r.next_attempt_at and r.next_attempt_at > clock.now for r in held[:2])
    assert not any(r.uncertain for r in held)  # refused connections deliver nothing
    recorder.after = None

    # While it is down, changes keep being queued, and the queue backs off.
    occupied: dict[str, bool] = {}
    backoffs = []
    for minute in range(1, 6):
        sensor = f"Z-{minute % 6}-s{1 + minute % 2}"
        occupied[sensor] = not occupied.get(sensor, False)
        report(engine, clock.advance(seconds=20), {**all_free(ids), **occupied})
        result = run(engine, portal, settings, clock.advance(seconds=40))
        assert result.queued >= 1 and result.sent == 0
        assert result.backoff_until is not None
        backoffs.append(result.backoff_until - clock.now)
    queued_while_down = [r for r in outbox(engine) if r.status == PENDING]
    assert len(queued_while_down) >= 9
    assert max(r.attempts for r in queued_while_down) >= 3  # tried again, backing off
    assert any(b > timedelta(seconds=2) for b in backoffs)

    # Back up: push until drained.
    sta_server.start()
    for _ in range(20):
        result = run(engine, portal, settings, clock.advance(minutes=1))
        if result.pending == 0:
            break
        report(engine, clock.now, {**all_free(ids), **occupied})
    assert result.pending == 0

    rows = outbox(engine)
    assert {r.status for r in rows} == {SENT}
    stored = portal_things(engine)
    for zone_id in ids:
        ours = [(r.phenomenon_time, r.result) for r in rows if r.zone_id == zone_id]
        theirs = observations(sta_server, stored[zone_id].datastream_id)
        # every queued observation arrived, none twice, and in the order they were queued
        assert [(t, r) for t, r, _ in theirs] == ours
    assert count(sta_server, "Observations") == len(rows)


def test_a_timeout_after_the_server_stored_them_is_not_resent(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    add_zones(engine, ["Z-1", "Z-2"])
    settings = settings_for(sta_server)
    recorder = Recorder()
    state = {"lose_answer": True}

    def lose_the_answer(request: httpx.Request, response: httpx.Response) -> None:
        if request.url.path.endswith("/CreateObservations") and state["lose_answer"]:
            raise httpx.ReadTimeout("answer lost", request=request)

    recorder.after = lose_the_answer
    portal = portals(settings, transport=recorder)
    first = run(engine, portal, settings, clock.now)
    assert (first.sent, first.pending) == (0, 2)
    assert all(r.uncertain and r.status == PENDING for r in outbox(engine))
    assert count(sta_server, "Observations") == 2  # the server did store them

    state["lose_answer"] = False
    second = run(engine, portal, settings, clock.advance(minutes=1))
    assert (second.confirmed, second.sent, second.pending) == (2, 0, 0)
    assert recorder.posts("CreateObservations") == 1
    assert count(sta_server, "Observations") == 2
    assert all(r.status == SENT and not r.uncertain for r in outbox(engine))


class Crash(BaseException):
    """The process dies: nothing after this line runs."""


def test_a_crash_between_the_servers_answer_and_our_commit_sends_nothing_twice(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    add_zones(engine, ["Z-1", "Z-2", "Z-3"])
    settings = settings_for(sta_server)
    recorder = Recorder()

    def die(request: httpx.Request, response: httpx.Response) -> None:
        if request.url.path.endswith("/CreateObservations"):
            raise Crash

    recorder.after = die
    with pytest.raises(Crash):
        run(engine, portals(settings, transport=recorder), settings, clock.now)
    assert [r.uncertain for r in outbox(engine)] == [True] * 3
    assert count(sta_server, "Observations") == 3

    # The restarted process (a new Portal) finds them on the server instead of resending.
    fresh = Recorder()
    result = run(engine, portals(settings, transport=fresh), settings, clock.advance(minutes=1))
    assert (result.confirmed, result.sent, result.pending) == (3, 0, 0)
    assert fresh.posts("CreateObservations") == 0
    assert count(sta_server, "Observations") == 3


def test_a_datastream_gone_from_the_server_is_dead_lettered_and_the_rest_go_on(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    ids = ["Z-1", "Z-2", "Z-3"]
    add_zones(engine, ids, sensors=True)
    report(engine, clock.now, all_free(ids))
    settings = settings_for(sta_server)
    portal = portals(settings)
    assert run(engine, portal, settings, clock.now).sent == 3
    gone = portal_things(engine)["Z-2"]
    response = httpx.delete(f"{sta_server.url}/{entity_path('Datastreams', gone.datastream_id)}")
    assert response.status_code in (200, 204), response.text

    report(engine, clock.advance(seconds=30), {"Z-1-s1": True, "Z-2-s1": True, "Z-3-s1": True})
    result = run(engine, portal, settings, clock.advance(seconds=30))
    assert (result.sent, result.dead, result.pending) == (2, 1, 0)
    [dead] = [r for r in outbox(engine) if r.status == DEAD]
    assert dead.zone_id == "Z-2" and "gone" in (dead.last_error or "")
    stored = portal_things(engine)
    assert "Z-2" not in stored  # to be provisioned again
    for zone_id in ("Z-1", "Z-3"):
        assert [r for _, r, _ in observations(sta_server, stored[zone_id].datastream_id)] == [2, 1]

    # The next run gives the zone's Thing a new Datastream (no second Thing) and goes on.
    again = run(engine, portal, settings, clock.advance(minutes=1))
    assert (again.created, again.sent) == (1, 1)
    assert count(sta_server, "Things") == 3
    renewed = portal_things(engine)["Z-2"]
    assert renewed.thing_id == gone.thing_id and renewed.datastream_id != gone.datastream_id
    assert [r for _, r, _ in observations(sta_server, renewed.datastream_id)] == [1]


def test_a_4xx_for_one_observation_is_dead_lettered_not_retried(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    add_zones(engine, ["Z-1", "Z-2"])
    settings = settings_for(sta_server, data_array=False)
    first_zone_datastream: dict[str, Any] = {}

    def refuse_one(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path.endswith("/Observations"):
            body = request.read().decode()
            if str(first_zone_datastream.get("id")) in body:
                return httpx.Response(400, text="Bad request")
        return None

    portal = portals(settings, transport=Recorder(before=refuse_one))
    run(engine, portal, settings, clock.now)  # provisions, sends the first two fine
    first_zone_datastream["id"] = portal_things(engine)["Z-1"].datastream_id
    result = run(engine, portal, settings, clock.advance(minutes=20))  # keep-alives
    assert (result.sent, result.dead, result.pending) == (1, 1, 0)
    [dead] = [r for r in outbox(engine) if r.status == DEAD]
    assert dead.zone_id == "Z-1" and (dead.last_error or "").startswith("400")
    assert run(engine, portal, settings, clock.advance(minutes=1)).dead == 0  # not retried


def test_wrong_credentials_hold_the_queue_rather_than_dead_letter(
    engine: Engine,
    sta_server_with_auth: StaServer,
    clock: FixedClock,
    portals: Callable[..., Portal],
) -> None:
    add_zones(engine, ["Z-1"])
    wrong = settings_for(sta_server_with_auth, auth="bearer", token="nope")
    result = run(engine, portals(wrong), wrong, clock.now)
    assert result.unavailable and "401" in result.unavailable and result.created == 0

    right = settings_for(sta_server_with_auth, auth="bearer", token="s3cret")
    result = run(engine, portals(right), right, clock.advance(minutes=1))
    assert (result.created, result.sent, result.dead) == (1, 1, 0)


# --------------------------------------------------------------------------------------------
# one run at a time; settings; ids
# --------------------------------------------------------------------------------------------


def test_a_run_while_another_is_going_on_is_skipped(
    engine: Engine, sta_server: StaServer, clock: FixedClock, portals: Callable[..., Portal]
) -> None:
    add_zones(engine, ["Z-1"])
    settings = settings_for(sta_server)
    entered, release = threading.Event(), threading.Event()

    def block(request: httpx.Request) -> None:
        entered.set()
        release.wait(10)

    recorder = Recorder(before=lambda r: block(r))
    portal = portals(settings, transport=recorder)
    results: list[PushResult] = []
    worker = threading.Thread(
        target=lambda: results.append(run(engine, portal, settings, clock.now))
    )
    worker.start()
    assert entered.wait(10)
    assert run(engine, portals(settings), settings, clock.now).skipped
    release.set()
    worker.join(20)
    assert results and not results[0].skipped and results[0].sent == 1


def test_the_scheduler_job_keeps_one_client(
    engine: Engine, sta_server: StaServer, clock: FixedClock
) -> None:
    add_zones(engine, ["Z-1"])
    job = PushJob(engine, settings_for(sta_server), clock)
    try:
        client = job.portal.client
        assert job().sent == 1
        clock.advance(minutes=20)
        assert job().sent == 1
        assert job.portal.client is client
    finally:
        job.close()
    assert client.is_closed


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERBSIDE_PORTAL_URL", "https://iot.example/v1.1")
    monkeypatch.setenv("KERBSIDE_PORTAL_AUTH", "basic")
    monkeypatch.setenv("KERBSIDE_PORTAL_USERNAME", "kerbside")
    monkeypatch.setenv("KERBSIDE_PORTAL_PASSWORD", "pw")
    monkeypatch.setenv("KERBSIDE_PORTAL_SERVICE_NAME", "HH_STA_Test")
    settings = PortalSettings()
    assert settings.enabled and settings.interval_s == 60 and settings.keepalive_min == 15
    assert settings.service_name == "HH_STA_Test"
    with Portal(settings) as portal:
        assert isinstance(portal.client.auth, httpx.BasicAuth)
        assert portal.client.timeout.read == 10
    with pytest.raises(ValueError):
        Portal(PortalSettings(url=None))
    with pytest.raises(ValueError):
        Portal(PortalSettings(url="https://iot.example/v1.1", auth="bearer"))


def test_entity_ids_of_both_kinds() -> None:
    assert entity_path("Things", 42) == "Things(42)"
    assert entity_path("Things", "a'b") == "Things('a''b')"
    assert id_from_link("https://x/v1.1/Things(42)") == 42
    assert id_from_link("http://x/v1.1/Things('01a2-ff')") == "01a2-ff"
    assert id_from_link("http://x/v1.1/Things('a''b')") == "a'b"
    assert sensorthings.wire_time(T0) == "2026-12-01T09:00:00.000Z"

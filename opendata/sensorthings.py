"""The SensorThings push: free bays per zone to the city's urban data platform (OGC STA 1.1).

`push()` is a plain function; the scheduler calls it every `interval_s` (APScheduler with
`max_instances=1, coalesce=True`). One run does three things:

1. Provisioning. Every active zone without a `PortalThing` row gets a Thing (properties
   `assetID` = zone id, address, district, bays), its Location (the zone's GeoJSON) and a
   Datastream of free bays (OM_CountObservation, unit "count", Hamburg's `serviceName` and
   `layerName` in its properties) with its Sensor and ObservedProperty, all in one deep
   insert. Existing entities are looked for first (Things whose `properties.assetID` is the
   zone and that carry our Datastream), so a restart, a lost database row or a second run
   never makes duplicates. Filtering is done client-side over the paginated collection,
   because not every server honours `$filter=properties/...` (django-ogc-sensorthings
   answers it with an empty list). The remote ids are stored.
2. Enqueue. `booking.live.now` gives each zone's free count; a `PortalObservation` row is
   stored for every zone whose count changed since the last queued one, or whose last one is
   older than `keepalive_min`. Withheld counts (stale sensors) publish nothing. The rows are
   committed before anything is sent: an observation due to the platform is delivered or
   still queued after a restart.
3. Send. Pending rows go in id order, `batch_size` at a time, grouped per Datastream, as one
   DataArray request (`POST CreateObservations`); a server without the extension (404, 405
   or 501 there, or no data-array conformance class) gets one `POST Observations` per row.
   Refused connections, timeouts, 5xx, 401/403/408/429 mean the platform is unavailable:
   the rows stay queued, the queue waits `min(2^attempts, max_backoff_s)` seconds and the run
   stops, so after recovery they arrive in order. A 4xx for one entity (or an "error" entry
   in the DataArray answer for a Datastream that is gone) is logged and dead-lettered.

Exactly once. Delivery over HTTP is at-least-once by nature: the server may store a request
whose answer never reaches us (timeout after the request left, a reset connection, a crash
of this process between the server's answer and our commit). The outbox closes that window:

- before a request leaves, its rows are marked `uncertain` (and `attempts` counted) and that
  is committed; when the answer arrives the rows are marked sent or dead, and `uncertain`
  cleared, in one transaction right after the answer;
- a failure that proves nothing was delivered (connection refused, connect timeout) clears
  `uncertain`; one after the request may have arrived (read timeout, reset, 5xx, an answer of
  the wrong length) keeps it;
- before an `uncertain` row is sent again, the Datastream's Observations in the rows' time
  range are read back (`$filter=phenomenonTime ge … and le …`): a row whose phenomenonTime is
  there already is marked sent without resending. Only Kerbside writes these Datastreams and
  (zone, phenomenonTime) is unique in the outbox, so a match is that row.

That makes delivery effectively exactly-once. The remaining window is a request the server
is still processing while the backoff (at least 2 s) has passed and the read-back finds
nothing; the server then stores it later and the resend stores it twice. The timeout
(`timeout_s`) being far longer than any sane insert keeps this theoretical.

Never two at once. A module-level lock is taken without blocking; a run that finds it held
returns at once (`skipped`), which also makes overlapping timer ticks coalesce. Across
processes the scheduler itself is single-leader (PostgreSQL advisory lock, see
`api.scheduler.leadership`), so an in-process lock suffices.

No personal data leaves: zone facts and counts only.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import col, select

from booking import live, zones
from booking.database import transaction
from booking.tables import PortalObservation, PortalThing, Zone
from booking.tables.portal import DEAD, PENDING, SENT
from opendata.settings import PortalSettings

log = logging.getLogger("kerbside.portal")

COUNT_OBSERVATION = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
COUNT_UNIT = {
    "name": "count",
    "symbol": "{count}",
    "definition": "http://www.qudt.org/qudt/owl/1.0.0/unit/Instances.html#Number",
}
FREE_BAYS_DEFINITION = "https://schema.org/availableCapacity"
# Statuses that say "not now" rather than "not this entity": hold the queue, do not dead-letter.
HOLD_STATUSES = frozenset({401, 403, 408, 425, 429})
# What a server without the DataArray extension answers on POST CreateObservations.
NO_DATA_ARRAY_STATUSES = frozenset({404, 405, 501})
# A row a live platform keeps refusing (DataArray "error" while its Datastream exists).
MAX_REFUSALS = 5
ZONE_CHUNK = 1000
# Things with their Locations' and Datastreams' ids. (Two levels of $expand over a full page
# of Things make django-ogc-sensorthings fail building nextLinks, so the scan stops at one.)
SCAN_QUERY = {
    "$select": "id,properties",
    "$expand": "Locations($select=id),Datastreams($select=id,properties)",
}
# One Thing with the ids of its Location and of its Datastreams' Sensor and ObservedProperty.
THING_QUERY = {
    "$select": "id,properties",
    "$expand": (
        "Locations($select=id),"
        "Datastreams($select=id,properties;"
        "$expand=Sensor($select=id),ObservedProperty($select=id))"
    ),
}

_running = threading.Lock()


# --------------------------------------------------------------------------------------------
# The platform
# --------------------------------------------------------------------------------------------


class Unavailable(Exception):
    """The platform could not be reached or failed (transport error, 5xx, 401/403/429...).

    `maybe_delivered` is False only when the request provably never reached the server.
    """

    def __init__(self, message: str, *, maybe_delivered: bool) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class Rejected(Exception):
    """A 4xx for one entity: retrying the same request will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class PartlySent(Unavailable):
    """Single POSTs stopped on an outage; `done` holds the outcomes reached before it."""

    def __init__(self, cause: Unavailable, done: dict[int, Outcome], failed: int) -> None:
        super().__init__(str(cause), maybe_delivered=cause.maybe_delivered)
        self.done = done
        self.failed = failed


@dataclass(frozen=True)
class RemoteIds:
    """A zone's entities on the platform."""

    thing: Any
    datastream: Any
    location: Any = None
    sensor: Any = None
    observed_property: Any = None


@dataclass(frozen=True)
class Item:
    """One outbox row on its way: where it goes and what it says."""

    id: int
    zone_id: str
    datastream: Any
    at: datetime
    result: int
    attempts: int = 0
    uncertain: bool = False


@dataclass(frozen=True)
class Outcome:
    """What became of one row: sent, dead (with why) or to retry (with why)."""

    status: str  # SENT, DEAD or PENDING
    error: str | None = None
    gone: bool = False
    """The row's Datastream no longer exists on the platform."""


def entity_path(set_name: str, entity_id: Any) -> str:
    """`Things(5)` for numeric ids, `Things('a''b')` for string ids (OData quoting)."""
    if isinstance(entity_id, int) and not isinstance(entity_id, bool):
        return f"{set_name}({entity_id})"
    return f"{set_name}('{str(entity_id).replace(chr(39), chr(39) * 2)}')"


_ID_IN_LINK = re.compile(r"\((?:'((?:[^']|'')*)'|(-?\d+))\)\s*$")


def id_from_link(link: str) -> Any:
    """The entity id at the end of a self link or Location header."""
    match = _ID_IN_LINK.search(link)
    if match is None:
        raise ValueError(f"no entity id in {link!r}")
    if match.group(2) is not None:
        return int(match.group(2))
    return match.group(1).replace("''", "'")


def _json(response: httpx.Response) -> Any:
    """The body as JSON; anything else is a platform failure (the request may have worked)."""
    try:
        return response.json()
    except ValueError as exc:
        raise Unavailable(
            f"{response.status_code} with a body that is not JSON: {response.text[:100]!r}",
            maybe_delivered=True,
        ) from exc


def _created_id(response: httpx.Response) -> Any:
    """The id of what a 201 created: its Location header, else the body's self link."""
    link = response.headers.get("Location")
    if not link and response.content:
        link = (_json(response) or {}).get("@iot.selfLink")
    if not link:
        raise Unavailable("201 without a Location header", maybe_delivered=True)
    return id_from_link(link)


def wire_time(at: datetime) -> str:
    """ISO 8601 with offset, in UTC, milliseconds at most (what FROST keeps)."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """The start of an ISO 8601 instant or interval."""
    return datetime.fromisoformat(value.split("/", 1)[0].replace("Z", "+00:00")).astimezone(UTC)


def phenomenon_time(now: datetime) -> datetime:
    """`now` cut to milliseconds, so what we store is exactly what a server reads back."""
    now = now.astimezone(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Portal:
    """The SensorThings server: one reused httpx client with timeouts and credentials.

    `data_array`: None asks the server (its conformance list) on first use; a 404, 405 or
    501 on CreateObservations turns it off for the life of this object.
    """

    def __init__(
        self,
        settings: PortalSettings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not settings.url:
            raise ValueError("the SensorThings push is disabled: KERBSIDE_PORTAL_URL is not set")
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self.data_array: bool | None = settings.data_array
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json", "User-Agent": "kerbside-portal-push"}
        if settings.auth == "basic":
            if settings.username is None or settings.password is None:
                raise ValueError("basic auth needs KERBSIDE_PORTAL_USERNAME and _PASSWORD")
            auth = httpx.BasicAuth(settings.username, settings.password)
        elif settings.auth == "bearer":
            if not settings.token:
                raise ValueError("bearer auth needs KERBSIDE_PORTAL_TOKEN")
            headers["Authorization"] = f"Bearer {settings.token}"
        self.client = httpx.Client(
            base_url=self.base_url + "/",
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; transport errors, 5xx and hold statuses raise Unavailable."""
        try:
            response = self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}", maybe_delivered=False) from exc
        except httpx.TransportError as exc:
            # Read timeouts, resets, a server gone mid-answer: the request may have arrived.
            raise Unavailable(f"{type(exc).__name__}: {exc}", maybe_delivered=True) from exc
        if response.status_code >= 500:
            raise Unavailable(
                f"{response.status_code} from {method} {url}: {response.text[:200]}",
                maybe_delivered=True,
            )
        if response.status_code in HOLD_STATUSES:
            raise Unavailable(
                f"{response.status_code} from {method} {url}: {response.text[:200]}",
                maybe_delivered=False,
            )
        if response.status_code >= 400:
            raise Rejected(response.status_code, f"{method} {url}: {response.text[:300]}")
        return response

    def collection(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict]:
        """Every entity of a collection, following @iot.nextLink."""
        url: str | None = path
        seen: set[str] = set()
        while url is not None:
            data = _json(self.request("GET", url, params=params))
            yield from data.get("value", [])
            url, params = data.get("@iot.nextLink"), None
            if url is not None:
                if url in seen:  # a server looping on its own links
                    raise Unavailable(f"nextLink loop at {url}", maybe_delivered=False)
                seen.add(url)

    def supports_data_array(self) -> bool:
        """Whether to use CreateObservations: as configured, else per the conformance list."""
        if self.data_array is None:
            try:
                root = _json(self.request("GET", ""))
            except Rejected:
                return True  # no landing page to ask: try it, a 404/405/501 turns it off
            conformance = (root.get("serverSettings") or {}).get("conformance")
            # No serverSettings (a 1.0 server): try it, likewise.
            self.data_array = conformance is None or any("data-array" in c for c in conformance)
        return self.data_array

    # -- provisioning -------------------------------------------------------------------------

    def find_zones(self) -> dict[str, list[RemoteIds]]:
        """Our Things by `assetID`: those with our Datastream first, then ours without one.

        A Thing is ours when it has a Datastream with our `serviceName` and `layerName`, or
        when its own properties carry our `serviceName`. Fetches the candidates and filters
        client-side: `properties/...` filters are not honoured by every server.
        """
        found: dict[str, list[RemoteIds]] = {}
        for thing in self.collection("Things", SCAN_QUERY):
            props = thing.get("properties") or {}
            asset = props.get("assetID")
            if asset is None:
                continue
            ours = [d for d in thing.get("Datastreams", []) if self._is_ours(d)]
            if ours:
                found.setdefault(str(asset), []).insert(0, self._ids(thing, ours[0]))
            elif props.get("serviceName") == self.settings.service_name:
                found.setdefault(str(asset), []).append(self._ids(thing, None))
        return found

    def _is_ours(self, datastream: dict) -> bool:
        props = datastream.get("properties") or {}
        return (
            props.get("serviceName") == self.settings.service_name
            and props.get("layerName") == self.settings.layer_name
        )

    @staticmethod
    def _ids(thing: dict, datastream: dict | None) -> RemoteIds:
        locations = thing.get("Locations") or [{}]
        datastream = datastream or {}
        return RemoteIds(
            thing=thing["@iot.id"],
            datastream=datastream.get("@iot.id"),
            location=locations[0].get("@iot.id"),
            sensor=(datastream.get("Sensor") or {}).get("@iot.id"),
            observed_property=(datastream.get("ObservedProperty") or {}).get("@iot.id"),
        )

    def create_thing(self, payload: dict) -> RemoteIds:
        """Deep-insert a Thing with its Location and Datastream; read back the new ids."""
        response = self.request("POST", "Things", json=payload)
        return self.thing_ids(_created_id(response))

    def add_datastream(self, thing: Any, payload: dict) -> RemoteIds:
        """Give a Thing of ours whose Datastream was removed a new one."""
        self.request("POST", "Datastreams", json={**payload, "Thing": {"@iot.id": thing}})
        return self.thing_ids(thing)

    def thing_ids(self, thing_id: Any) -> RemoteIds:
        """The ids of a Thing of ours, its Location, and our Datastream's entities."""
        thing = _json(self.request("GET", entity_path("Things", thing_id), params=THING_QUERY))
        ours = [d for d in thing.get("Datastreams", []) if self._is_ours(d)]
        if not ours:
            raise Unavailable(f"Thing {thing_id} has none of our Datastreams", maybe_delivered=True)
        return self._ids(thing, ours[0])

    # -- observations -------------------------------------------------------------------------

    def send(self, items: Sequence[Item]) -> dict[int, Outcome]:
        """Deliver the rows; raises Unavailable (PartlySent for single POSTs) on an outage."""
        if not items:
            return {}
        if self.supports_data_array():
            try:
                return self._send_data_array(items)
            except _NoDataArray as exc:
                log.warning(
                    "no DataArray extension on the platform; single POSTs", extra={"why": str(exc)}
                )
                self.data_array = False
        return self._send_single(items)

    def _send_data_array(self, items: Sequence[Item]) -> dict[int, Outcome]:
        groups: dict[str, tuple[Any, list[Item]]] = {}
        for item in items:
            groups.setdefault(repr(item.datastream), (item.datastream, []))[1].append(item)
        ordered = [item for _, group in groups.values() for item in group]
        body = [
            {
                "Datastream": {"@iot.id": datastream},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[wire_time(i.at), i.result] for i in group],
            }
            for datastream, group in groups.values()
        ]
        try:
            response = self.request("POST", "CreateObservations", json=body)
        except Rejected as exc:
            if exc.status in NO_DATA_ARRAY_STATUSES:
                raise _NoDataArray(str(exc)) from exc
            # The whole request refused: find the culprit one row at a time.
            log.warning("CreateObservations refused; isolating rows", extra={"error": str(exc)})
            return self._send_single(items)
        if response.status_code == 501:
            raise _NoDataArray("501")
        answer = _json(response)
        if not isinstance(answer, list) or len(answer) != len(ordered):
            got = len(answer) if isinstance(answer, list) else repr(answer)[:100]
            raise Unavailable(
                f"CreateObservations answered {got} for {len(ordered)} rows", maybe_delivered=True
            )
        outcomes: dict[int, Outcome] = {}
        failed: dict[str, Any] = {}
        for item, created in zip(ordered, answer, strict=True):
            if isinstance(created, str) and created.lower() != "error":
                outcomes[item.id] = Outcome(SENT)
            else:
                failed[repr(item.datastream)] = item.datastream
        for key, datastream in failed.items():
            gone = not self.datastream_exists(datastream)
            for item in groups[key][1]:
                if item.id in outcomes:
                    continue
                if gone:
                    outcomes[item.id] = Outcome(DEAD, f"Datastream {datastream} is gone", gone=True)
                elif item.attempts >= MAX_REFUSALS:
                    outcomes[item.id] = Outcome(DEAD, f"refused {item.attempts} times (DataArray)")
                else:
                    outcomes[item.id] = Outcome(PENDING, "DataArray answered 'error'")
        return outcomes

    def _send_single(self, items: Sequence[Item]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        for n, item in enumerate(items):
            body = {
                "phenomenonTime": wire_time(item.at),
                "result": item.result,
                "Datastream": {"@iot.id": item.datastream},
            }
            try:
                self.request("POST", "Observations", json=body)
            except Rejected as exc:
                outcomes[item.id] = Outcome(DEAD, str(exc))
            except Unavailable as exc:
                raise PartlySent(exc, outcomes, failed=n) from exc
            else:
                outcomes[item.id] = Outcome(SENT)
        return outcomes

    def datastream_exists(self, datastream: Any) -> bool:
        try:
            self.request("GET", entity_path("Datastreams", datastream), params={"$select": "id"})
        except Rejected as exc:
            if exc.status in (404, 410):
                return False
            raise Unavailable(str(exc), maybe_delivered=False) from exc
        return True

    def stored_times(self, datastream: Any, start: datetime, end: datetime) -> set[datetime]:
        """phenomenonTimes of the Datastream's Observations within [start, end]."""
        params = {
            "$filter": (
                f"phenomenonTime ge {wire_time(start)} and phenomenonTime le {wire_time(end)}"
            ),
            "$select": "id,phenomenonTime",
        }
        path = entity_path("Datastreams", datastream) + "/Observations"
        try:
            return {parse_time(o["phenomenonTime"]) for o in self.collection(path, params)}
        except Rejected as exc:
            if exc.status in (404, 410):
                return set()
            raise Unavailable(str(exc), maybe_delivered=False) from exc


class _NoDataArray(Exception):
    """The server has no CreateObservations endpoint (nothing was stored)."""


# --------------------------------------------------------------------------------------------
# The push
# --------------------------------------------------------------------------------------------


@dataclass
class PushResult:
    """What one run did."""

    skipped: bool = False
    created: int = 0
    """Zones provisioned with new entities on the platform."""
    adopted: int = 0
    """Zones whose entities were found on the platform (restart, lost ids)."""
    refused: list[str] = field(default_factory=list)
    """Zones the platform refused to provision (4xx), with the reason."""
    queued: int = 0
    sent: int = 0
    confirmed: int = 0
    """Rows found on the platform by read-back after an ambiguous attempt; not resent."""
    dead: int = 0
    pending: int = 0
    """Rows still queued when the run ended."""
    unavailable: str | None = None
    backoff_until: datetime | None = None
    data_array: bool | None = None


def push(
    *,
    engine: Engine,
    portal: Portal,
    settings: PortalSettings,
    now: datetime,
) -> PushResult:
    """One run: provision, enqueue, send. Returns at once (skipped) if a run is going on."""
    if not _running.acquire(blocking=False):
        log.info("portal push still running; this tick is skipped")
        return PushResult(skipped=True)
    try:
        result = PushResult()
        try:
            provision(engine=engine, portal=portal, settings=settings, result=result, now=now)
        except Unavailable as exc:
            result.unavailable = str(exc)
            log.warning("platform unavailable while provisioning", extra={"error": str(exc)})
        except Rejected as exc:  # e.g. a wrong service URL: say so, and still queue and send
            result.refused.append(f"Things: {exc}")
            log.error("platform refused the Things query", extra={"error": str(exc)})
        result.queued = enqueue(engine=engine, settings=settings, now=now)
        if result.unavailable is None:
            send(engine=engine, portal=portal, settings=settings, result=result, now=now)
        with transaction(engine, write=False) as session:
            result.pending = session.exec(
                select(func.count())
                .select_from(PortalObservation)
                .where(PortalObservation.status == PENDING)
            ).one()
        result.data_array = portal.data_array
        log.info(
            "portal push",
            extra={
                k: getattr(result, k)
                for k in ("created", "adopted", "queued", "sent", "confirmed", "dead", "pending")
            },
        )
        return result
    finally:
        _running.release()


class PushJob:
    """The scheduler's job: holds one Portal (so one HTTP client) for the life of the process.

    Schedule it every `settings.interval_s` with `max_instances=1, coalesce=True`; `close()`
    at shutdown.
    """

    def __init__(
        self,
        engine: Engine,
        settings: PortalSettings,
        clock: Callable[[], datetime],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self.portal = Portal(settings, transport=transport)

    def __call__(self) -> PushResult:
        return push(
            engine=self.engine, portal=self.portal, settings=self.settings, now=self.clock()
        )

    def close(self) -> None:
        self.portal.close()


# -- 1. provisioning ---------------------------------------------------------------------------


def provision(
    *, engine: Engine, portal: Portal, settings: PortalSettings, result: PushResult, now: datetime
) -> None:
    """Give every active zone without remote ids its entities: found, else created."""
    with transaction(engine, write=False) as session:
        missing = list(
            session.exec(
                select(Zone)
                .outerjoin(PortalThing, col(PortalThing.zone_id) == col(Zone.id))
                .where(Zone.status == zones.ACTIVE, col(PortalThing.zone_id).is_(None))
                .order_by(Zone.id)
            )
        )
        if not missing:
            return
        wanted = [z.id for z in missing] if len(missing) <= ZONE_CHUNK else None
        bays = zones.bay_counts(session=session, zone_ids=wanted)
    existing = portal.find_zones()
    for zone in missing:
        candidates = existing.get(zone.id, [])
        if len(candidates) > 1:
            log.warning(
                "several Things on the platform for one zone; using the first",
                extra={"zone_id": zone.id, "things": [c.thing for c in candidates]},
            )
        payload = thing_payload(zone, bays.get(zone.id, 0), settings)
        try:
            if candidates and candidates[0].datastream is not None:
                ids = portal.thing_ids(candidates[0].thing)
                result.adopted += 1
            elif candidates:  # our Thing, whose Datastream someone removed
                ids = portal.add_datastream(candidates[0].thing, payload["Datastreams"][0])
                result.created += 1
            else:
                ids = portal.create_thing(payload)
                result.created += 1
        except Rejected as exc:
            log.error(
                "platform refused a zone's entities", extra={"zone_id": zone.id, "error": str(exc)}
            )
            result.refused.append(f"{zone.id}: {exc}")
            continue
        with transaction(engine) as session:
            session.add(
                PortalThing(
                    zone_id=zone.id,
                    thing_id=ids.thing,
                    location_id=ids.location,
                    datastream_id=ids.datastream,
                    sensor_id=ids.sensor,
                    observed_property_id=ids.observed_property,
                    created_at=now,
                )
            )


def thing_payload(zone: Zone, bays: int, settings: PortalSettings) -> dict[str, Any]:
    """The deep insert for one zone: Thing, Location, Datastream, Sensor, ObservedProperty."""
    place = zone.address or zone.name
    return {
        "name": f"Ladezone {zone.name}",
        "description": f"Bookable kerbside loading zone {zone.id} ({place})",
        "properties": {
            "assetID": zone.id,
            "address": zone.address,
            "district": zone.district,
            "bays": bays,
            "serviceName": settings.service_name,
        },
        "Locations": [
            {
                "name": f"Ladezone {zone.name}",
                "description": place,
                "encodingType": "application/geo+json",
                "location": zone.geometry or {"type": "Point", "coordinates": [zone.lon, zone.lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"Freie Ladeplätze {zone.name}",
                "description": (
                    f"Free loading bays of zone {zone.id}: neither reserved, closed nor occupied"
                ),
                "observationType": COUNT_OBSERVATION,
                "unitOfMeasurement": COUNT_UNIT,
                "properties": {
                    "serviceName": settings.service_name,
                    "layerName": settings.layer_name,
                },
                "Sensor": {
                    "name": f"Kerbside availability {zone.id}",
                    "description": "Free bays computed by Kerbside from bay sensors and bookings",
                    "encodingType": "text/html",
                    "metadata": "https://www.ogc.org/standard/sensorthings/",
                },
                "ObservedProperty": {
                    "name": "free loading bays",
                    "definition": FREE_BAYS_DEFINITION,
                    "description": "Number of loading bays free now",
                },
            }
        ],
    }


# -- 2. enqueue ------------------------------------------------------------------------------


def enqueue(*, engine: Engine, settings: PortalSettings, now: datetime) -> int:
    """Store an observation for each provisioned zone whose count changed or is due again."""
    at = phenomenon_time(now)
    keepalive = timedelta(minutes=settings.keepalive_min)
    queued = 0
    with transaction(engine) as session:
        things = {t.zone_id: t for t in session.exec(select(PortalThing))}
        active = list(
            session.exec(
                select(Zone)
                .join(PortalThing, col(PortalThing.zone_id) == col(Zone.id))
                .where(Zone.status == zones.ACTIVE)
                .order_by(col(Zone.id))
            )
        )
        for start in range(0, len(active), ZONE_CHUNK):
            chunk = active[start : start + ZONE_CHUNK]
            for state in live.now(session=session, zones=chunk, at=now):
                thing = things[state.zone.id]
                if state.free is None:  # withheld: publish no number, say it when it is back
                    if thing.last_result is not None:
                        thing.last_result = None
                        session.add(thing)
                    continue
                if thing.last_queued_at is not None and thing.last_queued_at >= at:
                    continue
                changed = thing.last_result != state.free
                due = thing.last_queued_at is None or at - thing.last_queued_at >= keepalive
                if not (changed or due):
                    continue
                session.add(
                    PortalObservation(
                        zone_id=state.zone.id, phenomenon_time=at, result=state.free, created_at=now
                    )
                )
                thing.last_result, thing.last_queued_at = state.free, at
                session.add(thing)
                queued += 1
    return queued


# -- 3. send ---------------------------------------------------------------------------------


def send(
    *, engine: Engine, portal: Portal, settings: PortalSettings, result: PushResult, now: datetime
) -> None:
    """Deliver due rows in order, batch by batch, until the queue is empty or the platform fails."""
    while True:
        batch = _next_batch(engine, settings, result, now)
        if not batch:
            return
        try:
            confirmed = _read_back(portal, [i for i in batch if i.uncertain])
        except Unavailable as exc:
            _hold(engine, settings, batch, exc, now, result, maybe_delivered=None)
            return
        to_send = [i for i in batch if i.id not in confirmed]
        with transaction(engine) as session:
            for row in _rows(session, [i.id for i in batch]):
                if row.id in confirmed:
                    row.status, row.uncertain, row.sent_at = SENT, False, now
                else:
                    row.attempts += 1
                    row.uncertain = True  # from here the row may be on the platform
                session.add(row)
        result.confirmed += len(confirmed)
        to_send = [
            Item(i.id, i.zone_id, i.datastream, i.at, i.result, i.attempts + 1, True)
            for i in to_send
        ]
        try:
            outcomes = portal.send(to_send)
        except PartlySent as exc:
            _record(engine, exc.done, now, result)
            failing, untouched = to_send[exc.failed], to_send[exc.failed + 1 :]
            _hold(
                engine, settings, [failing], exc, now, result, maybe_delivered=exc.maybe_delivered
            )
            _hold(engine, settings, untouched, exc, now, result, maybe_delivered=False)
            return
        except Unavailable as exc:
            _hold(engine, settings, to_send, exc, now, result, maybe_delivered=exc.maybe_delivered)
            return
        _record(engine, outcomes, now, result)
        retry = [i for i in to_send if outcomes[i.id].status == PENDING]
        if retry:
            _hold(
                engine,
                settings,
                retry,
                Unavailable(outcomes[retry[0].id].error or "refused", maybe_delivered=False),
                now,
                result,
                maybe_delivered=False,
            )
            return
        if len(batch) < settings.batch_size:
            return


def _next_batch(
    engine: Engine, settings: PortalSettings, result: PushResult, now: datetime
) -> list[Item]:
    """The oldest pending rows with a Datastream, unless the queue is backing off."""
    with transaction(engine, write=False) as session:
        hold = session.exec(
            select(func.max(PortalObservation.next_attempt_at)).where(
                PortalObservation.status == PENDING
            )
        ).one()
        if hold is not None and hold.tzinfo is None:
            hold = hold.replace(tzinfo=UTC)
        if hold is not None and hold > now:
            result.backoff_until = hold
            return []
        rows = session.exec(
            select(PortalObservation, PortalThing.datastream_id)
            .join(PortalThing, col(PortalThing.zone_id) == col(PortalObservation.zone_id))
            .where(PortalObservation.status == PENDING)
            .order_by(col(PortalObservation.id))
            .limit(settings.batch_size)
        ).all()
    return [
        Item(r.id or 0, r.zone_id, ds, r.phenomenon_time, r.result, r.attempts, r.uncertain)
        for r, ds in rows
    ]


def _read_back(portal: Portal, items: list[Item]) -> set[int]:
    """Rows of an ambiguous earlier attempt that the platform has stored already."""
    by_stream: dict[str, list[Item]] = {}
    for item in items:
        by_stream.setdefault(repr(item.datastream), []).append(item)
    found: set[int] = set()
    for group in by_stream.values():
        times = portal.stored_times(
            group[0].datastream, min(i.at for i in group), max(i.at for i in group)
        )
        found.update(i.id for i in group if i.at in times)
    if found:
        log.info(
            "rows found on the platform after an ambiguous attempt", extra={"rows": len(found)}
        )
    return found


def _rows(session: Any, ids: Sequence[int]) -> list[PortalObservation]:
    if not ids:
        return []
    return list(session.exec(select(PortalObservation).where(col(PortalObservation.id).in_(ids))))


def _record(
    engine: Engine, outcomes: dict[int, Outcome], now: datetime, result: PushResult
) -> None:
    """Store the server's answer: sent rows, dead letters (and drop a gone Datastream's ids)."""
    gone: set[str] = set()
    with transaction(engine) as session:
        for row in _rows(session, list(outcomes)):
            outcome = outcomes[row.id or 0]
            if outcome.status == PENDING:
                continue
            row.uncertain = False
            row.status = outcome.status
            if outcome.status == SENT:
                row.sent_at = now
                result.sent += 1
            else:
                row.last_error = (outcome.error or "")[:500]
                result.dead += 1
                log.error(
                    "observation dead-lettered",
                    extra={"row": row.id, "zone_id": row.zone_id, "error": outcome.error},
                )
                if outcome.gone:
                    gone.add(row.zone_id)
            session.add(row)
        for zone_id in gone:
            # Someone removed the Datastream: its queued rows cannot arrive, and the zone is
            # provisioned again on the next run.
            for row in session.exec(
                select(PortalObservation).where(
                    PortalObservation.zone_id == zone_id, PortalObservation.status == PENDING
                )
            ):
                row.status, row.uncertain = DEAD, False
                row.last_error = "Datastream is gone"
                session.add(row)
                result.dead += 1
            thing = session.get(PortalThing, zone_id)
            if thing is not None:
                session.delete(thing)


def _hold(
    engine: Engine,
    settings: PortalSettings,
    items: Sequence[Item],
    exc: Unavailable,
    now: datetime,
    result: PushResult,
    *,
    maybe_delivered: bool | None,
) -> None:
    """The platform is unavailable: keep the rows, back the queue off, remember the doubt.

    `maybe_delivered=None` leaves each row's doubt as it was (nothing new was sent).
    """
    if not items:
        return
    with transaction(engine) as session:
        for row in _rows(session, [i.id for i in items]):
            if maybe_delivered is None:
                row.attempts += 1  # a failed read-back counts, so the backoff grows
            else:
                row.uncertain = maybe_delivered
            delay = min(2 ** max(row.attempts, 1), settings.max_backoff_s)
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = str(exc)[:500]
            session.add(row)
            result.backoff_until = max(
                result.backoff_until or row.next_attempt_at, row.next_attempt_at
            )
    result.unavailable = str(exc)
    log.warning(
        "platform unavailable; observations stay queued",
        extra={"rows": len(items), "until": result.backoff_until, "error": str(exc)},
    )

"""Open feeds: building zones.geojson and the DATEX II status, and serving a cached feed.

Goals from the open-data issue: zones.geojson and the DATEX II status for 100,000 bays
(20,000 zones) built in <= 1 s each; a cached feed served at >= 2,000 req/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlmodel import col, select

from bench import Goal, Report
from bench.http_load import _WRK_MARK, _WRK_TIMEOUT, LoadResult, pick_generator, serve_in_child
from booking import demo, live, migrate, zones
from booking.database import make_engine, new_session, transaction
from booking.tables import Zone
from booking.zone_specs import ZoneSpec
from opendata import datex2, geojson

BUILD_GOAL = Goal("<=", 1.0)
SERVE_GOAL = Goal(">=", 2000.0)
FEED_PATH = "/feed/zones.geojson"
DEFAULT_TZ = "Europe/Berlin"
_DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def run(argv: Sequence[str]) -> Report:
    """Measure the availability read, both renderings, and cached serving over HTTP."""
    args = _parse(argv)
    report = Report(
        name="feeds",
        title=f"open feeds over {args.zones:,} zones x {args.bays} bays (SQLite)",
        parameters=vars(args),
    )
    with tempfile.TemporaryDirectory(prefix="kerbside-bench-feeds-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'feeds.db'}"
        _load(database_url, args, report)
        _build(database_url, args, report)
        gc.collect()
        if args.duration > 0:
            _serve(database_url, args, report)
        else:
            report.notes.append("HTTP part skipped (--duration 0).")
    return report


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench feeds", description=__doc__)
    parser.add_argument("--zones", type=int, default=20_000, help="zones in the city")
    parser.add_argument("--bays", type=int, default=5, help="bays per zone")
    parser.add_argument("--seed", type=int, default=1, help="seed of the zones")
    parser.add_argument("--repeats", type=int, default=3, help="timed builds (best and median)")
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per HTTP load run; 0 skips HTTP"
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent HTTP connections")
    parser.add_argument("--ttl", type=float, default=60, help="KERBSIDE_FEED_TTL_S of the server")
    return parser.parse_args(list(argv))


def _specs(count: int, bays: int, seed: int) -> list[ZoneSpec]:
    """demo.generate's zones, but each with exactly `bays` bays."""
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = demo.HAMBURG_BBOX
    width = len(str(count))
    specs = []
    for n in range(count):
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        length_m = bays * 12.0
        heading = rng.uniform(0, math.pi)
        dlon = length_m * math.cos(heading) / (111_320 * math.cos(math.radians(lat)))
        dlat = length_m * math.sin(heading) / 111_320
        specs.append(
            ZoneSpec(
                id=f"FEED-{n + 1:0{width}d}",
                name=f"Loading zone {n + 1}",
                address=f"Synthetic Street {n + 1}",
                district="Synthetic",
                geometry={
                    "type": "LineString",
                    "coordinates": [
                        [round(lon, 7), round(lat, 7)],
                        [round(lon + dlon, 7), round(lat + dlat, 7)],
                    ],
                },
                bays=bays,
            )
        )
    return specs


def _load(database_url: str, args: argparse.Namespace, report: Report) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    specs = _specs(args.zones, args.bays, args.seed)
    started = time.perf_counter()
    with transaction(engine) as session:
        zones.upsert_many(
            session=session, specs=specs, now=datetime.now(UTC), default_tz=DEFAULT_TZ
        )
    report.add("load zones (upsert_many)", time.perf_counter() - started, "s")
    engine.dispose()


def _build(database_url: str, args: argparse.Namespace, report: Report) -> None:
    engine = make_engine(database_url)
    reads, geo, datex, geo_sizes, datex_sizes = [], [], [], [], []
    bay_total = 0
    for _ in range(args.repeats):
        at = datetime.now(UTC)
        t0 = time.perf_counter()
        with new_session(engine) as session:
            active = list(
                session.exec(select(Zone).where(Zone.status == "active").order_by(col(Zone.id)))
            )
            zone_nows = live.now(session=session, zones=active, at=at)
        t1 = time.perf_counter()
        body = json.dumps(
            geojson.zones_feed(zone_nows, generated_at=at), separators=(",", ":")
        ).encode()
        t2 = time.perf_counter()
        xml = datex2.parking_status(
            zone_nows, publication_time=at, table_reference=datex2.table_reference(zone_nows)
        )
        t3 = time.perf_counter()
        reads.append(t1 - t0)
        geo.append(t2 - t1)
        datex.append(t3 - t2)
        geo_sizes.append(len(body))
        datex_sizes.append(len(xml))
        bay_total = sum(z.bay_count for z in zone_nows)
    engine.dispose()
    report.parameters["bays_total"] = bay_total
    report.parameters["zones_read"] = len(zone_nows)
    read, g, d = sorted(reads), sorted(geo), sorted(datex)
    mid = len(read) // 2
    report.add("availability read live.now (median)", read[mid], "s")
    report.add("zones.geojson render + json.dumps (median)", g[mid], "s")
    report.add("DATEX II status render (median)", d[mid], "s")
    geo_e2e = sorted(r + x for r, x in zip(reads, geo, strict=True))
    datex_e2e = sorted(r + x for r, x in zip(reads, datex, strict=True))
    report.add("zones.geojson build read+render (median)", geo_e2e[mid], "s", BUILD_GOAL)
    report.add("DATEX II status build read+render (median)", datex_e2e[mid], "s", BUILD_GOAL)
    report.add("zones.geojson build read+render (worst)", geo_e2e[-1], "s", BUILD_GOAL)
    report.add("DATEX II status build read+render (worst)", datex_e2e[-1], "s", BUILD_GOAL)
    report.add("zones.geojson size", geo_sizes[-1] / 1e6, "MB")
    report.add("DATEX II status size", datex_sizes[-1] / 1e6, "MB")
    report.notes.append(
        f"{args.repeats} builds in-process, each: new read session, live.now over all active "
        "zones, then each rendering from the same ZoneNow list (the server repeats the read "
        "per feed)."
    )


def serve_api(database_url: str, ttl_s: float, host: str, port: int) -> None:
    """Serve the real app on one uvicorn worker (run in a child process by the benchmark)."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings
    from booking.settings import BookingSettings

    booking_settings = BookingSettings(database_url=database_url)
    engine = make_engine(database_url, pool_size=booking_settings.db_pool_size)
    api_settings = ApiSettings(env="test", jwt_secret="x" * 40, feed_ttl_s=ttl_s)
    app = create_app(api_settings, booking_settings, engine=engine)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", access_log=False)


def _wrk(url: str, headers: dict[str, str], connections: int, duration_s: float) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="kerbside-wrk-") as tmp:
        script = Path(tmp) / "done.lua"
        script.write_text(_DONE_LUA.format(mark=_WRK_MARK))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--timeout"]
        command += [_WRK_TIMEOUT, "-s", str(script)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith(_WRK_MARK))
    summary = json.loads(line.removeprefix(_WRK_MARK))
    return LoadResult(
        generator="wrk",
        requests=summary["requests"],
        duration_s=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3,
        max_ms=summary["max_us"] / 1e3,
    )


def _serve(database_url: str, args: argparse.Namespace, report: Report) -> None:
    if pick_generator("auto") != "wrk":
        report.notes.append("HTTP part skipped: wrk is not installed.")
        return
    with serve_in_child(serve_api, database_url, args.ttl) as server:
        started = time.perf_counter()
        first = httpx.get(server.url + FEED_PATH, headers={"Accept-Encoding": "gzip"}, timeout=120)
        first.raise_for_status()
        report.add("first GET zones.geojson (uncached build)", time.perf_counter() - started, "s")
        report.add("zones.geojson gzipped size", first.num_bytes_downloaded / 1e6, "MB")
        etag = first.headers["etag"]
        gzip_headers = {"Accept-Encoding": "gzip"}
        cached = _wrk(server.url + FEED_PATH, gzip_headers, args.connections, args.duration)
        report.add("cached zones.geojson (gzip) req/s", cached.requests_per_s, "req/s", SERVE_GOAL)
        report.add("cached zones.geojson p99", cached.p99_ms, "ms")
        report.add("cached zones.geojson errors", cached.errors, "requests")
        conditional = _wrk(
            server.url + FEED_PATH,
            {**gzip_headers, "If-None-Match": etag},
            args.connections,
            args.duration,
        )
        report.add("If-None-Match 304 req/s", conditional.requests_per_s, "req/s", SERVE_GOAL)
        report.add("If-None-Match 304 p99", conditional.p99_ms, "ms")
        report.add("If-None-Match 304 errors", conditional.errors, "requests")
        check = httpx.get(server.url + FEED_PATH, headers={"If-None-Match": etag}, timeout=30)
        report.notes.append(
            f"HTTP: one uvicorn worker, KERBSIDE_FEED_TTL_S={args.ttl:g} (so every timed request "
            f"is served from the cache), wrk -t1 -c{args.connections} -d{args.duration:g}s; "
            f"conditional check answered {check.status_code}."
        )

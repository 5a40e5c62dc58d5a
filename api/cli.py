"""The `kerbside` command: run the platform, migrate, manage zones and users."""

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from api import logs, scheduler
from api.app import Background, create_app
from api.settings import ApiSettings, SettingsError
from booking import accounts, demo, migrate, zones
from booking.database import make_engine, transaction
from booking.errors import DomainError, InvalidInput
from booking.settings import BookingSettings
from mobile_client.cli import app as driver_app
from sensors import simulator as sim
from sensors.service import IngestService, SimulatorService
from sensors.settings import MqttSettings

app = typer.Typer(help="Kerbside: bookable kerbside loading zones.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
zones_app = typer.Typer(help="Zone inventory.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(zones_app, name="zones")
app.add_typer(users_app, name="users")
app.add_typer(driver_app, name="driver")


def _now() -> datetime:
    return datetime.now(UTC)


def _settings() -> tuple[ApiSettings, BookingSettings]:
    api_settings, booking_settings = ApiSettings(), BookingSettings()
    try:
        api_settings.check()
    except SettingsError as exc:
        typer.echo(f"kerbside: {exc}", err=True)
        raise typer.Exit(2) from None
    return api_settings, booking_settings


def _fail(exc: DomainError) -> typer.Exit:
    typer.echo(f"kerbside: {exc.detail}", err=True)
    if isinstance(exc, InvalidInput):
        for problem in exc.problems:
            typer.echo(f"  {problem.pointer or '(document)'}: {problem.detail}", err=True)
    return typer.Exit(1)


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Address to bind (KERBSIDE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (KERBSIDE_PORT).")] = None,
    demo_zones: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load SMALA demo zones.")
    ] = True,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Publish simulated sensor traffic (the map moves).")
    ] = False,
) -> None:
    """Start the whole platform on one machine: migrations, demo zones and the API."""
    api_settings, booking_settings = _settings()
    logs.configure(api_settings.log_level, api_settings.log_format)
    host, port = host or api_settings.host, port or api_settings.port
    engine = make_engine(booking_settings.database_url, pool_size=booking_settings.db_pool_size)
    migrate.upgrade(engine)
    if demo_zones and api_settings.load_demo:
        with transaction(engine) as session:
            demo.load_smala(session=session, now=_now(), default_tz=booking_settings.timezone)
    ingest = IngestService(engine, MqttSettings(), policy=booking_settings.policy(), clock=_now)
    background: list[Background] = [ingest]
    if simulate:
        background.append(SimulatorService(engine, ingest, sim.SimConfig(rate=1.0, speed=30.0)))
    application = create_app(
        api_settings, booking_settings, engine=engine, run_scheduler=True, background=background
    )
    base = f"http://{host}:{port}"
    typer.echo(f"Kerbside is starting on {base}")
    typer.echo(f"  Driver app: {base}/app/")
    typer.echo(f"  Console:    {base}/console/")
    typer.echo(f"  API docs:  {base}/docs")
    typer.echo(f"  Zones:     {base}/api/v1/zones")
    uvicorn.run(application, host=host, port=port, log_config=None)


@app.command()
def api(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the API only (production: migrate first with `kerbside db upgrade`)."""
    api_settings, _ = _settings()
    logs.configure(api_settings.log_level, api_settings.log_format)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or api_settings.host,
        port=port or api_settings.port,
        workers=workers,
        log_config=None,
    )


@app.command()
def ingest() -> None:
    """Consume sensor messages from MQTT (KERBSIDE_MQTT_URL) and publish zone signs."""
    api_settings, booking_settings = _settings()
    logs.configure(api_settings.log_level, api_settings.log_format)
    engine = make_engine(booking_settings.database_url, pool_size=booking_settings.db_pool_size)
    service = IngestService(engine, MqttSettings(), policy=booking_settings.policy(), clock=_now)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    service.start()
    host, port, _, _ = service.settings.broker_address()
    typer.echo(f"ingest consuming from {host}:{port}")
    stop.wait()
    service.stop()


@app.command()
def simulate(
    fmt: Annotated[
        str, typer.Option("--format", help="Message format: native, chirpstack or tts.")
    ] = "native",
    rate: Annotated[
        float, typer.Option(help="Target messages per second, a working day's mean.")
    ] = 0.3,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (60: a minute a second).")
    ] = 60.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until ^C).")
    ] = None,
    max_messages: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    start: Annotated[
        str | None,
        typer.Option(help='Simulated start: "HH:MM" today or ISO 8601 (default: now).'),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same traffic.")] = 0,
    broken: Annotated[float, typer.Option(help="Share of deliberately broken payloads.")] = 0.005,
) -> None:
    """Publish simulated sensor traffic for the zones in the database to the MQTT broker."""
    api_settings, booking_settings = _settings()
    logs.configure(api_settings.log_level, api_settings.log_format)
    try:
        begin = None
        if start is not None:
            begin = sim.parse_start(start, timezone=booking_settings.timezone, now=_now())
        config = sim.SimConfig(
            fmt=fmt,  # type: ignore[arg-type]  # checked by SimConfig
            rate=rate,
            speed=speed,
            seed=seed,
            start=begin,
            broken_share=broken,
        )
    except ValueError as exc:
        typer.echo(f"kerbside: {exc}", err=True)
        raise typer.Exit(2) from None
    engine = make_engine(booking_settings.database_url, pool_size=2)
    sensors = sim.enrol(engine, fmt=config.fmt, now=_now())
    if not sensors:
        typer.echo("kerbside: no bays to simulate; import zones first", err=True)
        raise typer.Exit(1)
    simulator = sim.Simulator(sensors.values(), config)
    if simulator.plan.saturated:
        typer.echo(
            f"kerbside: {len(sensors)} bays make about {simulator.plan.capacity_rate:.2f} "
            f"messages/s at speed {speed:g}; raise --speed for more",
            err=True,
        )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: simulator.stop())
    mqtt_settings = MqttSettings()
    host, port, _, _ = mqtt_settings.broker_address()
    try:
        with sim.MqttPublisher.from_settings(mqtt_settings) as publisher:
            simulator.publish = publisher.publish
            typer.echo(f"simulating {len(sensors)} sensors ({config.fmt}) to {host}:{port}")
            stats = simulator.run(duration_s=duration, max_messages=max_messages)
    except ConnectionError as exc:
        typer.echo(f"kerbside: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"published {stats.published} ({stats.status} status, {stats.heartbeat} heartbeats, "
        f"{stats.battery} battery, {stats.broken} broken); "
        f"simulated until {simulator.simulated_now.isoformat(timespec='minutes')}"
    )


@app.command("scheduler")
def run_scheduler() -> None:
    """Run the time-driven jobs; replicas wait on a PostgreSQL advisory lock as standbys."""
    api_settings, booking_settings = _settings()
    logs.configure(api_settings.log_level, api_settings.log_format)
    engine = make_engine(booking_settings.database_url, pool_size=booking_settings.db_pool_size)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with scheduler.leadership(engine, stop=stop) as leading:
        if not leading:
            return
        background = scheduler.build(scheduler.Jobs(engine, booking_settings, _now))
        background.start()
        typer.echo("scheduler running; Ctrl+C stops it")
        stop.wait()
        scheduler.shutdown(background)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations."""
    _, booking_settings = _settings()
    migrate.upgrade(make_engine(booking_settings.database_url), revision)
    typer.echo(f"database at {revision}")


@zones_app.command("import")
def zones_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import a GeoJSON FeatureCollection of zones (upsert by id; all or nothing)."""
    _, booking_settings = _settings()
    try:
        collection = json.loads(file.read_text(encoding="utf-8"))
        specs = zones.parse_features(collection)
    except json.JSONDecodeError as exc:
        typer.echo(f"kerbside: {file} is not JSON: {exc}", err=True)
        raise typer.Exit(1) from None
    except DomainError as exc:
        raise _fail(exc) from None
    engine = make_engine(booking_settings.database_url)
    migrate.upgrade(engine)
    with (
        transaction(engine) as session,
        typer.progressbar(length=len(specs), label="importing zones", file=sys.stderr) as bar,
    ):
        result = zones.upsert_many(
            session=session,
            specs=specs,
            now=_now(),
            default_tz=booking_settings.timezone,
            progress=bar.update,
        )
    typer.echo(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")


@zones_app.command("export")
def zones_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Export all active zones as a GeoJSON FeatureCollection."""
    _, booking_settings = _settings()
    with transaction(make_engine(booking_settings.database_url), write=False) as session:
        collection = zones.export_features(session=session)
    text = json.dumps(collection, ensure_ascii=False, indent=1)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text)


@zones_app.command("generate")
def zones_generate(
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many zones.")],
    bbox: Annotated[str, typer.Option(help="minlon,minlat,maxlon,maxlat")] = ",".join(
        map(str, demo.HAMBURG_BBOX)
    ),
    seed: int = 1,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Write a synthetic city of zones as GeoJSON, for benchmarks and demos."""
    try:
        box = [float(v) for v in bbox.split(",")]
        if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
            raise ValueError
    except ValueError:
        typer.echo("kerbside: --bbox must be minlon,minlat,maxlon,maxlat", err=True)
        raise typer.Exit(2) from None
    features = []
    for spec in demo.generate(count, bbox=box, seed=seed):
        properties = spec.model_dump(exclude={"id", "geometry"}, exclude_defaults=True)
        features.append(
            {"type": "Feature", "id": spec.id, "geometry": spec.geometry, "properties": properties}
        )
    text = json.dumps({"type": "FeatureCollection", "features": features})
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {count} zones to {output}", err=True)
    else:
        typer.echo(text)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Annotated[str, typer.Option(help="driver, fleet_manager, operator or admin")] = "driver",
    fleet: Annotated[str | None, typer.Option(help="Fleet name (fleet managers).")] = None,
) -> None:
    """Create an account, e.g. the first operator or admin."""
    _, booking_settings = _settings()
    engine = make_engine(booking_settings.database_url)
    migrate.upgrade(engine)
    try:
        with transaction(engine) as session:
            account = accounts.register(
                session=session,
                email=email,
                password=password,
                role=role,
                fleet_name=fleet,
                now=_now(),
            )
            typer.echo(f"created {account.role} {account.email} (id {account.id})")
    except DomainError as exc:
        raise _fail(exc) from None


if __name__ == "__main__":
    app()

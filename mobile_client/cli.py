"""`kerbside driver ...`: the SDK on the command line, for fleet dispatch and scripts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from mobile_client.client import KerbsideClient
from mobile_client.errors import KerbsideError, ZoneFullError

app = typer.Typer(help="Book loading bays as a driver or fleet.", no_args_is_help=True)


def _config_path() -> Path:
    default = Path.home() / ".config" / "kerbside" / "driver.json"
    return Path(os.environ.get("KERBSIDE_DRIVER_CONFIG", default))


def _client() -> KerbsideClient:
    path = _config_path()
    if not path.exists():
        typer.echo("kerbside: log in first: kerbside driver login --email ...", err=True)
        raise typer.Exit(2)
    saved = json.loads(path.read_text())
    return KerbsideClient(saved["url"], token=saved["token"])


def _fail(exc: KerbsideError) -> typer.Exit:
    typer.echo(f"kerbside: {exc.detail}", err=True)
    if isinstance(exc, ZoneFullError):
        for option in exc.alternatives:
            typer.echo(
                f"  try {option.zone_id} ({option.zone_name}, {option.distance_m:.0f} m) "
                f"{option.start:%H:%M}-{option.end:%H:%M}",
                err=True,
            )
    return typer.Exit(1)


@app.command()
def login(
    email: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    url: Annotated[str, typer.Option(help="Kerbside server.")] = "http://127.0.0.1:8000",
) -> None:
    """Log in and remember the token for the other commands."""
    with KerbsideClient(url) as client:
        try:
            token = client.login(email, password)
        except KerbsideError as exc:
            raise _fail(exc) from None
    path = _config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "token": token}))
    path.chmod(0o600)
    typer.echo(f"logged in as {email}")


@app.command()
def zones(
    lat: Annotated[float, typer.Option()],
    lon: Annotated[float, typer.Option()],
    radius: Annotated[float, typer.Option(help="metres")] = 1000,
    start: Annotated[str | None, typer.Option("--from", help="ISO 8601 with offset")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601 with offset")] = None,
) -> None:
    """Zones near a point with free bays."""
    with _client() as client:
        try:
            found = client.zones(lat=lat, lon=lon, radius_m=radius, start=start, end=end)
        except KerbsideError as exc:
            raise _fail(exc) from None
    for zone in found:
        typer.echo(
            f"{zone.id:<12} {zone.free_bays}/{zone.bay_count} free  "
            f"{zone.distance_m or 0:>6.0f} m  {zone.name}"
        )


@app.command()
def book(
    zone_id: str,
    duration: Annotated[int, typer.Option(help="minutes")] = 30,
    start: Annotated[str, typer.Option(help="ISO 8601 with offset, or now")] = "now",
    plate: Annotated[str | None, typer.Option()] = None,
    vehicle: Annotated[int | None, typer.Option(help="vehicle id")] = None,
) -> None:
    """Book a bay; prints the booking code for the sign and the officer."""
    with _client() as client:
        try:
            booking = client.book(
                zone_id, start=start, duration_min=duration, plate=plate, vehicle_id=vehicle
            )
        except KerbsideError as exc:
            raise _fail(exc) from None
    typer.echo(
        f"{booking.code}  {booking.zone_name} bay {booking.bay_label}  "
        f"{booking.start.isoformat()} - {booking.end.isoformat()}  id {booking.id}"
    )


@app.command("list")
def list_(status: Annotated[str | None, typer.Option()] = None) -> None:
    """Your bookings (a fleet manager's: the fleet's)."""
    with _client() as client:
        try:
            found = client.reservations(status=status)
        except KerbsideError as exc:
            raise _fail(exc) from None
    for r in found:
        when = f"{r.start:%Y-%m-%d %H:%M}Z"
        typer.echo(f"{r.code}  {r.status:<10} {r.zone_id:<12} bay {r.bay_label}  {when}  {r.id}")


@app.command()
def cancel(reservation_id: str) -> None:
    """Cancel a booking."""
    with _client() as client:
        try:
            done = client.cancel(reservation_id)
        except KerbsideError as exc:
            raise _fail(exc) from None
    typer.echo(f"{done.code} cancelled")

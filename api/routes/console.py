"""The operators' console at /console: static files, the packaged Leaflet, and its config."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse

from api.static import LEAFLET_DIR, static_files

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© OpenStreetMap contributors"
# Revalidate on every load (a 304 is cheap): a cached script must not outlive a deploy.
REVALIDATE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.api_route("/console", methods=["GET", "HEAD"])
def console_without_slash() -> RedirectResponse:
    """The console lives at /console/, so its relative paths resolve below it."""
    return RedirectResponse("/console/", status_code=308)


@router.api_route("/console/", methods=["GET", "HEAD"])
def index() -> FileResponse:
    """The console's page; it logs in and talks to the REST API and the event stream."""
    return FileResponse(CONSOLE_DIR / "index.html", media_type="text/html", headers=REVALIDATE)


@router.api_route("/console/config.json", methods=["GET", "HEAD"])
def config(request: Request) -> dict[str, Any]:
    """Map tiles (KERBSIDE_TILE_URL), the operators' time zone and the server's clock."""
    state = request.app.state
    api_settings = state.api_settings
    booking_settings = getattr(state, "booking_settings", None)
    return {
        "tile_url": getattr(api_settings, "tile_url", None) or DEFAULT_TILE_URL,
        "attribution": getattr(api_settings, "tile_attribution", None) or DEFAULT_ATTRIBUTION,
        "timezone": getattr(booking_settings, "timezone", None) or "Europe/Berlin",
        # "Today" and "now" are the server's: the console's timelines follow its clock.
        "now": state.clock().isoformat(),
    }


def mount(app: FastAPI) -> None:
    """Mount the console's files and the packaged Leaflet (no CDN), gzip-compressed."""
    app.mount("/console/static", static_files(CONSOLE_DIR), name="console-static")
    app.mount("/console/vendor/leaflet", static_files(LEAFLET_DIR), name="console-leaflet")

"""The operators' console at /console: static files, the packaged Leaflet, and its config."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from xstatic.pkg import leaflet

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
LEAFLET_DIR = Path(leaflet.BASE_DIR)
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


class _Revalidate:
    """Adds `Cache-Control: no-cache` to static responses (their ETags make it cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Cache-Control", "no-cache")
            await send(message)

        await self.app(scope, receive, send_with_header)


def _static(directory: Path) -> ASGIApp:
    return GZipMiddleware(_Revalidate(StaticFiles(directory=directory)), minimum_size=1000)


def mount(app: FastAPI) -> None:
    """Mount the console's files and the packaged Leaflet (no CDN), gzip-compressed."""
    app.mount("/console/static", _static(CONSOLE_DIR), name="console-static")
    app.mount("/console/vendor/leaflet", _static(LEAFLET_DIR), name="console-leaflet")

"""The driver's mobile web app at /app: static files, Leaflet, manifest, service worker, config."""

from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.static import LEAFLET_DIR, static_files


def _web_dir() -> Path:
    # Located, not imported: the API never imports the driver's side (DESIGN.md).
    spec = find_spec("mobile_client")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The mobile_client package (the driver app's files) is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "web"


WEB_DIR = _web_dir()
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "© OpenStreetMap contributors"
# Revalidate on every load (a 304 is cheap): a heuristically cached script would outlive a deploy.
REVALIDATE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.api_route("/app", methods=["GET", "HEAD"])
async def app_without_slash() -> RedirectResponse:
    """The app lives at /app/: the service worker's scope, so it also opens offline."""
    return RedirectResponse("/app/", status_code=308)


def _file(
    request: Request, name: str, media_type: str, extra: dict[str, str] | None = None
) -> Response:
    """A file of the app, or 304 when the browser's copy (by ETag) is still current."""
    path = WEB_DIR / name
    headers = {**REVALIDATE, **(extra or {})}
    response = FileResponse(path, media_type=media_type, headers=headers, stat_result=path.stat())
    if request.headers.get("if-none-match") == response.headers["etag"]:
        return Response(status_code=304, headers={**headers, "ETag": response.headers["etag"]})
    return response


@router.api_route("/app/", methods=["GET", "HEAD"])
async def index(request: Request) -> Response:
    """The app shell."""
    return _file(request, "index.html", "text/html; charset=utf-8")


@router.api_route("/app/sw.js", methods=["GET", "HEAD"])
async def service_worker(request: Request) -> Response:
    """The service worker that caches the app shell, scoped to /app/."""
    return _file(request, "sw.js", "text/javascript", {"Service-Worker-Allowed": "/app/"})


@router.api_route("/app/manifest.webmanifest", methods=["GET", "HEAD"])
async def manifest(request: Request) -> Response:
    """The web app manifest that makes the app installable."""
    return _file(request, "manifest.webmanifest", "application/manifest+json")


@router.api_route("/app/config.json", methods=["GET", "HEAD"])
async def config(request: Request) -> dict[str, str]:
    """Where the map tiles come from (KERBSIDE_TILE_URL), and their attribution."""
    settings = request.app.state.api_settings
    return {
        "tile_url": getattr(settings, "tile_url", None) or DEFAULT_TILE_URL,
        "attribution": getattr(settings, "tile_attribution", None) or DEFAULT_ATTRIBUTION,
    }


def mount(app: FastAPI) -> None:
    """Mount the app's static files and the packaged Leaflet (gzip-compressed)."""
    app.mount("/app/static", static_files(WEB_DIR / "static"), name="webapp-static")
    app.mount("/app/vendor/leaflet", static_files(LEAFLET_DIR), name="webapp-leaflet")

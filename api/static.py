"""Static files for the two web apps: revalidated by ETag, gzip-compressed, Leaflet from PyPI."""

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from xstatic.pkg import leaflet

# Served from the installed xstatic-leaflet package: nothing loads from a CDN.
LEAFLET_DIR = Path(leaflet.BASE_DIR)


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


def static_files(directory: Path) -> ASGIApp:
    """An ASGI app serving `directory`, gzip-compressed and revalidated on every use."""
    return GZipMiddleware(_Revalidate(StaticFiles(directory=directory)), minimum_size=1000)

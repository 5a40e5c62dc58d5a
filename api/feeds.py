"""Serving open feeds fast: built at most once per TTL, gzipped once, answered with 304s."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response


@dataclass(frozen=True)
class Built:
    """One rendering of a feed."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    built_at: float


class FeedCache:
    """Feeds by name; a stale feed is rebuilt by one request while the others get the old one."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._feeds: dict[str, Built] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, name: str, build: Callable[[], bytes], *, now: Callable[[], datetime]) -> Built:
        """The feed, rebuilt when older than the TTL; Last-Modified moves only when it changed."""
        current = self._feeds.get(name)
        if current is not None and time.monotonic() - current.built_at < self.ttl_s:
            return current
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=current is None):
            return current  # type: ignore[return-value]  # someone is rebuilding; serve the old one
        try:
            current = self._feeds.get(name)
            if current is not None and time.monotonic() - current.built_at < self.ttl_s:
                return current
            body = build()
            etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
            modified = (
                current.last_modified
                if current is not None and current.etag == etag
                else now().replace(microsecond=0)
            )
            built = Built(body, gzip.compress(body, 6), etag, modified, time.monotonic())
            self._feeds[name] = built
            return built
        finally:
            lock.release()


def respond(request: Request, built: Built, media_type: str) -> Response:
    """200 with the body (gzipped when accepted), or 304 when the client's copy is current."""
    headers = {
        "ETag": built.etag,
        "Last-Modified": format_datetime(built.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "public, max-age=10",
        "Vary": "Accept-Encoding",
    }
    if _not_modified(request, built):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(built.gzipped, media_type=media_type, headers=headers)
    return Response(built.body, media_type=media_type, headers=headers)


def _not_modified(request: Request, built: Built) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return built.etag in {tag.strip() for tag in match.split(",")} or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return built.last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False

"""Real services for tests: reachable locally means run, unreachable means skip, CI means fail."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get(
    "KERBSIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def reachable(url: str, default_port: int) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(service: str, available: bool, how: str) -> None:
    """Skip locally with a one-line reason, fail in CI, when a service is missing."""
    if available:
        return
    message = f"{service} is not available ({how})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true makes this suite mandatory", pytrace=False)
    pytest.skip(message)

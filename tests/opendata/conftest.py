"""A real SensorThings API 1.1 server for the push tests: django-ogc-sensorthings on loopback.

The server (tests/opendata/sta_server) runs in a subprocess under uvicorn with its own SQLite
file; `stop()` and `start()` take it down and bring it back on the same port and database,
for outage tests.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import require

REPO = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = "tests.opendata.sta_server.settings"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db: Path, port: int, auth: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "STA_DB_PATH": str(db),
        "STA_SERVICE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(REPO),
    }
    env.pop("STA_AUTH", None)
    if auth:
        env["STA_AUTH"] = auth
    return env


class StaServer:
    """django-ogc-sensorthings under uvicorn in a subprocess; `url` is the service root."""

    def __init__(self, db: Path, log: Path, *, auth: str | None = None) -> None:
        self.db, self.log, self.auth = db, log, auth
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1.1"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        if self.process is not None:
            return
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "tests.opendata.sta_server.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                cwd=REPO,
                env=_env(self.db, self.port, self.auth),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"SensorThings server exited: {self.log.read_text()[-2000:]}")
            try:
                # Any HTTP answer means it is up (401 included, when it wants credentials).
                httpx.get(self.url + "/", timeout=1.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("SensorThings server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def sta_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty server database, made once and copied for every server."""
    require(
        "django-ogc-sensorthings",
        importlib.util.find_spec("sensorthings") is not None,
        "pip install django-ogc-sensorthings",
    )
    db = tmp_path_factory.mktemp("sta") / "template.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity", "0", "--no-input"],
        cwd=REPO,
        env=_env(db, 0),
        check=True,
        timeout=120,
    )
    return db


def _server(template: Path, tmp: Path, auth: str | None = None) -> Iterator[StaServer]:
    db = tmp / "sta.sqlite3"
    shutil.copyfile(template, db)
    server = StaServer(db, tmp / "sta.log", auth=auth)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sta_server(sta_template: Path, tmp_path: Path) -> Iterator[StaServer]:
    """A fresh SensorThings server (empty database) per test."""
    yield from _server(sta_template, tmp_path)


@pytest.fixture
def sta_server_with_auth(sta_template: Path, tmp_path: Path) -> Iterator[StaServer]:
    """A fresh server that accepts only the bearer token "s3cret"."""
    yield from _server(sta_template, tmp_path, auth="bearer:s3cret")

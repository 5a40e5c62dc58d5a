"""The `kerbside` command, run as a user runs it: a real subprocess."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KERBSIDE = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parent.parent


def kerbside(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KERBSIDE, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_generate_import_export_round_trip(tmp_path: Path) -> None:
    city = tmp_path / "city.geojson"
    generated = kerbside("zones", "generate", "--count", "120", "--output", str(city), cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    first = kerbside("zones", "import", str(city), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created 120, updated 0, unchanged 0" in first.stdout
    assert "importing zones" in first.stderr  # progress is shown
    second = kerbside("zones", "import", str(city), cwd=tmp_path)
    assert "created 0, updated 0, unchanged 120" in second.stdout
    exported = kerbside("zones", "export", cwd=tmp_path)
    assert len(json.loads(exported.stdout)["features"]) == 120
    assert (tmp_path / "var" / "kerbside.db").exists()


def test_bad_import_lists_problems_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]}))
    result = kerbside("zones", "import", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "features/0" in result.stderr and "nothing was written" in result.stderr
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("{not json")
    assert "is not JSON" in kerbside("zones", "import", str(garbage), cwd=tmp_path).stderr


def test_users_create_makes_an_operator(tmp_path: Path) -> None:
    result = kerbside(
        "users", "create", "--email", "op@city.example", "--password", "long enough pw",
        "--role", "operator", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0 and "created operator op@city.example" in result.stdout
    again = kerbside(
        "users",
        "create",
        "--email",
        "op@city.example",
        "--password",
        "long enough pw",
        cwd=tmp_path,
    )
    assert again.returncode == 1 and "exists already" in again.stderr


def test_production_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    result = kerbside("db", "upgrade", cwd=tmp_path, env={"KERBSIDE_ENV": "production"})
    assert result.returncode == 2 and "KERBSIDE_JWT_SECRET" in result.stderr


def test_run_serves_the_demo_zones_and_prints_the_urls(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*KERBSIDE, "run", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "KERBSIDE_LOG_FORMAT": "text"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/zones", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("kerbside run did not start")
                time.sleep(0.2)
        ids = [z["id"] for z in response.json()["items"]]
        assert ids == ["HH-ABC-1", "HH-ALS-1", "HH-HER-1", "HH-LRE-1"]
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/docs" in output

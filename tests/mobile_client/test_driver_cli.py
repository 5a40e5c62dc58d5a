"""`kerbside driver ...` against the real server, run as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from booking import demo
from booking.database import transaction
from tests.conftest import LiveServer
from tests.factories import PASSWORD, make_account

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def smala(app: FastAPI) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")
        make_account(session, "cli@example.com")


def driver(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "driver", *args],
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "KERBSIDE_DRIVER_CONFIG": str(tmp_path / "d.json"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_login_zones_book_list_cancel(live_server: LiveServer, tmp_path: Path) -> None:
    login = driver(
        tmp_path,
        "login",
        "--url",
        live_server.url,
        "--email",
        "cli@example.com",
        "--password",
        PASSWORD,
    )
    assert login.returncode == 0, login.stderr
    assert oct((tmp_path / "d.json").stat().st_mode)[-3:] == "600"
    zones = driver(tmp_path, "zones", "--lat", "53.5549", "--lon", "9.9857", "--radius", "300")
    assert zones.stdout.startswith("HH-ABC-1") and "2/2 free" in zones.stdout
    booked = driver(tmp_path, "book", "HH-ABC-1", "--duration", "30", "--plate", "HH-CL 1")
    assert booked.returncode == 0, booked.stderr
    code, reservation_id = booked.stdout.split()[0], booked.stdout.split()[-1]
    listed = driver(tmp_path, "list")
    assert code in listed.stdout and "booked" in listed.stdout
    assert driver(tmp_path, "cancel", reservation_id).stdout.strip() == f"{code} cancelled"


def test_refusals_show_the_servers_sentence(live_server: LiveServer, tmp_path: Path) -> None:
    driver(
        tmp_path,
        "login",
        "--url",
        live_server.url,
        "--email",
        "cli@example.com",
        "--password",
        PASSWORD,
    )
    too_long = driver(tmp_path, "book", "HH-ABC-1", "--duration", "90", "--plate", "HH CL 2")
    assert too_long.returncode == 1 and "at most 60 minutes" in too_long.stderr
    wrong = driver(
        tmp_path,
        "login",
        "--url",
        live_server.url,
        "--email",
        "cli@example.com",
        "--password",
        "nope nope",
    )
    assert wrong.returncode == 1 and "E-mail or password is wrong" in wrong.stderr


def test_commands_before_login_say_so(tmp_path: Path) -> None:
    result = driver(tmp_path, "list")
    assert result.returncode == 2 and "log in first" in result.stderr

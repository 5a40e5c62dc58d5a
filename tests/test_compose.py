"""The production stack: docker-compose.yml, Dockerfile and .dockerignore keep their promises."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import require

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

A_JWT_SECRET = "compose-test-secret-" + "k" * 40
# PostgreSQL's defaults, and what the application does when a setting is absent.
DEFAULT_MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3
DEFAULT_POOL_SIZE = 20
# Share of the usable connections the stack may take; the rest is for psql and one-off commands.
CONNECTION_BUDGET_SHARE = 0.8


# --- helpers ----------------------------------------------------------------------------------


def compose_cli() -> list[str] | None:
    """The Compose command line here: docker-compose (v1) or the v2 plugin; None if neither."""
    if path := shutil.which("docker-compose"):
        return [path]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


def run_compose(
    cli: list[str], env_file: Path, jwt_secret: str | None
) -> subprocess.CompletedProcess[str]:
    """`config -q` on our compose file, with only the given secret and no stray KERBSIDE_* env."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KERBSIDE_", "COMPOSE_"))
    }
    if jwt_secret is not None:
        env["KERBSIDE_JWT_SECRET"] = jwt_secret
    return subprocess.run(
        # An empty --env-file keeps a developer's .env out of the result.
        [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load_compose() -> dict[str, Any]:
    """docker-compose.yml as data, YAML anchors and merge keys resolved."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service(name: str) -> dict[str, Any]:
    """One service of docker-compose.yml."""
    services = load_compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def environment(spec: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whether written as a mapping or a list."""
    raw = spec.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def argv(spec: dict[str, Any]) -> list[str]:
    """A service's command as an argument list."""
    command = spec.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def option(args: list[str], name: str, default: str) -> str:
    """The value of `--name value` or `--name=value` in an argument list."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def postgres_setting(args: list[str], name: str, default: object) -> str:
    """The value of `-c name=value` on a postgres command line, else the default."""
    values = [
        setting.split("=", 1)[1]
        for flag, setting in pairwise(args)
        if flag == "-c" and setting.startswith(name + "=")
    ]
    return values[-1] if values else str(default)


def runs_kerbside_image(spec: dict[str, Any]) -> bool:
    """Whether a service runs the image built from this repository."""
    return "build" in spec or str(spec.get("image", "")).startswith("kerbside")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage, its FROM included."""
    instructions = dockerfile_instructions()
    start = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[start:]


def exec_form(arguments: str) -> list[str]:
    """A JSON exec-form argument list; Docker would silently run anything else through a shell."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), arguments
    assert all(isinstance(arg, str) for arg in parsed), arguments
    return parsed


# --- docker-compose itself validates the file -----------------------------------------------


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The Compose CLI; skipped locally without one, failed in CI."""
    cli = compose_cli()
    require(
        "docker compose",
        cli is not None,
        "install Debian's docker-compose or the Docker Compose v2 plugin",
    )
    assert cli is not None
    return cli


@pytest.fixture
def empty_env_file(tmp_path: Path) -> Path:
    """An empty env file, so that no .env in the project changes what compose sees."""
    path = tmp_path / "empty.env"
    path.write_text("", encoding="utf-8")
    return path


def test_compose_file_is_valid_when_a_jwt_secret_is_given(
    compose: list[str], empty_env_file: Path
) -> None:
    result = run_compose(compose, empty_env_file, A_JWT_SECRET)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("jwt_secret", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_the_stack_without_a_jwt_secret(
    compose: list[str], empty_env_file: Path, jwt_secret: str | None
) -> None:
    result = run_compose(compose, empty_env_file, jwt_secret)
    assert result.returncode != 0, "compose accepted the production stack without a JWT secret"
    assert "KERBSIDE_JWT_SECRET" in result.stdout + result.stderr


# --- what the compose file promises -------------------------------------------------------------


def test_api_waits_for_migrations_which_wait_for_a_healthy_postgres() -> None:
    api, migrate = service("api"), service("migrate")
    assert api["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert argv(migrate) == ["kerbside", "db", "upgrade"]
    assert str(migrate.get("restart", "no")) == "no", "migrate is one-shot"


def test_api_serves_in_production_mode_on_port_8000() -> None:
    api = service("api")
    args = argv(api)
    assert args[:2] == ["kerbside", "api"]
    assert option(args, "--host", "") == "0.0.0.0"
    assert option(args, "--port", "") == "8000"
    assert environment(api)["KERBSIDE_ENV"] == "production"
    assert environment(api)["KERBSIDE_DATABASE_URL"].startswith("postgresql://")
    assert any(str(port).endswith("8000") for port in api.get("ports", []))


def test_every_production_service_requires_a_jwt_secret_from_the_environment() -> None:
    services = load_compose()["services"]
    production = {
        name: spec
        for name, spec in services.items()
        if environment(spec).get("KERBSIDE_ENV") == "production"
    }
    assert "api" in production
    for name, spec in production.items():
        secret = environment(spec).get("KERBSIDE_JWT_SECRET", "")
        assert re.fullmatch(r"\$\{KERBSIDE_JWT_SECRET:\?[^}]+\}", secret), (
            f"{name}: KERBSIDE_JWT_SECRET must be ${{KERBSIDE_JWT_SECRET:?message}}, not {secret!r}"
        )


def test_postgres_reports_health_with_pg_isready_and_keeps_data_in_a_named_volume() -> None:
    postgres = service("postgres")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_USER"] == "kerbside"
    assert postgres["environment"]["POSTGRES_DB"] == "kerbside"
    named = load_compose().get("volumes") or {}
    sources = [str(volume).split(":", 1)[0] for volume in postgres.get("volumes", [])]
    assert any(source in named for source in sources), sources


def test_api_healthcheck_asks_for_readiness_not_just_liveness() -> None:
    test = service("api")["healthcheck"]["test"]
    assert "/readyz" in (test if isinstance(test, str) else " ".join(test))


def test_database_connections_of_the_stack_stay_well_below_max_connections() -> None:
    compose_data = load_compose()
    services = compose_data["services"]
    max_connections = int(
        postgres_setting(argv(services["postgres"]), "max_connections", DEFAULT_MAX_CONNECTIONS)
    )
    usable = max_connections - SUPERUSER_RESERVED_CONNECTIONS
    worst_case = {
        name: int(option(argv(spec), "--workers", "1"))
        * int((spec.get("deploy") or {}).get("replicas", 1))
        * int(environment(spec).get("KERBSIDE_DB_POOL_SIZE", DEFAULT_POOL_SIZE))
        for name, spec in services.items()
        if runs_kerbside_image(spec)
    }
    assert environment(services["api"])["KERBSIDE_DB_POOL_SIZE"] == "20"
    assert sum(worst_case.values()) <= usable * CONNECTION_BUDGET_SHARE, (
        f"workers x replicas x pool per service {worst_case} exceeds "
        f"{CONNECTION_BUDGET_SHARE:.0%} of {usable} usable PostgreSQL connections"
    )


def test_compose_file_uses_the_compose_spec_without_a_version_key() -> None:
    assert "version" not in load_compose()


# --- what the image promises ------------------------------------------------------------------


def test_image_runs_kerbside_api_by_default() -> None:
    stage = final_stage()
    entrypoint = [exec_form(args) for keyword, args in stage if keyword == "ENTRYPOINT"]
    cmd = [exec_form(args) for keyword, args in stage if keyword == "CMD"]
    command = (entrypoint[-1] if entrypoint else []) + (cmd[-1] if cmd else [])
    assert command[:1] == ["kerbside"], command
    assert command == ["kerbside", "api"]


def test_image_is_python_311_slim_and_runs_as_a_non_root_user() -> None:
    stage = final_stage()
    assert stage[0][1].split()[0] == "python:3.11-slim"
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "the image must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_image_exposes_8000_and_checks_liveness_with_python_not_curl() -> None:
    stage = final_stage()
    assert any(keyword == "EXPOSE" and "8000" in args.split() for keyword, args in stage)
    checks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    _, _, command = checks[0].partition("CMD ")
    probe = exec_form(command)
    assert probe[0] == "python"
    assert "urllib" in probe[-1] and "/healthz" in probe[-1]
    assert "curl" not in checks[0]


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".venv", "var", ".env", "tests/artifacts", "**/__pycache__"):
        assert needed in patterns, f".dockerignore should exclude {needed}"

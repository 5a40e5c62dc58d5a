"""The production stack: docker-compose.yml, Dockerfile, .dockerignore, deploy/ keep their promises.

Mosquitto's configuration is checked twice: as text (what compose would run) and by starting the
real broker with it, its ACL and a password file made by the same script the stack runs.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import re
import shlex
import shutil
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sensors.settings import MqttSettings
from tests.services import require

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MOSQUITTO_DIR = ROOT / "deploy" / "mosquitto"
MOSQUITTO_CONF = MOSQUITTO_DIR / "mosquitto.conf"
MOSQUITTO_ACL = MOSQUITTO_DIR / "acl"
MAKE_PASSWORDS = MOSQUITTO_DIR / "make-passwords.sh"

A_JWT_SECRET = "compose-test-secret-" + "k" * 40
AN_INGEST_PASSWORD = "ingest-test-password-" + "m" * 20
# Mosquitto's default max_queued_messages is 1000: minutes of a busy sensor network.
MIN_QUEUED_MESSAGES = 10_000
# PostgreSQL's defaults, and what the application does when a setting is absent.
DEFAULT_MAX_CONNECTIONS = 100
SUPERUSER_RESERVED_CONNECTIONS = 3
DEFAULT_POOL_SIZE = 20
# Share of the usable connections the stack may take; the rest is for psql and one-off commands.
CONNECTION_BUDGET_SHARE = 0.8
# Pools of the processes besides the API (their commands' defaults, set again in compose).
INGEST_POOL_SIZE = 4
SCHEDULER_POOL_SIZE = 2


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
    cli: list[str],
    env_file: Path,
    jwt_secret: str | None,
    *,
    ingest_password: str | None = AN_INGEST_PASSWORD,
) -> subprocess.CompletedProcess[str]:
    """`config -q` on our compose file, with only the given secrets and no stray KERBSIDE_* env."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KERBSIDE_", "COMPOSE_"))
    }
    if jwt_secret is not None:
        env["KERBSIDE_JWT_SECRET"] = jwt_secret
    if ingest_password is not None:
        env["KERBSIDE_MQTT_INGEST_PASSWORD"] = ingest_password
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


def services_running(*command: str) -> dict[str, dict[str, Any]]:
    """The services whose command starts with the given arguments."""
    return {
        name: spec
        for name, spec in load_compose()["services"].items()
        if argv(spec)[: len(command)] == list(command)
    }


def volume_mounts(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A service's short-syntax volumes as {target: (source, mode)}."""
    mounts = {}
    for volume in spec.get("volumes", []):
        source, target, *rest = str(volume).split(":")
        mounts[target] = (source, rest[0] if rest else "rw")
    return mounts


def mosquitto_directives(text: str) -> dict[str, list[str]]:
    """mosquitto.conf as {directive: [values, in order]}, comments and blank lines dropped."""
    directives: dict[str, list[str]] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, _, value = stripped.partition(" ")
            directives.setdefault(name, []).append(value.strip())
    return directives


def mosquitto_setting(name: str) -> str:
    """The one value of a directive in deploy/mosquitto/mosquitto.conf."""
    values = mosquitto_directives(MOSQUITTO_CONF.read_text(encoding="utf-8")).get(name, [])
    assert len(values) == 1, f"mosquitto.conf should set {name} once, not {values}"
    return values[0]


ACCESS = {"read": {"read"}, "write": {"write"}, "readwrite": {"read", "write"}, "deny": set()}


@dataclass
class Acl:
    """A Mosquitto acl_file, evaluated the way Mosquitto 2's default ACL check does.

    A client may read (receive) or write (publish) a topic when an entry of its user, or a
    pattern with %u (user name) and %c (client id) filled in, matches the topic. Anything not
    granted is denied.
    """

    users: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    patterns: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Acl:
        acl = cls()
        entries: list[tuple[str, str]] | None = None  # None: before any `user` line (anonymous)
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            keyword, _, rest = stripped.partition(" ")
            words = rest.split()
            if keyword == "user":
                assert len(words) == 1, f"acl line {number}: {line!r}"
                entries = acl.users.setdefault(words[0], [])
                continue
            assert keyword in ("topic", "pattern"), f"acl line {number}: {line!r}"
            assert len(words) in (1, 2), f"acl line {number}: {line!r}"
            access, topic = words if len(words) == 2 else ["readwrite", words[0]]
            assert access in ACCESS, f"acl line {number}: unknown access {access!r}"
            if keyword == "pattern":
                acl.patterns.append((access, topic))
            else:
                assert entries is not None, f"acl line {number}: a topic line before any user"
                entries.append((access, topic))
        return acl

    def allows(self, user: str, action: str, topic: str, *, client_id: str = "any-client") -> bool:
        entries = list(self.users.get(user, []))
        for access, pattern in self.patterns:
            entries.append((access, pattern.replace("%u", user).replace("%c", client_id)))
        matching = [access for access, acl_topic in entries if topic_matches_sub(acl_topic, topic)]
        return "deny" not in matching and any(action in ACCESS[a] for a in matching)


def load_acl() -> Acl:
    return Acl.parse(MOSQUITTO_ACL.read_text(encoding="utf-8"))


def concrete(topic_filter: str, value: str = "x1") -> str:
    """A topic that a filter matches: every + filled in, a trailing # dropped."""
    levels = [value if level == "+" else level for level in topic_filter.split("/")]
    return "/".join(level for level in levels if level != "#")


def ingest_topic_filters() -> list[str]:
    """What `kerbside ingest` subscribes to by default (the compose file does not change it)."""
    return list(MqttSettings.model_fields["topics"].get_default(call_default_factory=True))


def sign_topic(zone_id: str) -> str:
    prefix = MqttSettings.model_fields["sign_topic_prefix"].get_default()
    return f"{prefix}/{zone_id}/sign"


def native_topic(sensor_id: str) -> str:
    return f"kerbside/v1/sensors/{sensor_id}/state"


CHIRPSTACK_UPLINK = "application/7f3c/device/0011223344556677/event/up"
TTS_UPLINK = "v3/kerbside@ttn/devices/bay-sensor-1/up"


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


def test_compose_file_is_valid_when_the_jwt_secret_and_ingest_password_are_given(
    compose: list[str], empty_env_file: Path
) -> None:
    # The optional MQTT users (chirpstack, tts, signs) stay unset: they are optional.
    result = run_compose(compose, empty_env_file, A_JWT_SECRET)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("jwt_secret", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_the_stack_without_a_jwt_secret(
    compose: list[str], empty_env_file: Path, jwt_secret: str | None
) -> None:
    result = run_compose(compose, empty_env_file, jwt_secret)
    assert result.returncode != 0, "compose accepted the production stack without a JWT secret"
    assert "KERBSIDE_JWT_SECRET" in result.stdout + result.stderr


@pytest.mark.parametrize("password", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_the_stack_without_an_mqtt_ingest_password(
    compose: list[str], empty_env_file: Path, password: str | None
) -> None:
    result = run_compose(compose, empty_env_file, A_JWT_SECRET, ingest_password=password)
    assert result.returncode != 0, "compose accepted the stack without an MQTT ingest password"
    assert "KERBSIDE_MQTT_INGEST_PASSWORD" in result.stdout + result.stderr


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
    # Every long-running process is counted: API workers, each ingest consumer, the scheduler.
    ingest, scheduler = (
        services_running("kerbside", "ingest"),
        services_running("kerbside", "scheduler"),
    )
    assert len(ingest) >= 2 and len(scheduler) == 1, (list(ingest), list(scheduler))
    for name in [*ingest, *scheduler]:
        assert name in worst_case, f"{name} does not run the kerbside image"
    for spec in ingest.values():
        assert environment(spec)["KERBSIDE_DB_POOL_SIZE"] == str(INGEST_POOL_SIZE)
    for spec in scheduler.values():
        assert environment(spec)["KERBSIDE_DB_POOL_SIZE"] == str(SCHEDULER_POOL_SIZE)
    assert sum(worst_case.values()) <= usable * CONNECTION_BUDGET_SHARE, (
        f"workers x replicas x pool per service {worst_case} exceeds "
        f"{CONNECTION_BUDGET_SHARE:.0%} of {usable} usable PostgreSQL connections"
    )


def test_compose_file_uses_the_compose_spec_without_a_version_key() -> None:
    assert "version" not in load_compose()


def test_long_running_processes_without_http_do_not_inherit_the_api_healthcheck() -> None:
    # The image's HEALTHCHECK asks /healthz on port 8000, which only `kerbside api` serves.
    for name, spec in load_compose()["services"].items():
        if not runs_kerbside_image(spec) or str(spec.get("restart", "no")) == "no":
            continue
        if argv(spec)[:2] != ["kerbside", "api"]:
            assert (spec.get("healthcheck") or {}).get("disable") is True, name


# --- Mosquitto: configuration, passwords, ACL --------------------------------------------------


def test_mosquitto_requires_a_password_and_an_acl_and_keeps_a_deep_persistent_queue() -> None:
    assert mosquitto_setting("listener") == "1883"
    assert mosquitto_setting("allow_anonymous") == "false"
    assert mosquitto_setting("password_file")
    assert mosquitto_setting("acl_file")
    assert int(mosquitto_setting("max_queued_messages")) >= MIN_QUEUED_MESSAGES
    # The consumer acknowledges whole batches; the broker must let it hold one unacknowledged.
    batch_size = MqttSettings.model_fields["batch_size"].get_default()
    assert int(mosquitto_setting("max_inflight_messages")) >= batch_size
    assert mosquitto_setting("persistence") == "true"
    assert mosquitto_setting("persistence_location")


def test_mosquitto_runs_that_config_with_auth_files_and_data_on_named_volumes() -> None:
    broker = service("mosquitto")
    named = load_compose().get("volumes") or {}
    assert str(broker["image"]).startswith("eclipse-mosquitto:2")
    mounts = volume_mounts(broker)
    assert mounts["/mosquitto/config/mosquitto.conf"] == ("./deploy/mosquitto/mosquitto.conf", "ro")
    auth_dir = str(Path(mosquitto_setting("password_file")).parent)
    assert str(Path(mosquitto_setting("acl_file")).parent) == auth_dir
    auth_volume, auth_mode = mounts[auth_dir]
    assert auth_volume in named and auth_mode == "ro"
    data_volume, _ = mounts[mosquitto_setting("persistence_location").rstrip("/")]
    assert data_volume in named
    assert broker["depends_on"] == {
        "mosquitto-passwords": {"condition": "service_completed_successfully"}
    }
    test = broker["healthcheck"]["test"]
    probe = test if isinstance(test, str) else " ".join(test)
    assert "mosquitto_sub" in probe and "-u healthcheck" in probe
    assert f"{auth_dir}/healthcheck.secret" in probe


def test_mqtt_passwords_are_hashed_from_the_environment_by_a_one_shot_service() -> None:
    passwords = service("mosquitto-passwords")
    assert passwords["image"] == service("mosquitto")["image"]
    assert str(passwords.get("restart", "no")) == "no", "mosquitto-passwords is one-shot"
    mounts = volume_mounts(passwords)
    auth_dir = str(Path(mosquitto_setting("password_file")).parent)
    assert mounts[auth_dir][0] == volume_mounts(service("mosquitto"))[auth_dir][0]
    assert mounts["/deploy"] == ("./deploy/mosquitto", "ro")
    assert passwords["entrypoint"] == ["/bin/sh", "/deploy/make-passwords.sh"]
    script = MAKE_PASSWORDS.read_text(encoding="utf-8")
    # The script writes where mosquitto.conf reads, unless a test says otherwise.
    assert f"AUTH_DIR=${{MOSQUITTO_AUTH_DIR:-{auth_dir}}}" in script
    assert Path(mosquitto_setting("password_file")).name == "passwd"
    assert Path(mosquitto_setting("acl_file")).name == "acl"
    env = environment(passwords)
    assert re.fullmatch(
        r"\$\{KERBSIDE_MQTT_INGEST_PASSWORD:\?[^}]+\}", env["KERBSIDE_MQTT_INGEST_PASSWORD"]
    )
    for optional in ("CHIRPSTACK", "TTS", "SIGNS"):
        name = f"KERBSIDE_MQTT_{optional}_PASSWORD"
        assert env[name] == f"${{{name}:-}}", name
    # Per-sensor hashes may sit beside the script for the stack, never in git.
    ignored = (MOSQUITTO_DIR / ".gitignore").read_text(encoding="utf-8").split()
    assert "sensors.passwd" in ignored


def test_acl_lets_ingest_read_every_uplink_it_subscribes_to_and_write_the_signs() -> None:
    acl = load_acl()
    for topic_filter in ingest_topic_filters():
        topic = concrete(topic_filter)
        assert acl.allows("ingest", "read", topic), topic
        # Also where brokers check the SUBSCRIBE filter of the shared subscription itself.
        shared = f"$share/kerbside/{topic_filter}"
        assert any(
            topic_matches_sub(acl_topic, shared.replace("+", "x1"))
            for access, acl_topic in acl.users["ingest"]
            if "read" in ACCESS[access]
        ), shared
    assert acl.allows("ingest", "write", sign_topic("Z-1"))
    # It reads uplinks; it does not make them up.
    assert not acl.allows("ingest", "write", native_topic("bay-1"))
    assert not acl.allows("ingest", "write", CHIRPSTACK_UPLINK)
    assert not acl.allows("ingest", "write", TTS_UPLINK)


def test_acl_lets_a_sensor_write_its_own_state_topic_and_nothing_else() -> None:
    acl = load_acl()
    assert acl.allows("bay-1", "write", native_topic("bay-1"))
    # The user name decides, not the client id a sensor chooses to present.
    assert not acl.allows("bay-1", "write", native_topic("bay-2"), client_id="bay-2")
    assert not acl.allows("bay-1", "write", sign_topic("Z-1"))
    assert not acl.allows("bay-1", "write", CHIRPSTACK_UPLINK)
    assert not acl.allows("bay-1", "write", TTS_UPLINK)
    assert not acl.allows("bay-1", "read", native_topic("bay-2"))
    # No `user` entry writes native sensor topics: only the per-sensor pattern does.
    for user, entries in acl.users.items():
        for access, topic in entries:
            if "write" in ACCESS[access]:
                assert not topic_matches_sub(topic, native_topic("bay-1")), (user, topic)
                assert not topic_matches_sub(topic, "kerbside/v1/sensors/x1/state"), (user, topic)


def test_acl_lets_network_servers_write_their_own_uplinks_only() -> None:
    acl = load_acl()
    assert acl.allows("chirpstack", "write", CHIRPSTACK_UPLINK)
    assert acl.allows("tts", "write", TTS_UPLINK)
    for user, foreign in (("chirpstack", TTS_UPLINK), ("tts", CHIRPSTACK_UPLINK)):
        assert not acl.allows(user, "write", foreign)
        assert not acl.allows(user, "write", native_topic("bay-1"))
        assert not acl.allows(user, "write", sign_topic("Z-1"))
        assert not acl.allows(user, "read", foreign)


def test_acl_lets_any_authenticated_client_read_signs_and_only_ingest_write_them() -> None:
    acl = load_acl()
    for user in ("signs", "bay-1", "chirpstack", "tts", "healthcheck", "ingest"):
        assert acl.allows(user, "read", sign_topic("Z-1")), user
    for user in ("signs", "bay-1", "chirpstack", "tts", "healthcheck"):
        assert not acl.allows(user, "write", sign_topic("Z-1")), user
    assert not acl.allows("signs", "read", native_topic("bay-1"))
    assert not acl.allows("signs", "write", native_topic("bay-2"))


# --- ingest and scheduler -----------------------------------------------------------------------


def test_ingest_consumers_share_a_subscription_with_stable_distinct_client_ids() -> None:
    consumers = services_running("kerbside", "ingest")
    assert len(consumers) >= 2, "two ingest consumers share the load"
    client_ids = []
    for name, spec in consumers.items():
        assert runs_kerbside_image(spec), name
        assert spec["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "mosquitto": {"condition": "service_healthy"},
        }, name
        # Replicas of one service would share one client id, and with it one session.
        assert int((spec.get("deploy") or {}).get("replicas", 1)) == 1, name
        env = environment(spec)
        assert env["KERBSIDE_ENV"] == "production"
        assert env["KERBSIDE_MQTT_URL"] == "mqtt://mosquitto:1883"
        assert env["KERBSIDE_MQTT_USERNAME"] == "ingest"
        assert env["KERBSIDE_MQTT_PASSWORD"].startswith("${KERBSIDE_MQTT_INGEST_PASSWORD:?")
        assert env["KERBSIDE_MQTT_SHARED_GROUP"] == "kerbside"
        # A consumer away for a while must find its session (and queue) still there.
        assert int(env["KERBSIDE_MQTT_SESSION_EXPIRY_S"]) >= 24 * 3600
        assert "${" not in env["KERBSIDE_MQTT_CLIENT_ID"], "client ids are fixed, not generated"
        client_ids.append(env["KERBSIDE_MQTT_CLIENT_ID"])
    assert len(set(client_ids)) == len(client_ids), client_ids


def test_scheduler_runs_once_after_migrations() -> None:
    scheduler = service("scheduler")
    assert argv(scheduler) == ["kerbside", "scheduler"]
    assert runs_kerbside_image(scheduler)
    assert scheduler["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert int((scheduler.get("deploy") or {}).get("replicas", 1)) == 1
    assert environment(scheduler)["KERBSIDE_ENV"] == "production"


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


# --- the real broker: Mosquitto run with deploy/mosquitto, as the stack runs it ---------------

SENSOR_PASSWORDS = {"bay-1": "bay-1-secret", "bay-2": "bay-2-secret"}
# What make-passwords.sh gets from compose; the TTS password stays unset, so no `tts` user.
# The ingest password has characters a URL would need escaped: the script must not care.
SERVICE_PASSWORDS = {
    "KERBSIDE_MQTT_INGEST_PASSWORD": AN_INGEST_PASSWORD + ":@/ #%",
    "KERBSIDE_MQTT_CHIRPSTACK_PASSWORD": "chirpstack-test-password",
    "KERBSIDE_MQTT_SIGNS_PASSWORD": "signs-test-password",
}
INGEST_PASSWORD = SERVICE_PASSWORDS["KERBSIDE_MQTT_INGEST_PASSWORD"]
WAIT_S = 5.0
# More than Mosquitto's default max_queued_messages (1000), which would drop the rest.
QUEUED_READINGS = 1500


def mosquitto_tool(name: str) -> str | None:
    """A Mosquitto program on PATH or in an sbin directory (the broker lives in /usr/sbin)."""
    candidates = (Path(directory) / name for directory in ("/usr/sbin", "/usr/local/sbin"))
    return shutil.which(name) or next((str(p) for p in candidates if p.exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_passwords(
    auth_dir: Path, sensors_file: Path, passwd_tool: str, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """deploy/mosquitto/make-passwords.sh, writing into auth_dir instead of the volume."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KERBSIDE_")}
    env["PATH"] = f"{Path(passwd_tool).parent}{os.pathsep}{env.get('PATH', '')}"
    env |= {
        "MOSQUITTO_AUTH_DIR": str(auth_dir),
        "MOSQUITTO_DEPLOY_DIR": str(MOSQUITTO_DIR),
        "MOSQUITTO_SENSORS_FILE": str(sensors_file),
        **secrets,
    }
    return subprocess.run(
        ["sh", str(MAKE_PASSWORDS)], env=env, capture_output=True, text=True, timeout=60
    )


def adapted_config(*, port: int, auth_dir: Path, data_dir: Path) -> str:
    """deploy/mosquitto/mosquitto.conf with the listener, the auth files and the data moved here.

    Everything else is the production file as it is. As root, Mosquitto would switch to the
    `mosquitto` user, which cannot enter pytest's private temp directories: stay who we are.
    """
    moved = {
        "listener": f"{port} 127.0.0.1",
        "password_file": str(auth_dir / "passwd"),
        "acl_file": str(auth_dir / "acl"),
        "persistence_location": f"{data_dir}/",
    }
    lines, seen = [], []
    for line in MOSQUITTO_CONF.read_text(encoding="utf-8").splitlines():
        name = line.split(" ", 1)[0]
        if name in moved:
            seen.append(name)
            line = f"{name} {moved[name]}"
        lines.append(line)
    assert sorted(seen) == sorted(moved), f"mosquitto.conf should set each of {list(moved)} once"
    assert "user" not in mosquitto_directives("\n".join(lines))
    return "\n".join([*lines, f"user {getpass.getuser()}", ""])


@dataclass
class Broker:
    """A Mosquitto process run with the adapted production configuration."""

    binary: str
    auth_dir: Path
    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def start(self) -> None:
        self.port = free_port()
        data_dir = self.workdir / "data"
        data_dir.mkdir(exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            adapted_config(port=self.port, auth_dir=self.auth_dir, data_dir=data_dir),
            encoding="utf-8",
        )
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Mosquitto refused the configuration:\n{self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"Mosquitto did not listen within 10 s:\n{self.log}")

    def stop(self) -> None:
        """SIGTERM: Mosquitto saves its persistence file and exits."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class Client:
    """A paho MQTT 5 client that keeps the CONNACK, each PUBACK and each message it gets."""

    def __init__(
        self,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        *,
        clean_start: bool = True,
        session_expiry_s: int = 0,
    ) -> None:
        self.port, self.clean_start, self.session_expiry_s = port, clean_start, session_expiry_s
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.connack: mqtt.ReasonCode | None = None
        self._connacked, self._subscribed = threading.Event(), threading.Event()
        self._pubacks: dict[int, mqtt.ReasonCode] = {}
        self._puback = threading.Condition()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload, m.retain))

    def _on_connect(self, _c: object, _u: object, _f: object, reason: Any, _p: object) -> None:
        self.connack = reason
        if reason.is_failure:
            self.client.disconnect()  # no reconnect attempts, which would slow close() down
        self._connacked.set()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: Any, _p: object) -> None:
        with self._puback:
            self._pubacks[mid] = reason
            self._puback.notify_all()

    def connect(self) -> bool:
        """Whether the broker accepted the connection (its CONNACK reason is in `connack`)."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(
            "127.0.0.1", self.port, clean_start=self.clean_start, properties=properties
        )
        self.client.loop_start()
        assert self._connacked.wait(WAIT_S), "no CONNACK"
        assert self.connack is not None
        return not self.connack.is_failure

    def subscribe(self, *filters: str) -> None:
        self._subscribed.clear()
        self.client.subscribe([(topic_filter, 1) for topic_filter in filters])
        assert self._subscribed.wait(WAIT_S), "no SUBACK"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> bool:
        """Publish at QoS 1; whether the broker's PUBACK says it took the message."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._puback:
            assert self._puback.wait_for(lambda: info.mid in self._pubacks, WAIT_S), "no PUBACK"
            return not self._pubacks.pop(info.mid).is_failure

    def receive_until(self, topic: str, payload: bytes) -> list[tuple[str, bytes, bool]]:
        """Every message received up to and including the given one; fails if it never comes."""
        seen = []
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"never received {payload!r} on {topic}; got {seen}")
            seen.append(message)
            if message[:2] == (topic, payload):
                return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def connected(
    port: int, client_id: str, username: str, password: str, **options: Any
) -> Iterator[Client]:
    client = Client(port, client_id, username, password, **options)
    try:
        assert client.connect(), f"{username} was refused: {client.connack}"
        yield client
    finally:
        client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def mosquitto_tools() -> tuple[str, str]:
    """The broker and mosquitto_passwd; skipped locally without them, failed in CI."""
    broker, passwd = mosquitto_tool("mosquitto"), mosquitto_tool("mosquitto_passwd")
    require(
        "Mosquitto binary",
        broker is not None and passwd is not None,
        "apt-get install mosquitto, for the broker and mosquitto_passwd",
    )
    assert broker is not None and passwd is not None
    return broker, passwd


@pytest.fixture(scope="module")
def auth_dir(mosquitto_tools: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The password file and ACL make-passwords.sh writes, with two sensors of their own."""
    _, passwd = mosquitto_tools
    workdir = tmp_path_factory.mktemp("mosquitto-auth")
    sensors = workdir / "sensors.passwd"
    for index, (user, password) in enumerate(SENSOR_PASSWORDS.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [passwd, "-b", *create, str(sensors), user, password], check=True, timeout=30
        )
    # A user name no sensor id has: with it the ACL pattern would reach kerbside/v1/sensors/a/b.
    subprocess.run([passwd, "-b", str(sensors), "a/b", "a-b-secret"], check=True, timeout=30)
    # Stray lines an operator might leave: the script keeps hashed entries only.
    with sensors.open("a", encoding="utf-8") as file:
        file.write("# a comment\nbay-3:a-plain-password\n\n")
    result = make_passwords(workdir / "auth", sensors, passwd, SERVICE_PASSWORDS)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir / "auth"


@pytest.fixture(scope="module")
def broker(
    mosquitto_tools: tuple[str, str], auth_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    running = Broker(mosquitto_tools[0], auth_dir, tmp_path_factory.mktemp("mosquitto"))
    running.start()
    yield running
    running.stop()


def test_make_passwords_writes_private_hashed_files_for_the_users_that_have_a_password(
    auth_dir: Path,
) -> None:
    users = {
        line.split(":", 1)[0]
        for line in (auth_dir / "passwd").read_text(encoding="utf-8").splitlines()
    }
    assert users == {*SENSOR_PASSWORDS, "ingest", "chirpstack", "signs", "healthcheck"}
    text = (auth_dir / "passwd").read_text(encoding="utf-8")
    for password in [*SENSOR_PASSWORDS.values(), *SERVICE_PASSWORDS.values()]:
        assert password not in text
    assert (auth_dir / "acl").read_bytes() == MOSQUITTO_ACL.read_bytes()
    assert stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
    for name in ("passwd", "acl", "healthcheck.secret"):
        assert stat.S_IMODE((auth_dir / name).stat().st_mode) == 0o600, name
    assert not list(auth_dir.glob("*.new")), "half-written files left behind"


def test_make_passwords_refuses_to_run_without_the_ingest_password(
    mosquitto_tools: tuple[str, str], tmp_path: Path
) -> None:
    secrets = dict(SERVICE_PASSWORDS, KERBSIDE_MQTT_INGEST_PASSWORD="")
    result = make_passwords(tmp_path / "auth", tmp_path / "none", mosquitto_tools[1], secrets)
    assert result.returncode != 0
    assert "KERBSIDE_MQTT_INGEST_PASSWORD" in result.stderr
    assert not (tmp_path / "auth" / "passwd").exists()


def test_make_passwords_keeps_the_healthcheck_secret_when_run_again(
    mosquitto_tools: tuple[str, str], tmp_path: Path
) -> None:
    # A broker not yet reloaded still knows the old hash: a new secret would fail its healthcheck.
    auth, secret = tmp_path / "auth", tmp_path / "auth" / "healthcheck.secret"
    first = make_passwords(auth, tmp_path / "none", mosquitto_tools[1], SERVICE_PASSWORDS)
    assert first.returncode == 0, first.stderr
    before = secret.read_text(encoding="utf-8")
    assert re.fullmatch(r"[0-9a-f]{48}\n", before), before
    again = make_passwords(auth, tmp_path / "none", mosquitto_tools[1], SERVICE_PASSWORDS)
    assert again.returncode == 0, again.stderr
    assert secret.read_text(encoding="utf-8") == before


def test_mosquitto_refuses_anonymous_clients_and_wrong_or_missing_passwords(
    broker: Broker,
) -> None:
    attempts = {
        "anonymous": (None, None),
        "ingest, wrong password": ("ingest", "not-the-password"),
        "sensor entry that was not hashed": ("bay-3", "a-plain-password"),
        "sensor entry that is no sensor id": ("a/b", "a-b-secret"),
        "user without a password": ("tts", ""),
    }
    for attempt, (username, password) in attempts.items():
        client = Client(broker.port, unique("refused"), username, password)
        try:
            assert not client.connect(), f"{attempt}: accepted"
        finally:
            client.close()
    with connected(broker.port, unique("ingest"), "ingest", INGEST_PASSWORD):
        pass


def test_a_sensor_can_publish_its_own_state_topic_only(broker: Broker) -> None:
    shared = MqttSettings(shared_group="kerbside", topics=ingest_topic_filters()).subscriptions()
    with (
        connected(broker.port, unique("kerbside-ingest"), "ingest", INGEST_PASSWORD) as ingest,
        # bay-1 presents bay-2's client id: the user name decides what it may write.
        connected(broker.port, "bay-2", "bay-1", SENSOR_PASSWORDS["bay-1"]) as sensor,
    ):
        ingest.subscribe(*shared)
        forged, own = unique("forged").encode(), unique("own").encode()
        assert not sensor.publish(native_topic("bay-2"), forged)
        assert not sensor.publish(sign_topic(unique("Z")), forged)
        assert sensor.publish(native_topic("bay-1"), own)
        received = ingest.receive_until(native_topic("bay-1"), own)
        assert [payload for _, payload, _ in received] == [own]


def test_network_servers_reach_ingest_and_signs_reach_every_authenticated_reader(
    broker: Broker,
) -> None:
    shared = MqttSettings(shared_group="kerbside", topics=ingest_topic_filters()).subscriptions()
    sign, text = sign_topic(unique("Z")), unique("sign").encode()
    with (
        connected(broker.port, unique("kerbside-ingest"), "ingest", INGEST_PASSWORD) as ingest,
        connected(
            broker.port,
            unique("chirpstack"),
            "chirpstack",
            SERVICE_PASSWORDS["KERBSIDE_MQTT_CHIRPSTACK_PASSWORD"],
        ) as chirpstack,
    ):
        ingest.subscribe(*shared)
        uplink = unique("uplink").encode()
        assert not chirpstack.publish(TTS_UPLINK, uplink)
        assert not chirpstack.publish(sign, uplink, retain=True)
        assert chirpstack.publish(CHIRPSTACK_UPLINK, uplink)
        assert [p for _, p, _ in ingest.receive_until(CHIRPSTACK_UPLINK, uplink)] == [uplink]
        assert ingest.publish(sign, text, retain=True)
    readers = {
        "signs": SERVICE_PASSWORDS["KERBSIDE_MQTT_SIGNS_PASSWORD"],
        "bay-2": SENSOR_PASSWORDS["bay-2"],
    }
    for username, password in readers.items():
        with connected(broker.port, unique(username), username, password) as reader:
            reader.subscribe(sign)
            assert reader.receive_until(sign, text) == [(sign, text, True)], username


def test_mosquitto_keeps_a_deep_queue_for_an_absent_consumer_across_a_restart(
    mosquitto_tools: tuple[str, str], auth_dir: Path, tmp_path: Path
) -> None:
    """A consumer away (and the broker restarted meanwhile) gets every reading when back."""
    broker = Broker(mosquitto_tools[0], auth_dir, tmp_path)
    shared = f"$share/kerbside/{native_topic('+')}"
    session = {"clean_start": False, "session_expiry_s": 3600}
    client_id = unique("kerbside-ingest")
    broker.start()
    try:
        with connected(broker.port, client_id, "ingest", INGEST_PASSWORD, **session) as ingest:
            ingest.subscribe(shared)
        readings = [f"reading-{n}".encode() for n in range(QUEUED_READINGS)]
        with connected(broker.port, "bay-1", "bay-1", SENSOR_PASSWORDS["bay-1"]) as sensor:
            infos = [sensor.client.publish(native_topic("bay-1"), r, qos=1) for r in readings]
            for info in infos:
                info.wait_for_publish(WAIT_S)
        broker.stop()
        broker.start()
        with connected(broker.port, client_id, "ingest", INGEST_PASSWORD, **session) as ingest:
            received = ingest.receive_until(native_topic("bay-1"), readings[-1])
        assert {payload for _, payload, _ in received} == set(readings), (
            f"{len(received)} of {len(readings)} queued readings came back"
        )
    finally:
        broker.stop()


def test_the_compose_healthcheck_passes_against_the_broker(broker: Broker) -> None:
    mosquitto_sub = mosquitto_tool("mosquitto_sub")
    require("mosquitto_sub", mosquitto_sub is not None, "apt-get install mosquitto-clients")
    assert mosquitto_sub is not None
    test = service("mosquitto")["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    auth = str(Path(mosquitto_setting("password_file")).parent)
    command = (
        test[1]
        .replace("$$", "$")  # compose's escape for a literal $
        .replace("mosquitto_sub ", f"{mosquitto_sub} ", 1)
        .replace("-p 1883", f"-p {broker.port}")
        .replace(auth, str(broker.auth_dir))
    )
    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""The dependency direction of DESIGN.md, enforced on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ("api", "sensors", "opendata")
OURS = ("booking", "sensors", "opendata", "api", "mobile_client")
# What each package must never import (top-level module names).
# api may use opendata (it serves the feeds), as DESIGN.md's arrows allow; never sensors.
FORBIDDEN = {
    "booking": {"fastapi", "starlette", "uvicorn", "paho", "httpx", "amqtt", "apscheduler"}
    | set(ADAPTERS)
    | {"mobile_client"},
    "sensors": {"api", "opendata", "mobile_client", "fastapi"},
    "opendata": {"api", "sensors", "mobile_client", "fastapi"},
    "api": {"mobile_client", "sensors"},
    "mobile_client": {"booking", "sensors", "opendata", "api"},
}


def imported_modules(package: str) -> dict[str, set[str]]:
    """Top-level modules imported by each file of a package."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


# The CLI is the composition root: it alone wires the sensors adapter into the all-in-one
# process and mounts `kerbside driver`; the app itself only sees start/stop services.
COMPOSITION_ROOT = {"api/cli.py": {"sensors", "mobile_client"}}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package: str) -> None:
    violations = {
        file: sorted(bad)
        for file, names in imported_modules(package).items()
        if (bad := names & FORBIDDEN[package] - COMPOSITION_ROOT.get(file, set()))
    }
    assert violations == {}


def test_the_rule_checker_sees_imports() -> None:
    # Guards against a checker that silently finds nothing.
    assert "booking" in imported_modules("api")["api/app.py"]

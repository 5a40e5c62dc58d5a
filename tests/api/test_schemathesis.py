"""Property-based API fuzzing: no input yields a 5xx or a response outside the schema.

Schemathesis' lazy pytest loader does not run on pytest 9, so each operation of the app's own
OpenAPI document becomes a test that runs the operation's Hypothesis strategy directly.
"""

from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine

from api.app import create_app
from api.settings import ApiSettings
from booking import demo
from booking.database import transaction

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]
METHODS = {"get", "post", "put", "patch", "delete"}


def operations() -> list[tuple[str, str]]:
    """Every (method, path) in the OpenAPI document, read without a database."""
    app = create_app(ApiSettings(env="test"), engine=create_engine("sqlite://"))
    paths = app.openapi()["paths"]
    return [(m.upper(), p) for p, item in sorted(paths.items()) for m in item if m in METHODS]


@pytest.fixture
def operator_headers(account_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return account_headers("fuzz-operator@city.example", "operator")


@pytest.mark.parametrize(("method", "path"), operations())
def test_no_input_breaks_the_api(
    method: str, path: str, app: FastAPI, client, operator_headers: dict[str, str]
) -> None:
    with transaction(app.state.engine) as session:
        demo.load_smala(session=session, now=app.state.clock(), default_tz="Europe/Berlin")
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    def check(case: schemathesis.Case) -> None:
        # A generated Authorization header replaces ours and exercises the 401 path instead.
        headers = {} if case.headers and "Authorization" in case.headers else operator_headers
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()

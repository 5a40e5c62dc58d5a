"""Fixtures for API tests: logged-in clients of each role."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from booking.database import transaction
from tests.factories import login, make_account


@pytest.fixture
def account_headers(app: FastAPI, client: TestClient) -> Callable[..., dict[str, str]]:
    """Create an account of a role and return its Authorization headers."""

    def make(email: str, role: str = "driver", fleet: str | None = None) -> dict[str, str]:
        with transaction(app.state.engine) as session:
            make_account(session, email, role=role, fleet=fleet)
        return login(client, email)

    return make


@pytest.fixture
def operator(account_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return account_headers("operator@city.example", "operator")


@pytest.fixture
def driver(account_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return account_headers("driver@example.com", "driver")

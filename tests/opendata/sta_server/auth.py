"""Optional credentials for the test server: STA_AUTH="basic:USER:PASS" or "bearer:TOKEN"."""

import os

from ninja.security import HttpBasicAuth, HttpBearer


class _Basic(HttpBasicAuth):
    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self.expected = (username, password)

    def authenticate(self, request, username, password):  # type: ignore[no-untyped-def]
        return username if (username, password) == self.expected else None


class _Bearer(HttpBearer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.expected = token

    def authenticate(self, request, token):  # type: ignore[no-untyped-def]
        return token if token == self.expected else None


def _handlers() -> list:
    kind, _, rest = os.environ.get("STA_AUTH", "").partition(":")
    if kind == "basic":
        username, _, password = rest.partition(":")
        return [_Basic(username, password)]
    if kind == "bearer":
        return [_Bearer(rest)]
    return []


handlers = _handlers()

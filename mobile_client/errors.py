"""Exceptions that carry the server's problem details (RFC 9457)."""

from __future__ import annotations

from typing import Any

from mobile_client.models import Alternative


class KerbsideError(Exception):
    """An answer that is not a success; `detail` is the server's sentence for a person."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.detail: str = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        super().__init__(self.detail)


class AuthError(KerbsideError):
    """Not logged in, login expired, or not allowed (401/403)."""


class NotFoundError(KerbsideError):
    """No such thing, or not yours (404)."""


class RuleViolationError(KerbsideError):
    """A booking rule says no; `rule` names it (e.g. "max_stay")."""

    @property
    def rule(self) -> str | None:
        """The rule's name."""
        return self.problem.get("rule")


class ZoneFullError(KerbsideError):
    """Every bay is taken; `alternatives` lists nearby zones and later starts."""

    @property
    def alternatives(self) -> list[Alternative]:
        """What else would work."""
        return [Alternative.model_validate(a) for a in self.problem.get("alternatives") or []]


class ServerError(KerbsideError):
    """The server failed (5xx) or could not be reached."""


def from_response(status: int, body: Any) -> KerbsideError:
    """The exception for an error response."""
    problem = body if isinstance(body, dict) else {"detail": str(body)[:500]}
    if status in (401, 403):
        return AuthError(status, problem)
    if status == 404:
        return NotFoundError(status, problem)
    if status == 409 and "alternatives" in problem:
        return ZoneFullError(status, problem)
    if status == 422 and problem.get("rule"):
        return RuleViolationError(status, problem)
    if status >= 500:
        return ServerError(status, problem)
    return KerbsideError(status, problem)

"""Domain errors; adapters map them to HTTP statuses, MQTT dead letters or log lines."""

from dataclasses import dataclass, field
from typing import Any


class DomainError(Exception):
    """Base of every refusal the domain makes; `detail` is a sentence for a person."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The thing asked for does not exist, or is not the caller's to see."""


class Forbidden(DomainError):
    """The caller's role does not allow this."""


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, a changed resource)."""


class RuleViolation(DomainError):
    """A named rule refuses the request, e.g. `max_stay` or `loading_hours`."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


@dataclass
class Problem:
    """One problem among several, located by a pointer such as `features/3/geometry`."""

    pointer: str
    detail: str


@dataclass
class InvalidInput(DomainError):
    """Input refused as a whole because of the problems listed."""

    summary: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary)

    def as_dicts(self) -> list[dict[str, Any]]:
        """The problems as plain dicts for a response body."""
        return [{"pointer": p.pointer, "detail": p.detail} for p in self.problems]


class ZoneFull(DomainError):
    """No bay is free for the window; `alternatives` lists what else would work."""

    def __init__(self, detail: str, alternatives: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.alternatives = alternatives

    @property
    def extra(self) -> dict[str, Any]:
        """Fields the problem response carries beyond the detail."""
        return {"alternatives": self.alternatives}

"""Every error as RFC 9457 problem+json, with a sentence a person understands."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from booking.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
    ZoneFull,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("kerbside.api")


class ProblemOut(BaseModel):
    """RFC 9457 problem details, plus `rule` or `errors` where they apply."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    errors: list[dict[str, Any]] | None = None


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "model": ProblemOut, "content": {PROBLEM_JSON: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("The request cannot be read"),
    401: _problem_response("Not logged in"),
    403: _problem_response("Not allowed for this role"),
    404: _problem_response("Not found"),
    409: _problem_response("Conflicts with the current state"),
    422: _problem_response("Refused: invalid input or a rule says no"),
}


def problem(
    status: int, detail: str, *, request: Request | None = None, headers: Any = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_STATUS = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    ZoneFull: 409,
    RuleViolation: 422,
    InvalidInput: 422,
}


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)
    extra: dict[str, Any] = {}
    if isinstance(exc, RuleViolation):
        extra["rule"] = exc.rule
    if isinstance(exc, InvalidInput):
        extra["errors"] = exc.as_dicts()
    extra.update(getattr(exc, "extra", {}) or {})
    return problem(status, exc.detail, request=request, **extra)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location = [str(p) for p in error.get("loc", ()) if p != "body" or len(error["loc"]) == 1]
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        errors.append({"pointer": "/".join(location), "detail": message})
    summary = "; ".join(f"{e['pointer'] or 'body'}: {e['detail']}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(
        422, f"The request is not valid: {summary}{more}.", request=request, errors=errors
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is nothing at {request.url.path}."
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem(exc.status_code, detail, request=request, headers=exc.headers)


def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    # PostgreSQL refuses some strings SQLite takes (NUL characters, out-of-range numbers).
    log.info("database refused a value on %s: %s", request.url.path, exc)
    return problem(
        422,
        "The request contains a value that cannot be stored, such as a NUL character "
        "or a number out of range.",
        request=request,
    )


def _integrity(request: Request, exc: Exception) -> JSONResponse:
    # The domain checks first; this catches the race where two requests pass the check at once.
    log.info("integrity conflict on %s: %s", request.url.path, exc)
    return problem(
        409, "This conflicts with a change made at the same moment; please retry.", request=request
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500, "Something went wrong on our side; the request was not applied.", request=request
    )


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on the app."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(OverflowError, _unstorable)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(Exception, _unexpected)

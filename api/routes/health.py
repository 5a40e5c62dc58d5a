"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.errors import PROBLEM_JSON

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Database unreachable", "content": {PROBLEM_JSON: {}}}},
)
def readyz(request: Request) -> JSONResponse:
    """The database answers."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": f"The database does not answer: {type(exc).__name__}.",
            },
            status_code=503,
            media_type=PROBLEM_JSON,
        )
    return JSONResponse({"status": "ready"})

"""Liveness and readiness probes."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
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


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics of this process (ingest counters in the all-in-one mode)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""Live updates as server-sent events: a driver's notifications, the operators' kerb."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api import tokens
from api.deps import ApiSettingsDep, ClockDep, DbDep
from api.errors import PROBLEM_RESPONSES
from api.streams import Broadcaster, stream
from booking import accounts
from booking.errors import NotFound
from booking.tables import Account

router = APIRouter(prefix="/api/v1", tags=["live"], responses=PROBLEM_RESPONSES)
EVENT_STREAM = {200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}}


def _account(
    request: Request, token: str | None, db: DbDep, settings: ApiSettingsDep, clock: ClockDep
) -> Account:
    # EventSource cannot send headers, so the token may come as ?access_token=.
    header = request.headers.get("authorization", "")
    token = token or (header[7:] if header.lower().startswith("bearer ") else None)
    if not token:
        raise HTTPException(
            401, "Log in first: this needs a bearer token.", {"WWW-Authenticate": "Bearer"}
        )
    try:
        account_id = tokens.account_id(
            token, secret=settings.jwt_secret.get_secret_value(), now=clock()
        )
        with db.read() as session:
            return accounts.get(session=session, account_id=account_id)
    except (tokens.TokenError, NotFound):
        raise HTTPException(
            401, "Your login is invalid or has expired; please log in again."
        ) from None


def _broadcaster(request: Request) -> Broadcaster:
    return request.app.state.broadcaster


@router.get("/me/notifications/stream", response_class=StreamingResponse, responses=EVENT_STREAM)
def notification_stream(
    request: Request,
    db: DbDep,
    settings: ApiSettingsDep,
    clock: ClockDep,
    access_token: Annotated[str | None, Query(max_length=2000)] = None,
) -> StreamingResponse:
    """Your notifications as they happen (`event: notification`)."""
    account = _account(request, access_token, db, settings, clock)
    broadcaster = _broadcaster(request)
    subscriber = broadcaster.subscribe(account.id or 0, staff=False)
    return StreamingResponse(
        stream(subscriber, broadcaster, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/events/stream", response_class=StreamingResponse, responses=EVENT_STREAM)
def kerb_stream(
    request: Request,
    db: DbDep,
    settings: ApiSettingsDep,
    clock: ClockDep,
    access_token: Annotated[str | None, Query(max_length=2000)] = None,
) -> StreamingResponse:
    """Operators: zones changing state (`event: zone`) and new violations (`event: violation`)."""
    account = _account(request, access_token, db, settings, clock)
    accounts.require_role(account, *accounts.STAFF)
    broadcaster = _broadcaster(request)
    subscriber = broadcaster.subscribe(account.id or 0, staff=True)
    return StreamingResponse(
        stream(subscriber, broadcaster, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""The FastAPI application factory: runtime wiring, edge middleware and the one error handler."""

from __future__ import annotations

import gc
import time
from typing import Any, Final

import httpx
import orjson
import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ConfigError, TwinRxError, operation_outcome
from services.common.logging import get_logger
from services.common.redis_conn import connect
from services.common.settings import Settings, get_settings

from . import _metrics as metrics
from ._actionable import ActionableIndex
from ._auth import Authenticator
from ._background import Background
from ._cardcache import CardCache
from ._engines import Engines, load_engines, memoized
from ._feedback import FeedbackStore
from ._hookcall import HookCalls
from ._pgx import TestingWindow
from ._routes import ops, router
from ._service import Runtime
from ._twin import SyncEnqueuer, TwinCache
from .errors import PayloadTooLarge, Unauthorized

log = get_logger(__name__)

_TITLE: Final = "twinrx CDS Hooks"
_DESCRIPTION: Final = "CDS Hooks 2.0.1 services: pharmacogenomic order checks and a digital-twin summary."
_STATUS_CODES = {400: "invalid", 404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def _outcome_response(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/fhir+json")


def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """The single mapping from exceptions to HTTP statuses with an OperationOutcome body."""
    if isinstance(exc, Unauthorized):
        metrics.AUTH_FAILURES.inc()
        log.warning("auth_failed", reason=exc.reason, path=request.url.path)
        return _outcome_response(401, operation_outcome(exc), {"WWW-Authenticate": 'Bearer realm="cds-services"'})
    if isinstance(exc, TwinRxError):
        if exc.http_status >= 500:
            log.error("hook_error", error=exc.__class__.__name__, path=request.url.path)
        return _outcome_response(exc.http_status, operation_outcome(exc))
    if isinstance(exc, RequestValidationError):
        problems = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        return _outcome_response(400, operation_outcome("malformed request: " + "; ".join(problems), code="invalid"))
    if isinstance(exc, StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "exception")
        return _outcome_response(exc.status_code, operation_outcome(str(exc.detail), code=code))
    if isinstance(exc, redis.RedisError):
        log.error("redis_error", error=exc.__class__.__name__, path=request.url.path)
        return _outcome_response(503, operation_outcome("data store unavailable", code="transient"))
    log.error("unhandled_error", error=exc.__class__.__name__, path=request.url.path)
    return _outcome_response(500, operation_outcome("internal error", code="exception"))


def _service_label(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] != "cds-services":
        return "other"
    if len(parts) == 1:
        return "discovery"
    return parts[1][:64] + ("/feedback" if len(parts) > 2 else "")


class EdgeMiddleware:
    """Body size limit (413 before the app reads more than the limit) and the latency histogram.

    A declared ``Content-Length`` over the limit is refused at once (the server enforces the declared
    length); a chunked body is read up to the limit here and then handed to the app in one piece.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send)
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # No Content-Length (chunked): read up to the limit before the app sees any of it.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                if size > self.max_body:
                    await self._too_large(send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            buffered: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            upstream = receive

            async def replay() -> Message:
                return buffered.pop() if buffered else await upstream()

            receive = replay

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            path = scope.get("path", "")
            if path.startswith("/cds-services"):
                metrics.REQUEST_SECONDS.labels(_service_label(path), str(status["code"])).observe(
                    time.perf_counter() - started
                )

    async def _too_large(self, send: Send) -> None:
        body = orjson.dumps(operation_outcome(PayloadTooLarge("request body too large")))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/fhir+json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _warm_up(engines: Engines, *, freeze_gc: bool) -> None:
    """Load the knowledge base before the first call, then move everything loaded so far out of the GC's
    reach (``gc.freeze``): full collections then no longer walk the large, immortal kb tables, which
    otherwise show up as latency spikes."""
    try:
        engines.resolve_drug("clopidogrel 75 MG Oral Tablet")
        engines.recommend("clopidogrel", {})
    except TwinRxError as exc:
        log.warning("warm_up_failed", error=exc.__class__.__name__)
    if freeze_gc:
        gc.collect()
        gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    redis_client: redis.Redis[bytes] | None = None,
    engines: Engines | None = None,
    http_client: httpx.Client | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """The CDS Hooks API wired to Redis and the pgx/risk/ingest libraries.

    ``freeze_gc`` (server processes only, not tests) freezes the warmed-up heap, see ``_warm_up``.
    """
    settings = settings or get_settings()
    if redis_client is None:
        if settings.redis_url is None:
            raise ConfigError("the CDS service needs TWINRX_REDIS_URL (twinrx serve starts an embedded one)")
        redis_client = connect(settings.redis_url)
    engines = memoized(engines or load_engines())
    http = http_client or httpx.Client(limits=httpx.Limits(max_connections=64), follow_redirects=False)
    background = Background()
    runtime = Runtime(
        settings=settings,
        engines=engines,
        http=http,
        enqueuer=SyncEnqueuer(settings, redis_client, settings.redis_url, background),
        window=TestingWindow(redis_client, settings.cds_testing_card_window_hours),
        feedback=FeedbackStore(
            redis_client,
            maxlen=settings.cds_feedback_stream_maxlen,
            card_ttl_days=settings.cds_card_ttl_days,
            background=background,
        ),
        background=background,
        actionable=ActionableIndex(engines),
        twins=TwinCache(),
        cards=CardCache(),
    )
    app = FastAPI(title=_TITLE, version="2.0.1", description=_DESCRIPTION, docs_url=None, redoc_url=None)
    _warm_up(engines, freeze_gc=freeze_gc)
    app.state.runtime = runtime
    app.state.redis = redis_client
    if settings.cds_auth_disabled:
        log.warning(
            "CDS_AUTH_DISABLED",
            message="!!! CDS Hooks JWT authentication is DISABLED (TWINRX_CDS_AUTH_DISABLED=true); "
            "any caller can request cards. Development only. !!!",
        )
        app.state.authenticator = None
    else:
        app.state.authenticator = Authenticator(settings, redis_client, http)
        if not app.state.authenticator.trusted_issuers:
            log.warning("cds_no_trusted_clients", message="no trusted CDS clients configured: every call gets 401")
    for exc_type in (TwinRxError, RequestValidationError, StarletteHTTPException, redis.RedisError, Exception):
        app.add_exception_handler(exc_type, handle_error)
    app.include_router(router)
    app.include_router(ops)
    app.add_middleware(
        HookCalls, runtime=runtime, authenticator=app.state.authenticator, client=redis_client, on_error=handle_error
    )
    app.add_middleware(EdgeMiddleware, max_body=settings.cds_max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cds_cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory for multi-process serving: settings and logging from ``TWINRX_*`` variables."""
    from services.common.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings, freeze_gc=True)


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI document without wiring Redis (for schemathesis and docs)."""
    app = FastAPI(title=_TITLE, version="2.0.1", description=_DESCRIPTION)
    app.include_router(router)
    return app.openapi()

"""A hook call from raw request bytes to response bytes: the :class:`HookCalls` middleware.

Why the hook call bypasses FastAPI's routing, its body model, the sync auth dependency and the response
model: together they cost more CPU per call than the hook itself (a second thread hop for the
dependency, the exception/exit-stack middlewares and route matching, stdlib JSON, re-validating the
cards we had just built), and the service's throughput target left no room for them. The typed route
in ``._routes`` still documents the operation. The checks are the same and in the same order:

1. the client JWT (signature, ``iss``, ``aud``, times, tenant; :meth:`Authenticator.check`);
2. the body (JSON, :class:`HookRequest`), the service id and the request rules (400/404); when one of
   these fails the ``jti`` is still recorded first, so a replayed token gets 401 as before;
3. one Redis command records the ``jti`` (``SET NX``) and, only if that succeeded, reads the stored
   twin (a replayed ``jti`` reads nothing);
4. cards from the twin (parsed once per stored version, see :class:`._twin.TwinCache`), serialised
   with optional fields omitted; errors go through the app's single error handler.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import redis
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.store import twin_key

from ._auth import Authenticator
from ._models import CardsResponse, HookRequest
from ._service import Runtime, handle, service_spec, validate
from ._twin import is_stale, server_for
from .errors import BadHookRequest, Unauthorized

_JSON_TYPES: Final = ("application/json", "application/fhir+json")
_HOOK_PATH: Final = re.compile(r"/cds-services/([^/]+)")  # the route's {service_id}: one path segment
# Two pools, shared by every app in the process (threads start on demand). Every call starts in the small
# one, and a call whose twin is stored and fresh ends there; only the rest of a call that may wait on the
# FHIR server moves to the large one. Why small: the calls in a pool contend for the GIL, and with dozens
# of threads the loser of each hand-off waits behind all the others, which showed up as the tail (warm,
# 16 clients: p99 about 2.5x the median with 32 threads, about 1.7x with 3). Three, not one: the JWT
# signature check releases the GIL, so one thread verifies while another composes cards.
_QUICK: Final = ThreadPoolExecutor(max_workers=3, thread_name_prefix="cds-hook")
_SLOW: Final = ThreadPoolExecutor(max_workers=32, thread_name_prefix="cds-hook-fetch")
_RESPONSE: Final = TypeAdapter(CardsResponse)


@dataclass(frozen=True)
class HookCall:
    """What the route hands over from the HTTP request."""

    service_id: str
    authorization: str | None
    url_path: str
    content_type: str | None
    body: bytes


def parse_request(content_type: str | None, body: bytes) -> HookRequest:
    """The request body as a :class:`HookRequest`; errors are the 400s the app's handler formats."""
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in _JSON_TYPES and not (media.startswith("application/") and media.endswith("+json")):
            raise BadHookRequest("the request body must be JSON (Content-Type application/json)", location="body")
    try:
        return HookRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body[:200]) from exc


# KEYS[1] jti key, KEYS[2] twin key; ARGV[1] jti lifetime (s). Returns {1, body or nil}, or {0} on a replay.
_CLAIM_AND_READ: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return {0}
end
return {1, redis.call('HGET', KEYS[2], 'body')}
"""


class _TwinReader:
    """Records the ``jti`` and reads the twin in one command (a script: a pipeline cost more CPU)."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._redis = client
        self._script = client.register_script(_CLAIM_AND_READ)

    def claim_and_read(self, replay: tuple[str, int] | None, key: str) -> tuple[bool, bytes | None]:
        """(``jti`` newly recorded, stored twin bytes); no ``jti`` in development mode."""
        if replay is None:
            return True, self._redis.hget(key, "body")
        reply = self._script(keys=[replay[0], key], args=[replay[1]])
        if not reply[0]:
            return False, None
        return True, reply[1] if len(reply) > 1 else None

    def claim(self, replay: tuple[str, int]) -> bool:
        return bool(self._redis.set(replay[0], "1", nx=True, ex=replay[1]))


def answer(rt: Runtime, auth: Authenticator | None, call: HookCall, reader: _TwinReader) -> bytes | Callable[[], bytes]:
    """The JSON body of a 200 answer, or, when the rest may wait on the network, a function computing it.

    Raises the errors the app's handler maps to 400/401/404/412/422/503. The rest is deferred (to the
    large pool) when the twin must be built (missing or stale) or the hook lent a FHIR token (draft
    orders may then be fetched): both can wait on the FHIR server for the whole time budget.
    """
    replay = auth.replay_key(auth.check(call.authorization, call.url_path)) if auth is not None else None
    try:
        request = parse_request(call.content_type, call.body)
        spec = service_spec(call.service_id)
        patient_id = validate(spec, request, rt.settings.cds_allowed_fhir_servers)
    except Exception:
        if replay is not None and not reader.claim(replay):
            raise Unauthorized("jti replayed") from None
        raise
    claimed, body = reader.claim_and_read(replay, twin_key(server_for(request, rt.settings), patient_id))
    if not claimed:
        raise Unauthorized("jti replayed")
    stored = rt.twins.stored(body)

    def cards() -> bytes:
        found = handle(rt, spec, request, patient_id, stored)
        # The cards were validated when built; the response model is only serialised (never null, no empties).
        return _RESPONSE.dump_json(CardsResponse.model_construct(cards=found), exclude_none=True)

    local = stored is not None and not is_stale(stored, rt.settings) and request.fhirAuthorization is None
    return cards() if local else cards


ErrorHandler = Callable[[Request, Exception], Response]


class HookCalls:
    """ASGI middleware answering ``POST /cds-services/{id}``; everything else goes on to the app.

    The work runs off the event loop in a small thread pool, one hop per warm call; a call that may wait
    on the FHIR server (within its time budget) finishes in a large one (see ``_QUICK`` / ``_SLOW``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: Runtime,
        authenticator: Authenticator | None,
        client: redis.Redis[bytes],
        on_error: ErrorHandler,
    ) -> None:
        self.app = app
        self._runtime = runtime
        self._auth = authenticator
        self._reader = _TwinReader(client)
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _HOOK_PATH.fullmatch(_route_path(scope)) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        headers = _headers(scope, (b"authorization", b"content-type"))
        call = HookCall(
            service_id=match[1],
            authorization=headers.get(b"authorization"),
            url_path=URL(scope=scope).path,
            content_type=headers.get(b"content-type"),
            body=body,
        )
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(_QUICK, answer, self._runtime, self._auth, call, self._reader)
            content = result if isinstance(result, bytes) else await loop.run_in_executor(_SLOW, result)
        except Exception as exc:  # the app's single error handler, as for every other route
            await self._on_error(Request(scope), exc)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _route_path(scope: Scope) -> str:
    """The path the app's router matches: ``path`` less a ``root_path`` prefix (as Starlette's router does)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


def _headers(scope: Scope, names: tuple[bytes, ...]) -> dict[bytes, str]:
    """The first value of each of ``names`` (lower-case, as ASGI servers send them)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)

"""Checks ``twinrx ingest`` makes before it enqueues anything, and the failure reasons it prints after.

Each check turns a mistake that would otherwise surface only when ``--timeout`` runs out (a URL that is
not one, a server that does not answer or is not FHIR, no worker consuming the queue, a ``--since``
the server would misread) into one line at once. They run in the CLI only: the workers never call
them, so a worker's behaviour does not depend on what the CLI checked.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from services.common.errors import ConfigError, UpstreamError, ValidationFailure

from ._resource import parse_datetime
from .errors import MalformedResource

PROBE_TIMEOUT_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 2.0
PING_ATTEMPTS = 3  # up to 6 s without a worker, instead of the whole --timeout
NO_WORKER = "no twinrx worker is running; start one with `twinrx worker`"

# FHIR `instant` (seconds required, timezone required) and `date` (year, year-month or full date).
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# Answers that say "a server is there, but not for an anonymous probe right now": the worker, which
# has the credentials and retries, is the right one to deal with them.
_LEAVE_TO_WORKER = frozenset({401, 403, 429, 500, 502, 503, 504})


def check_server_url(server: str) -> str:
    """``server`` unchanged when it is an absolute http(s) URL; else a ValidationFailure (exit 2)."""
    parts = urlsplit(server)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationFailure(
            f"--server must be the absolute http(s) base URL of a FHIR server (e.g. https://ehr.example/fhir), "
            f"got {server!r}"
        )
    return server


def probe_fhir_server(server: str, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Read ``{server}/metadata`` once: raise UpstreamError (exit 69) when nothing answers or it is not FHIR.

    Any FHIR resource in the body (CapabilityStatement, or an OperationOutcome with a 4xx) shows a FHIR
    server is there; auth, throttling and 5xx answers are left to the worker's credentials and retries.
    """
    url = f"{server.rstrip('/')}/metadata"
    try:
        response = httpx.get(url, headers={"Accept": "application/fhir+json"}, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise UpstreamError(f"cannot reach the FHIR server {server}: no answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise UpstreamError(f"cannot reach the FHIR server {server} ({exc.__class__.__name__})") from exc
    if response.status_code in _LEAVE_TO_WORKER:
        return
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("resourceType"), str):
        return
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
    raise UpstreamError(
        f"{server} is not a FHIR server: GET /metadata answered HTTP {response.status_code} ({kind}) "
        "without a FHIR resource; check the base URL (it often ends in /fhir or /R4)",
        status=response.status_code,
    )


def check_since(since: str) -> str:
    """``since`` unchanged when it is a FHIR instant with a timezone or a FHIR date; else ValidationFailure."""
    if _INSTANT_RE.match(since) or _DATE_RE.match(since):
        try:
            parse_datetime(since, where="--since", element="--since")  # the shape matched; is it on the calendar?
            return since
        except MalformedResource:
            pass  # month 13, day 45, hour 25: same message
    raise ValidationFailure(
        f"--since must be a FHIR instant with a timezone (e.g. 2026-01-31T08:00:00Z or 2026-01-31T08:00:00+01:00) "
        f"or a date (2026-01-31), got {since!r}"
    )


def worker_running(app: Any, *, timeout: float = PING_TIMEOUT_SECONDS, attempts: int = PING_ATTEMPTS) -> bool:
    """Whether a Celery worker on the broker answers a control ping (``attempts`` pings of ``timeout`` s).

    The first reply ends the wait, so a running worker costs a few milliseconds; only "none" waits every
    attempt. Several attempts cover a worker started just before the command, which needs a few seconds
    before it listens. A worker run with ``--pool solo`` cannot answer while it executes a task.
    """
    for _ in range(attempts):
        try:
            replies = app.control.ping(timeout=timeout, limit=1)
        except Exception as exc:  # kombu raises its own and redis-py's errors
            raise ConfigError(f"cannot ask the broker for workers ({exc.__class__.__name__})") from exc
        if replies:
            return True
    return False


def require_worker(app: Any) -> None:
    """Raise ConfigError (exit 78) when no worker answers: waiting for the run would only time out."""
    if not worker_running(app):
        raise ConfigError(NO_WORKER)

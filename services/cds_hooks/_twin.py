"""The patient's twin for a hook call: from Redis when fresh, else built from prefetch within budget.

Server rule: a twin is looked up under the request's ``fhirServer`` (trailing ``/`` ignored). A call
without ``fhirServer`` uses ``Settings.cds_default_server`` (default ``local:demo``, the server name
under which ``twinrx demo`` and ``twinrx ingest local`` store twins).

Miss or stale twin: the twin is built from prefetch (and what we fetch from ``fhirServer`` with the
hook's token) by ``ingest.build_twin``; a full sync is enqueued with Celery ``send_task`` from a
background thread (the answer never waits for the broker; de-duplicated per patient for ten minutes).
Only for a ``fhirServer`` the deployment configured (``TWINRX_FHIR_BASE_URL``/``TWINRX_INGEST_SERVERS``):
the worker syncs with its own credentials, which must never go to a server a caller merely names.
A stale twin is still used when nothing fresher is available.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import redis
from pydantic import ValidationError

from services.common.errors import ValidationFailure
from services.common.fhir import configured_servers
from services.common.fhir.ids import normalise_base
from services.common.logging import get_logger, patient_ref
from services.common.settings import Settings
from services.common.twin import Twin
from services.ingest.names import SYNC_PATIENT

from ._background import Background
from ._discovery import ServiceSpec
from ._engines import Engines
from ._models import HookRequest
from ._prefetch import FhirFetcher, Prefetched, resolve_prefetch
from .errors import PrefetchUnavailable

log = get_logger(__name__)

SYNC_TASK = SYNC_PATIENT  # the name the ingest worker registers
_SYNC_DEDUPE_SECONDS = 600

Origin = Literal["stored", "stale", "prefetch"]


@dataclass
class TwinData:
    twin: Twin
    origin: Origin
    prefetched: Prefetched | None = None


def server_for(request: HookRequest, settings: Settings) -> str:
    """The twin-store server key of a request (see module docstring)."""
    if request.fhirServer:
        return request.fhirServer.rstrip("/")
    return settings.cds_default_server


def is_stale(twin: Twin, settings: Settings) -> bool:
    updated = twin.updated_at if twin.updated_at.tzinfo else twin.updated_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - updated > timedelta(hours=settings.twin_stale_after_hours)


class SyncEnqueuer:
    """Sends ``twinrx.ingest.sync_patient`` by name; never waits for it."""

    def __init__(
        self, settings: Settings, client: redis.Redis[bytes], broker_url: str | None, background: Background
    ) -> None:
        self._settings = settings
        self._redis = client
        self._broker_url = broker_url
        self._background = background
        # where the worker's credentials may go, normalised once here rather than on every hook call
        self._configured = frozenset(normalise_base(s) for s in configured_servers(settings))
        self._celery: Any = None
        self._lock = threading.Lock()

    def _app(self) -> Any:
        with self._lock:
            if self._celery is None:
                from services.common.celery_app import create_celery

                self._celery = create_celery(self._settings, self._broker_url)
            return self._celery

    def enqueue(self, server: str, patient_id: str, correlation: str) -> None:
        """Queue a full sync in the background (the hook answer never waits for the broker).

        Only for a server the deployment configured: the worker syncs with its own credentials, which
        must never go to a server a caller merely names.
        """
        if normalise_base(server) not in self._configured:
            # neither the URL nor the patient is logged: the URL may identify a site, the id is PHI
            log.info("sync_not_enqueued", hookInstance=correlation, reason="fhirServer not configured")
            return
        self._background.submit("sync-enqueue", self._send, server, patient_id, correlation)

    def _send(self, server: str, patient_id: str, correlation: str) -> bool:
        """Publish the sync task unless one was queued for this patient recently; True if sent."""
        key = "twinrx:cds:sync-queued:" + hashlib.sha256(f"{server}|{patient_id}".encode()).hexdigest()[:24]
        if not self._redis.set(key, "1", nx=True, ex=_SYNC_DEDUPE_SECONDS):
            return False
        try:
            self._app().send_task(
                SYNC_TASK,
                kwargs={
                    "server": server,
                    "patient_id": patient_id,
                    "source": {"kind": "rest", "base_url": server},
                },
            )
        except Exception as exc:  # a broker outage must not cost the clinician the card
            self._redis.delete(key)  # let the next call try again
            log.warning("sync_enqueue_failed", hookInstance=correlation, error=exc.__class__.__name__)
            return False
        log.info("sync_enqueued", hookInstance=correlation, patient=patient_ref(server, patient_id))
        return True


def _build(engines: Engines, server: str, patient_id: str, pre: Prefetched, previous: Twin | None) -> Twin:
    try:
        return engines.build_twin(server, patient_id, pre.all_resources(), previous=previous).twin
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # malformed prefetch content, not our fault
        log.warning("twin_build_failed", error=exc.__class__.__name__)
        raise ValidationFailure("prefetched resources could not be used to build the patient's twin") from exc


class TwinCache:
    """Parsed twins keyed by the exact bytes stored in Redis (a bounded LRU).

    A stored twin changes only by a new write, which stores new bytes (its version and ``updated_at``
    are in them), so a hit is exactly what parsing those bytes again would give; a warm call then
    skips the pydantic validation of the whole twin. Bounded by entry count and total bytes. The
    twins handed out are shared: callers treat them as read-only (the risk what-if copies first).
    """

    def __init__(self, *, entries: int = 512, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._entries = entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._data: OrderedDict[bytes, Twin] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, body: bytes) -> Twin:
        """The twin stored as ``body``; raises pydantic's ``ValidationError`` like ``Twin.model_validate_json``."""
        with self._lock:
            twin = self._data.get(body)
            if twin is not None:
                self._data.move_to_end(body)
                return twin
        twin = Twin.model_validate_json(body)
        if len(body) <= self._max_bytes // 8:  # one huge twin must not evict everything else
            with self._lock:
                if body not in self._data:
                    self._data[body] = twin
                    self._bytes += len(body)
                while len(self._data) > self._entries or self._bytes > self._max_bytes:
                    old, _ = self._data.popitem(last=False)
                    self._bytes -= len(old)
        return twin

    def stored(self, body: bytes | None) -> Twin | None:
        """The twin of a Redis read (None: nothing stored, or unreadable and so rebuilt as if missing)."""
        if body is None:
            return None
        try:
            return self.parse(body)
        except ValidationError as exc:  # written by another schema version
            log.warning("stored_twin_unreadable", errors=exc.error_count())
            return None

    def __len__(self) -> int:
        return len(self._data)


def load_twin(
    *,
    spec: ServiceSpec,
    request: HookRequest,
    patient_id: str,
    settings: Settings,
    stored: Twin | None,
    engines: Engines,
    fetcher: FhirFetcher,
    enqueuer: SyncEnqueuer,
) -> TwinData:
    """The twin to decide on (see module docstring); 412 when essential data cannot be had.

    ``stored`` is the twin the caller read from Redis (in the round trip that also records the ``jti``).
    """
    server = server_for(request, settings)
    if stored is not None and not is_stale(stored, settings):
        return TwinData(stored, "stored")
    pre = resolve_prefetch(spec, request, fetcher)
    missing = pre.unavailable(spec.essential)
    if request.fhirServer:
        enqueuer.enqueue(server, patient_id, request.hookInstance)
    if stored is not None and missing:
        return TwinData(stored, "stale", pre)
    if missing:
        raise PrefetchUnavailable(
            f"required data not available: prefetch {', '.join(missing)} absent and not fetchable "
            "(no fhirAuthorization, or the FHIR server did not answer within the time budget)",
            location="prefetch." + missing[0],
        )
    twin = _build(engines, server, patient_id, pre, stored)
    return TwinData(twin, "prefetch", pre)

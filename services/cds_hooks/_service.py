"""One hook call, from validated request to cards (the route stays a one-liner)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import httpx
import structlog

from services.common.errors import TwinRxError
from services.common.fhir.ids import is_fhir_id
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.twin import Twin

from . import _metrics as metrics
from ._actionable import ActionableIndex
from ._background import Background
from ._cardcache import CardCache
from ._consistency import check_request
from ._discovery import SERVICES, ServiceSpec
from ._engines import Engines
from ._feedback import FeedbackStore
from ._models import Card, HookRequest
from ._orders import draft_medications
from ._pgx import TestingWindow, pgx_cards, resolve_orders
from ._prefetch import FhirFetcher, bundle_resources
from ._summary import summary_card
from ._twin import SyncEnqueuer, TwinCache, TwinData, load_twin, server_for
from .errors import BadHookRequest, UnknownService

log = get_logger(__name__)

KNOWN_HOOKS: Final = frozenset(spec.hook for spec in SERVICES.values())


@dataclass
class Runtime:
    """Everything a hook call needs, built once per app."""

    settings: Settings
    engines: Engines
    http: httpx.Client
    enqueuer: SyncEnqueuer
    window: TestingWindow
    feedback: FeedbackStore
    actionable: ActionableIndex
    background: Background
    twins: TwinCache
    cards: CardCache | None = None  # composed cards, re-issued with fresh uuids (None: compose every time)


def service_spec(service_id: str) -> ServiceSpec:
    spec = SERVICES.get(service_id)
    if spec is None:
        raise UnknownService(f"no CDS service with id {service_id[:80]!r}")
    return spec


def validate(spec: ServiceSpec, request: HookRequest, allowed_servers: list[str] | None = None) -> str:
    """Request-level rules of CDS Hooks 2.0.1; returns the patient id."""
    if request.hook not in KNOWN_HOOKS:
        raise BadHookRequest(f"unknown hook {request.hook[:60]!r}", location="hook")
    if request.hook != spec.hook:
        raise BadHookRequest(f"service {spec.id} answers {spec.hook}, not {request.hook}", location="hook")
    if request.fhirAuthorization is not None:
        if not request.fhirServer:
            raise BadHookRequest("fhirAuthorization requires fhirServer", location="fhirServer")
        if request.fhirAuthorization.token_type.lower() != "bearer":
            raise BadHookRequest("fhirAuthorization.token_type must be Bearer", location="fhirAuthorization")
    if request.fhirServer is not None and not request.fhirServer.startswith(("http://", "https://")):
        raise BadHookRequest("fhirServer must be an http(s) URL", location="fhirServer")
    if request.fhirServer is not None and allowed_servers and not _allowed(request.fhirServer, allowed_servers):
        raise BadHookRequest("fhirServer is not an allowed FHIR server", location="fhirServer")
    if request.fhirServer is not None and request.fhirServer.startswith("http://"):
        log.warning("fhir_server_not_https", service=spec.id)  # spec: MUST be https for production data
    patient = request.context.get("patientId")
    if patient is not None and not isinstance(patient, str):
        raise BadHookRequest("context.patientId must be a string", location="context.patientId")
    if patient is None or not patient.strip():
        raise BadHookRequest("context.patientId is required", location="context.patientId")
    if len(patient) > 200:  # FHIR ids are at most 64 characters; 200 leaves room for odd EHR ids
        raise BadHookRequest(
            f"context.patientId is {len(patient)} characters long; at most 200", location="context.patientId"
        )
    if request.fhirServer is not None and not is_fhir_id(patient.strip()):
        # with a fhirServer the id goes into FHIR URLs (prefetch fetches, the background sync), where
        # "../x", "a/b" or "x#y" would read another resource: the EHR's ids are FHIR ids, so refuse
        raise BadHookRequest(
            "context.patientId is not a FHIR id (1-64 characters of A-Z a-z 0-9 - .)", location="context.patientId"
        )
    user = request.context.get("userId")
    if user is not None and not isinstance(user, str):
        raise BadHookRequest("context.userId must be a string", location="context.userId")
    if spec.hook in ("order-select", "order-sign") and "draftOrders" not in request.context:
        raise BadHookRequest("context.draftOrders is required", location="context.draftOrders")
    # before the twin is read, so a call naming another patient is refused whether or not a twin is stored
    check_request(spec, request, patient.strip())
    return patient.strip()


def _allowed(server: str, allowed: list[str]) -> bool:
    base = server.rstrip("/")
    return any(base == a.rstrip("/") or base.startswith(a.rstrip("/") + "/") for a in allowed)


def _prefetch_resources(request: HookRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for value in (request.prefetch or {}).values():
        if isinstance(value, dict):
            if value.get("resourceType") == "Bundle":
                out += bundle_resources(value)
            else:
                out.append(value)
    return out


def handle(rt: Runtime, spec: ServiceSpec, request: HookRequest, patient_id: str, stored: Twin | None) -> list[Card]:
    """Cards for a validated request; ``stored`` is the twin read from Redis (None: none stored).

    Logs carry the hookInstance.
    """
    with structlog.contextvars.bound_contextvars(hookInstance=request.hookInstance[:100]):
        return _handle(rt, spec, request, patient_id, stored)


def _handle(rt: Runtime, spec: ServiceSpec, request: HookRequest, patient_id: str, stored: Twin | None) -> list[Card]:
    started = time.monotonic()
    fetcher = FhirFetcher(rt.http, request, started + rt.settings.cds_time_budget_ms / 1000)
    server = server_for(request, rt.settings)

    def _twin() -> TwinData:
        data = load_twin(
            spec=spec,
            request=request,
            patient_id=patient_id,
            settings=rt.settings,
            stored=stored,
            engines=rt.engines,
            fetcher=fetcher,
            enqueuer=rt.enqueuer,
        )
        metrics.TWIN_SOURCE.labels(data.origin).inc()
        return data

    cards: list[Card]
    if spec.hook == "patient-view":
        data = _twin()
        risks = data.twin.risk
        if not risks:
            try:
                risks = rt.engines.assess(data.twin)
            except TwinRxError as exc:  # the summary still shows the PGx part
                log.warning("risk_assess_failed", error=exc.__class__.__name__)
        unavailable = (
            frozenset(data.prefetched.unavailable(frozenset(spec.prefetch_keys))) if data.prefetched else frozenset()
        )
        cards = [
            summary_card(
                data.twin,
                risks=risks,
                what_if=rt.engines.what_if,
                index=rt.actionable,
                origin=data.origin,
                unavailable=unavailable,
            )
        ]
    else:
        drafts = draft_medications(
            request.context,
            use_selections=spec.hook == "order-select",
            extra_resources=_prefetch_resources(request),
            fetch=fetcher.resource if fetcher.enabled else None,
        )
        orders = resolve_orders(drafts, rt.engines)
        if not orders:
            cards = []
        else:
            data = _twin()
            cards = pgx_cards(
                orders,
                data,
                rt.engines,
                server=server,
                patient_id=patient_id,
                window=rt.window,
                correlation=request.hookInstance,
                cache=rt.cards,
            )
    rt.feedback.remember_cards(cards, service=spec.id, hook_instance=request.hookInstance)
    for card in cards:
        metrics.CARDS.labels(spec.id, card.indicator).inc()
    log.info(
        "hook_answered",
        hookInstance=request.hookInstance,
        service=spec.id,
        cards=len(cards),
        ms=round((time.monotonic() - started) * 1000, 1),
    )
    return cards

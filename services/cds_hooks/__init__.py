"""CDS Hooks 2.0.1 service: discovery, order-select, order-sign, patient-view, feedback, JWT security.

``create_app(settings)`` builds the FastAPI app (``twinrx serve`` runs it with uvicorn). Twins are read
from Redis under the request's ``fhirServer`` (or ``Settings.cds_default_server`` when absent).
"""

from __future__ import annotations

from ._app import create_app, openapi_schema
from ._auth import ALLOWED_ALGS, Authenticator, load_trusted_clients
from ._client import sign_client_jwt
from ._discovery import PREFETCH_TEMPLATES, SERVICES, discovery
from ._feedback import STREAM as FEEDBACK_STREAM
from ._feedback import FeedbackStore
from ._twin import SYNC_TASK, server_for
from .errors import (
    BadHookRequest,
    CDSHookError,
    PayloadTooLarge,
    PrefetchUnavailable,
    Unauthorized,
    UnknownService,
)

__all__ = [
    "ALLOWED_ALGS",
    "FEEDBACK_STREAM",
    "PREFETCH_TEMPLATES",
    "SERVICES",
    "SYNC_TASK",
    "Authenticator",
    "BadHookRequest",
    "CDSHookError",
    "FeedbackStore",
    "PayloadTooLarge",
    "PrefetchUnavailable",
    "Unauthorized",
    "UnknownService",
    "create_app",
    "discovery",
    "load_trusted_clients",
    "openapi_schema",
    "server_for",
    "sign_client_jwt",
]

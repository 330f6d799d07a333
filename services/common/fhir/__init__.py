"""The FHIR client: httpx + orjson, SMART Backend Services, search paging, retries, Bulk Data ``$export``.

Public API::

    FhirClient(base_url, *, auth=None, timeout=30, page_cap=1000, policy=None, transport=None)
    NoAuth(), BearerToken(token), SmartBackendAuth(base_url=, client_id=, private_key_pem=, key_id=, scope=)
    auth_from_settings(settings, base_url) / client_from_settings(settings, base_url)
    configured_server(settings, base_url), has_credentials(settings)
    is_fhir_id(value), require_fhir_id(value, what) -> InvalidFhirId (an InputError)
    BulkExport(client).run(level=..., since=..., types=...) -> (status_url, Manifest)
    RetryPolicy, parse_retry_after
"""

from __future__ import annotations

from ._auth import Auth, BearerToken, NoAuth, SmartBackendAuth, load_private_key
from ._bulk import BulkExport, ExportFile, Manifest, parse_manifest
from ._client import ClientStats, FhirClient, next_link, outcome_text, split_lines
from ._factory import auth_from_settings, client_from_settings, configured_server, configured_servers, has_credentials
from ._retry import RetryPolicy, parse_retry_after
from .errors import (
    BulkExportError,
    FhirAuthError,
    FhirHttpError,
    FhirNotFound,
    FhirProtocolError,
    TokenEndpointUnavailable,
)
from .ids import InvalidFhirId, is_fhir_id, require_fhir_id

__all__ = [
    "Auth",
    "BearerToken",
    "BulkExport",
    "BulkExportError",
    "ClientStats",
    "ExportFile",
    "FhirAuthError",
    "FhirClient",
    "FhirHttpError",
    "FhirNotFound",
    "FhirProtocolError",
    "InvalidFhirId",
    "Manifest",
    "NoAuth",
    "RetryPolicy",
    "SmartBackendAuth",
    "TokenEndpointUnavailable",
    "auth_from_settings",
    "client_from_settings",
    "configured_server",
    "configured_servers",
    "has_credentials",
    "is_fhir_id",
    "load_private_key",
    "next_link",
    "outcome_text",
    "parse_manifest",
    "parse_retry_after",
    "require_fhir_id",
    "split_lines",
]

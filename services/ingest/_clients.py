"""One FhirClient per FHIR server per process, so SMART tokens and connections are reused across tasks.

The worker's credentials (static bearer token, SMART Backend Services key) belong to the deployment's
own FHIR servers (``TWINRX_FHIR_BASE_URL``, ``TWINRX_INGEST_SERVERS``). A task naming any other server
is refused (:class:`ServerNotConfigured`, recorded as the patient's failure reason) rather than run
without credentials: anonymously, a real but unlisted EHR would only answer 401 (a worse message),
and a server we do not know would still get the worker as a request relay and could feed it twins.
Without any credentials configured there is nothing to leak, and every server gets an anonymous
client as before (development against open test servers).
"""

from __future__ import annotations

import threading

from services.common.errors import ConfigError
from services.common.fhir import FhirClient, client_from_settings, configured_server, has_credentials
from services.common.settings import Settings

_lock = threading.Lock()
_clients: dict[str, FhirClient] = {}


class ServerNotConfigured(ConfigError):
    """Raised when credentials are configured and a task names a FHIR server they do not belong to."""


def check_server(settings: Settings, base_url: str) -> None:
    """Refuse ``base_url`` when the worker holds credentials and it is not a configured server."""
    if has_credentials(settings) and not configured_server(settings, base_url):
        raise ServerNotConfigured(
            "this FHIR server is not configured (TWINRX_FHIR_BASE_URL or TWINRX_INGEST_SERVERS), "
            "so the worker's credentials are not sent to it",
            location="server",
        )


def client_for(settings: Settings, base_url: str) -> FhirClient:
    """The process's client for ``base_url`` (created from settings on first use); see module docstring."""
    key = base_url.rstrip("/")
    check_server(settings, key)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = client_from_settings(settings, key)
            _clients[key] = client
        return client


def reset_clients() -> None:
    """Close and forget every client (tests, settings changes)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()

"""One FhirClient per FHIR server per process, so SMART tokens and connections are reused across tasks."""

from __future__ import annotations

import threading

from services.common.fhir import FhirClient, client_from_settings
from services.common.settings import Settings

_lock = threading.Lock()
_clients: dict[str, FhirClient] = {}


def client_for(settings: Settings, base_url: str) -> FhirClient:
    """The process's client for ``base_url`` (created from settings on first use)."""
    key = base_url.rstrip("/")
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

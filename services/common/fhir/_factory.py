"""Clients from :class:`Settings`: SMART Backend Services when a client id and key are set, else a
static bearer token, else no authorisation.

Those credentials belong to the deployment's own FHIR servers (``TWINRX_FHIR_BASE_URL`` and
``TWINRX_INGEST_SERVERS``): :func:`configured_server` says whether a base URL is one of them, and the
ingest worker's client factory (``services.ingest._clients``) only builds credentialed clients for those.
"""

from __future__ import annotations

from services.common.errors import ConfigError
from services.common.settings import Settings

from ._auth import Auth, BearerToken, NoAuth, SmartBackendAuth
from ._client import FhirClient
from .ids import is_configured_server


def configured_servers(settings: Settings) -> list[str]:
    """The FHIR base URLs the deployment configured (where its credentials may be sent)."""
    return [s for s in [settings.fhir_base_url, *settings.ingest_servers] if s]


def configured_server(settings: Settings, base_url: str) -> bool:
    """True if ``base_url`` is one of :func:`configured_servers` (scheme/host case, trailing ``/`` ignored)."""
    return is_configured_server(base_url, configured_servers(settings))


def has_credentials(settings: Settings) -> bool:
    """True if the settings hold credentials (a SMART client id or a static bearer token)."""
    return bool(settings.smart_client_id) or settings.fhir_bearer_token is not None


def auth_from_settings(settings: Settings, base_url: str) -> Auth:
    """The authoriser the settings describe for ``base_url``."""
    if settings.smart_client_id:
        if settings.smart_private_key is not None:
            pem = settings.smart_private_key.get_secret_value().encode()
        elif settings.smart_private_key_file is not None:
            try:
                pem = settings.smart_private_key_file.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    "cannot read TWINRX_SMART_PRIVATE_KEY_FILE", location="smart_private_key_file"
                ) from exc
        else:
            raise ConfigError("TWINRX_SMART_CLIENT_ID needs TWINRX_SMART_PRIVATE_KEY or TWINRX_SMART_PRIVATE_KEY_FILE")
        if not settings.smart_key_id:
            raise ConfigError("TWINRX_SMART_CLIENT_ID needs TWINRX_SMART_KEY_ID (the JWK kid)")
        return SmartBackendAuth(
            base_url=base_url,
            client_id=settings.smart_client_id,
            private_key_pem=pem,
            key_id=settings.smart_key_id,
            scope=settings.smart_scope,
        )
    if settings.fhir_bearer_token is not None:
        return BearerToken(settings.fhir_bearer_token.get_secret_value())
    return NoAuth()


def client_from_settings(settings: Settings, base_url: str) -> FhirClient:
    """A FhirClient for ``base_url`` with the configured auth, timeout and page cap."""
    return FhirClient(
        base_url,
        auth=auth_from_settings(settings, base_url),
        timeout=settings.fhir_timeout_seconds,
        page_cap=settings.fhir_page_cap,
    )

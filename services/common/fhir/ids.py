"""FHIR ids and server base URLs: what may go into a request path, and which servers are ours.

An id goes into a URL path unescaped (``Patient/{id}``), so anything outside the FHIR id grammar
(``[A-Za-z0-9\\-\\.]{1,64}``) could change the request: ``../../admin`` climbs out of the base,
``a/b`` reads another path, ``x#y`` truncates at the fragment and ``""`` turns a read into a search.
Such ids are refused before any request is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from services.common.errors import InputError

FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
RESOURCE_TYPE: Final = re.compile(r"[A-Z][A-Za-z]{0,63}")


class InvalidFhirId(InputError):
    """Raised when a value that would go into a FHIR URL path is not a FHIR id (or resource type)."""


def is_fhir_id(value: object) -> bool:
    """True if ``value`` is a string matching the FHIR id grammar."""
    return isinstance(value, str) and FHIR_ID.fullmatch(value) is not None


def require_fhir_id(value: object, what: str = "id") -> str:
    """``value`` if it is a FHIR id, else :class:`InvalidFhirId` (the value itself is not echoed: PHI)."""
    if not is_fhir_id(value):
        raise InvalidFhirId(f"{what} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)", location=what)
    assert isinstance(value, str)
    return value


def require_resource_type(value: object) -> str:
    """``value`` if it looks like a FHIR resource type name, else :class:`InvalidFhirId`."""
    if not isinstance(value, str) or RESOURCE_TYPE.fullmatch(value) is None:
        raise InvalidFhirId("resource type is not a FHIR resource type name", location="resourceType")
    return value


def normalise_base(url: str) -> str:
    """A base URL for comparison: scheme and host lower-cased, default port and trailing ``/`` dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.username is not None or parts.password is not None:
        return url.strip()  # never equal to a plain configured base: userinfo changes who we talk to
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def is_configured_server(url: str, configured: Iterable[str | None]) -> bool:
    """True if ``url`` is (after :func:`normalise_base`) one of the ``configured`` base URLs."""
    mine = {normalise_base(c) for c in configured if c}
    return normalise_base(url) in mine

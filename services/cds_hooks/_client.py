"""Signing CDS client JWTs and sending hook requests (the ``twinrx hook send`` smoke test, tests, bench)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt


def sign_client_jwt(
    private_key_pem: bytes,
    *,
    kid: str,
    iss: str,
    aud: str,
    alg: str = "ES384",
    lifetime: int = 300,
    tenant: str | None = None,
    jku: str | None = None,
) -> str:
    """A CDS Hooks 2.0 client JWT (fresh jti) for the exact URL ``aud``."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": iss, "aud": aud, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    if tenant:
        claims["tenant"] = tenant
    headers: dict[str, Any] = {"kid": kid, "typ": "JWT"}
    if jku:
        headers["jku"] = jku
    return jwt.encode(claims, private_key_pem, algorithm=alg, headers=headers)


def send_hook(
    base_url: str, service_id: str, body: dict[str, Any], *, token: str | None = None, timeout: float = 10.0
) -> httpx.Response:
    """POST ``body`` to ``{base_url}/cds-services/{service_id}``."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{base_url.rstrip('/')}/cds-services/{service_id}", json=body, headers=headers, timeout=timeout)

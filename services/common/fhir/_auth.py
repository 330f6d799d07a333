"""Authorisation for FHIR calls: none, a static bearer token (development), or SMART Backend Services.

SMART Backend Services (``client-confidential-asymmetric``): the token endpoint is discovered from
``[base]/.well-known/smart-configuration``; every token request carries a freshly signed
``private_key_jwt`` assertion (RS384 for RSA keys, ES384 for P-384 keys; ``iss`` = ``sub`` = client id,
``aud`` = token endpoint, a new ``jti``, ``exp`` at most five minutes ahead). The access token is
cached until shortly before ``expires_in`` runs out, and dropped when the server answers 401.
Keys and tokens never reach a log or an exception message.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.common.errors import ConfigError

from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from .errors import FhirAuthError, TokenEndpointUnavailable

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 240  # below the 5-minute maximum, leaving room for clock skew
_REFRESH_MARGIN_SECONDS = 60.0


class Auth(Protocol):
    """What the client asks of an authoriser."""

    def headers(self, client: httpx.Client) -> dict[str, str]:
        """Headers to add to a request (may fetch a token)."""
        ...

    def invalidate(self) -> None:
        """Forget any cached credential (after a 401)."""
        ...


class NoAuth:
    """No Authorization header (open test servers)."""

    def headers(self, client: httpx.Client) -> dict[str, str]:
        return {}

    def invalidate(self) -> None:
        return None


class BearerToken:
    """A static bearer token (development only; it cannot be renewed after a 401)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self, client: httpx.Client) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "BearerToken(***)"


def load_private_key(pem: bytes) -> tuple[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, str]:
    """The key and its JWS algorithm (RS384 for RSA 2048+, ES384 for EC P-384); raises ConfigError otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("the SMART private key is not an unencrypted PEM private key") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigError("the SMART RSA key must be at least 2048 bits")
        return key, "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP384R1):
            raise ConfigError("the SMART EC key must be on curve P-384 (ES384)")
        return key, "ES384"
    raise ConfigError("the SMART private key must be RSA or EC P-384")


@dataclass
class _Token:
    value: str
    refresh_at: float


class SmartBackendAuth:
    """SMART Backend Services client: signed assertion -> cached access token."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        private_key_pem: bytes,
        key_id: str,
        scope: str,
        token_endpoint: str | None = None,
        jku: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._key, self.algorithm = load_private_key(private_key_pem)
        self._kid = key_id
        self._scope = scope
        self._token_endpoint = token_endpoint
        self._jku = jku
        self._policy = policy or RetryPolicy()
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self.tokens_issued = 0

    def __repr__(self) -> str:
        return f"SmartBackendAuth(client_id={self._client_id!r}, alg={self.algorithm}, key=***)"

    def headers(self, client: httpx.Client) -> dict[str, str]:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token.refresh_at:
                self._token = self._request_token(client)
            return {"Authorization": f"Bearer {self._token.value}"}

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def token_endpoint(self, client: httpx.Client) -> str:
        """The token endpoint, discovered once from ``.well-known/smart-configuration``."""
        if self._token_endpoint is None:
            url = f"{self._base_url}/.well-known/smart-configuration"
            response = self._send(client, "GET", url, headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise FhirAuthError(
                    f"SMART discovery failed with HTTP {response.status_code}", status=response.status_code
                )
            config = _json(response)
            endpoint = config.get("token_endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                raise FhirAuthError("SMART configuration has no token_endpoint")
            methods = config.get("token_endpoint_auth_methods_supported")
            if isinstance(methods, list) and "private_key_jwt" not in methods:
                raise FhirAuthError("the server does not accept private_key_jwt client authentication")
            algs = config.get("token_endpoint_auth_signing_alg_values_supported")
            if isinstance(algs, list) and self.algorithm not in algs:
                raise FhirAuthError(f"the server does not accept {self.algorithm} assertions (it lists {algs})")
            self._token_endpoint = endpoint
        return self._token_endpoint

    def assertion(self, audience: str) -> str:
        """A freshly signed client assertion (new jti, exp under five minutes ahead)."""
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": audience,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        headers = {"kid": self._kid, "typ": "JWT"}
        if self._jku:
            headers["jku"] = self._jku
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def _request_token(self, client: httpx.Client) -> _Token:
        endpoint = self.token_endpoint(client)
        form = {
            "grant_type": "client_credentials",
            "scope": self._scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(endpoint),
        }
        response = self._send(client, "POST", endpoint, data=form, headers={"Accept": "application/json"})
        if response.status_code != 200:
            body = _json_or_empty(response)
            detail = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            raise FhirAuthError(f"token request refused: {detail}", status=response.status_code)
        body = _json(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise FhirAuthError("token response has no access_token")
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 300.0
        margin = min(_REFRESH_MARGIN_SECONDS, lifetime * 0.2)
        self.tokens_issued += 1
        return _Token(token, time.monotonic() + lifetime - margin)

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
        """A token-endpoint call with retries for connection errors, 429 and 5xx."""
        waited = 0.0
        last = "no attempt"
        for attempt in range(1, self._policy.attempts + 1):
            retry_after: float | None = None
            try:
                response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as exc:
                last = exc.__class__.__name__
            else:
                if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                    return response
                last = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt == self._policy.attempts:
                break
            delay = self._policy.wait(attempt, retry_after)
            if waited + delay > self._policy.max_total_seconds:
                break
            time.sleep(delay)
            waited += delay
        raise TokenEndpointUnavailable(f"SMART token endpoint unavailable ({last})")


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise FhirAuthError("the authorisation server answered with something other than JSON") from exc
    if not isinstance(body, dict):
        raise FhirAuthError("the authorisation server answered with a non-object JSON body")
    return body


def _json_or_empty(response: httpx.Response) -> dict[str, object]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}

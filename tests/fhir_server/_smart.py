"""SMART Backend Services on the test server: discovery and a token endpoint that checks assertions."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class SmartState:
    """Registered client, issued tokens and replay protection."""

    client_id: str = ""
    jwks: list[dict[str, Any]] = field(default_factory=list)
    expires_in: int = 300
    tokens: set[str] = field(default_factory=set)
    seen_jti: set[str] = field(default_factory=set)
    issued: int = 0
    assertions: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)

    def revoke_all(self) -> None:
        self.tokens.clear()

    def configuration(self, base: str) -> dict[str, Any]:
        return {
            "token_endpoint": f"{base}/auth/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["system/*.rs"],
            "capabilities": ["client-confidential-asymmetric"],
        }

    def token(self, form: dict[str, str], audience: str) -> tuple[int, dict[str, Any]]:
        """(status, body) of a token request."""
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != ASSERTION_TYPE:
            return 400, {"error": "invalid_request", "error_description": "client_credentials with a JWT assertion"}
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return 400, {"error": "invalid_client", "error_description": "assertion is not a JWT"}
        key = next((k for k in self.jwks if k.get("kid") == header.get("kid")), None)
        if key is None or header.get("alg") not in ("RS384", "ES384") or header.get("typ") != "JWT":
            return 401, {"error": "invalid_client", "error_description": "unknown kid or algorithm"}
        public = RSAAlgorithm.from_jwk(key) if key["kty"] == "RSA" else ECAlgorithm.from_jwk(key)
        try:
            claims = jwt.decode(
                assertion,
                public,  # type: ignore[arg-type]
                algorithms=[header["alg"]],
                audience=audience,
                options={"require": ["exp", "jti", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return 401, {"error": "invalid_client", "error_description": f"assertion rejected: {exc}"}
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return 401, {"error": "invalid_client", "error_description": "iss/sub is not the client id"}
        if claims["exp"] > time.time() + 300:
            return 401, {"error": "invalid_client", "error_description": "exp more than five minutes ahead"}
        if claims["jti"] in self.seen_jti:
            return 401, {"error": "invalid_client", "error_description": "jti replayed"}
        self.seen_jti.add(claims["jti"])
        self.assertions.append(claims)
        self.headers.append(header)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        self.issued += 1
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "scope": form.get("scope", ""),
        }

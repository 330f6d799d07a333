"""How the demo authenticates to its own CDS Hooks API: a trusted client made at run time.

The demo creates a fresh EC P-384 key pair per run, writes a trusted-clients file holding only the
public JWKS (``<report>/auth/trusted-clients.json``), starts the API with it, and signs every request
with ES384 exactly as an EHR does (CDS Hooks 2.0: ``iss``, ``aud`` = the URL called, short ``exp``,
fresh ``jti``). The private key never leaves the demo process's memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.cds_hooks import sign_client_jwt

CLIENT_ISS = "urn:twinrx:demo-ehr"
_KID = "twinrx-demo-es384"
_LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class DemoAuth:
    """Server environment and per-request headers for the demo's CDS client."""

    description: str
    trusted_clients_file: Path
    _private_pem: bytes

    @classmethod
    def create(cls, directory: Path) -> DemoAuth:
        """A new key pair; the trusted-clients file (public key only) is written into ``directory``."""
        key = ec.generate_private_key(ec.SECP384R1())
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": _KID, "alg": "ES384", "use": "sig"})
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "trusted-clients.json"
        path.write_text(json.dumps({"clients": [{"iss": CLIENT_ISS, "jwks": {"keys": [jwk]}}]}, indent=2) + "\n")
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(
            description=f"signed ES384 JWTs from a trusted client made at run time ({CLIENT_ISS})",
            trusted_clients_file=path,
            _private_pem=pem,
        )

    def server_env(self) -> dict[str, str]:
        """Environment for the API process: JWT checks on, this run's client trusted."""
        return {
            "TWINRX_CDS_AUTH_DISABLED": "false",
            "TWINRX_CDS_TRUSTED_CLIENTS_FILE": str(self.trusted_clients_file),
        }

    def token(self, url: str) -> str:
        """A fresh client JWT for one call to ``url``."""
        return sign_client_jwt(self._private_pem, kid=_KID, iss=CLIENT_ISS, aud=url, lifetime=_LIFETIME_SECONDS)

    def headers(self, url: str) -> dict[str, str]:
        """Headers for one request to ``url``."""
        return {"Authorization": f"Bearer {self.token(url)}"}

"""Signing keys and their public JWKS for SMART tests (generated per test session, never stored)."""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = orjson.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "RS384"
    else:
        jwk = orjson.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "ES384"
    jwk["kid"] = kid
    return dict(jwk)

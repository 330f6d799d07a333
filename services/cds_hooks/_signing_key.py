"""The ``--key`` of ``twinrx hook send``: a PEM private key that fits ``--alg``, or one line saying why not.

PyJWT would raise ``ValueError`` (malformed PEM) or ``InvalidKeyError`` (wrong key type) from deep in
the signing call; the CLI checks first so the user sees the key file and what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from services.common.errors import InputFileError

# RFC 7518 3.4: ES384 is ECDSA on P-384; 3.3: RS384 needs an RSA key of 2048 bits or more.
_MIN_RSA_BITS = 2048


def _kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"an EC {key.curve.name} key"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"an RSA {key.key_size}-bit key"
    return f"a {type(key).__name__.removeprefix('_')} key"


def checked_signing_key(path: Path, alg: str) -> bytes:
    """The PEM bytes of ``path`` when they hold an unencrypted private key usable with ``alg``.

    Raises :class:`InputFileError` (exit 2) naming the file: unreadable, empty, not a PEM private key,
    encrypted, or the wrong key type or size for ``alg``.
    """
    location = str(path)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read key: {exc.strerror}", location=location) from exc
    if not pem.strip():
        raise InputFileError("key file is empty (expected a PEM private key)", location=location)
    try:
        key = load_pem_private_key(pem, password=None)
    except TypeError as exc:  # cryptography's way of saying "this key needs a password"
        raise InputFileError("key is encrypted; give an unencrypted PEM private key", location=location) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        hint = " (this is a public key)" if b"PUBLIC KEY-----" in pem else ""
        raise InputFileError(
            f"not a PEM private key{hint}; expected '-----BEGIN PRIVATE KEY-----' (or EC/RSA PRIVATE KEY)",
            location=location,
        ) from exc
    if alg == "ES384":
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1)):
            raise InputFileError(
                f"--alg ES384 needs an EC P-384 (secp384r1) key; this is {_kind(key)}", location=location
            )
    elif alg == "RS384":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InputFileError(f"--alg RS384 needs an RSA key; this is {_kind(key)}", location=location)
        if key.key_size < _MIN_RSA_BITS:
            raise InputFileError(
                f"--alg RS384 needs an RSA key of at least {_MIN_RSA_BITS} bits; this is {_kind(key)}",
                location=location,
            )
    else:  # the CLI's enum offers only the two; a new one must be checked here before it is allowed
        raise InputFileError(f"unsupported --alg {alg}", location=location)
    return pem

"""``twinrx hook send --key`` and ``twinrx feedback list --service`` with bad input: one line, non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.cds_hooks._signing_key import checked_signing_key


def _twinrx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
    )


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _send(tmp_path: Path, key: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    body = tmp_path / "req.json"
    body.write_text("{}")
    # port 1: if a key were wrongly accepted the command would fail later with exit 69, not 2
    return _twinrx("hook", "send", str(body), "--url", "http://127.0.0.1:1", "--key", str(key), *extra)


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (
            b'{"hook": "order-select"}',
            (),
            "not a PEM private key; expected '-----BEGIN PRIVATE KEY-----' (or EC/RSA PRIVATE KEY)",
        ),
        (b"", (), "key file is empty (expected a PEM private key)"),
        ("ec384", ("--alg", "RS384"), "--alg RS384 needs an RSA key; this is an EC secp384r1 key"),
        ("ec256", (), "--alg ES384 needs an EC P-384 (secp384r1) key; this is an EC secp256r1 key"),
        (
            "rsa1024",
            ("--alg", "RS384"),
            "--alg RS384 needs an RSA key of at least 2048 bits; this is an RSA 1024-bit key",
        ),
        ("encrypted", ("--alg", "ES384"), "key is encrypted; give an unencrypted PEM private key"),
    ],
)
def test_hook_send_names_the_key_file_and_what_is_wrong(
    tmp_path: Path, content: bytes | str, extra: tuple[str, ...], message: str
) -> None:
    keys = {
        "ec384": lambda: _pem(ec.generate_private_key(ec.SECP384R1())),
        "ec256": lambda: _pem(ec.generate_private_key(ec.SECP256R1())),
        "rsa1024": lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "encrypted": lambda: _pem(ec.generate_private_key(ec.SECP384R1()), password=b"secret"),
    }
    key = tmp_path / "key.pem"
    key.write_bytes(keys[content]() if isinstance(content, str) else content)
    done = _send(tmp_path, key, *extra)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"twinrx: error: {key}: {message}\n"


def test_a_fitting_key_is_accepted_unchanged(tmp_path: Path) -> None:
    key = tmp_path / "rsa.pem"
    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    key.write_bytes(pem)
    assert checked_signing_key(key, "RS384") == pem
    # signed fine, then the unreachable URL is the error: the key check let it through
    done = _send(tmp_path, key, "--alg", "RS384")
    assert (done.returncode, done.stderr) == (69, "twinrx: error: cannot reach http://127.0.0.1:1: ConnectError\n")


def test_feedback_list_of_an_unknown_service_names_it_and_the_known_ones() -> None:
    done = _twinrx("feedback", "list", "--service", "nope", TWINRX_REDIS_URL="redis://127.0.0.1:1/0")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        "twinrx: error: unknown CDS service 'nope'; the services are: "
        "twinrx-pgx-order-select, twinrx-pgx-order-sign, twinrx-twin-summary\n"
    )

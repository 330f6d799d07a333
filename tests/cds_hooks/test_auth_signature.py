"""The JWS signature and claim checks done without ``jwt.decode`` (``_auth._verified``/``_check_claims``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import BASE, Key
from .test_auth import PATH, _assert_bare_401, _b64, _post


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"jti": 123}, "jti not a string"),
        ({"sub": 5}, "sub not a string"),
        ({"aud": [BASE + "/cds-services/other", "https://x.example"]}, "aud list without the URL"),
        ({"aud": [BASE + PATH, 7]}, "aud list with a non-string"),
        ({"aud": {"url": BASE + PATH}}, "aud an object"),
        ({"exp": "tomorrow"}, "exp a string"),
        ({"iat": True}, "iat a boolean"),
        ({"_header": {"crit": ["exp"]}}, "critical header extension"),
        ({"_header": {"b64": False, "crit": ["b64"]}}, "unencoded payload"),
    ],
)
def test_each_malformed_claim_or_header_is_401(
    client: TestClient, sandbox_key: Key, overrides: dict[str, Any], why: str
) -> None:
    _assert_bare_401(_post(client, sandbox_key.bearer(PATH, **overrides)))


def test_a_list_aud_with_the_url_is_accepted(client: TestClient, sandbox_key: Key) -> None:
    headers = sandbox_key.bearer(PATH, aud=["https://other.example", BASE + PATH], sub="Practitioner/1")
    assert _post(client, headers).status_code == 200


def test_a_tampered_payload_or_signature_is_401(client: TestClient, sandbox_key: Key) -> None:
    head, payload, signature = sandbox_key.sign(BASE + PATH).split(".")
    claims = base64.urlsafe_b64decode(payload + "==").replace(b'"iat"', b'"iaT"')
    _assert_bare_401(_post(client, _bearer(f"{head}.{_b64(claims)}.{signature}")))
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[-1] ^= 1
    _assert_bare_401(_post(client, _bearer(f"{head}.{payload}.{_b64(bytes(raw))}")))
    _assert_bare_401(_post(client, _bearer(f"{head}.{payload}.{_b64(bytes(raw[:-1]))}")))  # wrong length
    _assert_bare_401(_post(client, _bearer(f"{head}.{payload}.{signature}!")))  # not base64url
    _assert_bare_401(_post(client, _bearer(f"{head}.{payload}.")))

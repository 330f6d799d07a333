"""Client JWT checks (CDS Hooks 2.0.1 S2-S8): every failure is a bare 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from services.cds_hooks import ALLOWED_ALGS

from .conftest import BASE, JKU_ISS, JKU_KID, SANDBOX_ISS, AppFactory, Key, load_json

PATH = "/cds-services/twinrx-pgx-order-sign"
BODY = {
    "hook": "order-sign",
    "hookInstance": "5f8b0a6e-8a1c-4f6e-9b59-1f3b0f7a9e11",
    "context": {"patientId": "p1", "userId": "Practitioner/1", "draftOrders": {"resourceType": "Bundle"}},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _post(client: TestClient, headers: dict[str, str], path: str = PATH) -> Any:
    return client.post(path, json=BODY, headers=headers)


def _assert_bare_401(resp: Any) -> None:
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    issue = resp.json()["issue"][0]
    assert issue["diagnostics"] == "authentication required"
    assert issue["code"] == "login"


def test_valid_es384_sandbox_token_is_accepted(client: TestClient, sandbox_key: Key) -> None:
    resp = _post(client, sandbox_key.bearer(PATH))
    assert resp.status_code == 200
    assert resp.json() == {"cards": []}


def test_valid_rs384_token_is_accepted(client: TestClient, rs_key: Key) -> None:
    assert _post(client, rs_key.bearer(PATH)).status_code == 200


def test_aud_may_be_a_list_containing_the_url(client: TestClient, sandbox_key: Key) -> None:
    token = sandbox_key.sign([BASE + "/other", BASE + PATH])
    assert _post(client, {"Authorization": f"Bearer {token}"}).status_code == 200


def test_only_es384_and_rs384_are_allowed() -> None:
    assert frozenset({"ES384", "RS384"}) == ALLOWED_ALGS


def test_missing_header_is_401(client: TestClient) -> None:
    _assert_bare_401(_post(client, {}))
    _assert_bare_401(_post(client, {"Authorization": "Basic dXNlcjpwYXNz"}))
    _assert_bare_401(_post(client, {"Authorization": "Bearer not-a-jwt"}))


def test_alg_none_is_refused(client: TestClient) -> None:
    now = int(time.time())
    claims = {"iss": SANDBOX_ISS, "aud": BASE + PATH, "iat": now, "exp": now + 60, "jti": "n1"}
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": "x"})
    _assert_bare_401(_post(client, {"Authorization": f"Bearer {token}"}))


def test_hmac_is_refused_even_with_the_public_key_as_secret(client: TestClient, sandbox_key: Key) -> None:
    now = int(time.time())
    claims = {"iss": SANDBOX_ISS, "aud": BASE + PATH, "iat": now, "exp": now + 60, "jti": "h1"}
    secret = json.dumps(sandbox_key.public_jwk).encode()  # the classic key-confusion attack
    for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)):
        header = {"alg": alg, "typ": "JWT", "kid": sandbox_key.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(secret, signing_input.encode(), digest).digest()
        token = f"{signing_input}.{_b64(signature)}"
        _assert_bare_401(_post(client, {"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"iss": "https://evil.example"}, "untrusted issuer"),
        ({"aud": BASE + "/cds-services/twinrx-pgx-order-select"}, "aud of another service"),
        ({"aud": "http://attacker.example" + PATH}, "aud of another host"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 3700}, "expired"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3900}, "issued in the future"),
        ({"exp": int(time.time()) + 86400}, "lifetime over one hour"),
        ({"jti": None}, "no jti"),
        ({"exp": None}, "no exp"),
        ({"iat": None}, "no iat"),
        ({"aud": None}, "no aud"),
        ({"_header": {"kid": None}}, "no kid"),
        ({"_header": {"kid": "unknown-kid"}}, "unknown kid"),
        ({"_header": {"typ": "at+jwt"}}, "typ not JWT"),
        ({"_header": {"jku": "https://evil.example/jwks.json"}}, "jku not allow-listed"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    ],
)
def test_each_bad_claim_is_401(client: TestClient, sandbox_key: Key, overrides: dict[str, Any], why: str) -> None:
    _assert_bare_401(_post(client, sandbox_key.bearer(PATH, **overrides)))


def test_small_clock_skew_is_tolerated(client: TestClient, sandbox_key: Key) -> None:
    now = int(time.time())
    headers = sandbox_key.bearer(PATH, iat=now + 30, exp=now + 300)
    assert _post(client, headers).status_code == 200


def test_signature_by_another_key_is_401(client: TestClient, sandbox_key: Key, rs_key: Key) -> None:
    forged = Key(rs_key.pem, rs_key.public_jwk, sandbox_key.kid, "RS384", SANDBOX_ISS)  # sandbox kid, RSA key
    _assert_bare_401(_post(client, forged.bearer(PATH)))
    impostor = Key(sandbox_key.pem, sandbox_key.public_jwk, rs_key.kid, "ES384", rs_key.iss)
    _assert_bare_401(_post(client, impostor.bearer(PATH)))


def test_replayed_jti_is_401(client: TestClient, sandbox_key: Key) -> None:
    headers = sandbox_key.bearer(PATH)
    assert _post(client, headers).status_code == 200
    _assert_bare_401(_post(client, headers))


def test_tenant_is_enforced_when_configured(make_client: AppFactory, sandbox_key: Key) -> None:
    client = make_client(cds_allowed_tenants=["hospital-a"])
    assert _post(client, sandbox_key.bearer(PATH, tenant="hospital-a")).status_code == 200
    _assert_bare_401(_post(client, sandbox_key.bearer(PATH, tenant="hospital-b")))
    _assert_bare_401(_post(client, sandbox_key.bearer(PATH)))


def test_public_base_url_defines_aud(make_client: AppFactory, sandbox_key: Key) -> None:
    client = make_client(public_base_url="https://cds.example.org/twinrx/")
    token = sandbox_key.sign("https://cds.example.org/twinrx" + PATH)
    assert _post(client, {"Authorization": f"Bearer {token}"}).status_code == 200
    _assert_bare_401(_post(client, sandbox_key.bearer(PATH)))


def test_feedback_and_discovery_need_their_own_aud(client: TestClient, sandbox_key: Key) -> None:
    fb = {
        "feedback": [
            {
                "card": "00000000-0000-4000-8000-0000000000c1",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
            }
        ]
    }
    fb_path = PATH + "/feedback"
    assert client.post(fb_path, json=fb, headers=sandbox_key.bearer(fb_path)).status_code == 200
    _assert_bare_401(client.post(fb_path, json=fb, headers=sandbox_key.bearer(PATH)))
    _assert_bare_401(client.get("/cds-services", headers=sandbox_key.bearer(PATH)))


def test_spec_example_token_is_refused_as_expired(make_client: AppFactory, tmp_path: Path, shared_data: Path) -> None:
    """The spec's own ES384 example (exp in 2015) verifies its signature but is expired."""
    spec = shared_data / "cds" / "spec-2.0.1"
    header, payload = load_json(spec / "jwt-header.json"), load_json(spec / "jwt-payload.json")
    private = jwt.PyJWK(load_json(spec / "jwk-private-EXAMPLE-ONLY.json"))
    token = jwt.encode(payload, private.key, algorithm="ES384", headers=header)
    trusted = tmp_path / "spec-trusted.json"
    jwks = load_json(spec / "jwks-public.json")
    trusted.write_text(json.dumps({"clients": [{"iss": payload["iss"], "jwks": jwks, "jku": [header["jku"]]}]}))
    client = make_client(cds_trusted_clients_file=trusted, public_base_url="https://cds.example.org")
    # the example names jku: serve nothing there; the key must come from the allow-listed jku -> refused offline
    path = "/cds-services/some-service"
    _assert_bare_401(client.post(path, json=BODY, headers={"Authorization": f"Bearer {token}"}))
    # the same claims without jku and with a fresh exp/iat verify against the out-of-band JWKS
    now = int(time.time())
    fresh = {**payload, "iat": now, "exp": now + 60}
    token = jwt.encode(fresh, private.key, algorithm="ES384", headers={"kid": header["kid"], "typ": "JWT"})
    resp = client.post(path, json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404  # authenticated; the spec's service id is not ours


@pytest.fixture
def jwks_server(jku_key: Key) -> Iterator[str]:
    body = json.dumps({"keys": [jku_key.public_jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def test_key_from_an_allow_listed_jku(make_client: AppFactory, tmp_path: Path, jku_key: Key, jwks_server: str) -> None:
    trusted = tmp_path / "jku-trusted.json"
    trusted.write_text(json.dumps({"clients": [{"iss": JKU_ISS, "jku": [jwks_server]}]}))
    client = make_client(cds_trusted_clients_file=trusted)
    assert _post(client, jku_key.bearer(PATH, _header={"jku": jwks_server})).status_code == 200
    _assert_bare_401(_post(client, jku_key.bearer(PATH, _header={"jku": jwks_server + "?x=1"})))
    _assert_bare_401(_post(client, jku_key.bearer(PATH)))  # no jku and no out-of-band key
    assert jku_key.kid == JKU_KID


def test_dev_mode_needs_no_token_and_is_logged_loudly(
    make_client: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(auth=False)
    assert "CDS_AUTH_DISABLED" in capsys.readouterr().out + capsys.readouterr().err
    assert _post(client, {}).status_code == 200


def test_production_refuses_disabled_auth(redis_url: str) -> None:
    from pydantic import ValidationError

    from services.common.settings import Settings

    with pytest.raises(ValidationError, match="CDS_AUTH_DISABLED"):
        Settings(environment="production", cds_auth_disabled=True, redis_url=redis_url)


def test_jwks_from_a_file_next_to_the_trust_file(make_client: AppFactory, tmp_path: Path, rs_key: Key) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ehr-jwks.json").write_text(json.dumps({"keys": [rs_key.public_jwk]}))
    trusted = tmp_path / "file-trusted.json"
    trusted.write_text(json.dumps({"clients": [{"iss": rs_key.iss, "jwks_file": "keys/ehr-jwks.json"}]}))
    client = make_client(cds_trusted_clients_file=trusted)
    assert _post(client, rs_key.bearer(PATH)).status_code == 200


def test_unreadable_trust_file_fails_at_start(make_client: AppFactory, tmp_path: Path) -> None:
    from services.common.errors import ConfigError

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="trusted CDS clients"):
        make_client(cds_trusted_clients_file=broken)


def test_jwks_cache_refetches_on_unknown_kid_at_most_every_30_seconds(jku_key: Key) -> None:
    import httpx

    from services.cds_hooks._auth import JwksCache

    hits: list[str] = []
    keys = {"keys": [jku_key.public_jwk]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            body = json.dumps(keys).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        with httpx.Client() as http:
            cache = JwksCache(http, ttl=300)
            assert cache.key(url, jku_key.kid) == jku_key.public_jwk
            assert cache.key(url, jku_key.kid) == jku_key.public_jwk
            assert len(hits) == 1  # cached
            assert cache.key(url, "rotated") is None
            assert len(hits) == 1  # unknown kid right after a fetch: no refetch storm
            rotated = {**jku_key.public_jwk, "kid": "rotated"}
            keys["keys"].append(rotated)
            cache._docs[url] = (cache._docs[url][0] - 31, cache._docs[url][1])  # 31 s later
            assert cache.key(url, "rotated") == rotated
            assert len(hits) == 2
    finally:
        server.shutdown()

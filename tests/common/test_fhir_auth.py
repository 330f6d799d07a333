"""SMART Backend Services and bearer auth against the test server's token endpoint (real HTTP, real JWTs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.common.errors import ConfigError
from services.common.fhir import (
    BearerToken,
    FhirAuthError,
    FhirClient,
    RetryPolicy,
    SmartBackendAuth,
    TokenEndpointUnavailable,
    auth_from_settings,
)
from services.common.settings import Settings
from services.ingest import scan_directory
from tests.fhir_server.keys import ec_key, pem, public_jwk, rsa_key
from tests.fhir_server.server import FhirTestServer, running

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"
CLIENT_ID = "twinrx-test-client"
SCOPE = "system/Patient.rs system/Observation.rs"


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
    return {"rsa-1": rsa_key(), "ec-1": ec_key()}


@pytest.fixture
def server(
    shared_data: Path, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
) -> Iterator[FhirTestServer]:
    with running(page_size=10) as srv:
        srv.store.load(scan_directory(shared_data / "fhir" / "synthea")[ALBERTO])
        srv.smart.client_id = CLIENT_ID
        srv.smart.jwks = [public_jwk(key, kid) for kid, key in keys.items()]
        yield srv


def _client(server: FhirTestServer, key: object, kid: str, waits: list[float] | None = None) -> FhirClient:
    auth = SmartBackendAuth(
        base_url=server.base,
        client_id=CLIENT_ID,
        private_key_pem=pem(key),  # type: ignore[arg-type]
        key_id=kid,
        scope=SCOPE,
        policy=RetryPolicy(attempts=3, base_seconds=0.01),
    )
    sleep = waits.append if waits is not None else (lambda _: None)
    return FhirClient(server.base, auth=auth, sleep=sleep)


@pytest.mark.parametrize(("kid", "alg"), [("rsa-1", "RS384"), ("ec-1", "ES384")])
def test_backend_services_token_and_assertion(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey], kid: str, alg: str
) -> None:
    with _client(server, keys[kid], kid) as client:
        assert client.read("Patient", ALBERTO)["id"] == ALBERTO
        assert len(list(client.search("Observation", {"patient": ALBERTO}))) == 35
    # One token for five requests: it is cached until shortly before expires_in.
    assert server.smart.issued == 1
    (claims,) = server.smart.assertions
    (header,) = server.smart.headers
    assert header == {"alg": alg, "kid": kid, "typ": "JWT"}
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == f"{server.base}/auth/token"
    assert 0 < claims["exp"] - claims["iat"] <= 300
    token_requests = server.requests("/auth/token")
    assert [r.method for r in token_requests] == ["POST"]
    assert server.requests("/.well-known/smart-configuration")[0].method == "GET"


def test_every_token_request_signs_a_fresh_assertion(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
) -> None:
    with _client(server, keys["ec-1"], "ec-1") as client:
        client.read("Patient", ALBERTO)
        client.auth.invalidate()
        client.read("Patient", ALBERTO)
    assert server.smart.issued == 2
    assert len({c["jti"] for c in server.smart.assertions}) == 2  # the server also rejects a replayed jti


def test_401_mid_paging_reauthenticates_once(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
) -> None:
    server.faults.unauthorized_after_pages = 2
    with _client(server, keys["rsa-1"], "rsa-1") as client:
        found = list(client.search("Observation", {"patient": ALBERTO}))
        assert client.stats.reauthentications == 1
    assert len(found) == 35
    assert server.smart.issued == 2
    assert [r.status for r in server.requests("/_page/")] == [200, 401, 200, 200]


def test_a_token_the_server_keeps_refusing_is_an_auth_error(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
) -> None:
    with _client(server, keys["rsa-1"], "rsa-1") as client:
        client.read("Patient", ALBERTO)
        server.smart.tokens = set()
        original = server.smart.token

        def issue_useless(form: dict[str, str], audience: str) -> tuple[int, dict[str, object]]:
            status, body = original(form, audience)
            server.smart.tokens = set()
            return status, body

        server.smart.token = issue_useless  # type: ignore[method-assign]
        with pytest.raises(FhirAuthError, match="still unauthorised after re-authenticating"):
            client.read("Patient", ALBERTO)


def test_unknown_key_is_refused_with_the_servers_reason(server: FhirTestServer) -> None:
    with _client(server, rsa_key(), "not-registered") as client, pytest.raises(FhirAuthError) as caught:
        client.read("Patient", ALBERTO)
    assert caught.value.message == "token request refused: unknown kid or algorithm"
    assert caught.value.status == 401


@pytest.mark.parametrize("mode", ["503", "refused"])
def test_token_endpoint_down(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey], mode: str
) -> None:
    server.faults.token_down = mode
    waits: list[float] = []
    with _client(server, keys["rsa-1"], "rsa-1", waits) as client, pytest.raises(TokenEndpointUnavailable) as caught:
        client.read("Patient", ALBERTO)
    expected = "HTTP 503" if mode == "503" else "ConnectError"
    assert caught.value.message == f"SMART token endpoint unavailable ({expected})"
    assert server.requests("/Patient/") == []  # no data request went out without a token


def test_static_bearer_token(server: FhirTestServer) -> None:
    server.faults.static_token = "dev-token"
    with FhirClient(server.base, auth=BearerToken("dev-token")) as client:
        assert client.read("Patient", ALBERTO)["id"] == ALBERTO
    assert server.requests("/Patient/")[0].headers["authorization"] == "Bearer dev-token"
    assert "dev-token" not in repr(BearerToken("dev-token"))


def test_auth_from_settings(tmp_path: Path, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pem(keys["ec-1"]))
    smart = auth_from_settings(
        Settings(smart_client_id="c", smart_private_key_file=key_file, smart_key_id="ec-1"), "https://ehr/fhir"
    )
    assert isinstance(smart, SmartBackendAuth) and smart.algorithm == "ES384"
    assert "PRIVATE" not in repr(smart)
    bearer = auth_from_settings(Settings(fhir_bearer_token="t"), "https://ehr/fhir")  # type: ignore[arg-type]
    assert isinstance(bearer, BearerToken)
    with pytest.raises(ConfigError, match="TWINRX_SMART_KEY_ID"):
        auth_from_settings(Settings(smart_client_id="c", smart_private_key_file=key_file), "https://ehr/fhir")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key_file.write_bytes(pem(small))
    with pytest.raises(ConfigError, match="at least 2048 bits"):
        auth_from_settings(Settings(smart_client_id="c", smart_private_key_file=key_file, smart_key_id="k"), "x")


def test_token_is_renewed_before_it_expires(
    server: FhirTestServer, keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]
) -> None:
    server.smart.expires_in = 1  # renewed at 80 % of its life, i.e. after 0.8 s
    with _client(server, keys["ec-1"], "ec-1") as client:
        client.read("Patient", ALBERTO)
        time.sleep(1.0)
        client.read("Patient", ALBERTO)
    assert server.smart.issued == 2
    assert [r.status for r in server.requests("/Patient/")] == [200, 200]  # renewed ahead, never refused

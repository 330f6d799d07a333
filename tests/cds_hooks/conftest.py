"""Fixtures of the CDS Hooks tests: Redis database 3, test signing keys registered like the sandbox's,
an app factory with real pgx/risk/ingest functions, and twin seeding."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from services.cds_hooks import create_app
from services.cds_hooks._engines import Engines, load_engines
from services.common.settings import Settings
from services.common.store import TwinStore
from services.common.twin import GeneResult, SourceRef, Twin
from tests.conftest import redis_db_url

from .fhir_stub import FhirStub, start

CDS_DB = 3
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_TEST_KID = "twinrx-test-sandbox-es384"
RS_ISS = "https://ehr.test/rs384"
RS_KID = "twinrx-test-rs384"
JKU_ISS = "https://ehr.test/jku"
JKU_KID = "twinrx-test-jku"
BASE = "http://testserver"
DATA = Path(__file__).resolve().parent.parent / "data" / "cds"


@pytest.fixture
def redis_url(redis_base_url: str) -> Iterator[str]:
    """Database 3 only, flushed before each test."""
    url = redis_db_url(redis_base_url, CDS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.close()


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@dataclass
class Key:
    pem: bytes
    public_jwk: dict[str, Any]
    kid: str
    alg: str
    iss: str

    def sign(self, audience: str | list[str], **overrides: Any) -> str:
        """A client JWT for ``audience``; overrides replace claims (None deletes) or ``_header`` entries."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        header: dict[str, Any] = {"kid": self.kid, "typ": "JWT"}
        header.update(overrides.pop("_header", {}))
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {k: v for k, v in header.items() if v is not None}
        return jwt.encode(claims, self.pem, algorithm=self.alg, headers=header)

    def bearer(self, path: str, **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sign(BASE + path, **overrides)}"}


def _ec_key(kid: str, iss: str) -> Key:
    private = ec.generate_private_key(ec.SECP384R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "ES384", "use": "sig"})
    return Key(pem, jwk, kid, "ES384", iss)


def _rsa_key(kid: str, iss: str) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS384", "use": "sig"})
    return Key(pem, jwk, kid, "RS384", iss)


@pytest.fixture(scope="session")
def sandbox_key() -> Key:
    """ES384 key registered for the sandbox's issuer next to the sandbox's real public key."""
    return _ec_key(SANDBOX_TEST_KID, SANDBOX_ISS)


@pytest.fixture(scope="session")
def rs_key() -> Key:
    return _rsa_key(RS_KID, RS_ISS)


@pytest.fixture(scope="session")
def jku_key() -> Key:
    return _ec_key(JKU_KID, JKU_ISS)


@pytest.fixture
def trusted_file(tmp_path: Path, shared_data: Path, sandbox_key: Key, rs_key: Key, jku_key: Key) -> Path:
    """A trusted-clients file: the sandbox (its real JWKS + our test key), an RS384 client, a jku client."""
    sandbox_jwks = json.loads((shared_data / "cds" / "sandbox" / "sandbox-client-jwks.json").read_text())
    sandbox_jwks["keys"].append(sandbox_key.public_jwk)
    clients = {
        "clients": [
            {"iss": SANDBOX_ISS, "jwks": sandbox_jwks, "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"]},
            {"iss": RS_ISS, "jwks": {"keys": [rs_key.public_jwk]}},
            {"iss": JKU_ISS, "jwks": {"keys": []}, "jku": ["http://127.0.0.1:1/never-used.json"]},
        ]
    }
    path = tmp_path / "trusted-clients.json"
    path.write_text(json.dumps(clients))
    return path


@pytest.fixture(scope="session")
def engines() -> Engines:
    """The real pgx / risk / ingest functions."""
    return load_engines()


def make_settings(redis_url: str, trusted: Path | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "redis_url": redis_url,
        "public_base_url": BASE,
        "cds_trusted_clients_file": trusted,
        "cds_auth_disabled": trusted is None,
    }
    values.update(overrides)
    return Settings(**values)


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(redis_url: str, trusted_file: Path, engines: Engines) -> Iterator[AppFactory]:
    """``make_client(auth=True, **settings)`` -> a TestClient of a freshly built app."""
    clients: list[TestClient] = []

    def factory(*, auth: bool = True, engines_override: Engines | None = None, **overrides: Any) -> TestClient:
        settings = make_settings(redis_url, trusted_file if auth else None, **overrides)
        client = TestClient(create_app(settings, engines=engines_override or engines), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    """An app with JWT authentication on (trusted: sandbox, RS384 and jku clients)."""
    return make_client()


@pytest.fixture
def dev_client(make_client: AppFactory) -> TestClient:
    """An app in explicit development mode (no JWT)."""
    return make_client(auth=False)


def gene(name: str, diplotype: str, phenotype: str, *, obs: str = "gt-1", activity: str | None = None) -> GeneResult:
    return GeneResult(
        gene=name,
        diplotypes=[diplotype],
        phenotype=phenotype,
        activity_score=activity,
        lookup_key=activity or phenotype,
        method="fhir-genotype",
        source=SourceRef(resource_type="Observation", id=obs, version="1"),
    )


@pytest.fixture
def seed(rclient: redis.Redis[bytes]) -> Callable[..., Twin]:
    """``seed(server, patient_id, *gene_results, **twin_fields)`` stores a twin and returns it."""
    store = TwinStore(rclient)

    def _seed(server: str, patient_id: str, *genes: GeneResult, **fields: Any) -> Twin:
        twin = Twin(server=server, patient_id=patient_id, pgx={g.gene: g for g in genes}, **fields)
        current = store.get(server, patient_id)
        return store.save(twin, expected_version=current.version if current else 0)

    return _seed


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def stub() -> Iterator[FhirStub]:
    """A FHIR server speaking real HTTP on 127.0.0.1 whose routes the test sets (see fhir_stub.py)."""
    fhir = FhirStub()
    server = start(fhir)
    yield fhir
    server.shutdown()

"""The hook-call path (services.cds_hooks._hookcall): auth before request errors, one-time jti, twin cache."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from services.cds_hooks._twin import TwinCache
from services.common.twin import Twin

from .conftest import Key, gene
from .test_cards import SELECT, cards_of, hook, med


def test_a_token_used_on_a_malformed_request_cannot_be_used_again(client: TestClient, sandbox_key: Key) -> None:
    """The jti is spent even when the request then fails validation, and a replay is 401, not 400."""
    headers = sandbox_key.bearer(SELECT)
    malformed = client.post(SELECT, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert malformed.status_code == 400
    replayed = client.post(SELECT, json=hook("order-select", "p1", med("m1", code="213169")), headers=headers)
    assert replayed.status_code == 401
    assert replayed.json()["issue"][0]["code"] == "login"


def test_a_replayed_token_is_401_even_with_a_malformed_body(client: TestClient, sandbox_key: Key) -> None:
    headers = sandbox_key.bearer(SELECT)
    assert client.post(SELECT, json=hook("order-select", "p1", med("m1")), headers=headers).status_code == 200
    replayed = client.post(SELECT, content=b"[]", headers={**headers, "Content-Type": "application/json"})
    assert replayed.status_code == 401


def test_non_json_content_type_is_400(dev_client: TestClient) -> None:
    resp = dev_client.post(SELECT, content=b"hook=order-select", headers={"Content-Type": "text/plain"})
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["code"] == "invalid"


def test_a_changed_twin_is_read_again(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    """The parsed-twin cache is keyed by the stored bytes: a new version gives new cards at once."""
    body = hook("order-select", "cache1", med("m1", code="213169"))
    seed("local:demo", "cache1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    (card,) = cards_of(dev_client, SELECT, body)
    assert "CYP2C19 Poor Metabolizer" in card["summary"]
    (again,) = cards_of(dev_client, SELECT, body)
    assert again["summary"] == card["summary"] and again["uuid"] != card["uuid"]
    seed("local:demo", "cache1", gene("CYP2C19", "*1/*1", "Normal Metabolizer"))
    assert cards_of(dev_client, SELECT, body) == []


def test_twin_cache_returns_the_parsed_twin_and_stays_bounded() -> None:
    cache = TwinCache(entries=3)
    bodies = [Twin(server="local:demo", patient_id=f"p{i}").model_dump_json().encode() for i in range(5)]
    first = cache.parse(bodies[0])
    assert first.patient_id == "p0"
    assert cache.parse(bodies[0]) is first  # a hit: no new parse
    for body in bodies[1:]:
        cache.parse(body)
    assert len(cache) == 3
    assert cache.parse(bodies[0]) is not first  # evicted (least recently used), so parsed again
    assert cache.stored(None) is None
    assert cache.stored(b'{"schema_version": "not a number"}') is None  # unreadable: rebuilt as if missing


def test_twin_cache_is_bounded_by_bytes() -> None:
    body = Twin(server="local:demo", patient_id="big").model_dump_json().encode()
    cache = TwinCache(entries=100, max_bytes=len(body) * 8)
    cache.parse(body)
    assert len(cache) == 1
    small = TwinCache(entries=100, max_bytes=len(body) * 8 - 1)  # one body over an eighth of the budget
    small.parse(body)
    assert len(small) == 0

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import redis

from services.common.errors import VersionConflict
from services.common.store import TwinStore, twin_key
from services.common.twin import Demographics, LabValue, SourceRef, Twin, fingerprint
from tests.conftest import redis_db_url

SERVER = "https://ehr.example.org/fhir"


@pytest.fixture
def client(redis_base_url: str) -> Iterator[redis.Redis[bytes]]:
    conn: redis.Redis[bytes] = redis.Redis.from_url(redis_db_url(redis_base_url, 5))
    conn.flushdb()
    yield conn
    conn.flushdb()


def _twin(patient: str = "p1") -> Twin:
    source = SourceRef(resource_type="Observation", id="chol-1", version="2")
    return Twin(
        server=SERVER,
        patient_id=patient,
        demographics=Demographics(gender="female", birth_date=date(1970, 5, 17)),
        labs={
            "total_cholesterol": LabValue(
                name="total_cholesterol", code="2093-3", value=212.0, unit="mg/dL", source=source
            )
        },
    )


def test_first_write_gets_version_one_and_round_trips(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    saved = store.save(_twin(), expected_version=0)
    assert saved.version == 1
    loaded = store.get(SERVER, "p1")
    assert loaded is not None
    assert loaded.version == 1
    assert loaded.labs["total_cholesterol"].value == 212.0
    assert loaded.labs["total_cholesterol"].source.reference == "Observation/chol-1"


def test_stale_writer_loses(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    store.save(_twin(), expected_version=0)
    store.save(_twin(), expected_version=1)
    with pytest.raises(VersionConflict, match="expected version 1, found 2"):
        store.save(_twin(), expected_version=1)
    loaded = store.get(SERVER, "p1")
    assert loaded is not None and loaded.version == 2


def test_create_conflicts_when_twin_exists(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    store.save(_twin(), expected_version=0)
    with pytest.raises(VersionConflict):
        store.save(_twin(), expected_version=0)


def test_missing_twin_is_none_and_keys_are_per_server(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    assert store.get(SERVER, "nobody") is None
    store.save(_twin("a"), expected_version=0)
    store.save(_twin("b"), expected_version=0)
    assert store.count() == 2
    assert twin_key(SERVER, "a") != twin_key("https://other.example/fhir", "a")
    assert twin_key(SERVER, "a") == twin_key(SERVER + "/", "a")


def test_fingerprint_ignores_order_but_not_versions() -> None:
    a = SourceRef(resource_type="Observation", id="1", version="1")
    b = SourceRef(resource_type="Patient", id="p", version="3")
    b2 = SourceRef(resource_type="Patient", id="p", version="4")
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint([a, b]) != fingerprint([a, b2])


def test_age_on_counts_birthdays() -> None:
    demo = Demographics(birth_date=date(1970, 5, 17))
    assert demo.age_on(date(2026, 5, 16)) == 55.0
    assert demo.age_on(date(2026, 5, 17)) == 56.0
    assert Demographics().age_on(date(2026, 1, 1)) is None


def test_get_many_and_save_many_check_each_version(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    store.save(_twin("a"), expected_version=0)
    stored = store.get_many(SERVER, ["a", "b"])
    assert stored["a"] is not None and stored["a"].version == 1
    assert stored["b"] is None
    # "a" is written against a stale version (0) and loses; "b" is new and wins.
    results = store.save_many([(_twin("a"), 0), (_twin("b"), 0)])
    assert results[0] is None
    assert results[1] is not None and results[1].version == 1
    after = store.get_many(SERVER, ["a", "b"])
    assert after["a"] is not None and after["a"].version == 1
    assert after["b"] is not None and after["b"].version == 1

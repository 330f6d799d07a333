"""``get_many`` / ``save_many`` over more twins than one script call takes, with mixed outcomes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from services.common.store import TwinStore
from services.common.twin import Twin
from tests.conftest import redis_db_url

SERVER = "https://ehr.example.org/fhir"
MANY = 450  # more than two batches of the store's script calls


@pytest.fixture
def client(redis_base_url: str) -> Iterator[redis.Redis[bytes]]:
    conn: redis.Redis[bytes] = redis.Redis.from_url(redis_db_url(redis_base_url, 5))
    conn.flushdb()
    yield conn
    conn.flushdb()


def test_many_twins_across_batches_each_checked_on_its_own(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    ids = [f"p{i:03d}" for i in range(MANY)]
    first = store.save_many([(Twin(server=SERVER, patient_id=pid), 0) for pid in ids])
    assert [t.version if t else None for t in first] == [1] * MANY
    # every third write names a stale version (0 instead of 1) and loses; the others move to version 2
    writes = [
        (Twin(server=SERVER, patient_id=pid, input_fingerprint=f"fp-{pid}"), 0 if i % 3 == 0 else 1)
        for i, pid in enumerate(ids)
    ]
    second = store.save_many(writes)
    assert [t is None for t in second] == [i % 3 == 0 for i in range(MANY)]
    stored = store.get_many(SERVER, [*ids, "absent"])
    assert stored["absent"] is None
    for i, pid in enumerate(ids):
        twin = stored[pid]
        assert twin is not None
        assert (twin.version, twin.input_fingerprint) == ((1, "") if i % 3 == 0 else (2, f"fp-{pid}"))


def test_save_many_body_is_what_save_writes(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    one = store.save(Twin(server=SERVER, patient_id="single", input_fingerprint="x"), expected_version=0)
    [many] = store.save_many([(Twin(server=SERVER, patient_id="batched", input_fingerprint="x"), 0)])
    assert many is not None
    got_one, got_many = store.get(SERVER, "single"), store.get(SERVER, "batched")
    assert got_one == one and got_many == many
    assert got_many.model_dump(exclude={"patient_id", "updated_at"}) == got_one.model_dump(
        exclude={"patient_id", "updated_at"}
    )


def test_empty_batches_make_no_calls(client: redis.Redis[bytes]) -> None:
    store = TwinStore(client)
    assert store.save_many([]) == []
    assert store.get_many(SERVER, []) == {}

"""The twin store: one Redis key per (FHIR server, patient), versioned compare-and-set writes.

A write names the version it read; it succeeds only if the stored twin still has that
version, so two workers syncing one patient cannot overwrite each other silently. The loser
gets :class:`VersionConflict` and recomputes (ingest retries it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import redis

from .errors import StoreError, VersionConflict
from .twin import Twin

_KEY_PREFIX = "twinrx:twin:"

# KEYS[1] twin key; ARGV[1] expected version; ARGV[2] new JSON; ARGV[3] new version.
# Versions live in a hash field next to the body so the check never parses JSON.
_CAS_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'version')
if (current == false and ARGV[1] ~= '0') or (current ~= false and current ~= ARGV[1]) then
  return current or '0'
end
redis.call('HSET', KEYS[1], 'version', ARGV[3], 'body', ARGV[2])
return 'OK'
"""

# The same check for many twins in one command: KEYS[i] twin key; ARGV[3i-2] expected version,
# ARGV[3i-1] new JSON, ARGV[3i] new version. Each write is checked on its own (one lost race does not
# stop the others). One command instead of a pipeline of one script call per twin: the client-side cost
# of packing and parsing a command per twin was a visible share of a bulk ingest's time.
_CAS_MANY_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local expected = ARGV[3 * i - 2]
  local current = redis.call('HGET', key, 'version')
  if (current == false and expected ~= '0') or (current ~= false and current ~= expected) then
    out[i] = current or '0'
  else
    redis.call('HSET', key, 'version', ARGV[3 * i], 'body', ARGV[3 * i - 1])
    out[i] = 'OK'
  end
end
return out
"""

# Bodies of many twins in one command (a missing twin is a nil entry).
_GET_MANY_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, 'body')
end
return out
"""

# Twins per script call: bounds the time one call holds the (single-threaded) server.
_BATCH = 200


def twin_key(server: str, patient_id: str) -> str:
    """Redis key of a twin; the server URL is hashed so keys stay short and safe."""
    server_tag = hashlib.sha256(server.rstrip("/").encode()).hexdigest()[:16]
    return f"{_KEY_PREFIX}{server_tag}:{patient_id}"


def _next_version(twin: Twin, expected_version: int, now: datetime) -> Twin:
    """The twin as it will be stored by a write that expects ``expected_version``."""
    return twin.model_copy(update={"version": expected_version + 1, "updated_at": now})


def _cas_call(new: Twin, expected_version: int) -> dict[str, list[str]]:
    """Keys and arguments of the compare-and-set script for one write."""
    return {
        "keys": [twin_key(new.server, new.patient_id)],
        "args": [str(expected_version), new.model_dump_json(), str(new.version)],
    }


class TwinStore:
    """Read and write twins in Redis."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self._redis = client
        self._cas = client.register_script(_CAS_SCRIPT)
        self._cas_many = client.register_script(_CAS_MANY_SCRIPT)
        self._get_many = client.register_script(_GET_MANY_SCRIPT)

    def get(self, server: str, patient_id: str) -> Twin | None:
        """The stored twin, or None."""
        try:
            body = self._redis.hget(twin_key(server, patient_id), "body")
        except redis.RedisError as exc:
            raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
        if body is None:
            return None
        return Twin.model_validate_json(body)

    def save(self, twin: Twin, *, expected_version: int) -> Twin:
        """Write ``twin`` if the stored version equals ``expected_version``; returns the saved twin."""
        new = _next_version(twin, expected_version, datetime.now(UTC))
        try:
            result = self._cas(**_cas_call(new, expected_version))
        except redis.RedisError as exc:
            raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
        if result != b"OK":
            raise VersionConflict(
                f"twin changed concurrently (expected version {expected_version}, found {result.decode()})"
            )
        return new

    def get_many(self, server: str, patient_ids: list[str]) -> dict[str, Twin | None]:
        """The stored twins of many patients of one server, in one round trip."""
        keys = [twin_key(server, patient_id) for patient_id in patient_ids]
        bodies: list[bytes | None] = []
        try:
            for start in range(0, len(keys), _BATCH):
                bodies.extend(self._get_many(keys=keys[start : start + _BATCH]))
        except redis.RedisError as exc:
            raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
        return {
            patient_id: Twin.model_validate_json(body) if body else None
            for patient_id, body in zip(patient_ids, bodies, strict=True)
        }

    def save_many(self, writes: list[tuple[Twin, int]]) -> list[Twin | None]:
        """Compare-and-set many ``(twin, expected_version)`` writes in one round trip.

        Each write is checked on its own, exactly as :meth:`save`; the result holds the saved twin
        where the write won and None where another writer got there first (the caller retries those).
        """
        now = datetime.now(UTC)
        saved = [_next_version(twin, expected, now) for twin, expected in writes]
        results: list[bytes] = []
        try:
            for start in range(0, len(saved), _BATCH):
                keys: list[str] = []
                args: list[str] = []
                for new, (_, expected) in zip(
                    saved[start : start + _BATCH], writes[start : start + _BATCH], strict=True
                ):
                    call = _cas_call(new, expected)
                    keys += call["keys"]
                    args += call["args"]
                results.extend(self._cas_many(keys=keys, args=args))
        except redis.RedisError as exc:
            raise StoreError(f"twin store unavailable: {exc.__class__.__name__}") from exc
        return [new if result == b"OK" else None for new, result in zip(saved, results, strict=True)]

    def delete(self, server: str, patient_id: str) -> None:
        """Remove a twin (used by tests and on patient deletion)."""
        self._redis.delete(twin_key(server, patient_id))

    def keys(self) -> Iterator[str]:
        """All twin keys (for the CLI and tests; not used on hot paths)."""
        for key in self._redis.scan_iter(match=f"{_KEY_PREFIX}*", count=500):
            yield key.decode()

    def count(self) -> int:
        """Number of stored twins."""
        return sum(1 for _ in self.keys())

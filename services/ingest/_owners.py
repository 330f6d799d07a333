"""Which patient each FHIR resource belongs to, per server, in Redis: what makes deletions actionable.

A deleted resource reaches us as ``DELETE Observation/123`` with no body (REST ``_history`` or a Bulk
``deleted`` file), so the patient whose twin it fed must be known from before. Every resource ingest
reads from a FHIR server (REST fetch of a patient, incremental search, Bulk export) is recorded here as
``Type/id -> patient id`` in one hash per server. Entries of deleted resources are kept on purpose:
the incremental overlap window re-reads a deletion, and the second reading must find the same patient
(a retry-safe no-op) rather than nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import redis

from services.common.errors import StoreError
from services.common.redis_conn import connect

from ._refs import patient_target
from ._resource import Resource

_PREFIX = "twinrx:ingest:owner:"
_BATCH = 1000  # fields per HSET / HMGET: one round trip per thousand resources

_lock = threading.Lock()
_connections: dict[str, redis.Redis[bytes]] = {}


def owners_key(server: str) -> str:
    """The hash holding ``Type/id -> patient id`` of one server (the URL hashed, like the twin keys)."""
    return f"{_PREFIX}{hashlib.sha256(server.rstrip('/').encode()).hexdigest()[:16]}"


def connection(url: str) -> redis.Redis[bytes]:
    """One Redis client per URL per process (the REST loader is created per task and has only settings)."""
    with _lock:
        client = _connections.get(url)
        if client is None:
            client = connect(url)
            _connections[url] = client
        return client


def remember_pairs(client: redis.Redis[bytes], server: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Record ``(Type/id, patient id)`` pairs; returns how many were written."""
    key = owners_key(server)
    batch: dict[str, str] = {}
    written = 0
    try:
        for ref, patient_id in pairs:
            batch[ref] = patient_id
            if len(batch) >= _BATCH:
                client.hset(key, mapping=batch)  # type: ignore[arg-type]
                written += len(batch)
                batch = {}
        if batch:
            client.hset(key, mapping=batch)  # type: ignore[arg-type]
            written += len(batch)
    except redis.RedisError as exc:
        raise StoreError(f"owner index unavailable: {exc.__class__.__name__}") from exc
    return written


def resource_pairs(resources: Iterable[Resource]) -> Iterable[tuple[str, str]]:
    """``(Type/id, patient id)`` of the resources that belong to a patient (Patients map to themselves)."""
    for resource in resources:
        rtype, rid = resource.get("resourceType"), resource.get("id")
        patient_id = patient_target(resource)
        if isinstance(rtype, str) and isinstance(rid, str) and rid and patient_id:
            yield f"{rtype}/{rid}", patient_id


def remember(client: redis.Redis[bytes], server: str, resources: Iterable[Resource]) -> int:
    """Record the owner of every resource that has one; returns how many were written."""
    return remember_pairs(client, server, resource_pairs(resources))


def owners_of(client: redis.Redis[bytes], server: str, refs: list[str]) -> dict[str, str]:
    """``Type/id -> patient id`` for the refs the index knows (unknown refs are left out)."""
    key = owners_key(server)
    found: dict[str, str] = {}
    try:
        for start in range(0, len(refs), _BATCH):  # bounded replies: an incremental run may see many resources
            batch = refs[start : start + _BATCH]
            values = client.hmget(key, batch)
            found.update((ref, value.decode()) for ref, value in zip(batch, values, strict=True) if value is not None)
    except redis.RedisError as exc:
        raise StoreError(f"owner index unavailable: {exc.__class__.__name__}") from exc
    return found

"""Per-server watermarks in Redis: the last server-reported time a sync has covered."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import redis

_PREFIX = "twinrx:ingest:watermark:"


def _key(server: str, kind: str) -> str:
    return f"{_PREFIX}{kind}:{hashlib.sha256(server.rstrip('/').encode()).hexdigest()[:16]}"


def get_watermark(client: redis.Redis[bytes], server: str, kind: str = "search") -> str | None:
    """The stored instant (as the server wrote it), or None."""
    value = client.get(_key(server, kind))
    return value.decode() if value else None


def parse_instant(instant: str) -> datetime:
    """A FHIR instant as an aware datetime."""
    parsed = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def set_watermark(client: redis.Redis[bytes], server: str, instant: str, kind: str = "search") -> None:
    """Advance the watermark to ``instant`` (never backwards)."""
    key = _key(server, kind)
    current = client.get(key)
    if current is None or parse_instant(instant) > parse_instant(current.decode()):
        client.set(key, instant)

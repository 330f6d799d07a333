"""End-to-end fixtures: Redis database 4, and a twin-store server key of this test session.

Several test sessions may share the Redis (a developer's run and a CI clone on one machine). Instead
of flushing database 4 under a session that is still running, each session stores its twins under
its own server key (``local:e2e-<random>``; the API is told to use it for calls without
``fhirServer``) and deletes exactly those twins at the end.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest
import redis
from rich.console import Console

from services.common.store import twin_key
from services.demo import DemoOptions
from tests.conftest import redis_db_url

E2E_DB = 4


@pytest.fixture(scope="session")
def e2e_redis_url(redis_base_url: str) -> str:
    """A real Redis database reserved for the end-to-end tests (redis:// or an embedded unix:// one)."""
    return redis_db_url(redis_base_url, E2E_DB)


@pytest.fixture(scope="session")
def e2e_server(e2e_redis_url: str) -> Iterator[str]:
    """This session's twin-store server key; its twins are deleted when the session ends."""
    server = f"local:e2e-{uuid.uuid4().hex[:12]}"
    yield server
    client = redis.Redis.from_url(e2e_redis_url)
    prefix = twin_key(server, "")
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def demo_options(e2e_redis_url: str, e2e_server: str) -> DemoOptions:
    """Options every end-to-end run shares (Redis, server key, a console that records output)."""
    return DemoOptions(redis_url=e2e_redis_url, server=e2e_server, console=quiet_console())


def quiet_console() -> Console:
    """A console that records the demo's terminal output instead of printing it."""
    return Console(file=io.StringIO(), width=150, force_terminal=False)

"""End-to-end fixtures: Redis database 4 (flushed before use, and only that database)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import redis
from rich.console import Console

from services.common.settings import Settings
from services.demo._redis import broker_accepts, loopback_redis
from tests.conftest import redis_db_url

E2E_DB = 4


@pytest.fixture(scope="session")
def e2e_redis_url(redis_base_url: str) -> Iterator[str]:
    """A real Redis database reserved for the end-to-end tests, empty at the start.

    The worker needs a URL the Celery broker accepts; when the shared fixture fell back to an embedded
    server on a unix socket that Celery cannot use, a private loopback one is started instead.
    """
    url = redis_db_url(redis_base_url, E2E_DB)
    if broker_accepts(Settings(), url):
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    with loopback_redis() as loopback:
        yield loopback


def quiet_console() -> Console:
    """A console that records the demo's terminal output instead of printing it."""
    return Console(file=io.StringIO(), width=150, force_terminal=False)

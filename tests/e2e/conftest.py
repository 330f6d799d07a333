"""End-to-end fixtures: Redis database 4 (flushed before use, and only that database)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import redis
from rich.console import Console

from tests.conftest import redis_db_url

E2E_DB = 4


@pytest.fixture(scope="session")
def e2e_redis_url(redis_base_url: str) -> Iterator[str]:
    """A real Redis database reserved for the end-to-end tests, empty at the start."""
    url = redis_db_url(redis_base_url, E2E_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


def quiet_console() -> Console:
    """A console that records the demo's terminal output instead of printing it."""
    return Console(file=io.StringIO(), width=150, force_terminal=False)

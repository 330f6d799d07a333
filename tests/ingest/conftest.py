"""Ingest fixtures: Redis database 2 (flushed before and after each test), settings and a runtime on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.common.settings import Settings
from services.ingest import Runtime, make_runtime
from tests.conftest import redis_db_url

INGEST_DB = 2
DATA = Path(__file__).resolve().parent.parent / "data" / "ingest"


@pytest.fixture
def ingest_redis_url(redis_base_url: str) -> Iterator[str]:
    """URL of Redis database 2, empty at the start and the end of the test."""
    url = redis_db_url(redis_base_url, INGEST_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def ingest_settings(ingest_redis_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database and a private work folder."""
    return Settings(redis_url=ingest_redis_url, ingest_work_dir=tmp_path / "work", ingest_chunk_patients=5)


@pytest.fixture
def rt(ingest_settings: Settings) -> Runtime:
    """A runtime on the test database."""
    return make_runtime(ingest_settings)


@pytest.fixture(scope="session")
def synthea(shared_data: Path) -> Path:
    """The 20 Synthea bundles."""
    return shared_data / "fhir" / "synthea"


@pytest.fixture(scope="session")
def genomics_examples(shared_data: Path) -> Path:
    """The Genomics Reporting IG examples."""
    return shared_data / "fhir" / "genomics-examples"


@pytest.fixture(scope="session")
def bulk10(shared_data: Path) -> Path:
    """The 10-patient Bulk NDJSON export."""
    return shared_data / "fhir" / "bulk-ndjson-10-patients"

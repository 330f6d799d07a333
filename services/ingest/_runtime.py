"""Per-process resources of ingest workers and the CLI: settings, Redis, the twin store, run records.

Created lazily once per process (Celery prefork children each get their own connections) and
re-creatable in tests through :func:`reset_runtime`.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import redis

from services.common.errors import ConfigError
from services.common.redis_conn import connect
from services.common.settings import Settings, get_settings
from services.common.store import TwinStore

from ._runs import RunLog


@dataclass(frozen=True)
class Runtime:
    """What a task needs besides its arguments."""

    settings: Settings
    redis: redis.Redis[bytes]
    store: TwinStore
    runs: RunLog
    work_dir: Path

    @property
    def vcf_dir(self) -> Path:
        """Where extracted VCF attachments are written."""
        return self.work_dir / "vcf"

    @property
    def spool_dir(self) -> Path:
        """Where population chunks are spooled."""
        return self.work_dir / "spool"


_lock = threading.Lock()
_runtime: Runtime | None = None


def work_dir_for(settings: Settings) -> Path:
    """The configured ingest work folder, or one under the temp dir."""
    return settings.ingest_work_dir or Path(tempfile.gettempdir()) / "twinrx-ingest"


def make_runtime(settings: Settings) -> Runtime:
    """Connect to the configured Redis (it must answer) and build a Runtime."""
    if settings.redis_url is None:
        raise ConfigError("ingest needs TWINRX_REDIS_URL (the broker and twin store)")
    client = connect(settings.redis_url)
    return Runtime(settings, client, TwinStore(client), RunLog(client), work_dir_for(settings))


def runtime() -> Runtime:
    """The process-wide Runtime."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = make_runtime(get_settings())
        return _runtime


def reset_runtime() -> None:
    """Forget the process-wide Runtime (after settings change, in tests)."""
    global _runtime
    with _lock:
        _runtime = None

"""The Celery application factory: every worker setting the design asks for, in one place.

Tasks are acknowledged late and rejected on worker loss, so a worker killed mid-task (SIGKILL,
OOM, node drain) leaves its task in the queue for another worker; prefetch is 1 so a slow task
never hides queued work; every task has soft and hard time limits.
"""

from __future__ import annotations

from celery import Celery

from .settings import Settings

QUEUE = "twinrx"


def kombu_url(url: str) -> str:
    """The broker URL as kombu spells it: redis-py's ``unix:///path?db=N`` is ``redis+socket:///path``.

    >>> kombu_url("unix:///tmp/r.sock?db=3")
    'redis+socket:///tmp/r.sock?virtual_host=3'
    >>> kombu_url("redis://127.0.0.1:6379/0")
    'redis://127.0.0.1:6379/0'
    """
    if not url.startswith("unix://"):
        return url
    path, _, query = url.removeprefix("unix://").partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    db = params.pop("db", None)
    if db is not None:
        params["virtual_host"] = db
    tail = "&".join(f"{k}={v}" for k, v in params.items())
    return f"redis+socket://{path}" + (f"?{tail}" if tail else "")


def create_celery(settings: Settings, broker_url: str | None = None) -> Celery:
    """A configured Celery app using Redis as broker (results are not stored: tasks write twins)."""
    url = broker_url or settings.redis_url
    if url is None:
        raise ValueError("a broker URL is needed (TWINRX_REDIS_URL)")
    app = Celery("twinrx", broker=kombu_url(url))
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Redis redelivers an unacked task after the visibility timeout; keep it above the hard limit.
        broker_transport_options={"visibility_timeout": settings.task_time_limit * 2},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
    )
    return app

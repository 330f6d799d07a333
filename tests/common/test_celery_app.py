from __future__ import annotations

from services.common.celery_app import QUEUE, create_celery
from services.common.settings import Settings


def test_worker_settings_follow_the_design() -> None:
    app = create_celery(Settings(task_soft_time_limit=100, task_time_limit=120), broker_url="redis://127.0.0.1:6379/9")
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit == 100
    assert conf.task_time_limit == 120
    assert conf.task_default_queue == QUEUE
    assert conf.broker_transport_options["visibility_timeout"] == 240


def test_unix_socket_urls_are_spelled_for_kombu() -> None:
    from services.common.celery_app import kombu_url

    assert kombu_url("unix:///tmp/r.sock?db=3") == "redis+socket:///tmp/r.sock?virtual_host=3"
    assert kombu_url("unix:///tmp/r.sock") == "redis+socket:///tmp/r.sock"
    assert kombu_url("redis://:pw@127.0.0.1:6379/2") == "redis://:pw@127.0.0.1:6379/2"
    app = create_celery(Settings(), broker_url="unix:///tmp/r.sock?db=1")
    assert app.conf.broker_url == "redis+socket:///tmp/r.sock?virtual_host=1"


def test_embedded_redis_serves_a_real_broker_and_stops() -> None:
    import redis

    from services.common.redis_conn import embedded_redis

    with embedded_redis() as url:
        assert url.startswith("unix://")
        client = redis.Redis.from_url(url)
        assert client.ping() is True
        app = create_celery(Settings(), broker_url=url)
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            assert conn.connected
        socket_path = url.removeprefix("unix://")
    from pathlib import Path

    assert not Path(socket_path).exists()

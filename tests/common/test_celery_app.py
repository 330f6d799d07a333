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

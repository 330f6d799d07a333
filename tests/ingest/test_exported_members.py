from __future__ import annotations

import types

import services.ingest as ingest
from services.ingest import names


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(ingest).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(ingest.__all__) == public


def test_task_names_are_the_contract() -> None:
    assert ingest.SYNC_PATIENT == "twinrx.ingest.sync_patient"
    assert ingest.EXPORT_POPULATION == "twinrx.ingest.export_population"
    assert ingest.INCREMENTAL_SYNC == "twinrx.ingest.incremental_sync"
    assert ingest.WRITE_BACK == "twinrx.ingest.write_back"
    assert ingest.SYNC_CHUNK == "twinrx.ingest.sync_chunk"
    assert names.SPLIT_PART == "twinrx.ingest.split_part"
    from services.ingest.tasks import app

    contract = {
        ingest.SYNC_PATIENT,
        ingest.SYNC_CHUNK,
        names.SPLIT_PART,
        ingest.EXPORT_POPULATION,
        ingest.INCREMENTAL_SYNC,
        ingest.WRITE_BACK,
    }
    assert contract <= set(app.tasks)


def test_beat_schedules_the_incremental_sync() -> None:
    from services.common.settings import get_settings
    from services.ingest.tasks import app

    entry = app.conf.beat_schedule["twinrx-incremental-sync"]
    assert entry["task"] == ingest.INCREMENTAL_SYNC
    assert entry["schedule"] == get_settings().sync_interval_minutes * 60

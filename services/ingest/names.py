"""Celery task names of ingest: other services send these by name (``send_task``), so they never change."""

from __future__ import annotations

from typing import Final

SYNC_PATIENT: Final = "twinrx.ingest.sync_patient"
SYNC_CHUNK: Final = "twinrx.ingest.sync_chunk"
SPLIT_PART: Final = "twinrx.ingest.split_part"
EXPORT_POPULATION: Final = "twinrx.ingest.export_population"
INCREMENTAL_SYNC: Final = "twinrx.ingest.incremental_sync"
WRITE_BACK: Final = "twinrx.ingest.write_back"

__all__ = ["EXPORT_POPULATION", "INCREMENTAL_SYNC", "SPLIT_PART", "SYNC_CHUNK", "SYNC_PATIENT", "WRITE_BACK"]

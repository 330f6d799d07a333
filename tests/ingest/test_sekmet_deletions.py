"""Deletions against sekmet-fhir, the real R4 server: its type ``_history`` lists DELETE entries.

sekmet's Bulk ``$export`` manifest has no ``deleted`` array, so only the REST history path is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.common.fhir import FhirClient
from services.common.settings import Settings
from services.ingest import Runtime, make_runtime
from services.ingest._clients import client_for, reset_clients
from services.ingest._incremental import incremental_sync
from services.ingest._jobs import sync_patient_job
from tests.ingest import _sekmet

pytestmark = pytest.mark.integration

PATIENT = "CGPatientExample01"
GENOTYPES = ("Observation-Pgx-geno-1001.json", "Observation-Pgx-geno-1002.json", "Observation-Pgx-geno-1003.json")


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_sekmet.Sekmet]:
    server = _sekmet.start(tmp_path_factory.mktemp("sekmet-deletions"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sk_rt(ingest_redis_url: str, tmp_path: Path, sekmet: _sekmet.Sekmet) -> Iterator[Runtime]:
    settings = Settings(
        redis_url=ingest_redis_url,
        ingest_work_dir=tmp_path / "work",
        fhir_base_url=sekmet.base,  # the worker's SMART credentials go only to a configured server
        smart_client_id=_sekmet.CLIENT_ID,
        smart_private_key=sekmet.key_pem.decode(),  # type: ignore[arg-type]
        smart_key_id=_sekmet.KID,
        smart_scope="system/*.cruds",
        sync_overlap_minutes=0,
    )
    reset_clients()
    yield make_runtime(settings)
    reset_clients()


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def _sync_sent(rt: Runtime, sent: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    statuses = {
        k["patient_id"]: str(sync_patient_job(rt, k["server"], k["patient_id"], k["source"])["status"]) for _, k in sent
    }
    sent.clear()
    return statuses


def _delete(client: FhirClient, ref: str) -> None:
    client.request("DELETE", ref, ok=frozenset({200, 202, 204}))


def test_sekmet_history_deletions_reach_the_twin(sk_rt: Runtime, sekmet: _sekmet.Sekmet, shared_data: Path) -> None:
    examples = shared_data / "fhir" / "genomics-examples"
    resources = [orjson.loads((examples / name).read_bytes()) for name in (f"Patient-{PATIENT}.json", *GENOTYPES)]
    client = client_for(sk_rt.settings, sekmet.base)
    client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in resources]})

    class Recorder:
        sent: list[tuple[str, dict[str, Any]]] = []

        def send_task(self, name: str, kwargs: dict[str, Any]) -> None:
            self.sent.append((name, kwargs))

    app = Recorder()
    incremental_sync(sk_rt, app, sekmet.base)
    assert _sync_sent(sk_rt, app.sent) == {PATIENT: "created"}
    twin = sk_rt.store.get(sekmet.base, PATIENT)
    assert twin is not None
    (cyp2c19,) = [g for g in twin.genotype_inputs if g.gene == "CYP2C19" and g.diplotype]

    _delete(client, f"Observation/{cyp2c19.source.id}")
    report = incremental_sync(sk_rt, app, sekmet.base)[sekmet.base]
    assert (report["deletions"], report["resynced_for_deletions"], report["history_unsupported"]) == (1, 1, [])  # type: ignore[index]
    assert _sync_sent(sk_rt, app.sent) == {PATIENT: "updated"}
    twin = sk_rt.store.get(sekmet.base, PATIENT)
    assert twin is not None
    assert cyp2c19.source.id not in {g.source.id for g in twin.genotype_inputs}
    assert [g.gene for g in twin.genotype_inputs if g.diplotype] == ["CYP2C9", "VKORC1"]

    for left in twin.genotype_inputs:  # sekmet may keep referential integrity: delete the Patient's data first
        _delete(client, f"Observation/{left.source.id}")
    _delete(client, f"Patient/{PATIENT}")
    removed = incremental_sync(sk_rt, app, sekmet.base)[sekmet.base]
    assert (removed["twins_removed"], removed["patients"]) == (1, 0)  # type: ignore[index]
    assert sk_rt.store.get(sekmet.base, PATIENT) is None
    again = incremental_sync(sk_rt, app, sekmet.base)[sekmet.base]
    assert again["twins_removed"] == 0  # type: ignore[index]
    assert sk_rt.store.get(sekmet.base, PATIENT) is None

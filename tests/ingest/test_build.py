"""build_twin: extraction into twin inputs, malformed resources skipped by reference, fingerprints, engines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.common.twin import Twin
from services.ingest import build_twin, scan_directory
from tests.ingest.conftest import DATA

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


@pytest.fixture(scope="module")
def malformed() -> list[dict[str, object]]:
    return scan_directory(DATA / "malformed.json")["mal1"]


def test_synthea_patient_twin(synthea: Path, tmp_path: Path) -> None:
    resources = scan_directory(synthea)[ALBERTO]
    result = build_twin("local:synthea", ALBERTO, resources, work_dir=tmp_path)
    twin = result.twin
    assert result.read == 72
    assert result.skipped == []
    assert result.counts["Observation"] == 35
    assert twin.server == "local:synthea"
    assert twin.version == 0
    assert twin.demographics.gender == "male"
    assert twin.demographics.birth_date == date(1993, 6, 7)
    assert twin.demographics.race == "other"  # OMB 2135-2 "Other"
    # Latest vitals (2019-03-11 visit), blood pressure from the 55284-4 panel's components.
    assert twin.labs["systolic_bp"].value == pytest.approx(131.53666714260382)
    assert twin.labs["systolic_bp"].unit == "mm[Hg]"
    assert twin.labs["systolic_bp"].source.id == "1a21738f-920e-4ae0-987f-fabbbfea33ef"
    assert twin.labs["systolic_bp"].source.date == datetime(2019, 3, 11, 5, 28, 45, tzinfo=UTC)
    assert twin.labs["diastolic_bp"].value == pytest.approx(78.16325647967783)
    assert twin.labs["bmi"].value == pytest.approx(19.124306358791486)
    assert twin.labs["wbc"].unit == "10*3/uL"
    assert "rdw" not in twin.labs  # Synthea sends 21000-5 (RDW-SD in fL), which must not feed the % input
    assert twin.smoking == "former"
    assert twin.smoking_source is not None and twin.smoking_source.id == "a72ab9a5-c333-4f51-a6e0-409f3ea21125"
    assert sorted(c.code for c in twin.conditions) == ["128613002", "703151001", "84757009"]
    assert [(m.rxnorm, m.status) for m in twin.medications] == [("1153378", "active"), ("308971", "active")]
    assert twin.genotype_inputs == []


def test_malformed_resources_are_skipped_with_reasons_and_the_rest_ingests(malformed: list[dict[str, object]]) -> None:
    result = build_twin("local:t", "mal1", [*malformed, "not an object", {"resourceType": "Observation"}])
    assert {(s.reference, s.reason) for s in result.skipped} == {
        ("Observation/chol-text", "valueQuantity.value is not a number"),
        ("Observation/hdl-baddate", "effectiveDateTime is not a valid date"),
        ("Observation/smoke-odd", "smoking status answer is not a known LOINC/SNOMED code"),
        ("Condition/cond-nocode", "Condition.code has no coding"),
        ("MedicationRequest/med-nomed", "medication[x] missing or its Medication is not available"),
        ("Observation/geno-nogene", "genotype without a gene"),
        ("?/?", "not a JSON object"),
        ("Observation/?", "id missing"),
    }
    assert result.read == 19
    twin = result.twin
    assert twin.skipped == result.skipped
    assert {k: (v.value, v.unit, v.source.id) for k, v in twin.labs.items()} == {
        "total_cholesterol": (213.0, "mg/dL", "chol-ok"),
        "hdl_cholesterol": (48.5, "mg/dL", "hdl-ok"),  # the entered-in-error value is ignored
        "systolic_bp": (142.0, "mm[Hg]", "bp"),
        "diastolic_bp": (88.0, "mm[Hg]", "bp"),
    }
    assert twin.labs["systolic_bp"].source.date == datetime(2024, 2, 2, 7, 0, tzinfo=UTC)
    assert twin.smoking == "current"
    # The diabetes coding is chosen over an unknown SNOMED child; refuted and resolved conditions are left out.
    assert [(c.system, c.code) for c in twin.conditions] == [("http://hl7.org/fhir/sid/icd-10-cm", "E11.9")]
    assert [(m.rxnorm, m.display) for m in twin.medications] == [("309362", "clopidogrel 75 MG Oral Tablet")]
    assert twin.demographics.race == "white"


def test_risk_results_rest_on_the_extracted_inputs(malformed: list[dict[str, object]]) -> None:
    twin = build_twin("local:t", "mal1", malformed).twin
    pce = next(r for r in twin.risk if r.model == "pce")
    assert pce.status == "ok"
    assert pce.value is not None and 0.0 < pce.value < 1.0
    used = {i.name: (i.value, i.source.id if i.source else None) for i in pce.inputs}
    assert used["total_cholesterol"] == (213.0, "chol-ok")
    assert used["hdl_cholesterol"] == (48.5, "hdl-ok")
    assert used["systolic_bp"] == (142.0, "bp")
    assert used["smoking"] == (True, "smoke-ok")
    assert used["diabetes"] == (True, "cond-diabetes")


def test_unchanged_inputs_are_a_no_op_and_a_new_version_is_not(malformed: list[dict[str, object]]) -> None:
    first = build_twin("local:t", "mal1", malformed)
    stored = first.twin.model_copy(update={"version": 4})
    again = build_twin("local:t", "mal1", list(reversed(malformed)), previous=stored)
    assert again.changed is False
    assert again.twin is stored
    edited = [dict(r) for r in malformed]
    edited[1] = {**edited[1], "valueQuantity": {"value": 190, "code": "mg/dL"}}
    changed = build_twin("local:t", "mal1", edited, previous=stored)
    assert changed.changed is True
    assert changed.twin.version == 4  # the store increments it on save
    assert changed.twin.labs["total_cholesterol"].value == 190.0
    assert changed.twin.input_fingerprint != stored.input_fingerprint


def test_versioned_resources_fingerprint_by_version_id() -> None:
    patient = {"resourceType": "Patient", "id": "v1", "meta": {"versionId": "1"}, "gender": "male"}
    first = build_twin("s", "v1", [patient])
    # Same versionId: the server says nothing changed, so the content is not re-read.
    same = build_twin("s", "v1", [{**patient, "gender": "female"}], previous=first.twin)
    assert same.changed is False
    bumped = build_twin("s", "v1", [{**patient, "meta": {"versionId": "2"}, "gender": "female"}], previous=first.twin)
    assert bumped.changed is True
    assert bumped.twin.demographics.gender == "female"


def test_twin_round_trips_through_json(synthea: Path) -> None:
    twin = build_twin("local:synthea", ALBERTO, scan_directory(synthea)[ALBERTO]).twin
    assert Twin.model_validate_json(twin.model_dump_json()) == twin


def test_sync_retries_after_losing_a_compare_and_set_race(rt: object, malformed: list[dict[str, object]]) -> None:
    from services.common.store import TwinStore
    from services.ingest import Runtime, sync_resources

    assert isinstance(rt, Runtime)

    class RacingStore(TwinStore):
        """Another worker writes the twin right after our first read."""

        reads = 0

        def get(self, server: str, patient_id: str) -> Twin | None:
            found = super().get(server, patient_id)
            RacingStore.reads += 1
            if RacingStore.reads == 1:
                other = build_twin(server, patient_id, malformed[:1]).twin
                super().save(other, expected_version=0)
            return found

    store = RacingStore(rt.redis)
    outcome = sync_resources(store, "local:t/", "mal1", malformed)
    assert RacingStore.reads == 2
    assert outcome.status == "updated"
    assert outcome.version == 2
    saved = TwinStore(rt.redis).get("local:t", "mal1")
    assert saved is not None and saved.server == "local:t"
    assert saved.labs["total_cholesterol"].value == 213.0


def test_chunk_write_that_loses_a_race_is_redone(
    rt: object, malformed: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from services.common.store import TwinStore
    from services.ingest import Runtime, _chunk

    assert isinstance(rt, Runtime)
    store = TwinStore(rt.redis)
    # Another worker saved this patient after the chunk read the store (the chunk still believes it is new).
    store.save(build_twin("local:t", "mal1", malformed[:1]).twin, expected_version=0)
    monkeypatch.setattr(store, "get_many", lambda server, ids: dict.fromkeys(ids))
    outcomes = _chunk.sync_patients(store, "local:t", {"mal1": malformed}, work_dir=tmp_path)
    outcome = outcomes["mal1"]
    assert not isinstance(outcome, Exception)
    assert (outcome.status, outcome.version) == ("updated", 2)
    saved = store.get("local:t", "mal1")
    assert saved is not None and saved.version == 2
    assert saved.labs["total_cholesterol"].value == 213.0


def test_give_up_records_every_patient_of_a_chunk_and_a_split_part(rt: object, tmp_path: Path) -> None:
    from services.ingest import Runtime
    from services.ingest._jobs import record_failure

    assert isinstance(rt, Runtime)
    chunk = tmp_path / "chunk-00000.ndjson"
    chunk.write_bytes(b'p1\t{"resourceType":"Patient","id":"p1"}\np2\t{"resourceType":"Patient","id":"p2"}\n')
    record_failure(rt, {"kind": "bulk", "paths": [str(chunk)], "run": "r-chunk"}, None, "gave up: StoreError")
    summary = rt.runs.summary("r-chunk")
    assert (summary.done, summary.failed) == (2, 2)
    rt.runs.start_split("r-split", 1)
    record_failure(rt, {"kind": "split", "part": 0, "path": "Obs.ndjson", "run": "r-split"}, None, "gave up")
    split = rt.runs.summary("r-split")
    assert split.complete and split.skip_reasons == {"split part failed: gave up": 1}


def test_an_unexpected_pgx_failure_fails_the_sync_instead_of_erasing_genotypes(
    malformed: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A twin saved without its genotypes would read as "genotype unknown" at the next order."""
    from services import pgx

    def broken(_inputs: object) -> object:
        raise RuntimeError("library bug")

    monkeypatch.setattr(pgx, "profile", broken)
    with pytest.raises(RuntimeError, match="library bug"):
        from services.common.twin import GenotypeInput, SourceRef
        from services.ingest._engines import run_pgx

        run_pgx(
            [
                GenotypeInput(
                    kind="diplotype",
                    gene="CYP2C19",
                    diplotype="*2/*2",
                    source=SourceRef(resource_type="Observation", id="g1"),
                )
            ]
        )

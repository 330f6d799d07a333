"""Loose VCFs in a local folder: linked by sample or file name, profiled through build_twin, never guessed."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from services.common.celery_app import create_celery
from services.common.settings import Settings
from services.common.store import TwinStore
from services.ingest import Runtime, build_twin, enqueue_directory, scan_directory
from services.ingest._sources import cached_scan
from tests.ingest._worker import running_worker, worker_env

KB = Path(__file__).resolve().parents[2] / "services" / "pgx" / "kb" / "alleles" / "CYP2C19.json"
HEADER = (
    "##fileformat=VCFv4.2\n"
    '##contig=<ID=chr10,assembly=GRCh38.p13,species="Homo sapiens">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
)


def cyp2c19_records(genotypes: dict[str, str]) -> list[tuple[str, str, str, str, list[str]]]:
    """``(pos, rsid, ref, alt, [GT per sample])`` over every CYP2C19 position of the knowledge base.

    ``genotypes`` maps a sample to its star allele pair's allele (``"*2"`` -> homozygous *2, ``"*1"`` ->
    homozygous reference): a position whose *2 base differs from the reference is 1/1 for ``"*2"`` samples.
    """
    kb = json.loads(KB.read_text())
    star2 = next(a for a in kb["named_alleles"] if a["name"] == "*2")
    records = []
    for variant, allele in zip(kb["variants"], star2["alleles"], strict=True):
        differs = allele in ("A", "C", "G", "T") and allele != variant["ref"]
        alt = allele if differs else variant["alts"][0]
        calls = ["1/1" if differs and star == "*2" else "0/0" for star in genotypes.values()]
        records.append((str(variant["pos"]), variant["rsid"] or ".", variant["ref"], alt, calls))
    return records


def write_vcf(path: Path, genotypes: dict[str, str]) -> Path:
    """A GRCh38 VCF over the CYP2C19 positions with one column per sample of ``genotypes``."""
    lines = [HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(genotypes)]
    for pos, rsid, ref, alt, calls in cyp2c19_records(genotypes):
        lines.append("\t".join(["chr10", pos, rsid, ref, alt, ".", "PASS", ".", "GT", *calls]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_patient(folder: Path, patient_id: str) -> None:
    """A collection Bundle with the Patient and one total cholesterol Observation."""
    cholesterol = {
        "resourceType": "Observation",
        "id": f"{patient_id}-chol",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2025-01-02",
        "valueQuantity": {"value": 212.0, "unit": "mg/dL", "code": "mg/dL"},
    }
    patient = {"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1960-05-01"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": cholesterol}],
    }
    (folder / f"{patient_id}.json").write_bytes(orjson.dumps(bundle))


def mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def test_vcf_named_after_the_patient_gives_a_poor_metabolizer(tmp_path: Path) -> None:
    write_patient(tmp_path, "p1")
    vcf = write_vcf(tmp_path / "p1.vcf", {"SAMPLE-X": "*2"})
    scan = scan_directory(tmp_path)
    assert sorted(scan) == ["p1"]
    assert scan.vcfs == 1
    assert scan.skipped == []

    result = build_twin("local:t", "p1", scan["p1"], work_dir=tmp_path / "work")
    twin = result.twin
    assert [(g.kind, g.vcf_path, g.sample) for g in twin.genotype_inputs] == [("vcf", str(vcf.resolve()), "SAMPLE-X")]
    source = twin.genotype_inputs[0].source
    assert (source.resource_type, source.id, source.date) == ("VCF", "p1.vcf", mtime(vcf))
    stat = vcf.stat()
    assert source.version == f"{stat.st_size}-{stat.st_mtime_ns}"
    cyp = twin.pgx["CYP2C19"]
    assert cyp.diplotypes == ["*2/*2"]
    assert cyp.phenotype == "Poor Metabolizer"
    assert cyp.method == "vcf"
    assert cyp.source is not None and cyp.source.reference == "VCF/p1.vcf"
    assert twin.labs["total_cholesterol"].value == 212.0  # the FHIR resources still ingest
    assert twin.skipped == []

    # A changed file changes the fingerprint; the cached scan sees it.
    before = build_twin("local:t", "p1", cached_scan(tmp_path)["p1"], work_dir=tmp_path / "work").twin
    assert before.input_fingerprint == twin.input_fingerprint
    write_vcf(vcf, {"SAMPLE-X": "*1"})
    os.utime(vcf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    after = build_twin("local:t", "p1", cached_scan(tmp_path)["p1"], previous=before, work_dir=tmp_path / "work")
    assert after.changed
    assert after.twin.input_fingerprint != before.input_fingerprint
    assert after.twin.pgx["CYP2C19"].diplotypes == ["*38/*38"]
    assert after.twin.pgx["CYP2C19"].phenotype == "Normal Metabolizer"


def test_multi_sample_vcf_is_linked_by_sample_name(tmp_path: Path) -> None:
    for patient_id in ("p2", "p3"):
        write_patient(tmp_path, patient_id)
    (tmp_path / "genomes").mkdir()
    write_vcf(tmp_path / "genomes" / "cohort.vcf", {"p2": "*2", "p3": "*1", "stranger": "*2"})
    scan = scan_directory(tmp_path)
    assert scan.skipped == []
    twins = {p: build_twin("local:t", p, scan[p], work_dir=tmp_path / "work").twin for p in ("p2", "p3")}
    assert [(g.sample, g.source.reference) for g in twins["p2"].genotype_inputs] == [("p2", "VCF/cohort.vcf")]
    assert [(g.sample, g.source.reference) for g in twins["p3"].genotype_inputs] == [("p3", "VCF/cohort.vcf")]
    assert (twins["p2"].pgx["CYP2C19"].diplotypes, twins["p2"].pgx["CYP2C19"].phenotype) == (
        ["*2/*2"],
        "Poor Metabolizer",
    )
    assert (twins["p3"].pgx["CYP2C19"].diplotypes, twins["p3"].pgx["CYP2C19"].phenotype) == (
        ["*38/*38"],
        "Normal Metabolizer",
    )
    assert "stranger" not in scan


def test_unlinked_and_ambiguous_vcfs_are_reported_by_file_name(tmp_path: Path) -> None:
    write_patient(tmp_path, "p1")
    write_vcf(tmp_path / "unknown.vcf.gz", {"someone": "*2"})  # a plain-text file with a .gz name is still read
    write_vcf(tmp_path / "p1.vcf", {"a": "*2", "b": "*1"})  # named after p1, but which sample is p1?
    scan = scan_directory(tmp_path)
    assert [g["resourceType"] for g in scan["p1"]] == ["Patient", "Observation"]
    reasons = {s.reference: s.reason for s in scan.skipped}
    assert reasons == {
        "VCF/p1.vcf": "VCF p1.vcf holds 2 samples, none named after the patient it is named after",
        "VCF/unknown.vcf.gz": "VCF unknown.vcf.gz not linked: no sample or file name equals a patient id of the folder",
    }


def test_malformed_vcfs_are_reported_and_the_patient_still_ingests(tmp_path: Path) -> None:
    write_patient(tmp_path, "p1")
    write_patient(tmp_path, "p2")
    (tmp_path / "p1.vcf").write_text("this is not a VCF\n")
    bad_record = write_vcf(tmp_path / "p2.vcf", {"p2": "*2"})
    bad_record.write_text(bad_record.read_text() + "chr10\tnot-a-position\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n")
    scan = scan_directory(tmp_path)
    assert [(s.reference, s.reason) for s in scan.skipped] == [
        ("VCF/p1.vcf", "VCF p1.vcf: header unreadable (OSError), not linked to a patient")
    ]
    p1 = build_twin("local:t", "p1", scan["p1"], work_dir=tmp_path / "work").twin
    assert p1.genotype_inputs == [] and p1.pgx == {}
    assert p1.labs["total_cholesterol"].value == 212.0

    p2 = build_twin("local:t", "p2", scan["p2"], work_dir=tmp_path / "work").twin
    assert [g.source.reference for g in p2.genotype_inputs] == ["VCF/p2.vcf"]
    assert p2.pgx == {}
    assert [s.reference for s in p2.skipped] == ["VCF/p2.vcf"]
    assert p2.skipped[0].reason.startswith("pgx: ")
    assert str(tmp_path) not in p2.skipped[0].reason  # the file's path is not in the twin
    assert p2.labs["total_cholesterol"].value == 212.0


def test_vcf_records_in_input_files_are_refused(tmp_path: Path) -> None:
    write_patient(tmp_path, "p1")
    secret = write_vcf(tmp_path / "elsewhere.txt", {"p1": "*2"})
    forged = {"resourceType": "VCF", "id": "elsewhere.txt", "path": str(secret), "subject": {"reference": "Patient/p1"}}
    (tmp_path / "forged.ndjson").write_bytes(orjson.dumps(forged) + b"\n")
    scan = scan_directory(tmp_path)
    assert [r["resourceType"] for r in scan["p1"]] == ["Patient", "Observation"]
    assert [(s.reference, s.reason) for s in scan.skipped] == [("forged.ndjson:1", "not a FHIR resource type (VCF)")]


@pytest.mark.integration
def test_ingest_dir_through_a_real_worker_reads_loose_vcfs(
    rt: Runtime, ingest_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for patient_id in ("p1", "p2", "p3"):
        write_patient(folder, patient_id)
    vcf = write_vcf(folder / "p1.vcf", {"S1": "*2"})
    write_vcf(folder / "cohort.vcf", {"p2": "*2", "p3": "*1"})
    write_vcf(folder / "orphan.vcf", {"nobody": "*2"})
    assert ingest_settings.redis_url is not None
    app = create_celery(ingest_settings)
    env = worker_env(ingest_settings.redis_url, tmp_path / "worker-work")
    with running_worker(env, tmp_path / "worker.log"):
        run = enqueue_directory(app, rt, folder, server="local:vcf", patients_per_chunk=2)
        assert run.patients == 3
        assert [(s.reference, s.reason) for s in run.skipped] == [
            ("VCF/orphan.vcf", "VCF orphan.vcf not linked: no sample or file name equals a patient id of the folder")
        ]
        summary = rt.runs.wait(run.run_id, timeout=120)
        assert summary.complete, summary
        assert summary.statuses == {"created": 3}
        store = TwinStore(rt.redis)
        p1 = store.get("local:vcf", "p1")
        assert p1 is not None
        cyp = p1.pgx["CYP2C19"]
        assert (cyp.diplotypes, cyp.phenotype) == (["*2/*2"], "Poor Metabolizer")
        assert cyp.source is not None
        assert (cyp.source.resource_type, cyp.source.id, cyp.source.date) == ("VCF", "p1.vcf", mtime(vcf))
        p2, p3 = store.get("local:vcf", "p2"), store.get("local:vcf", "p3")
        assert p2 is not None and p3 is not None
        assert (p2.pgx["CYP2C19"].diplotypes, p2.pgx["CYP2C19"].phenotype) == (["*2/*2"], "Poor Metabolizer")
        assert (p3.pgx["CYP2C19"].diplotypes, p3.pgx["CYP2C19"].phenotype) == (["*38/*38"], "Normal Metabolizer")
        assert p2.genotype_inputs[0].source.reference == "VCF/cohort.vcf"

        # Unchanged folder: no-op; a changed VCF: that patient's twin is rebuilt.
        again = enqueue_directory(app, rt, folder, server="local:vcf")
        assert rt.runs.wait(again.run_id, timeout=120).statuses == {"unchanged": 3}
        write_vcf(vcf, {"S1": "*1"})
        stat = vcf.stat()
        os.utime(vcf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        third = enqueue_directory(app, rt, folder, server="local:vcf")
        assert rt.runs.wait(third.run_id, timeout=120).statuses == {"unchanged": 2, "updated": 1}
        p1 = store.get("local:vcf", "p1")
        assert p1 is not None and p1.pgx["CYP2C19"].phenotype == "Normal Metabolizer"


def test_demo_front_door_lists_unlinked_vcfs_and_goes_on(tmp_path: Path) -> None:
    from services.demo._inputs import scan_inputs

    write_patient(tmp_path, "p1")
    write_vcf(tmp_path / "p1.vcf", {"S1": "*2"})
    write_vcf(tmp_path / "orphan.vcf", {"nobody": "*2"})
    notes: list[str] = []
    assert scan_inputs(tmp_path, notes) == ["p1"]
    assert notes == ["VCF orphan.vcf not linked: no sample or file name equals a patient id of the folder"]

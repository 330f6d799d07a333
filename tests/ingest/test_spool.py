"""Chunk files: one patient read out of a chunk, and the writer's per-patient routing."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import orjson

from services.ingest._spool import ChunkWriter, chunk_patient, iter_chunk, read_chunk


def _line(resource: dict[str, object]) -> bytes:
    return orjson.dumps(resource) + b"\n"


MED = {"resourceType": "Medication", "id": "m1", "code": {"text": "clopidogrel"}}
A_REQ = {
    "resourceType": "MedicationRequest",
    "id": "r1",
    "subject": {"reference": "Patient/a"},
    "medicationReference": {"reference": "Medication/m1"},
}
A_PAT = {"resourceType": "Patient", "id": "a"}
AB_PAT = {"resourceType": "Patient", "id": "ab"}


def _chunk(folder: Path) -> Path:
    folder.mkdir()
    chunk = folder / "chunk-00000.ndjson"
    chunk.write_bytes(
        b"a\t" + _line(A_PAT)
        + b"ab\t" + _line(AB_PAT)  # an id that starts with the wanted one
        + b"b\t{not json\n"  # another patient's broken line
        + b"a\t" + _line(A_REQ)
    )  # fmt: skip
    (folder / "shared.ndjson").write_bytes(b"\t" + _line(MED))
    return chunk


def test_chunk_patient_reads_one_patient_with_its_shared_medication(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path / "spool")
    assert chunk_patient(chunk, "a") == [A_PAT, A_REQ, MED]
    assert chunk_patient(chunk, "ab") == [AB_PAT]
    assert chunk_patient(chunk, "missing") == []


def test_read_chunk_of_one_patient_skips_the_others_lines_unparsed(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path / "spool")
    everyone, bad = read_chunk(chunk)
    assert sorted(everyone) == ["a", "ab"] and [s.reference for s in bad] == ["chunk-00000.ndjson:3"]
    one, bad_one = read_chunk(chunk, patient_id="a")
    assert one == {"a": everyone["a"]}
    assert bad_one == []  # patient b's broken line was never parsed


def test_writer_routes_every_line_of_a_patient_to_one_chunk(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with ExitStack() as stack:
        writer = ChunkWriter(out, 4, stack)
        for i in range(30):
            writer.write(f"p{i % 10}", _line({"resourceType": "Observation", "id": f"o{i}"}))
        writer.write(None, _line(MED).rstrip(b"\n"))  # a shared line without its newline gets one
    homes: dict[str, set[str]] = {}
    total = 0
    for path in writer.paths:
        for patient, body in iter_chunk(path):
            homes.setdefault(patient, set()).add(path.name)
            assert orjson.loads(body)["resourceType"] == "Observation"
            total += 1
    assert total == 30
    assert sorted(homes) == [f"p{i}" for i in range(10)]
    assert all(len(files) == 1 for files in homes.values())
    assert (out / "shared.ndjson").read_bytes() == b"\t" + _line(MED)


def test_shared_file_only_when_a_shared_line_is_written(tmp_path: Path) -> None:
    out = tmp_path / "part"
    out.mkdir()
    (out / "shared.ndjson").write_bytes(b"\t" + _line(MED))  # left by an earlier attempt of this part
    with ExitStack() as stack:
        writer = ChunkWriter(out, 2, stack)
        writer.write("a", _line(A_PAT))
    assert not (out / "shared.ndjson").exists()
    patients, bad = read_chunk([p for p in writer.paths if p.stat().st_size > 0])
    assert (patients, bad) == ({"a": [A_PAT]}, [])

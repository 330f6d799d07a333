"""``twinrx demo`` at the command line: bad input gives one line naming it and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _demo(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--out", str(tmp_path / "report"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TWINRX_REDIS_URL": "redis://127.0.0.1:1/0"},  # never reached: input fails first
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_data_folder(tmp_path: Path) -> None:
    result = _demo("--data", "/nonexistent", tmp_path=tmp_path)
    assert result.returncode == 2
    assert _one_line_error(result) == "twinrx: error: /nonexistent: no such file or folder"


def test_data_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "bundle.json"
    file.write_text("{}")
    line = _one_line_error(_demo("--data", str(file), tmp_path=tmp_path))
    assert line.startswith(f"twinrx: error: {file}: --data must be a folder")


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("broken.json", '{"resourceType": "Bundle", "type": "collection", "entry": [', "broken.json"),
        ("Patient.000.ndjson", '{"resourceType":"Patient","id":"a"}\n{"resourceType":"Pat', "Patient.000.ndjson:2"),
        ("list.json", '["not", "resources"]', "list.json"),
    ],
)
def test_malformed_file_is_named(tmp_path: Path, name: str, content: str, where: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_text(content)
    line = _one_line_error(_demo("--data", str(data), tmp_path=tmp_path))
    assert line.startswith(f"twinrx: error: {data / where}: malformed input")


def test_folder_without_patients(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "org.json").write_text('{"resourceType": "Organization", "id": "o1"}')
    assert _one_line_error(_demo("--data", str(data), tmp_path=tmp_path)).endswith(
        "no patients found (expected FHIR Bundles, resources or Bulk NDJSON)"
    )


def test_cohort_smaller_than_the_showcases_is_a_usage_error(tmp_path: Path) -> None:
    result = _demo("--patients", "3", tmp_path=tmp_path)
    assert result.returncode == 2
    assert _one_line_error(result) == "twinrx: error: --patients must be at least 8 (one per showcase genotype)"


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--data", "--patients", "--out", "--seed"):
        assert option in result.stdout


def test_invalid_setting_is_named_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--out", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TWINRX_TASK_TIME_LIMIT": "soon"},
        check=False,
    )
    assert result.returncode == 78
    assert _one_line_error(result).startswith("twinrx: error: invalid TWINRX_TASK_TIME_LIMIT:")
    assert not (tmp_path / "report").exists()

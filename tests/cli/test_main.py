"""The ``twinrx`` front: every command listed, every command has --help, errors are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.cli import _COMMANDS


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in _COMMANDS:
        assert f" {name} " in result.stdout


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_every_command_has_help(command: str) -> None:
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: twinrx " + command in " ".join(result.stdout.split())


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = _run("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_one_line_naming_it() -> None:
    result = _run("pgx", "call", "/nonexistent/sample.vcf")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["twinrx: error: /nonexistent/sample.vcf: file not found"]

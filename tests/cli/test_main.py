"""The ``twinrx`` front: every command listed, every command has --help, errors are one line."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


def test_missing_case_file_is_one_line_with_exit_2() -> None:
    result = _run("risk", "score", "prevent", "--inputs", "/nonexistent/case.json")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["twinrx: error: /nonexistent/case.json: file not found"]


def test_hook_send_exit_status_and_non_json_error_body(tmp_path: Path) -> None:
    """A 502 text page from a proxy: printed as text, HTTP status on stderr, exit 1 (no traceback).

    `hook send` ends with ``typer.Exit(1)``, which click *returns* rather than raises without standalone
    mode: this is the test that the returned code reaches the shell.
    """

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = b"<html>502 Bad Gateway</html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    request = tmp_path / "hook.json"
    request.write_text('{"hook": "patient-view", "hookInstance": "x", "context": {}}')
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = _run("hook", "send", str(request), "--service", "twinrx-twin-summary", "--url", url)
    finally:
        server.shutdown()
    assert result.returncode == 1
    assert "502 Bad Gateway" in result.stdout
    assert "HTTP 502" in result.stderr
    assert "Traceback" not in result.stderr


def _run_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"TWINRX_REDIS_URL": "notaurl"},
            "twinrx: error: invalid TWINRX_REDIS_URL: Value error, must start with redis://, rediss:// or unix://",
        ),
        (
            {"TWINRX_CDS_TIME_BUDGET_MS": "abc"},
            "twinrx: error: invalid TWINRX_CDS_TIME_BUDGET_MS: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable(env: dict[str, str], line: str) -> None:
    result = _run_env(env, "serve", "--port", "18999")
    assert result.returncode == 78
    assert result.stderr.strip().splitlines() == [line]


def test_serve_refuses_a_port_out_of_range() -> None:
    result = _run("serve", "--port", "99999")
    assert result.returncode == 2
    assert "Invalid value for '--port'" in result.stderr


def test_hook_send_refuses_hmac(tmp_path: Path) -> None:
    request = tmp_path / "hook.json"
    request.write_text("{}")
    result = _run("hook", "send", str(request), "--alg", "HS256")
    assert result.returncode == 2
    assert "'HS256' is not one of 'ES384', 'RS384'" in result.stderr

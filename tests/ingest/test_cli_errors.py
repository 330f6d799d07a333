"""``twinrx ingest`` with a wrong server, a wrong ``--since``, no worker, or a patient that fails.

Each must end at once with one line naming what is wrong (never after ``--timeout``), and a run with a
failed patient must exit non-zero and say why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.common.errors import ValidationFailure
from services.common.settings import Settings
from services.ingest._preflight import NO_WORKER, check_server_url, check_since
from tests.ingest._worker import run_ingest, running_worker, worker_env

pytestmark = pytest.mark.integration


class _HtmlNotFound(BaseHTTPRequestHandler):
    """A web server that is not FHIR: every path is an HTML 404 page."""

    def do_GET(self) -> None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        return


@pytest.fixture
def html_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlNotFound)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    assert settings.redis_url is not None
    return worker_env(settings.redis_url, tmp_path / "work")


def test_a_server_that_is_not_a_url_is_refused_at_once(ingest_settings: Settings, tmp_path: Path) -> None:
    done = run_ingest(_env(ingest_settings, tmp_path), "patient", "p1", "--server", "notaurl")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "twinrx: error: --server must be the absolute http(s) base URL of a FHIR server "
        "(e.g. https://ehr.example/fhir), got 'notaurl'\n"
    )


def test_an_unreachable_server_is_reported_without_waiting_for_the_timeout(
    ingest_settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    done = run_ingest(_env(ingest_settings, tmp_path), "patient", "p1", "--server", "http://127.0.0.1:1/fhir")
    assert time.monotonic() - started < 60  # the default --timeout is 600 s
    assert (done.returncode, done.stdout) == (69, "")
    assert done.stderr == "twinrx: error: cannot reach the FHIR server http://127.0.0.1:1/fhir (ConnectError)\n"


def test_a_server_answering_html_is_not_fhir(ingest_settings: Settings, tmp_path: Path, html_server: str) -> None:
    done = run_ingest(_env(ingest_settings, tmp_path), "patient", "p1", "--server", html_server)
    assert (done.returncode, done.stdout) == (69, "")
    assert done.stderr == (
        f"twinrx: error: {html_server} is not a FHIR server: GET /metadata answered HTTP 404 (text/html) "
        "without a FHIR resource; check the base URL (it often ends in /fhir or /R4)\n"
    )


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45", "2026-01-31T08:00:00", "2026-01-31T25:00:00Z"])
def test_export_since_is_checked_locally(ingest_settings: Settings, tmp_path: Path, since: str) -> None:
    env = _env(ingest_settings, tmp_path)
    done = run_ingest(env, "export", "--server", "http://127.0.0.1:1/fhir", "--since", since)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "twinrx: error: --since must be a FHIR instant with a timezone (e.g. 2026-01-31T08:00:00Z or "
        f"2026-01-31T08:00:00+01:00) or a date (2026-01-31), got {since!r}\n"
    )


@pytest.mark.parametrize(
    "since", ["2026-01-31T08:00:00Z", "2026-01-31T08:00:00.123+01:00", "2026-01-31", "2026-02", "2026"]
)
def test_valid_since_values_pass_unchanged(since: str) -> None:
    assert check_since(since) == since


@pytest.mark.parametrize("since", ["2026-02-30", "2026-1-3", "2026-01-31T08:00Z", "2026-01-31 08:00:00Z", ""])
def test_invalid_since_values_are_refused(since: str) -> None:
    with pytest.raises(ValidationFailure, match="--since must be a FHIR instant"):
        check_since(since)


@pytest.mark.parametrize("server", ["ftp://ehr.example/fhir", "/fhir", "http://", "ehr.example/fhir"])
def test_only_absolute_http_urls_are_servers(server: str) -> None:
    with pytest.raises(ValidationFailure, match=r"--server must be the absolute http\(s\) base URL"):
        check_server_url(server)


def test_without_a_worker_ingest_says_so_instead_of_waiting(ingest_settings: Settings, tmp_path: Path) -> None:
    from tests.fhir_server.server import running

    with running() as server:
        started = time.monotonic()
        done = run_ingest(_env(ingest_settings, tmp_path), "patient", "p1", "--server", server.base)
    assert time.monotonic() - started < 60
    assert (done.returncode, done.stdout) == (78, "")
    assert done.stderr == f"twinrx: error: {NO_WORKER}\n"
    assert NO_WORKER == "no twinrx worker is running; start one with `twinrx worker`"


def test_a_failed_patient_exits_non_zero_with_its_reason(ingest_settings: Settings, tmp_path: Path) -> None:
    from tests.fhir_server.server import running

    env = _env(ingest_settings, tmp_path)
    with running() as server, running_worker(env, tmp_path / "worker.log"):
        done = run_ingest(env, "patient", "nosuchpatient", "--server", server.base, "--timeout", "120", timeout=300)
    assert done.returncode == 1, done.stderr + done.stdout
    lines = [line for line in done.stdout.splitlines() if line.strip()]  # the progress bar leaves a blank line
    run_id = lines[0].split(":")[0].removeprefix("run ")
    assert lines[0].endswith("patients 1/1, resources read 0, twins updated 0, unchanged 0, failed 1, skipped 0"), (
        done.stdout
    )
    assert lines[1:] == ["  failed       1  the FHIR server has no such patient"]
    # the stored run says the same, with the same exit code
    status = run_ingest(env, "status", run_id)
    assert (status.returncode, status.stdout.splitlines()) == (1, lines)


def test_status_of_an_unfinished_run_exits_75_and_says_so(ingest_settings: Settings, tmp_path: Path) -> None:
    from services.ingest import make_runtime

    runs = make_runtime(ingest_settings).runs
    runs.start("unfinished01", 2)
    runs.record("unfinished01", "p1", {"status": "created", "version": 1, "read": 4, "skipped": []})
    done = run_ingest(_env(ingest_settings, tmp_path), "status", "unfinished01")
    assert done.returncode == 75
    assert done.stdout == (
        "run unfinished01: patients 1/2, resources read 4, twins updated 1, unchanged 0, failed 0, skipped 0\n"
    )
    assert done.stderr == ("twinrx: error: run unfinished01 is not finished yet; the workers are still on it\n")

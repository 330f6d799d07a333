"""Operations: /livez, /readyz (Redis), /metrics, logs without PHI, `twinrx hook send`, `twinrx serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.cds_hooks import create_app
from services.cds_hooks.cli import hook_app
from services.common.twin import Twin

from .conftest import Key, gene, make_settings
from .test_cards import cards_of, hook, med

REPO = Path(__file__).resolve().parents[2]


def test_livez_and_readyz(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "redis": "up"}


def test_readyz_is_503_when_redis_is_down(redis_url: str) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    app = create_app(make_settings(redis_url, None), redis_client=dead)
    with TestClient(app) as client:
        assert client.get("/livez").status_code == 200
        resp = client.get("/readyz")
        assert resp.status_code == 503 and resp.json()["redis"] == "down"
        body = hook("order-sign", "p1", med("m1", code="213169"))
        down = client.post("/cds-services/twinrx-pgx-order-sign", json=body)
        assert down.status_code == 503
        assert down.json()["resourceType"] == "OperationOutcome"


def _sample(metrics_text: str, name: str) -> float:
    """The value of the unlabelled sample ``name`` in a Prometheus text exposition."""
    (value,) = [line.split()[1] for line in metrics_text.splitlines() if line.startswith(name + " ")]
    return float(value)


def test_metrics_expose_latency_cards_and_auth_failures(
    dev_client: TestClient, client: TestClient, seed: Callable[..., Twin]
) -> None:
    seed("local:demo", "met1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    cards_of(dev_client, "/cds-services/twinrx-pgx-order-select", hook("order-select", "met1", med("m", code="213169")))
    failures_before = _sample(dev_client.get("/metrics").text, "twinrx_cds_auth_failures_total")
    assert client.get("/cds-services").status_code == 401
    text = dev_client.get("/metrics").text
    assert _sample(text, "twinrx_cds_auth_failures_total") == failures_before + 1
    assert 'twinrx_cds_request_seconds_bucket{le="0.05",service="twinrx-pgx-order-select",status="200"}' in text
    assert 'twinrx_cds_cards_total{indicator="warning",service="twinrx-pgx-order-select"}' in text
    assert "twinrx_cds_auth_failures_total" in text
    assert 'twinrx_cds_twin_source_total{origin="stored"}' in text


def test_logs_carry_the_hook_instance_but_no_phi(
    dev_client: TestClient, seed: Callable[..., Twin], capsys: pytest.CaptureFixture[str]
) -> None:
    seed("local:demo", "phi-patient-77", gene("CYP2C19", "*2/*17", "Intermediate Metabolizer"))
    body = hook("order-select", "phi-patient-77", med("m", code="213169"))
    body["hookInstance"] = "8d0f3c52-6a4e-4b8f-9a61-0c2b7e4d5f11"
    body["prefetch"] = {"patient": {"resourceType": "Patient", "id": "phi-patient-77", "name": [{"family": "Zyxwood"}]}}
    cards_of(dev_client, "/cds-services/twinrx-pgx-order-select", body)
    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert "8d0f3c52-6a4e-4b8f-9a61-0c2b7e4d5f11" in text
    for secret in ("phi-patient-77", "Zyxwood", "*2/*17", "Intermediate Metabolizer"):
        assert secret not in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_and_hook_send_over_real_http(
    redis_url: str, trusted_file: Path, sandbox_key: Key, tmp_path: Path, seed: Callable[..., Twin]
) -> None:
    """`twinrx serve` as a subprocess, then `twinrx hook send` with a signed JWT."""
    seed("local:demo", "srv1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    port = _free_port()
    env = {
        **os.environ,
        "TWINRX_REDIS_URL": redis_url,
        "TWINRX_CDS_TRUSTED_CLIENTS_FILE": str(trusted_file),
        "TWINRX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWINRX_ENVIRONMENT": "test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 90  # a start-up deadline, not a performance assertion
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        key_file = tmp_path / "key.pem"
        key_file.write_bytes(sandbox_key.pem)
        body_file = tmp_path / "body.json"
        body_file.write_text(json.dumps(hook("order-select", "srv1", med("m9", code="213169"))))
        args = [
            "send",
            str(body_file),
            "--url",
            f"http://127.0.0.1:{port}",
            "--key",
            str(key_file),
            "--kid",
            sandbox_key.kid,
            "--iss",
            sandbox_key.iss,
        ]
        result = CliRunner().invoke(hook_app, args)
        assert result.exit_code == 0, result.output
        (card,) = json.loads(result.output)["cards"]
        assert "CYP2C19 Poor Metabolizer" in card["summary"]
        unsigned = CliRunner().invoke(hook_app, ["send", str(body_file), "--url", f"http://127.0.0.1:{port}"])
        assert unsigned.exit_code == 1 and "HTTP 401" in unsigned.output
    finally:
        proc.terminate()
        proc.wait(timeout=10)

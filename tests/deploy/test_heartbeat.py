"""The worker and beat heartbeats the Kubernetes probes read, checked on real processes.

Until ``Settings`` has ``worker_heartbeat_file`` / ``beat_heartbeat_file`` (the hook the ingest
package adds), these tests skip and say so; the manifests then rely on the agreed default paths.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.common.settings import Settings

from ..conftest import redis_db_url
from ._k8s import REPO, Manifests

REDIS_DB = 12
PROBE = REPO / "docker" / "heartbeat-probe.sh"
COMMANDS = {"worker": ["worker", "--concurrency", "1"], "beat": ["beat"]}


def _field(component: str) -> str:
    name = f"{component}_heartbeat_file"
    assert name in Settings.model_fields, f"Settings.{name} is what the probes read"
    return name


@pytest.mark.parametrize("component", ["worker", "beat"])
def test_probes_read_the_configured_heartbeat_file(prod: Manifests, component: str) -> None:
    name = _field(component)
    expected = prod.config().get(f"TWINRX_{name.upper()}", str(Settings.model_fields[name].default))
    deployment = prod.get("Deployment", f"twinrx-{component}")
    assert deployment is not None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][1] == expected


@pytest.mark.integration
@pytest.mark.parametrize("component", ["worker", "beat"])
def test_process_keeps_its_heartbeat_fresh(component: str, redis_base_url: str, tmp_path: Path) -> None:
    name = _field(component)
    heartbeat = tmp_path / "heartbeat"
    env = {
        **os.environ,
        "TWINRX_REDIS_URL": redis_db_url(redis_base_url, REDIS_DB),
        f"TWINRX_{name.upper()}": str(heartbeat),
        "TWINRX_ENVIRONMENT": "test",
    }
    twinrx = Path(sys.executable).parent / "twinrx"
    args = [*COMMANDS[component], *(["--schedule", str(tmp_path / "schedule")] if component == "beat" else [])]
    proc = subprocess.Popen([str(twinrx), *args], env=env, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not heartbeat.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert heartbeat.exists(), f"{component} wrote no heartbeat within 60 s (exit code {proc.poll()})"
        assert subprocess.run(["sh", str(PROBE), str(heartbeat), "60"], timeout=10).returncode == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

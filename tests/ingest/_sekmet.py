"""sekmet-fhir, the real R4 test EHR: installed into its own virtualenv and started on 127.0.0.1.

The virtualenv lives in ``.work/sekmet-venv`` (created once, reused while the pinned version holds).
The server runs with its simulator disabled, SMART Backend Services as the only inbound auth (our
test client registered by JWKS), strict inbound validation, and a private SQLite database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import REPO
from tests.fhir_server.keys import pem, public_jwk, rsa_key

SEKMET_VERSION = "0.1.1"
VENV = REPO / ".work" / "sekmet-venv"
CLIENT_ID = "twinrx-ingest"
KID = "twinrx-test-rs384"


def ensure_venv() -> Path:
    """The sekmet executable, installing ``sekmet-fhir`` into its own venv when missing."""
    exe = VENV / "bin" / "sekmet"
    stamp = VENV / f".sekmet-{SEKMET_VERSION}"
    if exe.exists() and stamp.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(VENV / "bin" / "pip"), "install", "--quiet", f"sekmet-fhir=={SEKMET_VERSION}"],
        check=True,
        timeout=900,
    )
    stamp.touch()
    return exe


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sekmet:
    """A running sekmet server and the SMART client registered with it."""

    base: str
    process: subprocess.Popen[bytes]
    key: rsa.RSAPrivateKey
    key_pem: bytes
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start(work: Path) -> Sekmet:
    """Start sekmet in ``work`` and wait until it answers ``/metadata``."""
    exe = ensure_venv()
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    key = rsa_key()
    settings = {
        "base_url": base,
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(work / "data"),
        "server_auth": {
            "types": ["smart"],
            "smart_clients": [
                {"client_id": CLIENT_ID, "jwks": {"keys": [public_jwk(key, KID)]}, "scopes": "system/*.*"}
            ],
            "token_lifetime": 300,
        },
        "simulator": {"enabled": False},
        "validation": {"inbound": "strict"},
        "log_inbound": False,
    }
    config = work / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINRX_", "SEKMET_"))}
    env.update(SEKMET_CONFIG=str(config), SEKMET_BASE_URL=base)
    log = work / "sekmet.log"
    with log.open("ab") as handle:
        process = subprocess.Popen(
            [str(exe), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sekmet exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/metadata", timeout=2).status_code in (200, 401):
                return Sekmet(base, process, key, pem(key), log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"sekmet did not start:\n{log.read_text(errors='replace')[-3000:]}")

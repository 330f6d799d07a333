"""`twinrx serve --workers 2`: connections opened together are spread over the workers (``_workers.py``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workers(pid: int) -> list[int]:
    """The worker processes of the ``serve`` process ``pid`` (not multiprocessing's helpers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _established(pid: int, port: int) -> int:
    """TCP connections of ``pid`` whose local port is ``port`` and that are established (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink()) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        count += local_port == port and state == "01" and inode in inodes
    return count


def test_connections_opened_together_are_balanced_over_workers(redis_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TWINRX_REDIS_URL": redis_url,
        "TWINRX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWINRX_ENVIRONMENT": "test",
    }
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "services.cli", "serve", "--port", str(port), "--workers", "2", "--log-level", "info"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    sockets: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 90  # a start-up deadline, not a performance assertion
        while log.read_text(errors="replace").count("Application startup complete.") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
        # 8 keep-alive connections opened at once, as a client's pool does; each sends one request
        sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        for sock in sockets:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in sockets:
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        workers = _workers(proc.pid)
        assert len(workers) == 2
        split = sorted(_established(pid, port) for pid in workers)
        assert sum(split) == 8 and split[-1] - split[0] <= 2, split
    finally:
        for sock in sockets:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0 or proc.returncode == 128 + signal.SIGTERM, log.read_text()[-2000:]
    assert "Finished server process" in log.read_text()  # each worker shut down gracefully

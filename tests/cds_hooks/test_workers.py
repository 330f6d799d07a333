"""`twinrx serve --workers 2` (``_workers.py``): the accept rule that spreads connections over the workers,
and a real two-worker service answering on every connection and shutting down gracefully.

How evenly a burst of connections is split is a matter of scheduling on a loaded machine (a worker
that gets no CPU within ``_MAX_DEFER`` is passed over by design), so the split is printed by
``bench/cds.py``, not asserted here; the rule itself is tested deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from services.cds_hooks._workers import _MAX_DEFER, _BalancedServer

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


def test_two_workers_answer_every_connection_and_stop_gracefully(redis_url: str, tmp_path: Path) -> None:
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
        assert sum(_established(pid, port) for pid in workers) == 8  # every connection held by a worker
    finally:
        for sock in sockets:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0 or proc.returncode == 128 + signal.SIGTERM, log.read_text()[-2000:]
    assert "Finished server process" in log.read_text()  # each worker shut down gracefully


@contextlib.contextmanager
def _gate(own: int, other: int) -> Iterator[tuple[_BalancedServer, socket.socket]]:
    """Worker 0 of two with ``own`` open connections, worker 1 with ``other``, and one connection waiting."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = _BalancedServer(uvicorn.Config("services.cds_hooks:create_app", factory=True), listener, [0, other], 0)
        server._pending = own  # counted like accepted connections whose transport is not made yet
        listener.setblocking(False)
        with socket.create_connection(listener.getsockname()):
            yield server, listener


def _accepts(server: _BalancedServer) -> bool:
    """Run the worker's readable handler once in a loop; True if it took the waiting connection."""
    before = server._pending

    async def once() -> bool:
        server._readable()
        took = server._pending == before + 1
        for task in asyncio.all_tasks():  # the accepted socket's transport is not needed here
            if task is not asyncio.current_task():
                task.cancel()
        return took

    return asyncio.run(once())


def test_a_busier_worker_leaves_a_waiting_connection_to_a_less_loaded_one() -> None:
    with _gate(own=3, other=1) as (server, listener):
        assert not _accepts(server)
        assert listener.accept()[0]  # the connection is still there for the other worker
        assert server._loads[0] == 3


def test_the_least_loaded_worker_takes_it_and_counts_it_at_once() -> None:
    with _gate(own=1, other=1) as (server, _):
        assert _accepts(server)
        assert server._loads[0] == 2  # published before the next connection is considered


def test_a_connection_left_longer_than_the_deferral_limit_is_taken_anyway() -> None:
    with _gate(own=3, other=1) as (server, _):
        now = time.monotonic()
        server._deferred_since, server._last_deferral = now - 2 * _MAX_DEFER, now  # the same wait, too long
        assert _accepts(server)

"""Child processes: their own process group, stopped with everything they spawned."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from services.demo._processes import ManagedProcess, wait_until
from services.demo.errors import ServiceStartError

# A child that starts a grandchild which ignores SIGTERM: only a group SIGKILL stops it.
_SPAWNER = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"])
print(grandchild.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    proc = ManagedProcess("child", [sys.executable, "-c", _SPAWNER], dict(os.environ), log)
    proc.start()
    try:
        assert wait_until(lambda: "ready" in log.read_text(), timeout=30)
        grandchild = int(log.read_text().split()[0])
        leader = proc.pid
        assert leader is not None and _alive(leader) and _alive(grandchild)
        assert int((tmp_path / "child.pid").read_text()) == leader
        assert os.getpgid(grandchild) == leader  # same group, not ours
        assert os.getpgid(leader) != os.getpgid(0)
    finally:
        proc.stop(grace_seconds=2)
    assert not _alive(leader)
    assert wait_until(lambda: not _alive(grandchild), timeout=10)


def test_check_alive_reports_an_early_exit_with_the_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "worker",
        [sys.executable, "-c", "import sys; print('boom: no broker'); sys.exit(3)"],
        dict(os.environ),
        tmp_path / "worker.log",
    )
    proc.start()
    assert wait_until(lambda: proc.returncode() is not None, timeout=30)
    with pytest.raises(ServiceStartError, match=r"worker process exited with code 3(.|\n)*boom: no broker"):
        proc.check_alive()
    proc.stop()

"""Several uvicorn worker processes on one port, each new connection going to the least-loaded worker.

Why not ``uvicorn.run(workers=N)``: its workers share one listening socket and each accepts every
pending connection it can as soon as it wakes, so connections opened together (an EHR's connection
pool, the bench's 16 keep-alive clients) mostly end up in one worker: 16/0 and 14/2 splits were
measured, leaving the other core idle and doubling the latency. Keep-alive connections stay where they
were accepted, so the split at accept time is the split for their whole life.

Here the parent binds the socket and starts the workers (``spawn``, as uvicorn does); each worker
publishes its open connections in a shared array and, when the socket has a connection waiting, takes
it only while no other worker has fewer open connections. A worker that is behind keeps the others
waiting at most ``_MAX_DEFER`` per connection, so a stalled or restarting worker only delays accepts a
little and never refuses them. A worker that dies is started again in its slot.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import time
from multiprocessing.context import SpawnProcess
from typing import Any, Final

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from services.common.logging import get_logger

log = get_logger(__name__)

_UNKNOWN: Final = 1 << 30  # a slot whose worker is not serving yet: never the least loaded
_RECHECK: Final = 0.0005  # s between looks at a waiting connection while another worker is less loaded
_MAX_DEFER: Final = 0.02  # s a waiting connection is left to a less-loaded worker before taking it anyway
_EPISODE_GAP: Final = 0.01  # s without a recheck after which a deferral starts a new wait
_PUBLISH: Final = 0.05  # s between refreshes of this worker's count (closed connections lower it)


class _BalancedServer(uvicorn.Server):
    """A uvicorn worker that accepts from the shared socket itself (see the module doc)."""

    def __init__(self, config: uvicorn.Config, listener: socket.socket, loads: Any, slot: int) -> None:
        super().__init__(config)
        self._listener = listener
        self._loads = loads
        self._slot = slot
        self._pending = 0  # accepted, transport not yet made (not yet in server_state.connections)
        self._deferred_since: float | None = None
        self._last_deferral = 0.0
        self._accepting = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # lifespan and state, without uvicorn's own accept loop
        if self.should_exit:
            return
        self._listener.setblocking(False)
        self._publish()
        self._resume()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._pause()
        self._loads[self._slot] = _UNKNOWN
        await super().shutdown(sockets=[self._listener])

    def _open(self) -> int:
        return len(self.server_state.connections) + self._pending

    def _publish(self) -> None:
        if self.should_exit:
            return
        self._loads[self._slot] = self._open()
        asyncio.get_running_loop().call_later(_PUBLISH, self._publish)

    def _resume(self) -> None:
        if not self._accepting and not self.should_exit:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._readable)
            self._accepting = True

    def _pause(self) -> None:
        if self._accepting:
            asyncio.get_running_loop().remove_reader(self._listener.fileno())
            self._accepting = False

    def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        own = self._open()
        self._loads[self._slot] = own
        if own > min(self._loads):
            now = time.monotonic()
            # A new wait unless this is the recheck of one still going (another worker may have taken the
            # connection we left, and a later one must not inherit that wait).
            if self._deferred_since is None or now - self._last_deferral > _EPISODE_GAP:
                self._deferred_since = now
            self._last_deferral = now
            if now - self._deferred_since < _MAX_DEFER:
                self._pause()
                loop.call_later(_RECHECK, self._resume)
                return
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):  # another worker took it
            return
        except OSError as exc:  # out of descriptors and the like: back off instead of spinning
            log.warning("accept_failed", error=exc.__class__.__name__, errno=exc.errno)
            self._pause()
            loop.call_later(0.1, self._resume)
            return
        finally:
            self._deferred_since = None
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending += 1
        self._loads[self._slot] = own + 1
        task = loop.create_task(loop.connect_accepted_socket(self._protocol, conn))
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._pending -= 1
        if not task.cancelled() and task.exception() is not None:
            log.warning("connection_setup_failed", error=task.exception().__class__.__name__)

    def _protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _worker(config: uvicorn.Config, listener: socket.socket, loads: Any, slot: int) -> None:
    config.configure_logging()  # a spawned process starts with none (as in uvicorn's own workers)
    _BalancedServer(config, listener, loads, slot).run()


def serve_workers(app: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the ASGI app factory ``app`` ("module:function") from ``workers`` processes until SIGINT/SIGTERM."""
    config = uvicorn.Config(
        app, factory=True, host=host, port=port, workers=workers, log_level=log_level, access_log=False
    )
    listener = config.bind_socket()
    listener.listen(config.backlog)  # uvicorn leaves this to each worker's create_server, which we skip
    context = multiprocessing.get_context("spawn")
    loads = context.RawArray("i", [_UNKNOWN] * workers)
    stopping = failed = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(slot: int) -> SpawnProcess:
        loads[slot] = _UNKNOWN
        process = context.Process(target=_worker, args=(config, listener, loads, slot), name=f"cds-worker-{slot}")
        process.start()
        return process

    processes = [start(slot) for slot in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for slot, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    if process.exitcode == STARTUP_FAILURE:  # would fail again: a crash loop helps nobody
                        log.error("worker_startup_failed", slot=slot)
                        stopping, failed = True, True
                        break
                    log.warning("worker_restarted", slot=slot, exitcode=process.exitcode)
                    processes[slot] = start(slot)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # uvicorn's graceful shutdown in the worker
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        listener.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise SystemExit(STARTUP_FAILURE)

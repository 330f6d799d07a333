"""Benchmark: the CDS Hooks service at 16 concurrent clients, warm twin and cold patient.

Usage: ``python bench/cds.py [--clients 16] [--workers 2] [--warm-rate 300] [--cold-rate 100]``

Starts a real ``redis-server`` (embedded, private socket; or ``TWINRX_BENCH_REDIS_URL``) and the real
service (``twinrx serve``: uvicorn with ``--workers`` processes, default 2 for the 2-core target machine,
JWT authentication on) as a subprocess, then drives ``order-select`` calls with 16 keep-alive
connections from one asyncio client (uvloop, like the server):

* **warm**: the patient's twin is in Redis (CYP2C19 poor metabolizer); the draft order is the sandbox's
  clopidogrel clinical drug; every answer must hold the CYP2C19 warning card;
* **cold**: every call names a new patient with no twin; the genotype comes in prefetch, the twin is built
  from it in the request (``ingest.build_twin``) and a full sync is enqueued (never awaited).

Each scenario runs closed loop (every client sends its next request as soon as it has the answer: the
saturation rate; by Little's law the latency is then 16 / rate) and open loop at a fixed offered load
(``--warm-rate``, ``--cold-rate``; latency counted from each request's scheduled send time, so queueing is
not hidden).

Every request carries its own ES384 client JWT (its own ``jti``; all signed and the raw HTTP requests
built before the timed run, so the client spends its CPU on sending and reading only, and does not take
it from the server on the same cores; the server verifies each one, checks ``aud`` and records its
``jti``). Prints p50 / p99 latency, requests per second, the server's and the client's CPU per request
for each scenario, then each figure as a ratio of its target. Prints figures only; never part of
``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import jwt  # noqa: E402
import redis  # noqa: E402
import uvloop  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from services.common.redis_conn import embedded_redis  # noqa: E402
from services.common.store import TwinStore  # noqa: E402
from services.common.twin import GeneResult, SourceRef, Twin  # noqa: E402

ISS = "https://bench.twinrx.test"
KID = "bench-es384"
SERVICE = "twinrx-pgx-order-select"
PATH = f"/cds-services/{SERVICE}"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
FHIR = "https://ehr.bench.test/fhir"
T = TypeVar("T")


def _key(tmp: Path) -> bytes:
    private = ec.generate_private_key(ec.SECP384R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": KID, "alg": "ES384", "use": "sig"})
    (tmp / "trusted.json").write_text(json.dumps({"clients": [{"iss": ISS, "jwks": {"keys": [jwk]}}]}))
    return pem


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    url = os.environ.get("TWINRX_BENCH_REDIS_URL")
    if url:
        yield url
        return
    with embedded_redis() as embedded:
        yield embedded


@contextlib.contextmanager
def _service(redis_url: str, port: int, tmp: Path, log_level: str, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "TWINRX_REDIS_URL": redis_url,
        "TWINRX_CDS_TRUSTED_CLIENTS_FILE": str(tmp / "trusted.json"),
        "TWINRX_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWINRX_ENVIRONMENT": "test",
        "TWINRX_LOG_LEVEL": log_level,
    }
    # uvicorn at info level (no access log) says "Application startup complete." once per worker: /readyz
    # alone is answered as soon as the first worker is up, and a run started then measures one worker
    # (a slow start on a loaded machine left the second one out of the whole closed loop).
    cmd = [sys.executable, "-m", "services.cli", "serve", "--port", str(port), "--workers", str(workers)]
    cmd += ["--log-level", "info"]
    log = (tmp / "service.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                started = (tmp / "service.log").read_text(errors="replace").count("Application startup complete.")
                if started >= workers and httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            tail = (tmp / "service.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"service did not become ready; its log ends:\n{tail}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def _draft(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "draft-1",
                    "status": "draft",
                    "intent": "order",
                    "subject": {"reference": f"Patient/{patient}"},
                    "medicationCodeableConcept": {
                        "coding": [
                            {"system": RXNORM, "code": "213169", "display": "clopidogrel 75 MG Oral Tablet [Plavix]"}
                        ]
                    },
                }
            }
        ],
    }


def _genotype(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"gt-{patient}",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "84413-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2024-05-02",
        "valueCodeableConcept": {"text": "CYP2C19*2/*2"},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
                "valueCodeableConcept": {
                    "coding": [{"system": "http://www.genenames.org", "code": "HGNC:2621", "display": "CYP2C19"}]
                },
            }
        ],
    }


def _body(patient: str, *, cold: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "order-select",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "patientId": patient,
            "userId": "Practitioner/bench",
            "selections": ["MedicationRequest/draft-1"],
            "draftOrders": _draft(patient),
        },
    }
    if cold:
        body["fhirServer"] = FHIR
        body["prefetch"] = {
            "patient": {"resourceType": "Patient", "id": patient, "gender": "female", "birthDate": "1970-01-01"},
            "genomics": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": _genotype(patient)}]},
        }
    return body


def _request(port: int, pem: bytes, body: dict[str, Any]) -> bytes:
    now = int(time.time())
    claims = {
        "iss": ISS,
        "aud": f"http://127.0.0.1:{port}{PATH}",
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode(claims, pem, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})
    payload = json.dumps(body).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length"))
    return status, await reader.readexactly(length)


async def _client(
    port: int, requests: list[bytes], latencies: list[float], expect: bytes, schedule: list[float] | None
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, raw in enumerate(requests):
            started = time.perf_counter()
            if schedule is not None:  # open loop: latency counts from the scheduled send time
                await asyncio.sleep(max(0.0, schedule[index] - started))
                started = schedule[index]
            writer.write(raw)
            status, body = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200 or expect not in body:
                raise SystemExit(f"unexpected answer {status}: {body[:300]!r}")
    finally:
        writer.close()


async def _run(
    port: int, batches: list[list[bytes]], expect: bytes, rate: float | None = None
) -> tuple[list[float], float]:
    """Closed loop (each client sends as soon as it has its answer), or open loop at ``rate`` req/s in total."""
    latencies: list[float] = []
    started = time.perf_counter() + 0.05
    clients = len(batches)
    schedules: list[list[float] | None] = [
        [started + (k * clients + c) / rate for k in range(len(batch))] if rate else None
        for c, batch in enumerate(batches)
    ]
    await asyncio.gather(
        *(_client(port, batch, latencies, expect, sched) for batch, sched in zip(batches, schedules, strict=True))
    )
    return latencies, time.perf_counter() - started


def _loop_run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop, as the server does: the default loop costs the client more CPU per request."""
    return uvloop.run(coro)


def _cpu_by_process(pid: int) -> dict[int, float]:
    """User+system CPU of ``pid`` and of each child (the service's workers), from /proc (Linux)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids += [int(c) for c in children]
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _worker_shares(before: dict[int, float], after: dict[int, float], parent: int) -> str:
    """Each worker's share of the service's CPU in a run: how evenly the connections were spread."""
    used = {p: after[p] - before.get(p, 0.0) for p in after if p != parent}
    total = sum(used.values()) or 1.0
    return "/".join(f"{100 * v / total:.0f}%" for v in sorted(used.values(), reverse=True) if v > 0.05 * total)


@dataclass
class Result:
    latencies: list[float]
    elapsed: float
    server_cpu: float
    client_cpu: float

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed


def _report(name: str, r: Result) -> None:
    n = len(r.latencies)
    print(
        f"{name:<28} requests={n:>6}  p50={r.p50_ms:7.2f} ms  p99={r.p99_ms:7.2f} ms  rate={r.rate:8.1f} req/s  "
        f"CPU per request: server {r.server_cpu / n * 1000:5.2f} ms, client {r.client_cpu / n * 1000:5.2f} ms"
    )


def _ratios(results: dict[str, Result], clients: int, workers: int) -> None:
    """Each target figure as measured / target (a p99 ratio under 1 and a rate ratio over 1 meet it)."""
    warm, cold = results["warm, closed loop"], results["cold, closed loop"]
    rows = [
        ("warm closed-loop p99", warm.p99_ms, 25.0, "ms", warm.p99_ms < 25.0),
        ("warm closed-loop rate", warm.rate, 300.0, "req/s", warm.rate >= 300.0),
        ("cold closed-loop p99", cold.p99_ms, 150.0, "ms", cold.p99_ms < 150.0),
    ]
    print(f"targets on 2 cores, {clients} clients, {workers} uvicorn worker(s):")
    for label, value, target, unit, met in rows:
        verdict = "met" if met else "NOT met"
        print(
            f"  {label:<22} {value:8.1f} {unit:<5} / target {target:5.0f} {unit:<5} = {value / target:5.2f}x  {verdict}"
        )


def _scenario(port: int, pem: bytes, clients: int, per_client: int, *, cold: bool, tag: str) -> list[list[bytes]]:
    batches = []
    for c in range(clients):
        batch = []
        for i in range(per_client):
            patient = f"bench-cold-{tag}-{c}-{i}" if cold else "bench-warm"
            batch.append(_request(port, pem, _body(patient, cold=cold)))
        batches.append(batch)
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warm-requests", type=int, default=1600, help="total timed warm requests")
    parser.add_argument("--cold-requests", type=int, default=800, help="total timed cold requests")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the service")
    parser.add_argument("--warm-rate", type=float, default=300.0, help="offered load of the paced warm run")
    parser.add_argument("--cold-rate", type=float, default=100.0, help="offered load of the paced cold run")
    args = parser.parse_args()
    per_warm = max(1, args.warm_requests // args.clients)
    per_cold = max(1, args.cold_requests // args.clients)
    with tempfile.TemporaryDirectory(prefix="twinrx-bench-cds-") as tmpdir, _redis() as redis_url:
        tmp = Path(tmpdir)
        pem = _key(tmp)
        port = _free_port()
        client = redis.Redis.from_url(redis_url)
        gene = GeneResult(
            gene="CYP2C19",
            diplotypes=["*2/*2"],
            phenotype="Poor Metabolizer",
            lookup_key="Poor Metabolizer",
            method="fhir-genotype",
            source=SourceRef(resource_type="Observation", id="gt-bench"),
        )
        store = TwinStore(client)
        if store.get("local:demo", "bench-warm") is None:
            store.save(Twin(server="local:demo", patient_id="bench-warm", pgx={"CYP2C19": gene}), expected_version=0)
        print(
            f"cds bench: {args.clients} concurrent clients (one uvloop client process), ES384 JWT on every call, "
            f"{args.workers} uvicorn worker(s), log level {args.log_level}, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        results: dict[str, Result] = {}
        with _service(redis_url, port, tmp, args.log_level, args.workers) as proc:
            expect = b"CYP2C19 Poor Metabolizer"

            def scenario(cold: bool, tag: str, per_client: int) -> list[list[bytes]]:
                return _scenario(port, pem, args.clients, per_client, cold=cold, tag=tag)

            def timed(label: str, batches: list[list[bytes]], rate: float | None = None) -> None:
                server_before, client_before = _cpu_by_process(proc.pid), time.process_time()
                lat, elapsed = _loop_run(_run(port, batches, expect, rate))
                client_cpu = time.process_time() - client_before
                server_after = _cpu_by_process(proc.pid)
                server_cpu = sum(server_after.values()) - sum(server_before.values())
                results[label] = Result(lat, elapsed, server_cpu, client_cpu)
                _report(label, results[label])
                if rate is None and args.workers > 1:
                    print(f"{'':<28} CPU share per worker: {_worker_shares(server_before, server_after, proc.pid)}")

            _loop_run(_run(port, scenario(False, "w", 10), expect))  # warm-up
            timed("warm, closed loop", scenario(False, "w", per_warm))
            timed(f"warm, paced {args.warm_rate:.0f} req/s", scenario(False, "w", per_warm), args.warm_rate)
            _loop_run(_run(port, scenario(True, "wu", 5), expect))  # warm-up
            timed("cold, closed loop", scenario(True, "t", per_cold))
            timed(f"cold, paced {args.cold_rate:.0f} req/s", scenario(True, "p", per_cold), args.cold_rate)
        client.close()
    _ratios(results, args.clients, args.workers)


if __name__ == "__main__":
    main()

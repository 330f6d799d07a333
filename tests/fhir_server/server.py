"""A fault-injecting FHIR R4 test server speaking real HTTP (stdlib ``ThreadingHTTPServer``).

It serves reads, searches with opaque ``next`` links, transactions with conditional create,
SMART Backend Services (discovery + a token endpoint that verifies signed assertions) and Bulk
``$export``. Tests switch faults on through :class:`Faults`: 429 with Retry-After, 503 bursts, 401
after N pages, a looping ``next`` link, a truncated NDJSON line, a token endpoint that is down.
Every request is recorded in ``server.log`` for assertions.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ._bulk import ExportJob, manifest, start_export
from ._smart import SmartState
from ._store import Store


@dataclass
class Faults:
    """Faults to inject; counters count down as they fire."""

    rate_limited: int = 0
    unavailable: int = 0
    retry_after: str | None = "1"
    unauthorized_after_pages: int | None = None
    loop_next: bool = False
    token_down: str | None = None  # "503" or "refused"
    export_in_progress_polls: int = 1
    truncate: tuple[str, int] | None = None  # (resource type, 1-based line) cut in half in export files
    export_errors: list[str] = field(default_factory=list)
    static_token: str | None = None
    block_path: str | None = None  # requests whose path contains this wait for ``server.release``


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FhirTestServer:
    """The server, its data, faults, SMART state and request log."""

    def __init__(self, page_size: int = 50) -> None:
        self.store = Store()
        self.faults = Faults()
        self.smart = SmartState()
        self.page_size = page_size
        self.log: list[Logged] = []
        self.blocked = threading.Event()  # set when a request is being held by ``block_path``
        self.release = threading.Event()
        self.exports: dict[str, ExportJob] = {}
        self._pages: dict[str, list[list[dict[str, Any]]]] = {}
        self._pages_served = 0
        self._dead_port = _closed_port()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> FhirTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def requests(self, path_part: str = "") -> list[Logged]:
        return [entry for entry in self.log if path_part in entry.path]

    # -- routing -----------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/fhir"):
            return _outcome(404, "not-found", "unknown path")
        route = path[len("/fhir") :].strip("/")
        if route == ".well-known/smart-configuration":
            config = self.smart.configuration(self.base)
            if self.faults.token_down == "refused":
                config["token_endpoint"] = f"http://127.0.0.1:{self._dead_port}/token"
            return 200, {"Content-Type": "application/json"}, orjson.dumps(config)
        if route == "auth/token":
            return self._token(headers, body)
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            return self._retry_later(429, "throttled", "too many requests")
        if self.faults.unavailable > 0:
            self.faults.unavailable -= 1
            return self._retry_later(503, "transient", "server busy")
        if not self._authorised(headers):
            return _outcome(401, "login", "missing or expired access token")
        if self.faults.block_path and self.faults.block_path in path:
            self.blocked.set()
            self.release.wait(timeout=120)
            return _outcome(503, "transient", "held request released")
        if route.startswith("_page/"):
            return self._page(route)
        if route.endswith("$export") and method in ("GET", "POST"):
            return self._kickoff(route, query, headers)
        if route.startswith("_export/"):
            return self._export(method, route)
        if method == "POST" and route == "":
            return self._transaction(body)
        parts = route.split("/")
        if method == "GET" and len(parts) == 1 and parts[0]:
            return self._search(parts[0], query)
        if method == "GET" and len(parts) == 2:
            found = self.store.get(parts[0], parts[1])
            if found is None:
                return _outcome(404, "not-found", f"{parts[0]} not found")
            return 200, {"Content-Type": "application/fhir+json"}, orjson.dumps(found)
        return _outcome(400, "not-supported", f"{method} {parts[0] if parts else ''} is not supported here")

    def _retry_later(self, status: int, code: str, text: str) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = _outcome(status, code, text)
        if self.faults.retry_after is not None:
            headers["Retry-After"] = self.faults.retry_after
        return status, headers, body

    def _authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        if self.faults.static_token is not None:
            return given == f"Bearer {self.faults.static_token}"
        if not self.smart.enabled:
            return True
        return given.startswith("Bearer ") and given[7:] in self.smart.tokens

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.faults.token_down == "503":
            return self._retry_later(503, "transient", "token service down")
        form = dict(parse_qsl(body.decode()))
        status, payload = self.smart.token(form, f"{self.base}/auth/token")
        return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, orjson.dumps(payload)

    def _search(self, rtype: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        params = {k: v for k, v in query.items() if k not in ("_count", "_sort", "_include")}
        unknown = [k for k in params if k not in ("patient", "subject", "_id", "identifier", "_lastUpdated")]
        if unknown:
            return _outcome(400, "not-supported", f"Unknown search parameter '{unknown[0]}'")
        found = self.store.search(rtype, params)
        if query.get("_include") == "MedicationRequest:medication":
            refs = {str(r.get("medicationReference", {}).get("reference", "")) for r in found}
            found = found + [m for m in self.store.all("Medication") if f"Medication/{m['id']}" in refs]
        size = int(query.get("_count", self.page_size))
        pages = [found[i : i + size] for i in range(0, len(found), size)] or [[]]
        token = f"{len(self._pages) + 1}"
        self._pages[token] = pages
        return self._page(f"_page/{token}/0")

    def _page(self, route: str) -> tuple[int, dict[str, str], bytes]:
        _, token, number = route.split("/")
        pages = self._pages.get(token)
        index = int(number)
        if pages is None or index >= len(pages):
            return _outcome(410, "not-found", "page expired")
        limit = self.faults.unauthorized_after_pages
        if limit is not None and self._pages_served >= limit:
            self.faults.unauthorized_after_pages = None
            self.smart.revoke_all()
            return _outcome(401, "expired", "token expired")
        self._pages_served += 1
        links = [{"relation": "self", "url": f"{self.base}/_page/{token}/{index}"}]
        if index + 1 < len(pages):
            links.append({"relation": "next", "url": f"{self.base}/_page/{token}/{index + 1}"})
        elif self.faults.loop_next and len(pages) > 1:
            links.append({"relation": "next", "url": f"{self.base}/_page/{token}/0"})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": links,
            "entry": [
                {"fullUrl": f"{self.base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in pages[index]
            ],
        }
        return 200, {"Content-Type": "application/fhir+json"}, orjson.dumps(bundle)

    def _kickoff(self, route: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("prefer") != "respond-async" or "application/fhir+json" not in headers.get("accept", ""):
            return _outcome(400, "invalid", "export needs Accept: application/fhir+json and Prefer: respond-async")
        group = route.split("/")[1] if route.startswith("Group/") else None
        types = query["_type"].split(",") if query.get("_type") else None
        job = start_export(self.store, f"{self.base}/{route}", types=types, since=query.get("_since"), group=group)
        job.errors = list(self.faults.export_errors)
        self.exports[job.id] = job
        return 202, {"Content-Location": f"{self.base}/_export/{job.id}"}, b""

    def _export(self, method: str, route: str) -> tuple[int, dict[str, str], bytes]:
        parts = route.split("/")
        job = self.exports.get(parts[1])
        if job is None or job.cancelled:
            return _outcome(404, "not-found", "no such export")
        if method == "DELETE":
            job.cancelled = True
            return 202, {}, b""
        if len(parts) == 2:
            job.polls += 1
            if job.polls <= self.faults.export_in_progress_polls:
                return 202, {"Retry-After": self.faults.retry_after or "1", "X-Progress": f"poll {job.polls}"}, b""
            return 200, {"Content-Type": "application/json"}, orjson.dumps(manifest(job, self.base))
        if parts[2] == "errors":
            lines = [
                orjson.dumps(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "processing", "diagnostics": e}],
                    }
                )
                for e in job.errors
            ]
            return 200, {"Content-Type": "application/fhir+ndjson"}, b"\n".join(lines) + b"\n"
        rtype = parts[3]
        lines = [orjson.dumps(r) for r in job.files.get(rtype, [])]
        if self.faults.truncate and self.faults.truncate[0] == rtype and len(lines) >= self.faults.truncate[1]:
            line = lines[self.faults.truncate[1] - 1]
            lines[self.faults.truncate[1] - 1] = line[: len(line) // 2]
        return 200, {"Content-Type": "application/fhir+ndjson"}, b"\n".join(lines) + b"\n"

    def _transaction(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        bundle = orjson.loads(body)
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in ("transaction", "batch"):
            return _outcome(400, "invalid", "expected a transaction Bundle")
        responses = []
        for entry in bundle.get("entry", []):
            resource, request = entry.get("resource", {}), entry.get("request", {})
            rtype = str(request.get("url", "")).split("?")[0].split("/")[0]
            if request.get("ifNoneExist"):
                criteria = dict(parse_qsl(request["ifNoneExist"]))
                existing = self.store.search(rtype, criteria)
                if len(existing) > 1:
                    return _outcome(412, "multiple-matches", "conditional create matched several resources")
                if existing:
                    found = existing[0]
                    responses.append(
                        {
                            "response": {
                                "status": "200 OK",
                                "location": f"{rtype}/{found['id']}/_history/{found['meta']['versionId']}",
                            }
                        }
                    )
                    continue
            stored = self.store.put(
                {k: v for k, v in resource.items() if k != "id"} if request.get("method") == "POST" else resource
            )
            responses.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{rtype}/{stored['id']}/_history/{stored['meta']['versionId']}",
                    }
                }
            )
        reply = {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
        return 200, {"Content-Type": "application/fhir+json"}, orjson.dumps(reply)


def _outcome(status: int, code: str, text: str) -> tuple[int, dict[str, str], bytes]:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return status, {"Content-Type": "application/fhir+json"}, orjson.dumps(body)


def _handler(server: FhirTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            split = urlsplit(self.path)
            query = dict(parse_qsl(split.query))
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            entry = Logged(self.command, split.path, query, headers)
            server.log.append(entry)
            status, reply_headers, reply = server.handle(self.command, split.path, query, headers, body)
            entry.status = status
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


@contextlib.contextmanager
def running(page_size: int = 50) -> Iterator[FhirTestServer]:
    server = FhirTestServer(page_size).start()
    try:
        yield server
    finally:
        server.stop()

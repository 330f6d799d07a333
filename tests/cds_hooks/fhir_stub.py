"""A small FHIR server on 127.0.0.1 for prefetch tests: canned answers per path, every request recorded."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

# The genomics search the service sends for patient cold1 when its prefetch key is absent.
COLD1_GENOMICS = (
    "/Observation?patient=cold1&code=http://loinc.org|84413-4,http://loinc.org|81247-9,http://loinc.org|53040-2"
)


@dataclass
class Seen:
    path: str
    authorization: str | None


@dataclass
class FhirStub:
    """Routes are matched on the decoded path+query after ``/fhir``; a prefix match ends with ``*``."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    delay: float = 0.0
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def answer(self, path: str) -> tuple[int, Any]:
        if path in self.routes:
            return self.routes[path]
        for pattern, value in self.routes.items():
            if pattern.endswith("*") and path.startswith(pattern[:-1]):
                return value
        return 404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}


def start(stub: FhirStub) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            path = unquote(self.path)
            path = path[len("/fhir") :] if path.startswith("/fhir") else path
            stub.seen.append(Seen(path, self.headers.get("Authorization")))
            if stub.delay:
                time.sleep(stub.delay)
            status, body = stub.answer(path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle

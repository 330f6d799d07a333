"""The fault-injecting FHIR test server plus deletions: ``DELETE``, ``_history`` and Bulk ``deleted`` files.

A subclass, so the shared server in ``tests/fhir_server`` stays as it is for everyone else. Deleted
resources leave a tombstone (type, id, time, last version): type history lists them as DELETE entries
(with ``response.lastModified``), instance history returns the tombstone and the last version, and a
``_since`` export lists them in its manifest's ``deleted`` array as a Bundle of DELETE requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tests.fhir_server._store import Resource, now_instant
from tests.fhir_server.server import FhirTestServer

JSON = {"Content-Type": "application/fhir+json"}


@dataclass(frozen=True)
class Tombstone:
    resource_type: str
    id: str
    when: str
    last: Resource


class HistoryServer(FhirTestServer):
    """:class:`FhirTestServer` that also deletes and reports deletions."""

    def __init__(self, page_size: int = 50) -> None:
        super().__init__(page_size)
        self.tombstones: list[Tombstone] = []
        self.history_enabled = True
        self.ignore_since = False  # like a server whose history paging drops the _since filter
        self._export_since: dict[str, str] = {}

    def delete(self, rtype: str, rid: str, *, when: str | None = None) -> None:
        """Delete a resource as the EHR would (its last version stays in history)."""
        with self.store._lock:
            last = self.store.resources.get(rtype, {}).pop(rid)
        self.tombstones.append(Tombstone(rtype, rid, when or now_instant(), last))

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        route = path[len("/fhir") :].strip("/") if path.startswith("/fhir") else ""
        parts = route.split("/")
        if self.history_enabled and method == "GET" and parts[-1] == "_history" and len(parts) in (2, 3):
            return 200, JSON, orjson.dumps(self._history(parts[0], parts[1] if len(parts) == 3 else None, query))
        if method == "DELETE" and len(parts) == 2 and self.store.get(parts[0], parts[1]) is not None:
            self.delete(parts[0], parts[1])
            return 204, {}, b""
        if len(parts) == 3 and parts[0] == "_export" and parts[2] == "deleted":
            return 200, {"Content-Type": "application/fhir+ndjson"}, self._deleted_file(parts[1])
        status, reply_headers, reply = super().handle(method, path, query, headers, body)
        if route.endswith("$export") and status == 202 and query.get("_since"):
            self._export_since[reply_headers["Content-Location"].rsplit("/", 1)[1]] = query["_since"]
        if len(parts) == 2 and parts[0] == "_export" and status == 200 and parts[1] in self._export_since:
            manifest = orjson.loads(reply)
            manifest["deleted"] = [{"type": "Bundle", "url": f"{self.base}/_export/{parts[1]}/deleted"}]
            reply = orjson.dumps(manifest)
        return status, reply_headers, reply

    def _history(self, rtype: str, rid: str | None, query: dict[str, str]) -> dict[str, Any]:
        since = "" if self.ignore_since else query.get("_since", "")
        entries: list[dict[str, Any]] = []
        for stone in self.tombstones:
            if stone.resource_type != rtype or (rid and stone.id != rid) or stone.when < since:
                continue
            entries.append(
                {
                    "fullUrl": f"{self.base}/{rtype}/{stone.id}",
                    "request": {"method": "DELETE", "url": f"{rtype}/{stone.id}"},
                    "response": {"status": "204 No Content", "lastModified": stone.when},
                }
            )
            if rid:
                entries.append(self._version_entry(stone.last))
        for resource in self.store.all(rtype):
            if (rid and resource["id"] != rid) or resource["meta"]["lastUpdated"] < since:
                continue
            entries.append(self._version_entry(resource))
        return {"resourceType": "Bundle", "type": "history", "entry": entries}

    def _version_entry(self, resource: Resource) -> dict[str, Any]:
        return {
            "fullUrl": f"{self.base}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            "response": {"status": "200 OK", "lastModified": resource["meta"]["lastUpdated"]},
        }

    def _deleted_file(self, job_id: str) -> bytes:
        since = self._export_since.get(job_id, "")
        entries = [
            {"request": {"method": "DELETE", "url": f"{s.resource_type}/{s.id}"}}
            for s in self.tombstones
            if s.when > since
        ]
        return orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": entries}) + b"\n"


@contextlib.contextmanager
def running_history(page_size: int = 50) -> Iterator[HistoryServer]:
    server = HistoryServer(page_size)
    server.start()
    try:
        yield server
    finally:
        server.stop()

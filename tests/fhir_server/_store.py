"""In-memory resources of the test FHIR server, with the few search parameters ingest uses."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Resource = dict[str, Any]

_PATIENT_PARAMS = ("patient", "subject")


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _patient_of(resource: Resource) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id"))
    for element in ("subject", "patient"):
        ref = resource.get(element)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            target = ref["reference"]
            if target.startswith("urn:uuid:"):
                return target.rsplit(":", 1)[1]
            parts = target.split("/")
            if len(parts) >= 2 and parts[-2] == "Patient":
                return parts[-1]
    return None


class Store:
    """Resources by type and id; every write bumps ``meta.versionId`` and ``meta.lastUpdated``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.resources: dict[str, dict[str, Resource]] = {}
        self._next_id = 0

    def put(self, resource: Resource, *, last_updated: str | None = None) -> Resource:
        with self._lock:
            rtype = resource["resourceType"]
            if not resource.get("id"):
                self._next_id += 1
                resource = {**resource, "id": f"srv-{self._next_id}"}
            previous = self.resources.get(rtype, {}).get(resource["id"])
            version = int(previous["meta"]["versionId"]) + 1 if previous else 1
            meta = dict(resource.get("meta") or {})
            meta.update(versionId=str(version), lastUpdated=last_updated or now_instant())
            stored = {**resource, "meta": meta}
            self.resources.setdefault(rtype, {})[resource["id"]] = stored
            return stored

    def load(self, resources: Iterable[Resource], *, last_updated: str | None = None) -> None:
        for resource in resources:
            self.put(resource, last_updated=last_updated)

    def get(self, rtype: str, rid: str) -> Resource | None:
        return self.resources.get(rtype, {}).get(rid)

    def all(self, rtype: str | None = None) -> list[Resource]:
        with self._lock:
            if rtype is not None:
                return list(self.resources.get(rtype, {}).values())
            return [r for by_id in self.resources.values() for r in by_id.values()]

    def search(self, rtype: str, params: dict[str, str]) -> list[Resource]:
        """Match ``patient``/``subject``, ``_id``, ``identifier`` (system|value), ``_lastUpdated`` (gt/ge/lt)."""
        found = []
        for resource in sorted(self.all(rtype), key=lambda r: (r["meta"]["lastUpdated"], r["id"])):
            if not self._matches(resource, params):
                continue
            found.append(resource)
        return found

    def _matches(self, resource: Resource, params: dict[str, str]) -> bool:
        for name, value in params.items():
            if name in _PATIENT_PARAMS:
                wanted = value.split("/")[-1]
                if _patient_of(resource) != wanted:
                    return False
            elif name == "_id":
                if resource["id"] not in value.split(","):
                    return False
            elif name == "identifier":
                system, _, code = value.rpartition("|")
                if not any(
                    i.get("value") == code and (not system or i.get("system") == system)
                    for i in resource.get("identifier", [])
                ):
                    return False
            elif name == "_lastUpdated":
                prefix, stamp = value[:2], value[2:]
                updated = resource["meta"]["lastUpdated"]
                ok = {"gt": updated > stamp, "ge": updated >= stamp, "lt": updated < stamp}.get(prefix)
                if ok is None or not ok:
                    return False
        return True

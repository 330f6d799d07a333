"""Bulk Data export jobs of the test server."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ._store import Resource, Store, _patient_of, now_instant

_ids = itertools.count(1)


@dataclass
class ExportJob:
    id: str
    transaction_time: str
    request: str
    files: dict[str, list[Resource]]
    polls: int = 0
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)


def start_export(
    store: Store, request_url: str, *, types: list[str] | None, since: str | None, group: str | None
) -> ExportJob:
    """Snapshot what an export returns (patient compartment for Patient/Group level)."""
    members: set[str] | None = None
    if group is not None:
        group_resource = store.get("Group", group) or {}
        members = {
            str(m.get("entity", {}).get("reference", "")).split("/")[-1] for m in group_resource.get("member", [])
        }
    files: dict[str, list[Resource]] = {}
    for resource in store.all():
        rtype = resource["resourceType"]
        if types and rtype not in types:
            continue
        if since and resource["meta"]["lastUpdated"] <= since:
            continue
        if members is not None and _patient_of(resource) not in members:
            continue
        files.setdefault(rtype, []).append(resource)
    return ExportJob(str(next(_ids)), now_instant(), request_url, files)


def manifest(job: ExportJob, base: str) -> dict[str, object]:
    output = [
        {"type": rtype, "url": f"{base}/_export/{job.id}/file/{rtype}", "count": len(items)}
        for rtype, items in sorted(job.files.items())
    ]
    errors = [{"type": "OperationOutcome", "url": f"{base}/_export/{job.id}/errors"}] if job.errors else []
    return {
        "transactionTime": job.transaction_time,
        "request": job.request,
        "requiresAccessToken": True,
        "output": output,
        "error": errors,
    }

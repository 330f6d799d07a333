"""Reference resolution: which patient a resource belongs to, and Bundle-local ``urn:uuid:`` references.

Synthea writes transaction Bundles whose entries reference each other by ``fullUrl``
(``urn:uuid:...``); Bulk NDJSON and REST searches use relative ``Patient/123`` references; some
servers send absolute URLs. All three resolve to ``(type, id)`` here.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._resource import Resource, reference_target

# Elements that put a resource into a patient's compartment, in the order they are tried.
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


def split_reference(ref: str, urls: Mapping[str, tuple[str, str]] | None = None) -> tuple[str | None, str] | None:
    """``(type, id)`` of a literal reference; ``urls`` maps Bundle fullUrls to their entries' identities.

    >>> split_reference("Patient/123")
    ('Patient', '123')
    >>> split_reference("https://ehr.example/fhir/Patient/9/_history/2")
    ('Patient', '9')
    >>> split_reference("urn:uuid:abc")
    (None, 'abc')
    """
    if urls is not None and ref in urls:
        return urls[ref]
    if ref.startswith(("urn:uuid:", "urn:oid:")):
        return None, ref.rsplit(":", 1)[1]
    if ref.startswith("#"):
        return None
    parts = ref.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1] or not parts[-2]:
        return None
    return parts[-2], parts[-1]


def patient_target(resource: Resource, urls: Mapping[str, tuple[str, str]] | None = None) -> str | None:
    """The id of the patient a resource belongs to (its own id for a Patient), or None."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for element in PATIENT_ELEMENTS:
        ref = reference_target(resource.get(element))
        if ref is None:
            continue
        target = split_reference(ref, urls)
        if target is None:
            continue
        rtype, rid = target
        if rtype in (None, "Patient"):
            return rid
    return None


def bundle_urls(entries: list[object]) -> dict[str, tuple[str, str]]:
    """fullUrl -> (type, id) for a Bundle's entries (ids missing in a transaction fall back to the uuid)."""
    urls: dict[str, tuple[str, str]] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        full_url = entry.get("fullUrl")
        resource = entry.get("resource")
        if not isinstance(full_url, str) or not isinstance(resource, dict):
            continue
        rtype = resource.get("resourceType")
        rid = resource.get("id")
        if not isinstance(rid, str) or not rid:
            rid = full_url.rsplit(":", 1)[1] if full_url.startswith("urn:uuid:") else full_url.rsplit("/", 1)[-1]
        if isinstance(rtype, str):
            urls[full_url] = (rtype, rid)
    return urls

"""The FHIR REST source: one patient's resources by search, and attachment downloads under an allow-list.

A patient is read (404 -> :class:`PatientNotFound`), then searched by ``patient=`` for Observation,
Condition, MedicationRequest (with ``_include`` of its Medication), DiagnosticReport and
DocumentReference. Types the server does not support (a 4xx on that search) are left out with a
warning; anything else fails the sync so it is retried or reported. Attachment URLs are fetched only
from the FHIR server itself (with its token) or from ``TWINRX_VCF_ALLOWED_HOSTS`` (without it). The
loader records every resource's patient in the owner index (:mod:`._owners`): how deletions find twins.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from services.common.fhir import FhirClient, FhirHttpError, FhirNotFound
from services.common.logging import get_logger, patient_ref
from services.common.settings import Settings

from ._clients import client_for
from ._local_vcf import LOCAL_VCF
from ._owners import connection, remember
from ._refs import patient_target
from ._resource import Resource
from ._sources import PatientData
from .errors import AttachmentFetchError, PatientNotFound

log = get_logger(__name__)

SEARCHES: tuple[tuple[str, dict[str, str], bool], ...] = (
    # (type, extra parameters, required)
    ("Observation", {}, True),
    ("Condition", {}, True),
    ("MedicationRequest", {"_include": "MedicationRequest:medication"}, True),
    ("DiagnosticReport", {}, False),
    ("DocumentReference", {}, False),
)


def fetch_patient(client: FhirClient, patient_id: str) -> list[Resource]:
    """Everything ingest reads for one patient."""
    tag = patient_ref(client.base_url, patient_id)
    try:
        resources: list[Resource] = [client.read("Patient", patient_id)]
    except FhirNotFound as exc:
        raise PatientNotFound("the FHIR server has no such patient") from exc
    for resource_type, extra, required in SEARCHES:
        try:
            for resource in client.search(resource_type, {"patient": patient_id, **extra}):
                # A server that ignores an unknown parameter returns everyone's data: keep only this patient's.
                owner = patient_target(resource)
                if resource.get("resourceType") == LOCAL_VCF:  # a marker only a local folder scan makes
                    continue
                if owner == patient_id or (owner is None and resource.get("resourceType") == "Medication"):
                    resources.append(resource)
        except FhirHttpError as exc:
            if required or exc.status not in (400, 403, 404, 405, 501):
                raise
            log.warning("search_unsupported", patient=tag, type=resource_type, status=exc.status)
    return resources


def attachment_fetcher(client: FhirClient, allowed_hosts: list[str]) -> Callable[[str], bytes]:
    """Fetch attachment URLs from the FHIR server (authorised) or an allow-listed host (anonymous)."""
    allowed = {h.lower() for h in allowed_hosts}

    def fetch(url: str) -> bytes:
        absolute = client.url(url)
        if client.same_server(absolute):
            return client.fetch_bytes(absolute)
        parts = urlsplit(absolute)
        if parts.scheme != "https" or (parts.hostname or "").lower() not in allowed:
            raise AttachmentFetchError("attachment host is neither the FHIR server nor allow-listed")
        return client.fetch_bytes(absolute, authorise=False)

    return fetch


def rest_patient_loader(settings: Settings) -> Callable[[str, str], PatientData]:
    """A loader of one patient's resources over FHIR REST (clients reused per server)."""

    def load(base_url: str, patient_id: str) -> PatientData:
        client = client_for(settings, base_url)
        resources = fetch_patient(client, patient_id)
        if settings.redis_url is not None:  # so a later deletion of any of them finds this patient
            remember(connection(settings.redis_url), base_url, resources)
        return PatientData(resources=resources, fetch=attachment_fetcher(client, settings.vcf_allowed_hosts))

    return load

"""Write-back: a twin's genotype and therapeutic-implication Observations and RiskAssessments, as one
transaction Bundle with a Provenance, to the EHR the twin came from.

Idempotent by construction, so a retried task never duplicates a resource:

- pgx Observations are conditional creates (``ifNoneExist: identifier=urn:twinrx:pgx|...``); their
  identifiers hash patient, gene and call (or drug), so the same result is found, a new result is new;
- risk resources (identifier ``urn:twinrx:risk|<patient>:<model>:<outcome>``) are PUT to an id hashed
  from that identifier: a re-run replaces the estimate instead of adding one, and the server needs no
  identifier search on RiskAssessment (which some lack);
- the Provenance is a PUT to an id derived from what it covers.

Genotypes the EHR itself reported (``method == "fhir-genotype"``) are not written again; implications
derive from them. The FHIR builders belong to ``services.pgx.fhir`` and ``services.risk``.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from services import pgx, risk
from services.common.errors import NotFound
from services.common.logging import get_logger, patient_ref
from services.common.twin import Twin
from services.pgx import fhir as pgx_fhir

from ._clients import client_for
from ._runtime import Runtime
from ._sync import normalise_server

log = get_logger(__name__)

_FHIR_SOURCE_TYPES = frozenset(
    {"Observation", "Condition", "MedicationRequest", "DiagnosticReport", "DocumentReference"}
)
_WRITTEN_STATUSES = ("actionable", "standard")


def _identifier(resource: dict[str, Any]) -> tuple[str, str]:
    ident = resource["identifier"][0]
    return str(ident["system"]), str(ident["value"])


def _full_url(system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


class _Bundle:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.seen: set[str] = set()

    def add(self, resource: dict[str, Any], *, update: bool) -> str:
        """Add a conditional create (or update) keyed on the resource's identifier; returns its fullUrl."""
        system, value = _identifier(resource)
        full_url = _full_url(system, value)
        if full_url in self.seen:
            return full_url
        self.seen.add(full_url)
        rtype = resource["resourceType"]
        if update:
            # Update-as-create on an id derived from the identifier: servers need no identifier search
            # for it (sekmet has none on RiskAssessment), and a re-run replaces the estimate.
            rid = "twinrx-" + hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:40]
            body = {**resource, "id": rid}
            request = {"method": "PUT", "url": f"{rtype}/{rid}"}
        else:
            body = {k: v for k, v in resource.items() if k != "id"}
            request = {"method": "POST", "url": rtype, "ifNoneExist": f"identifier={system}|{value}"}
        self.entries.append({"fullUrl": full_url, "resource": body, "request": request})
        return full_url


def _pgx_entries(twin: Twin, bundle: _Bundle, subject: str, sources: set[str]) -> None:
    genotype_refs: dict[str, str] = {}
    for gene, result in sorted(twin.pgx.items()):
        if not result.diplotypes:
            continue
        if result.source is not None and result.source.resource_type in _FHIR_SOURCE_TYPES:
            sources.add(result.source.reference)
        if result.method == "fhir-genotype" and result.source is not None:
            genotype_refs[gene] = result.source.reference  # the EHR's own genotype Observation
            continue
        genotype_refs[gene] = bundle.add(pgx_fhir.genotype_observation(result, subject), update=False)
    for medication in twin.medications:
        if not medication.rxnorm:
            continue
        guidance = pgx.recommend(medication.rxnorm, twin.pgx)
        for rec in guidance.recommendations:
            if rec.status not in _WRITTEN_STATUSES or not rec.genes or rec.genes[0] not in genotype_refs:
                continue
            sources.add(medication.source.reference)
            bundle.add(pgx_fhir.implication_observation(rec, subject, genotype_refs[rec.genes[0]]), update=False)


def _risk_entries(twin: Twin, bundle: _Bundle, subject: str, sources: set[str]) -> None:
    for result in twin.risk:
        if result.status == "ok":
            sources.update(
                u.source.reference for u in result.inputs if u.source and u.source.resource_type in _FHIR_SOURCE_TYPES
            )
    for resource in risk.fhir_resources(twin.risk, subject):
        bundle.add(resource, update=True)


def write_back_bundle(twin: Twin, *, recorded: datetime | None = None) -> dict[str, Any]:
    """The transaction Bundle for a twin (empty ``entry`` when there is nothing to write)."""
    subject = f"Patient/{twin.patient_id}"
    bundle = _Bundle()
    sources: set[str] = set()
    _pgx_entries(twin, bundle, subject, sources)
    _risk_entries(twin, bundle, subject, sources)
    if bundle.entries:
        targets = [e["fullUrl"] for e in bundle.entries]
        digest = hashlib.sha256("\n".join(sorted(targets) + sorted(sources)).encode()).hexdigest()[:40]
        provenance = {
            "resourceType": "Provenance",
            "id": f"twinrx-{digest}",
            "target": [{"reference": t} for t in targets],
            "recorded": (recorded or datetime.now(UTC)).isoformat(),
            "activity": {"text": "twinrx digital-twin interpretation (pharmacogenomics and risk)"},
            "agent": [{"type": {"text": "software"}, "who": {"display": "twinrx"}}],
            "entity": [{"role": "source", "what": {"reference": s}} for s in sorted(sources)],
        }
        bundle.entries.append(
            {"resource": provenance, "request": {"method": "PUT", "url": f"Provenance/{provenance['id']}"}}
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": bundle.entries}


def write_back_patient(rt: Runtime, server: str, patient_id: str) -> dict[str, object]:
    """Write the stored twin's results back to ``server``; returns counts of created / matched entries."""
    key = normalise_server(server)
    twin = rt.store.get(key, patient_id)
    if twin is None:
        raise NotFound("no twin to write back for this patient")
    bundle = write_back_bundle(twin)
    if not bundle["entry"]:
        return {"entries": 0, "created": 0, "existing": 0}
    reply = client_for(rt.settings, key).transaction(bundle)
    statuses = [str(e.get("response", {}).get("status", "")) for e in reply.get("entry", [])]
    created = sum(1 for s in statuses if s.startswith("201"))
    result = {"entries": len(statuses), "created": created, "existing": len(statuses) - created}
    log.info("write_back_done", patient=patient_ref(key, patient_id), **result)
    return dict(result)

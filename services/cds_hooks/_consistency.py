"""Patient consistency of a hook call: every resource that reaches the decision is the context patient's.

A CDS client that mixes patients (another patient's genotype in ``prefetch.genomics``, a draft order
whose ``subject`` is someone else) would otherwise get a card about the wrong person: the worst bug
this service can have. The rules:

* **sent by the client** (prefetch, draft orders): a resource that names another patient is refused
  with 400 naming where it is. Why refuse rather than drop: it shows a patient-matching bug in the
  client, and the rest of a payload that is known to be wrong cannot be trusted to be this patient's
  either; an honest error beats a card built on it. Malformed prefetch values are 400 as well (412
  stays for data that is absent and cannot be fetched).
* **fetched by us** from the FHIR server (our query was already patient-scoped, so the client did
  nothing wrong): such resources are dropped and a warning without identifiers is logged; a key left
  with nothing is treated as unavailable, never as "the patient has no data".

A resource "names" a patient through ``subject`` or ``patient`` (R4, STU3 and DSTU2 fields), and a
Patient resource through its ``id``. One that names nobody (no such field, a ``#contained`` or
``urn:uuid:`` reference, an identifier only) is kept: the search that returned it was scoped to the
context patient, and refusing it would refuse ordinary data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from services.common.logging import get_logger

from ._discovery import ServiceSpec
from ._egress import fhir_server_refusal
from ._models import HookRequest
from ._orders import as_list
from .errors import BadHookRequest

log = get_logger(__name__)

_PATIENT_FIELDS: Final = ("subject", "patient")
_TYPE_RE: Final = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


def _reference_target(value: Any) -> tuple[str, str] | None:
    """(type, id) a Reference points at, or None when it cannot be told without resolving it."""
    if not isinstance(value, Mapping):
        return None
    reference = value.get("reference")
    if not isinstance(reference, str) or reference.startswith(("#", "urn:")):
        return None
    parts = [p for p in reference.strip().split("?", 1)[0].split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":  # Patient/p1/_history/2
        parts = parts[:-2]
    if len(parts) < 2 or not _TYPE_RE.fullmatch(parts[-2]):
        return None
    return parts[-2], parts[-1]


def other_subject(resource: Mapping[str, Any], patient_id: str) -> str | None:
    """``Type/id`` of the other patient (or non-patient subject) ``resource`` belongs to; None if ours or unknown."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return f"Patient/{rid}" if isinstance(rid, str) and rid and rid != patient_id else None
    for name in _PATIENT_FIELDS:
        target = _reference_target(resource.get(name))
        if target is not None and target != ("Patient", patient_id):
            return f"{target[0]}/{target[1]}"
    return None


def _label(resource: Mapping[str, Any]) -> str:
    rtype, rid = resource.get("resourceType"), resource.get("id")
    name = str(rtype)[:60] if isinstance(rtype, str) else "resource"
    return f"{name}/{str(rid)[:64]}" if isinstance(rid, str) and rid else name


def _is_resource(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("resourceType"), str) and bool(value["resourceType"])


def context_patient(request: HookRequest) -> str:
    """``context.patientId`` as ``validate`` returns it (stripped)."""
    value = request.context.get("patientId")
    return value.strip() if isinstance(value, str) else ""


def _check_prefetch_value(key: str, value: Any, patient_id: str) -> None:
    """400 for a prefetch value no fetch could have produced, or one naming another patient."""
    where = f"prefetch.{key}"
    if value is None:
        return
    if not _is_resource(value):
        raise BadHookRequest(f"{where} must be a FHIR resource, a Bundle or null", location=where)
    if value["resourceType"] == "OperationOutcome":  # the client's fetch failed (spec): handled as absent
        return
    if value["resourceType"] == "Bundle":
        entries = value.get("entry")
        if entries is not None and not isinstance(entries, list):
            raise BadHookRequest(f"{where}.entry must be an array", location=f"{where}.entry")
        for index, entry in enumerate(as_list(entries)):
            if not isinstance(entry, Mapping):
                raise BadHookRequest(f"{where}.entry[{index}] must be an object", location=f"{where}.entry[{index}]")
            resource = entry.get("resource")
            if resource is not None and not _is_resource(resource):
                at = f"{where}.entry[{index}].resource"
                raise BadHookRequest(f"{at} must be a FHIR resource (an object with a resourceType)", location=at)
            if isinstance(resource, Mapping) and (other := other_subject(resource, patient_id)) is not None:
                raise BadHookRequest(
                    f"{where}.entry[{index}] ({_label(resource)}) is for {other}, not the context patient",
                    location=f"{where}.entry[{index}]",
                )
        return
    if key == "patient" and value["resourceType"] != "Patient":
        raise BadHookRequest(f"{where} must be a Patient resource, not {_label(value)}", location=where)
    other = other_subject(value, patient_id)
    if other is not None:
        subject = other if key == "patient" or value["resourceType"] == "Patient" else f"{_label(value)} of {other}"
        raise BadHookRequest(f"{where} is {subject}, not the context patient", location=where)


def check_prefetch(spec: ServiceSpec, request: HookRequest, patient_id: str) -> None:
    """400 for a malformed value of one of ``spec``'s prefetch keys, or one naming another patient.

    Keys the service did not ask for are ignored (they never reach the decision). Also refuses a
    ``fhirAuthorization.patient`` other than the context patient: data fetched with that token would
    be scoped to someone else.
    """
    auth = request.fhirAuthorization
    if auth is not None and auth.patient is not None and auth.patient.strip() != patient_id:
        raise BadHookRequest(
            "fhirAuthorization.patient is not the context patient", location="fhirAuthorization.patient"
        )
    sent = request.prefetch or {}
    for key in spec.prefetch_keys:
        if key in sent:
            _check_prefetch_value(key, sent[key], patient_id)


def check_draft_orders(draft_orders: Any, patient_id: str) -> None:
    """400 naming the first entry of ``context.draftOrders`` (any resource type) for another patient."""
    if not isinstance(draft_orders, Mapping) or not patient_id:
        return  # the shape is _orders' business; without a patient id validate() has already refused
    for index, entry in enumerate(as_list(draft_orders.get("entry"))):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping) and (other := other_subject(resource, patient_id)) is not None:
            raise BadHookRequest(
                f"draft order {_label(resource)} is for {other}, not the context patient",
                location=f"context.draftOrders.entry[{index}]",
            )


def own_resources(key: str, resources: list[dict[str, Any]], patient_id: str) -> tuple[list[dict[str, Any]], int]:
    """The resources of the context patient among those fetched for ``key``, and how many were dropped."""
    kept = [r for r in resources if other_subject(r, patient_id) is None]
    dropped = len(resources) - len(kept)
    if dropped:  # no ids in the log: the key and counts say enough to find the server's misbehaviour
        log.warning("prefetch_other_patient_dropped", key=key, dropped=dropped, kept=len(kept))
    return kept, dropped


def check_request(spec: ServiceSpec, request: HookRequest, patient_id: str) -> None:
    """Every consistency rule that needs no data beyond the request (400 on the first violation).

    Meant for ``_service.validate`` so a call is refused the same way whether or not its twin is stored.
    """
    if request.fhirServer is not None and (why := fhir_server_refusal(request.fhirServer)) is not None:
        raise BadHookRequest(why, location="fhirServer")
    check_prefetch(spec, request, patient_id)
    check_draft_orders(request.context.get("draftOrders"), patient_id)

"""Draft medication orders out of a hook's ``context``, tolerant of what real clients send.

Accepts draft Bundles without ``type``, orders without ``intent``, R4/STU3 ``MedicationRequest`` and
DSTU2 ``MedicationOrder``, ``medicationCodeableConcept`` or ``medicationReference`` (resolved from
``contained``, the draft Bundle, prefetch or the FHIR server), RxNorm ingredient or clinical-drug
codes and drugs known only by display text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.codes import RXNORM

from .errors import BadHookRequest

MED_ORDER_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})

ResourceFetcher = Callable[[str], Mapping[str, Any] | None]


@dataclass
class DraftMedication:
    """One draft medication order and the ways its drug can be named (best first)."""

    resource: dict[str, Any]
    resource_type: str
    id: str | None
    queries: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str | None:
        return f"{self.resource_type}/{self.id}" if self.id else None

    @property
    def label(self) -> str:
        return self.queries[-1] if self.queries else "this medication"


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty list (clients send odd shapes)."""
    return value if isinstance(value, list) else []


def _entries(bundle: Any) -> list[dict[str, Any]]:
    if not isinstance(bundle, Mapping):
        raise BadHookRequest("context.draftOrders must be a FHIR Bundle object", location="context.draftOrders")
    if bundle.get("resourceType", "Bundle") != "Bundle":
        raise BadHookRequest("context.draftOrders must be a Bundle", location="context.draftOrders.resourceType")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise BadHookRequest("draftOrders.entry must be an array", location="context.draftOrders.entry")
    out: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("resource"), Mapping):
            out.append(dict(entry["resource"]))
    return out


def _concept_queries(concept: Any) -> list[str]:
    """RxNorm codes first, then other codings' displays, then the text."""
    if not isinstance(concept, Mapping):
        return []
    codes: list[str] = []
    texts: list[str] = []
    for coding in as_list(concept.get("coding")):
        if not isinstance(coding, Mapping):
            continue
        code, system = coding.get("code"), str(coding.get("system") or "")
        if isinstance(code, str) and code and (system == RXNORM or "rxnorm" in system.lower()):
            codes.append(code)
        display = coding.get("display")
        if isinstance(display, str) and display.strip():
            texts.append(display.strip())
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        texts.append(text.strip())
    return _unique(codes + texts)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _find_medication(
    reference: str, order: Mapping[str, Any], siblings: list[dict[str, Any]], fetch: ResourceFetcher | None
) -> Mapping[str, Any] | None:
    if reference.startswith("#"):
        for contained in as_list(order.get("contained")):
            if isinstance(contained, Mapping) and contained.get("id") == reference[1:]:
                return contained
        return None
    type_, _, rid = reference.rpartition("/")
    for resource in siblings:
        if resource.get("resourceType") == "Medication" and resource.get("id") == rid and type_.endswith("Medication"):
            return resource
    if fetch is not None and type_.endswith("Medication") and rid:
        return fetch(f"Medication/{rid}")
    return None


def medication_queries(
    order: Mapping[str, Any], siblings: list[dict[str, Any]], fetch: ResourceFetcher | None = None
) -> list[str]:
    """The names/codes by which ``order``'s drug may be looked up (best first)."""
    queries = _concept_queries(order.get("medicationCodeableConcept"))
    ref = order.get("medicationReference")
    if isinstance(ref, Mapping):
        reference = ref.get("reference")
        if isinstance(reference, str) and reference:
            medication = _find_medication(reference, order, siblings, fetch)
            if medication is not None:
                queries += _concept_queries(medication.get("code"))
        display = ref.get("display")
        if isinstance(display, str) and display.strip():
            queries.append(display.strip())
    return _unique(queries)


def draft_medications(
    context: Mapping[str, Any],
    *,
    use_selections: bool,
    extra_resources: list[dict[str, Any]] | None = None,
    fetch: ResourceFetcher | None = None,
) -> list[DraftMedication]:
    """The draft medication orders to check: the selected ones (order-select) or all (order-sign).

    Drafts naming another patient were already refused by ``_service.validate`` (``._consistency``).
    """
    resources = _entries(context.get("draftOrders"))
    selected: set[str] | None = None
    if use_selections:
        selections = context.get("selections")
        if not isinstance(selections, list) or not selections or not all(isinstance(s, str) for s in selections):
            raise BadHookRequest(
                "context.selections must be a non-empty array of references", location="context.selections"
            )
        present = {f"{r.get('resourceType')}/{r.get('id')}" for r in resources}
        for index, sel in enumerate(selections):
            if sel not in present:
                raise BadHookRequest(
                    f"selection {sel!r} is not in draftOrders", location=f"context.selections[{index}]"
                )
        selected = set(selections)
    siblings = resources + (extra_resources or [])
    out: list[DraftMedication] = []
    for resource in resources:
        rtype = str(resource.get("resourceType") or "")
        if rtype not in MED_ORDER_TYPES:
            continue
        rid = resource.get("id")
        rid = rid if isinstance(rid, str) and rid else None
        if selected is not None and f"{rtype}/{rid}" not in selected:
            continue
        out.append(
            DraftMedication(
                resource=resource, resource_type=rtype, id=rid, queries=medication_queries(resource, siblings, fetch)
            )
        )
    return out

"""The demo's CDS client: real HTTP CDS Hooks 2.0 calls (order-select, patient-view) with httpx.

Each draft order is a MedicationRequest coded with an RxNorm clinical drug, exactly as the CDS Hooks
sandbox's Rx View sends it (``../shared/data/rxnorm``); the service maps it to the ingredient. One
order-select call is made per (patient, drug) so every card belongs to one drug.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.codes import RXNORM, UCUM

from .errors import HookCallError, ServiceStartError

Card = dict[str, Any]


@dataclass(frozen=True)
class DraftDrug:
    """A drug the demo prescribes as a draft order (RxNorm clinical drug from the sandbox list)."""

    name: str
    rxcui: str
    display: str
    has_guidance: bool = True
    dose_mg: float = 0.0  # one structured dose, so a dose-change suggestion can rewrite it
    per_day: int = 1


DEMO_DRUGS: tuple[DraftDrug, ...] = (
    DraftDrug("clopidogrel", "309362", "clopidogrel 75 MG Oral Tablet", dose_mg=75),
    DraftDrug("simvastatin", "198211", "Simvastatin 40 MG Oral Tablet", dose_mg=40),
    DraftDrug("capecitabine", "200328", "capecitabine 500 MG Oral Tablet", dose_mg=1000, per_day=2),
    DraftDrug("azathioprine", "197388", "Azathioprine 50 MG Oral Tablet", dose_mg=100),
    DraftDrug("warfarin", "855332", "Warfarin Sodium 5 MG Oral Tablet", dose_mg=5),
    DraftDrug("amoxicillin", "308191", "Amoxicillin 500 MG Oral Capsule", has_guidance=False, dose_mg=500, per_day=3),
)


@dataclass
class HookResult:
    """One CDS Hooks call and the cards it returned."""

    patient_id: str
    hook: str
    service: str
    drug: DraftDrug | None
    cards: list[Card]
    status: int
    elapsed_ms: float
    system_actions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record for the report."""
        return {
            "patientId": self.patient_id,
            "hook": self.hook,
            "service": self.service,
            "drug": None if self.drug is None else {"name": self.drug.name, "rxnorm": self.drug.rxcui},
            "status": self.status,
            "elapsedMs": round(self.elapsed_ms, 1),
            "cards": self.cards,
        }


def draft_medication_request(patient_id: str, drug: DraftDrug) -> dict[str, Any]:
    """A draft MedicationRequest as an EHR puts it in ``context.draftOrders``."""
    return {
        "resourceType": "MedicationRequest",
        "id": f"draft-{drug.name}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": drug.rxcui, "display": drug.display}],
            "text": drug.display,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": drug.per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": drug.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}],
            }
        ],
    }


def order_select_request(patient_id: str, drug: DraftDrug, user: str = "Practitioner/twinrx-demo") -> dict[str, Any]:
    """An order-select request with one draft, selected."""
    draft = draft_medication_request(patient_id, drug)
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "order-select",
        "context": {
            "userId": user,
            "patientId": patient_id,
            "selections": [f"MedicationRequest/{draft['id']}"],
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]},
        },
    }


def patient_view_request(patient_id: str, user: str = "Practitioner/twinrx-demo") -> dict[str, Any]:
    """A patient-view request (chart opened)."""
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": user, "patientId": patient_id},
    }


class HookClient:
    """Discovers the services and calls them over HTTP; ``auth`` returns headers per service URL."""

    def __init__(self, base_url: str, auth: Callable[[str], dict[str, str]] | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._auth = auth
        self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
        self.services: dict[str, str] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def ready(self) -> bool:
        """True once ``/readyz`` answers 200 (the API is up and reaches Redis)."""
        try:
            return self._http.get(f"{self._base}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _headers(self, url: str) -> dict[str, str]:
        return self._auth(url) if self._auth else {}

    def discover(self) -> dict[str, str]:
        """hook name -> service id, from ``GET /cds-services`` (the first service per hook)."""
        url = f"{self._base}/cds-services"
        response = self._http.get(url, headers=self._headers(url))
        if response.status_code != 200:
            raise ServiceStartError(f"discovery answered {response.status_code}", location=f"{self._base}/cds-services")
        for service in response.json().get("services", []):
            self.services.setdefault(str(service["hook"]), str(service["id"]))
        return self.services

    def call(self, request: dict[str, Any], patient_id: str, drug: DraftDrug | None = None) -> HookResult:
        """POST one hook request; raises :class:`HookCallError` on a non-2xx answer."""
        hook = str(request["hook"])
        service = self.services.get(hook)
        if service is None:
            raise HookCallError(f"the API offers no {hook} service", location=f"{self._base}/cds-services")
        url = f"{self._base}/cds-services/{service}"
        headers = self._headers(url)
        started = time.perf_counter()
        response = self._http.post(url, json=request, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code >= 300:
            detail = response.text[:300].replace("\n", " ")
            raise HookCallError(f"{hook} for a demo patient answered {response.status_code}: {detail}", location=url)
        body = response.json()
        return HookResult(
            patient_id=patient_id,
            hook=hook,
            service=service,
            drug=drug,
            cards=list(body.get("cards", [])),
            status=response.status_code,
            elapsed_ms=elapsed,
            system_actions=list(body.get("systemActions", [])),
        )

    def run_patient(self, patient_id: str, drugs: Iterable[DraftDrug] = DEMO_DRUGS) -> list[HookResult]:
        """order-select for each drug, then patient-view, for one patient."""
        results = [self.call(order_select_request(patient_id, drug), patient_id, drug) for drug in drugs]
        if "patient-view" in self.services:
            results.append(self.call(patient_view_request(patient_id), patient_id))
        return results

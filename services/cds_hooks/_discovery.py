"""The CDS services twinrx offers, their prefetch templates and which data each one needs.

Templates use only CDS Hooks 2.0 tokens (root-level ``context.*`` fields marked "Prefetch Token: Yes"
and the ``user*Id`` tokens) and stay inside the spec's recommended query subset: instance reads,
type searches with reference, token (equality, comma = OR) and date parameters, ``_count``, ``_sort``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from ._models import DiscoveryResponse, ServiceDescription

_GENOMIC_CODES = "http://loinc.org|84413-4,http://loinc.org|81247-9,http://loinc.org|53040-2"

PREFETCH_TEMPLATES: Final[dict[str, str]] = {
    "patient": "Patient/{{context.patientId}}",
    "genomics": "Observation?patient={{context.patientId}}&code=" + _GENOMIC_CODES,
    "labs": "Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=200",
    "vitals": "Observation?patient={{context.patientId}}&category=vital-signs&_sort=-date&_count=200",
    "smoking": "Observation?patient={{context.patientId}}&code=http://loinc.org|72166-2&_sort=-date&_count=1",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "meds": "MedicationRequest?patient={{context.patientId}}&status=active",
}

TOKEN_RE: Final = re.compile(r"\{\{(.*?)\}\}")
VALID_TOKEN_RE: Final = re.compile(
    r"^(context\.[A-Za-z0-9_]+|user(Practitioner|PractitionerRole|Patient|RelatedPerson)Id)$"
)


@dataclass(frozen=True)
class ServiceSpec:
    """One CDS service: its id, hook, texts, prefetch keys and the keys it cannot decide without."""

    id: str
    hook: str
    title: str
    description: str
    prefetch_keys: tuple[str, ...]
    essential: frozenset[str] = field(default_factory=frozenset)
    usage: str | None = None

    @property
    def prefetch(self) -> dict[str, str]:
        return {key: PREFETCH_TEMPLATES[key] for key in self.prefetch_keys}


_PGX_USAGE = (
    "Give prefetch or a fhirAuthorization with read access to Patient and Observation; "
    "without either and without a stored twin the service answers 412."
)

SERVICES: Final[dict[str, ServiceSpec]] = {
    spec.id: spec
    for spec in (
        ServiceSpec(
            id="twinrx-pgx-order-select",
            hook="order-select",
            title="twinrx pharmacogenomics (order select)",
            description="Checks the selected medication orders against the patient's pharmacogenomic results "
            "(CPIC guidelines) and suggests an alternative or a dose change when the genotype calls for it.",
            prefetch_keys=("patient", "genomics"),
            essential=frozenset({"genomics"}),
            usage=_PGX_USAGE,
        ),
        ServiceSpec(
            id="twinrx-pgx-order-sign",
            hook="order-sign",
            title="twinrx pharmacogenomics (order sign)",
            description="Checks every draft medication order about to be signed against the patient's "
            "pharmacogenomic results (CPIC guidelines) before signature.",
            prefetch_keys=("patient", "genomics"),
            essential=frozenset({"genomics"}),
            usage=_PGX_USAGE,
        ),
        ServiceSpec(
            id="twinrx-twin-summary",
            hook="patient-view",
            title="twinrx digital twin summary",
            description="One card summarising the patient's actionable pharmacogenomic phenotypes, clinical risk "
            "estimates with their horizons, PhenoAge, and which changes would lower the risks most.",
            prefetch_keys=("patient", "genomics", "labs", "vitals", "smoking", "conditions", "meds"),
            essential=frozenset({"patient"}),
        ),
    )
}


def discovery() -> DiscoveryResponse:
    """The body of ``GET /cds-services``."""
    return DiscoveryResponse(
        services=[
            ServiceDescription(
                hook=spec.hook,
                id=spec.id,
                title=spec.title,
                description=spec.description,
                prefetch=spec.prefetch,
                usageRequirements=spec.usage,
            )
            for spec in SERVICES.values()
        ]
    )


def template_tokens(template: str) -> list[str]:
    """The tokens inside ``{{ }}`` of a prefetch template."""
    return TOKEN_RE.findall(template)

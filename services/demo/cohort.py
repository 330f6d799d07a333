"""The deterministic synthetic cohort: one FHIR R4 transaction Bundle per patient, written to a folder.

Every patient has a Patient, coded lab and vital Observations, a blood-pressure panel, smoking
status, problem-list Conditions, active MedicationRequests and genomic data: either a VCF over the
pgx knowledge base's positions (inline on a DocumentReference) or Genomics Reporting genotype
Observations grouped by a DiagnosticReport. The same ``(n_patients, seed)`` always writes the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from services.common.errors import InputFileError, ValidationFailure

from . import _fhir
from ._design import MIN_PATIENTS, PatientPlan, plan_cohort
from ._vcf import render_vcf

DEFAULT_PATIENTS = 60
DEFAULT_SEED = 20261101


@dataclass(frozen=True)
class Cohort:
    """A generated cohort: where its files are and what each patient was planted with."""

    directory: Path
    seed: int
    patients: list[PatientPlan]

    @property
    def patient_ids(self) -> list[str]:
        """FHIR ids of the patients, in cohort order."""
        return [plan.id for plan in self.patients]

    def manifest(self) -> dict[str, object]:
        """A JSON-ready summary of the design (ids, genomics form, planted diplotypes, showcases)."""
        return {
            "seed": self.seed,
            "patients": [
                {
                    "id": plan.id,
                    "genomics": plan.kind,
                    "showcase": plan.showcase.label if plan.showcase else None,
                    "diplotypes": {gene: "/".join(pair) for gene, pair in sorted(plan.diplotypes.items())},
                }
                for plan in self.patients
            ],
        }


def patient_resources(plan: PatientPlan) -> list[_fhir.Resource]:
    """Every resource of one planned patient, in a stable order."""
    resources: list[_fhir.Resource] = [_fhir.patient(plan)]
    resources += [_fhir.lab_observation(plan, lab) for lab in plan.clinical.labs]
    resources.append(_fhir.blood_pressure(plan))
    resources.append(_fhir.smoking_status(plan))
    resources += _fhir.conditions(plan)
    resources += _fhir.medication_requests(plan)
    if plan.kind == "vcf":
        resources.append(_fhir.vcf_document(plan, render_vcf(plan.id, plan.diplotypes)))
    else:
        genotypes = [_fhir.genotype_observation(plan, gene, pair) for gene, pair in sorted(plan.diplotypes.items())]
        resources += genotypes
        resources.append(_fhir.genomic_report(plan, genotypes))
    return resources


def generate_cohort(directory: Path, n_patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED) -> Cohort:
    """Write ``n_patients`` Bundles (``<patient id>.json``) into ``directory`` and return the cohort."""
    if n_patients < MIN_PATIENTS:
        raise ValidationFailure(f"--patients must be at least {MIN_PATIENTS} (one per showcase genotype)")
    plans = plan_cohort(n_patients, seed)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("twinrx-demo-*.json"):
            stale.unlink()
        for plan in plans:
            bundle = _fhir.transaction_bundle(patient_resources(plan))
            (directory / f"{plan.id}.json").write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    except OSError as exc:
        raise InputFileError(f"cannot write the cohort: {exc.strerror}", location=str(directory)) from exc
    return Cohort(directory=directory, seed=seed, patients=plans)

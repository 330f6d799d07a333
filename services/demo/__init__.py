"""The main job, end to end: a synthetic cohort (or a folder of FHIR data) through Redis, Celery
workers and the CDS Hooks API to prescribing cards, a terminal table and an HTML report."""

from __future__ import annotations

from .cohort import DEFAULT_PATIENTS, DEFAULT_SEED, Cohort, generate_cohort, patient_resources
from .errors import DemoError, HookCallError, IngestTimeout, ServiceStartError
from .runner import DemoOptions, DemoResult, run_demo

__all__ = [
    "DEFAULT_PATIENTS",
    "DEFAULT_SEED",
    "Cohort",
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "HookCallError",
    "IngestTimeout",
    "ServiceStartError",
    "generate_cohort",
    "patient_resources",
    "run_demo",
]

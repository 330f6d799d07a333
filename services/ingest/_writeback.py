"""Placeholder until the FHIR client lands."""

from __future__ import annotations

from services.common.errors import ConfigError

from ._runtime import Runtime


def write_back_patient(rt: Runtime, server: str, patient_id: str) -> dict[str, object]:
    """Not available yet."""
    raise ConfigError("not available yet")

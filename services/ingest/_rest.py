"""REST source (filled in with the FHIR client)."""

from __future__ import annotations

from collections.abc import Callable

from services.common.errors import ConfigError
from services.common.settings import Settings

from ._sources import PatientData


def rest_patient_loader(settings: Settings) -> Callable[[str, str], PatientData]:
    """A loader of one patient's resources over FHIR REST."""
    raise ConfigError("the REST source is not available yet")

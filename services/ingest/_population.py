"""Placeholder until the FHIR client lands."""

from __future__ import annotations

from typing import Any

from services.common.errors import ConfigError

from ._runtime import Runtime


def export_population(
    rt: Runtime, app: Any, server: str, *, since: str | None, types: list[str] | None, group: str | None
) -> dict[str, object]:
    """Not available yet."""
    raise ConfigError("not available yet")

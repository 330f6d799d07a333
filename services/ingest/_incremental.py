"""Placeholder until the FHIR client lands."""

from __future__ import annotations

from typing import Any

from services.common.errors import ConfigError

from ._runtime import Runtime


def incremental_sync(rt: Runtime, app: Any, server: str | None) -> dict[str, object]:
    """Not available yet."""
    raise ConfigError("not available yet")

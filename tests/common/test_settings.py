from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.common.settings import Settings


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINRX_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("TWINRX_CDS_TIME_BUDGET_MS", "900")
    settings = Settings()
    assert settings.redis_url == "redis://example:6379/0"
    assert settings.cds_time_budget_ms == 900


def test_secret_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINRX_FHIR_BEARER_TOKEN", "s3cret-token")
    settings = Settings()
    assert "s3cret-token" not in repr(settings)
    assert settings.fhir_bearer_token is not None
    assert settings.fhir_bearer_token.get_secret_value() == "s3cret-token"


def test_production_refuses_disabled_auth() -> None:
    with pytest.raises(ValidationError, match="CDS_AUTH_DISABLED cannot be true in production"):
        Settings(environment="production", cds_auth_disabled=True, redis_url="redis://x")


def test_production_requires_trusted_clients() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_CLIENTS_FILE"):
        Settings(environment="production", redis_url="redis://x")


def test_soft_limit_below_hard_limit() -> None:
    with pytest.raises(ValidationError, match="SOFT_TIME_LIMIT must be below"):
        Settings(task_soft_time_limit=300, task_time_limit=300)


def test_rejects_out_of_range_budget() -> None:
    with pytest.raises(ValidationError):
        Settings(cds_time_budget_ms=10)

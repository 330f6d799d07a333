"""One typed configuration for every twinrx process, read from ``TWINRX_*`` environment variables.

The API, the workers and the CLI share this class so that a deployment sets each value once
(ConfigMap for plain settings, Secret references for the ``SecretStr`` ones).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to ``TWINRX_<FIELD_NAME>`` in upper case."""

    model_config = SettingsConfigDict(env_prefix="TWINRX_", env_ignore_empty=True, extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Deployment stage; `production` refuses to start without CDS client trust."
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the broker, twin store and feedback stream; unset starts an embedded redis "
        "(demo and development only).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Emit JSON log lines (set false for a readable console).")

    # CDS Hooks service
    public_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="Externally visible base URL of the API; JWT `aud` is checked against it.",
    )
    cds_auth_disabled: bool = Field(
        False, description="Accept hook calls without a JWT. Development only; logged loudly at start."
    )
    cds_trusted_clients_file: Path | None = Field(
        None, description="JSON file listing trusted CDS clients: iss, JWKS (inline or file) and allowed jku."
    )
    cds_allowed_tenants: list[str] = Field(
        default_factory=list, description="When set, the JWT `tenant` claim must be one of these."
    )
    cds_clock_skew_seconds: int = Field(60, ge=0, le=600, description="Allowed clock skew for JWT exp/iat.")
    cds_time_budget_ms: int = Field(
        1500, ge=50, le=30000, description="Time budget for fetching missing prefetch data in a hook call."
    )
    cds_testing_card_window_hours: int = Field(
        24, ge=0, description="Do not repeat a 'genotype unknown, consider testing' card within this window."
    )
    cds_cors_origins: list[str] = Field(
        default_factory=lambda: ["https://sandbox.cds-hooks.org"],
        description="Browser origins allowed by CORS.",
    )
    cds_max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest accepted request body.")
    twin_stale_after_hours: int = Field(
        24, ge=1, description="A twin older than this is rebuilt from prefetch and a sync is enqueued."
    )
    cds_default_server: str = Field(
        "local:demo",
        description="Twin-store server key for hook calls without `fhirServer` (the demo ingests under 'local:demo').",
    )
    cds_jwks_cache_seconds: int = Field(
        300, ge=0, description="How long a JWKS fetched from an allow-listed jku is kept."
    )
    cds_feedback_stream_maxlen: int = Field(
        1_000_000, ge=1000, description="Approximate cap on entries of the CDS feedback Redis stream."
    )
    cds_card_ttl_days: int = Field(30, ge=1, description="How long card uuids are remembered to enrich feedback.")
    cds_allowed_fhir_servers: list[str] = Field(
        default_factory=list,
        description="When set, a hook's `fhirServer` must start with one of these URLs (else 400): the service "
        "only fetches prefetch data from, and sends tokens to, known EHRs.",
    )

    # Ingest
    fhir_base_url: str | None = Field(
        None,
        description="Default EHR FHIR server base URL for ingest. With `TWINRX_INGEST_SERVERS`, the only servers "
        "the worker sends its credentials to, and the only `fhirServer`s hook calls enqueue background syncs for.",
    )
    fhir_bearer_token: SecretStr | None = Field(
        None, description="Static bearer token (development); sent only to the configured FHIR servers."
    )
    smart_client_id: str | None = Field(None, description="SMART Backend Services client id.")
    smart_private_key_file: Path | None = Field(
        None, description="PEM private key (RS384 or ES384) for SMART Backend Services."
    )
    smart_private_key: SecretStr | None = Field(None, description="PEM private key given inline.")
    smart_key_id: str | None = Field(None, description="`kid` of the SMART signing key.")
    smart_scope: str = Field(
        "system/Patient.rs system/Observation.rs system/Condition.rs system/MedicationRequest.rs "
        "system/DocumentReference.rs system/DiagnosticReport.rs",
        description="Scopes requested with SMART Backend Services.",
    )
    fhir_timeout_seconds: float = Field(30.0, gt=0, description="Connect/read timeout for FHIR calls.")
    fhir_page_cap: int = Field(1000, ge=1, description="Most search pages followed for one query.")
    vcf_allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts (besides the FHIR server) VCF attachments may be fetched from."
    )
    write_back: bool = Field(False, description="Write genotype/implication/risk resources back to the EHR.")
    sync_overlap_minutes: int = Field(10, ge=0, description="Overlap window for incremental `_lastUpdated` sync.")
    sync_interval_minutes: int = Field(15, ge=1, description="Beat schedule of the incremental sync.")
    ingest_work_dir: Path | None = Field(
        None, description="Folder for extracted VCFs and export spool files (default: a folder under the temp dir)."
    )
    ingest_servers: list[str] = Field(
        default_factory=list,
        description="FHIR base URLs synced incrementally by beat (default: fhir_base_url); the worker's credentials "
        "are sent to these and `TWINRX_FHIR_BASE_URL` only.",
    )
    ingest_chunk_patients: int = Field(100, ge=1, description="Patients per task when a population is fanned out.")
    worker_heartbeat_file: Path = Field(
        Path("/tmp/twinrx-worker-heartbeat"),
        description="File the ingest worker touches from its event loop (liveness/readiness probes read its age).",
    )
    beat_heartbeat_file: Path = Field(
        Path("/tmp/twinrx-beat-heartbeat"), description="File Celery beat touches on every scheduler tick."
    )
    heartbeat_interval_seconds: int = Field(20, ge=1, le=300, description="Seconds between heartbeat touches.")

    # Celery
    task_soft_time_limit: int = Field(240, ge=1, description="Soft time limit of a task, seconds.")
    task_time_limit: int = Field(300, ge=1, description="Hard time limit of a task, seconds.")
    task_max_retries: int = Field(5, ge=0, description="Retries for transient errors.")

    risk_result_max_age_days: int = Field(
        365, ge=1, description="Risk inputs older than this are flagged as stale on results."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @model_validator(mode="after")
    def _production_needs_trust(self) -> Settings:
        if self.environment == "production":
            if self.cds_auth_disabled:
                raise ValueError("TWINRX_CDS_AUTH_DISABLED cannot be true in production")
            if self.cds_trusted_clients_file is None:
                raise ValueError("production needs TWINRX_CDS_TRUSTED_CLIENTS_FILE (trusted CDS clients)")
            if self.redis_url is None:
                raise ValueError("production needs TWINRX_REDIS_URL")
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("TWINRX_TASK_SOFT_TIME_LIMIT must be below TWINRX_TASK_TIME_LIMIT")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

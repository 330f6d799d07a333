"""FHIR Bulk Data ``$export`` (system, Patient or Group level) on top of :class:`FhirClient`.

Kick-off sends ``Accept: application/fhir+json`` and ``Prefer: respond-async`` and expects 202 with
``Content-Location``. Polling honours ``Retry-After`` (and backs off without it) until 200 and a
manifest; an error status with a *transient* OperationOutcome is polled again. Output files are
streamed line by line; ``error`` files are read and reported; ``transactionTime`` is the next run's
``_since``. :meth:`BulkExport.cancel` sends DELETE to the status URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from services.common.errors import TransientUpstreamError
from services.common.logging import get_logger

from ._client import FhirClient, outcome_text
from ._retry import parse_retry_after
from .errors import BulkExportError, FhirHttpError, FhirProtocolError

log = get_logger(__name__)

Level = Literal["system", "patient", "group"]


@dataclass(frozen=True)
class ExportFile:
    """One manifest entry."""

    type: str
    url: str
    count: int | None = None


@dataclass
class Manifest:
    """A completed export's manifest."""

    transaction_time: str
    request: str
    requires_access_token: bool
    output: list[ExportFile] = field(default_factory=list)
    error: list[ExportFile] = field(default_factory=list)
    deleted: list[ExportFile] = field(default_factory=list)


def _files(raw: object) -> list[ExportFile]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise FhirProtocolError("manifest file list is not an array")
    files: list[ExportFile] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise FhirProtocolError("manifest file entry without a url")
        count = item.get("count")
        files.append(ExportFile(str(item.get("type", "")), item["url"], count if isinstance(count, int) else None))
    return files


def parse_manifest(body: dict[str, Any]) -> Manifest:
    """A Manifest from the complete-status JSON body."""
    transaction_time = body.get("transactionTime")
    if not isinstance(transaction_time, str) or not transaction_time:
        raise FhirProtocolError("export manifest has no transactionTime")
    return Manifest(
        transaction_time=transaction_time,
        request=str(body.get("request", "")),
        requires_access_token=bool(body.get("requiresAccessToken", False)),
        output=_files(body.get("output")),
        error=_files(body.get("error")),
        deleted=_files(body.get("deleted")),
    )


class BulkExport:
    """One server's Bulk Data export operations."""

    def __init__(self, client: FhirClient, *, max_wait_seconds: float = 3600.0, poll_seconds: float = 2.0) -> None:
        self.client = client
        self.max_wait_seconds = max_wait_seconds
        self.poll_seconds = poll_seconds

    def kickoff(
        self,
        *,
        level: Level = "system",
        group_id: str | None = None,
        since: str | None = None,
        types: list[str] | None = None,
        type_filters: list[str] | None = None,
    ) -> str:
        """Start an export; returns the status URL."""
        if level == "group" and not group_id:
            raise BulkExportError("a Group export needs a group id")
        path = {"system": "$export", "patient": "Patient/$export", "group": f"Group/{group_id}/$export"}[level]
        params: list[tuple[str, str]] = []
        if since:
            params.append(("_since", since))
        if types:
            params.append(("_type", ",".join(types)))
        params.extend(("_typeFilter", f) for f in type_filters or [])
        response = self.client.request(
            "GET",
            path,
            params=params or None,
            headers={"Accept": "application/fhir+json", "Prefer": "respond-async"},
            ok=frozenset({202}),
        )
        location = response.headers.get("Content-Location")
        if not location:
            raise FhirProtocolError("export kick-off answered 202 without Content-Location")
        log.info("bulk_kickoff", level=level)
        return str(location)

    def poll(self, status_url: str) -> Manifest:
        """Poll until the export completes; returns its manifest (raises on error or when the wait runs out)."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(
                    "GET", status_url, headers={"Accept": "application/json"}, ok=frozenset({200, 202})
                )
            except FhirHttpError as exc:
                raise BulkExportError(f"export failed: {exc.message}", status=exc.status) from exc
            except TransientUpstreamError:
                if time.monotonic() - started > self.max_wait_seconds:
                    raise
                continue
            if response.status_code == 200:
                return parse_manifest(self.client.json(response))
            progress = response.headers.get("X-Progress")
            hint = parse_retry_after(response.headers.get("Retry-After"))
            delay = hint if hint is not None else min(60.0, self.poll_seconds * 1.5 ** min(attempt, 10))
            if time.monotonic() - started + delay > self.max_wait_seconds:
                raise TransientUpstreamError("export still in progress after the wait budget")
            log.info("bulk_in_progress", progress=progress[:40] if progress else None, wait=round(delay, 2))
            self.client.wait(delay)

    def cancel(self, status_url: str) -> None:
        """Cancel (DELETE) an export in progress or delete a finished one's files."""
        self.client.request("DELETE", status_url, ok=frozenset({200, 202, 204}))

    def lines(self, manifest: Manifest, file: ExportFile) -> Iterator[bytes]:
        """Raw NDJSON lines of one output file, streamed (bearer token only if the manifest requires it)."""
        authorise = manifest.requires_access_token and self.client.same_server(file.url)
        yield from self.client.stream_lines(file.url, authorise=authorise)

    def error_messages(self, manifest: Manifest) -> list[str]:
        """Diagnostics of the OperationOutcomes in the manifest's error files."""
        messages: list[str] = []
        for file in manifest.error:
            for line in self.lines(manifest, file):
                try:
                    outcome = orjson.loads(line)
                except orjson.JSONDecodeError:
                    messages.append("unreadable error line")
                    continue
                for issue in outcome.get("issue", []) if isinstance(outcome, dict) else []:
                    text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
                    messages.append(str(text or issue.get("code") or "error"))
        return messages

    def run(self, **kickoff: Any) -> tuple[str, Manifest]:
        """Kick off and poll; on any failure while polling, cancel the export before re-raising."""
        status_url = self.kickoff(**kickoff)
        try:
            return status_url, self.poll(status_url)
        except BaseException:
            try:
                self.cancel(status_url)
            except Exception as exc:  # the original error matters more than a failed cancel
                log.warning("bulk_cancel_failed", error=exc.__class__.__name__)
            raise


__all__ = ["BulkExport", "ExportFile", "Manifest", "outcome_text", "parse_manifest"]

"""Prefetch: what the client sent, and fetching what it did not, within the hook's time budget.

Rules (CDS Hooks 2.0.1 section "Prefetch"):

* key **absent** -> the client chose not to or could not fetch; we query ``fhirServer`` ourselves with
  the request's ``fhirAuthorization`` (never without it), within ``Settings.cds_time_budget_ms``;
* key with value ``null`` -> the client knows there is no data: "empty", never re-fetched;
* key whose value is an ``OperationOutcome`` -> the client's fetch failed: treated like an absent key;
* any other value that is not a FHIR resource (a string, an object without ``resourceType``), or a
  resource naming another patient than ``context.patientId`` -> 400 naming the key (``._consistency``);
* resources we fetched that name another patient are dropped; a key left empty by that is unavailable;
* a ``searchset`` with a ``next`` link is followed only with a token and inside the budget.

The access token is used for this request only: never logged, cached or stored.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from services.common.logging import get_logger

from ._consistency import context_patient, own_resources
from ._discovery import TOKEN_RE, ServiceSpec
from ._egress import fhir_server_refusal
from ._models import HookRequest
from ._orders import as_list

log = get_logger(__name__)

KeyState = Literal["ok", "empty", "unavailable"]
_MAX_PAGES = 5
_USER_TOKENS = {
    "Practitioner": "userPractitionerId",
    "PractitionerRole": "userPractitionerRoleId",
    "Patient": "userPatientId",
    "RelatedPerson": "userRelatedPersonId",
}
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cds-prefetch")


@dataclass
class Prefetched:
    """Resources per prefetch key, and whether each key is known, known-empty or unavailable."""

    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    state: dict[str, KeyState] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    def all_resources(self) -> list[dict[str, Any]]:
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        for items in self.resources.values():
            for res in items:
                key = (str(res.get("resourceType")), str(res.get("id")))
                if res.get("id") is not None and key in seen:
                    continue
                seen.add(key)
                out.append(res)
        return out

    def unavailable(self, keys: frozenset[str]) -> list[str]:
        return sorted(k for k in keys if self.state.get(k, "unavailable") == "unavailable")


def render(template: str, request: HookRequest) -> str | None:
    """The template with its tokens filled from context/user, or None if a token has no value."""
    values: dict[str, str] = {}
    for key, value in request.context.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            values[f"context.{key}"] = str(value)
    user = request.context.get("userId")
    if isinstance(user, str) and "/" in user:
        rtype, _, rid = user.partition("/")
        if rtype in _USER_TOKENS and rid:
            values[_USER_TOKENS[rtype]] = rid
    missing = False

    def _fill(match: Any) -> str:
        nonlocal missing
        token = match.group(1).strip()
        if token not in values:
            missing = True
            return ""
        return values[token]

    out = TOKEN_RE.sub(_fill, template)
    return None if missing else out


def _is_outcome(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a search Bundle, without OperationOutcome entries."""
    out: list[dict[str, Any]] = []
    for entry in as_list(bundle.get("entry")):
        if not isinstance(entry, Mapping):
            continue
        res = entry.get("resource")
        search = entry.get("search")
        if isinstance(search, Mapping) and search.get("mode") == "outcome":
            continue
        if isinstance(res, Mapping) and isinstance(res.get("resourceType"), str) and not _is_outcome(res):
            out.append(dict(res))
    return out


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in as_list(bundle.get("link")):
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


class FhirFetcher:
    """GETs against the hook's ``fhirServer`` with its token, bounded by one deadline."""

    def __init__(self, client: httpx.Client, request: HookRequest, deadline: float) -> None:
        self._client = client
        self._base = (request.fhirServer or "").rstrip("/")
        auth = request.fhirAuthorization
        self._headers = {"Accept": "application/fhir+json"}
        if auth is not None:
            self._headers["Authorization"] = f"Bearer {auth.access_token}"
        self.enabled = bool(self._base) and auth is not None
        if self.enabled and (why := fhir_server_refusal(self._base)) is not None:
            log.warning("fhir_server_refused", reason=why)  # never send the token there (SSRF)
            self.enabled = False
        self._deadline = deadline

    def _remaining(self) -> float:
        return self._deadline - time.monotonic()

    def get(self, url: str) -> Mapping[str, Any] | None:
        """The JSON body of a GET (absolute or relative URL), or None on any failure or timeout."""
        remaining = self._remaining()
        if not self.enabled or remaining <= 0.005:
            return None
        full = url if url.startswith(("http://", "https://")) else f"{self._base}/{url.lstrip('/')}"
        if not full.startswith(self._base + "/"):
            return None  # never send the token to another host (a crafted `next` link)
        try:
            resp = self._client.get(full, headers=self._headers, timeout=remaining)
        except httpx.HTTPError as exc:
            log.warning("prefetch_fetch_failed", error=exc.__class__.__name__)
            return None
        if resp.status_code != 200:
            log.warning("prefetch_fetch_status", status=resp.status_code)
            return None
        try:
            body = resp.json()
        except ValueError:
            return None
        return body if isinstance(body, Mapping) else None

    def resource(self, reference: str) -> Mapping[str, Any] | None:
        body = self.get(reference)
        return None if body is None or _is_outcome(body) else body

    def query(self, url: str) -> tuple[KeyState, list[dict[str, Any]]]:
        """Run a read or search; follow ``next`` pages within the budget."""
        body = self.get(url)
        if body is None or _is_outcome(body):
            return "unavailable", []
        return _collect(body, self)


def _collect(value: Mapping[str, Any], fetcher: FhirFetcher | None) -> tuple[KeyState, list[dict[str, Any]]]:
    if value.get("resourceType") != "Bundle":
        return "ok", [dict(value)]
    resources = bundle_resources(value)
    pages = 1
    next_url = _next_link(value)
    while next_url and fetcher is not None and fetcher.enabled and pages < _MAX_PAGES:
        page = fetcher.get(next_url)
        if page is None or page.get("resourceType") != "Bundle":
            break
        resources += bundle_resources(page)
        next_url = _next_link(page)
        pages += 1
    return "ok", resources


def _own(key: str, state: KeyState, resources: list[dict[str, Any]], patient_id: str) -> tuple[KeyState, list[Any]]:
    """Only the context patient's resources; a key whose every resource was someone else's is unavailable."""
    kept, dropped = own_resources(key, resources, patient_id)
    return ("unavailable" if dropped and not kept else state), kept


def resolve_prefetch(spec: ServiceSpec, request: HookRequest, fetcher: FhirFetcher) -> Prefetched:
    """Resources for each of ``spec``'s prefetch keys, from the request or fetched by us.

    Sent values were checked by ``_service.validate`` (``._consistency.check_request``): malformed ones
    and ones naming another patient never get here.
    """
    patient_id = context_patient(request)
    result = Prefetched()
    sent = request.prefetch or {}
    to_fetch: dict[str, str] = {}
    for key in spec.prefetch_keys:
        if key in sent:
            value = sent[key]
            if value is None:
                result.state[key], result.resources[key] = "empty", []
                continue
            if isinstance(value, Mapping) and isinstance(value.get("resourceType"), str) and not _is_outcome(value):
                # Later pages of a sent searchset come from the FHIR server: filtered like fetched data.
                result.state[key], result.resources[key] = _own(key, *_collect(value, fetcher), patient_id)
                continue
        url = render(spec.prefetch[key], request)
        if url is None or not fetcher.enabled:
            result.state[key] = "unavailable"
            continue
        to_fetch[key] = url
    if to_fetch:
        futures = {key: _executor.submit(fetcher.query, url) for key, url in to_fetch.items()}
        for key, future in futures.items():
            state, resources = _own(key, *future.result(), patient_id)
            result.state[key], result.resources[key] = state, resources
            if state == "ok":
                result.fetched.append(key)
    return result

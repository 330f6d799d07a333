"""A small FHIR R4 REST client on httpx and orjson: retries, auth, search paging, transactions, downloads.

- Every request has connect/read timeouts. Connection errors, timeouts, 429 and 502-504 are retried
  with the :class:`RetryPolicy` (``Retry-After`` honoured); other 4xx are raised at once as
  :class:`FhirHttpError` with the server's OperationOutcome text.
- A 401 drops the cached token and the request is retried once with a new one (also mid-paging and
  mid-export); a second 401 is a :class:`FhirAuthError`.
- Search follows ``Bundle.link[next]`` as an opaque URL with a visited set (a loop ends the search)
  and a page cap (exceeding it is an error: the data would be incomplete); resources are
  de-duplicated by type/id/versionId.
- Error messages name the method and resource type only, never ids or query strings (PHI).
- ``read``/``search`` refuse a resource id or type outside the FHIR grammar (:class:`InvalidFhirId`):
  they go into the URL path, where ``..``, ``/``, ``#`` or an empty id would change the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from services.common.errors import TransientUpstreamError
from services.common.logging import get_logger

from ._auth import Auth, NoAuth
from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from .errors import FhirAuthError, FhirHttpError, FhirNotFound, FhirProtocolError
from .ids import require_fhir_id, require_resource_type

log = get_logger(__name__)

FHIR_JSON = "application/fhir+json"
Params = dict[str, str] | list[tuple[str, str]] | None


@dataclass
class ClientStats:
    """Counters for operators and tests."""

    requests: int = 0
    retries: int = 0
    reauthentications: int = 0
    pages: int = 0
    loops: int = 0
    duplicates: int = 0
    outcomes: list[str] = field(default_factory=list)


def outcome_text_of(body: object) -> str:
    """The diagnostics / details texts of an OperationOutcome, joined ("" for anything else)."""
    texts: list[str] = []
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue", []) or []:
            if not isinstance(issue, dict):
                continue
            details = issue.get("details")
            text = issue.get("diagnostics") or (details.get("text") if isinstance(details, dict) else None)
            if isinstance(text, str) and text:
                texts.append(text)
    return "; ".join(texts)


def outcome_text(response: httpx.Response) -> str:
    """The diagnostics / details text of an OperationOutcome body, or a short fallback."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.reason_phrase or "no OperationOutcome"
    return outcome_text_of(body) or response.reason_phrase or "no OperationOutcome"


def _what(method: str, url: str) -> str:
    """``GET Observation``: the method and the first path segment after the base (no ids, no query)."""
    path = urlsplit(url).path.rstrip("/").split("/")
    names = [p for p in path if p and (p[0].isupper() or p.startswith("$"))]
    return f"{method} {names[0] if names else (path[-1] if path else '')}"


class FhirClient:
    """FHIR REST client for one server base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: float = 30.0,
        page_cap: int = 1000,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth: Auth = auth or NoAuth()
        self.page_cap = page_cap
        self.policy = policy or RetryPolicy()
        self.stats = ClientStats()
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": FHIR_JSON, "User-Agent": "twinrx-ingest"},
        )

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections."""
        self._http.close()

    @property
    def http(self) -> httpx.Client:
        """The underlying httpx client (token requests share its connections and timeouts)."""
        return self._http

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def same_server(self, url: str) -> bool:
        """True if ``url`` is on this FHIR server (scheme, host and port)."""
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def wait(self, seconds: float) -> None:
        """Sleep (injectable for tests that record the waits)."""
        self._sleep(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        authorise: bool = True,
        stream: bool = False,
        ok: frozenset[int] = frozenset({200, 201}),
    ) -> httpx.Response:
        """Send with retries and one re-authentication; returns a response whose status is in ``ok``."""
        url = self.url(path)
        waited = 0.0
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            send_headers = dict(headers or {})
            if authorise:
                send_headers.update(self.auth.headers(self._http))
            query = (
                httpx.QueryParams(list(params.items()) if isinstance(params, dict) else list(params))
                if params
                else None
            )
            request = self._http.build_request(method, url, params=query, headers=send_headers, content=content)
            self.stats.requests += 1
            retry_after: float | None = None
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                reason = exc.__class__.__name__
            else:
                if response.status_code in ok:
                    return response
                if stream:
                    response.read()
                if response.status_code == 401 and authorise and not reauthenticated:
                    self.auth.invalidate()
                    reauthenticated = True
                    self.stats.reauthentications += 1
                    attempt -= 1
                    continue
                if response.status_code == 401:
                    raise FhirAuthError(f"{_what(method, url)}: still unauthorised after re-authenticating", status=401)
                if response.status_code not in RETRY_STATUSES:
                    raise self._error(method, url, response)
                reason = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self.policy.attempts:
                raise TransientUpstreamError(f"{_what(method, url)}: gave up after {attempt} attempts ({reason})")
            delay = self.policy.wait(attempt, retry_after)
            if waited + delay > self.policy.max_total_seconds:
                raise TransientUpstreamError(f"{_what(method, url)}: retry budget spent ({reason})")
            self.stats.retries += 1
            log.info("fhir_retry", request=_what(method, url), reason=reason, wait=round(delay, 2))
            self._sleep(delay)
            waited += delay

    def _error(self, method: str, url: str, response: httpx.Response) -> FhirHttpError:
        text = outcome_text(response)
        message = f"{_what(method, url)} answered HTTP {response.status_code}: {text}"
        if response.status_code in (404, 410):
            return FhirNotFound(message, status=response.status_code)
        return FhirHttpError(message, status=response.status_code)

    def json(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object body of a response."""
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FhirProtocolError(
                f"{_what(response.request.method, str(response.request.url))}: body is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise FhirProtocolError("response body is not a JSON object")
        return body

    def get(self, path: str, params: Params = None) -> dict[str, Any]:
        """GET a JSON resource."""
        return self.json(self.request("GET", path, params=params))

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """Read one resource; an id or type that is not FHIR's is refused before any request (it is a path)."""
        return self.get(f"{require_resource_type(resource_type)}/{require_fhir_id(resource_id)}")

    def pages(self, path: str, params: Params = None) -> Iterator[dict[str, Any]]:
        """Search result Bundles, following ``next`` links (visited set, page cap)."""
        url: str | None = self.url(path)
        first = True
        visited: set[str] = set()
        count = 0
        while url is not None:
            key = f"{url}?{urlencode(params or [])}" if first else url
            if key in visited:
                self.stats.loops += 1
                log.warning("fhir_paging_loop", request=_what("GET", url), pages=count)
                return
            visited.add(key)
            if count >= self.page_cap:
                raise FhirProtocolError(f"{_what('GET', url)}: more than {self.page_cap} pages")
            bundle = self.get(url, params if first else None)
            first = False
            count += 1
            self.stats.pages += 1
            yield bundle
            url = next_link(bundle)

    def search(self, resource_type: str, params: Params = None) -> Iterator[dict[str, Any]]:
        """Resources of a search (match and include entries), de-duplicated by type/id/versionId."""
        seen: set[tuple[str, str, str]] = set()
        for bundle in self.pages(require_resource_type(resource_type), params):
            for entry in bundle.get("entry", []) or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    continue
                search = entry.get("search")
                if isinstance(search, dict) and search.get("mode") == "outcome":
                    self.stats.outcomes.append(outcome_text_of(resource))
                    continue
                meta = resource.get("meta")
                version = meta.get("versionId", "") if isinstance(meta, dict) else ""
                key = (str(resource.get("resourceType")), str(resource.get("id")), str(version))
                if key in seen:
                    self.stats.duplicates += 1
                    continue
                seen.add(key)
                yield resource

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction (or batch) Bundle to the base; returns the response Bundle."""
        response = self.request(
            "POST", self.base_url, content=orjson.dumps(bundle), headers={"Content-Type": FHIR_JSON}
        )
        return self.json(response)

    def fetch_bytes(self, url: str, *, authorise: bool = True, accept: str = "*/*") -> bytes:
        """Download a small body (attachments)."""
        return self.request("GET", url, headers={"Accept": accept}, authorise=authorise).content

    def stream_lines(
        self, url: str, *, authorise: bool = True, accept: str = "application/fhir+ndjson"
    ) -> Iterator[bytes]:
        """Lines of a (possibly huge) NDJSON body, streamed; never the whole body in memory.

        A redirect to another host is followed without the Authorization header.
        """
        response = self.request(
            "GET",
            url,
            headers={"Accept": accept},
            authorise=authorise,
            stream=True,
            ok=frozenset({200, 301, 302, 303, 307, 308}),
        )
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            target = str(response.request.url.join(location))
            yield from self.stream_lines(target, authorise=authorise and self.same_server(target), accept=accept)
            return
        try:
            yield from split_lines(response.iter_bytes())
        except httpx.TransportError as exc:
            raise TransientUpstreamError(
                f"{_what('GET', url)}: download interrupted ({exc.__class__.__name__})"
            ) from exc
        finally:
            response.close()


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Complete lines from a byte stream (the last line may lack a newline)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def next_link(bundle: dict[str, Any]) -> str | None:
    """``Bundle.link[relation=next].url``."""
    for link in bundle.get("link", []) or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None

"""FhirClient against the fault-injecting test server (real HTTP): paging, retries, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from services.common.errors import TransientUpstreamError
from services.common.fhir import FhirClient, FhirHttpError, FhirNotFound, FhirProtocolError, RetryPolicy
from services.ingest import scan_directory
from tests.fhir_server.server import FhirTestServer, running

ALBERTO = "4e8ed886-fd5f-40bb-8feb-f339b04d853a"


@pytest.fixture
def server(shared_data: Path) -> Iterator[FhirTestServer]:
    with running(page_size=10) as srv:
        srv.store.load(scan_directory(shared_data / "fhir" / "synthea")[ALBERTO])
        yield srv


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(server: FhirTestServer, waits: list[float]) -> Iterator[FhirClient]:
    with FhirClient(server.base, timeout=10, sleep=waits.append, policy=RetryPolicy(attempts=5)) as c:
        yield c


def test_search_follows_next_links(client: FhirClient, server: FhirTestServer) -> None:
    found = list(client.search("Observation", {"patient": ALBERTO}))
    assert len(found) == 35
    assert len({r["id"] for r in found}) == 35
    assert client.stats.pages == 4
    # next links are followed as given: the pages are the server's opaque URLs, requested without parameters.
    pages = server.requests("/_page/")
    assert [p.path.rsplit("/", 1)[1] for p in pages] == ["1", "2", "3"]
    assert all(p.query == {} for p in pages)


def test_429_honours_retry_after_seconds(client: FhirClient, server: FhirTestServer, waits: list[float]) -> None:
    server.faults.rate_limited = 2
    server.faults.retry_after = "3"
    patient = client.read("Patient", ALBERTO)
    assert patient["gender"] == "male"
    assert len(waits) == 2
    assert all(3.0 <= w <= 3.5 for w in waits)
    assert [e.status for e in server.requests("/Patient/")] == [429, 429, 200]


def test_503_honours_retry_after_http_date(client: FhirClient, server: FhirTestServer, waits: list[float]) -> None:
    server.faults.unavailable = 1
    server.faults.retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    client.read("Patient", ALBERTO)
    assert len(waits) == 1
    assert 17.0 <= waits[0] <= 20.5


def test_503_burst_backs_off_exponentially_with_jitter(
    client: FhirClient, server: FhirTestServer, waits: list[float]
) -> None:
    server.faults.unavailable = 3
    server.faults.retry_after = None
    client.read("Patient", ALBERTO)
    assert len(waits) == 3
    for attempt, wait in enumerate(waits, start=1):
        step = 0.5 * 2 ** (attempt - 1)
        assert step / 2 <= wait <= step


def test_a_longer_burst_gives_up_as_transient(client: FhirClient, server: FhirTestServer, waits: list[float]) -> None:
    server.faults.unavailable = 10
    with pytest.raises(TransientUpstreamError, match="GET Patient: gave up after 5 attempts \\(HTTP 503\\)"):
        client.read("Patient", ALBERTO)
    assert len(waits) == 4


def test_4xx_is_not_retried_and_carries_the_operation_outcome(client: FhirClient, server: FhirTestServer) -> None:
    with pytest.raises(FhirHttpError) as caught:
        list(client.search("Observation", {"colour": "blue"}))
    assert caught.value.status == 400
    assert caught.value.message == "GET Observation answered HTTP 400: Unknown search parameter 'colour'"
    assert len(server.requests("/Observation")) == 1
    with pytest.raises(FhirNotFound) as missing:
        client.read("Patient", "no-such-patient")
    assert "no-such-patient" not in str(missing.value)  # ids stay out of messages
    assert str(missing.value) == "GET Patient answered HTTP 404: Patient not found"


def test_a_looping_next_link_ends_the_search(client: FhirClient, server: FhirTestServer) -> None:
    server.faults.loop_next = True
    found = list(client.search("Observation", {"patient": ALBERTO}))
    assert len(found) == 35
    # The last page points back at the first page's own URL: it is read once more (its entries are
    # dropped as duplicates), then the repeat of page two ends the search.
    assert client.stats.loops == 1
    assert client.stats.pages == 5
    assert client.stats.duplicates == 10


def test_page_cap(server: FhirTestServer) -> None:
    with FhirClient(server.base, page_cap=2) as capped, pytest.raises(FhirProtocolError, match="more than 2 pages"):
        list(capped.search("Observation", {"patient": ALBERTO}))


def test_duplicates_across_shifting_pages_are_dropped(client: FhirClient, server: FhirTestServer) -> None:
    pages = iter(client.pages("Observation", {"patient": ALBERTO}))
    first = next(pages)
    # A resource changes while we page: the server re-sorts and the next page shifts.
    moved = first["entry"][0]["resource"]
    server.store.put(moved)
    found = list(client.search("Observation", {"patient": ALBERTO}))
    assert len(found) == 35


def test_a_bundle_of_50000_entries(server: FhirTestServer) -> None:
    server.store.load(
        {
            "resourceType": "Observation",
            "id": f"big-{i}",
            "status": "final",
            "subject": {"reference": "Patient/big"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 100 + i % 50, "code": "mm[Hg]"},
        }
        for i in range(50_000)
    )
    with FhirClient(server.base, timeout=60) as c:
        found = list(c.search("Observation", {"patient": "big", "_count": "50000"}))
    assert len(found) == 50_000
    assert c.stats.pages == 1
    assert found[-1]["id"] == "big-49999"


def test_connection_refused_is_transient(waits: list[float]) -> None:
    policy = RetryPolicy(attempts=3)
    with (
        FhirClient("http://127.0.0.1:9/fhir", sleep=waits.append, policy=policy) as c,
        pytest.raises(TransientUpstreamError, match="ConnectError"),
    ):
        c.read("Patient", "x")
    assert len(waits) == 2

"""Feedback: validated, stored once in the Redis stream, joined with the card, counted, listed by the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.cds_hooks import FEEDBACK_STREAM
from services.cds_hooks._feedback import parse_timestamp
from services.cds_hooks.cli import feedback_app
from services.common.settings import get_settings
from services.common.twin import Twin

from .conftest import gene
from .test_cards import cards_of, hook, med

FEEDBACK = "/cds-services/twinrx-pgx-order-select/feedback"


def _stream(rclient: redis.Redis[bytes]) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in raw.items()} for _, raw in rclient.xrange(FEEDBACK_STREAM)]


def _card(dev_client: TestClient, seed: Callable[..., Twin]) -> dict[str, Any]:
    seed("local:demo", "fb1", gene("CYP2C19", "*2/*2", "Poor Metabolizer"))
    body = hook("order-select", "fb1", med("m1", code="213169"))
    body["hookInstance"] = "3c1f6f5e-2b47-4e39-9d0e-7f3c2a1b9d10"
    (card,) = cards_of(dev_client, "/cds-services/twinrx-pgx-order-select", body)
    dev_client.app.state.runtime.background.drain()  # the card registry is written after the answer
    return card


def test_accepted_feedback_is_stored_once_and_joined_with_its_card(
    dev_client: TestClient, seed: Callable[..., Twin], rclient: redis.Redis[bytes]
) -> None:
    card = _card(dev_client, seed)
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-12-03T16:06:56.879Z",
    }
    assert dev_client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    assert dev_client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200  # reported twice
    (entry,) = _stream(rclient)
    assert entry["service"] == "twinrx-pgx-order-select"
    assert entry["card"] == card["uuid"] and entry["outcome"] == "accepted"
    assert json.loads(entry["acceptedSuggestions"]) == [card["suggestions"][0]["uuid"]]
    assert entry["outcomeTimestamp"] == "2026-12-03T16:06:56.879000+00:00"
    assert entry["knownCard"] == "true" and entry["hookInstance"] == "3c1f6f5e-2b47-4e39-9d0e-7f3c2a1b9d10"


def test_overridden_with_reason_and_the_legacy_coding_shape(
    dev_client: TestClient, rclient: redis.Redis[bytes]
) -> None:
    coding = {
        "code": "recipient-does-not-trust",
        "system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
    }
    batch = {
        "feedback": [
            {
                "card": "00000000-0000-4000-8000-00000000c001",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "overrideReason": {"reason": coding, "userComment": "confirmed elsewhere"},
            },
            {
                "card": "00000000-0000-4000-8000-00000000c002",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00.5+01:00",
                "overrideReason": coding,
            },
            {
                "card": "00000000-0000-4000-8000-00000000c003",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
            },
        ]
    }
    assert dev_client.post(FEEDBACK, json=batch).status_code == 200
    entries = _stream(rclient)
    assert [e["card"] for e in entries] == [
        "00000000-0000-4000-8000-00000000c001",
        "00000000-0000-4000-8000-00000000c002",
        "00000000-0000-4000-8000-00000000c003",
    ]
    assert json.loads(entries[0]["overrideReason"]) == {"reason": coding, "userComment": "confirmed elsewhere"}
    assert json.loads(entries[1]["overrideReason"]) == {"reason": coding}
    assert entries[1]["outcomeTimestamp"] == "2025-12-31T23:00:00.500000+00:00"
    assert "overrideReason" not in entries[2] and entries[2]["knownCard"] == "false"


@pytest.mark.parametrize(
    ("item", "status"),
    [
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "ignored",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
            },
            400,
        ),
        ({"outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}, 400),
        ({"card": "00000000-0000-4000-8000-00000000000c", "outcome": "overridden"}, 400),
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "accepted",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
            },
            422,
        ),
        (
            {"card": "00000000-0000-4000-8000-00000000000c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
            422,
        ),
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00",
            },
            422,
        ),
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-13-01T00:00:00Z",
            },
            422,
        ),
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "overrideReason": {},
            },
            422,
        ),
        (
            {
                "card": "00000000-0000-4000-8000-00000000000c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "overrideReason": {"reason": {"code": "x"}},
            },
            422,
        ),
    ],
)
def test_invalid_feedback_is_rejected_and_nothing_is_stored(
    dev_client: TestClient, rclient: redis.Redis[bytes], item: dict[str, Any], status: int
) -> None:
    resp = dev_client.post(FEEDBACK, json={"feedback": [item]})
    assert resp.status_code == status, resp.text
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert _stream(rclient) == []


def test_empty_batch_and_unknown_service(dev_client: TestClient) -> None:
    assert dev_client.post(FEEDBACK, json={"feedback": []}).status_code == 400
    item = {
        "card": "00000000-0000-4000-8000-00000000000c",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-01-01T00:00:00Z",
    }
    assert dev_client.post("/cds-services/nope/feedback", json={"feedback": [item]}).status_code == 404


def test_feedback_is_counted_in_metrics(dev_client: TestClient) -> None:
    item = {
        "card": "00000000-0000-4000-8000-0000000000a1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-02-01T00:00:00Z",
    }
    before = _metric(dev_client, 'twinrx_cds_feedback_total{outcome="overridden",service="twinrx-pgx-order-select"}')
    dev_client.post(FEEDBACK, json={"feedback": [item]})
    after = _metric(dev_client, 'twinrx_cds_feedback_total{outcome="overridden",service="twinrx-pgx-order-select"}')
    assert after == before + 1


def _metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_cli_feedback_list(dev_client: TestClient, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    item = {
        "card": "00000000-0000-4000-8000-0000000000c1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-03-01T10:00:00Z",
    }
    dev_client.post(FEEDBACK, json={"feedback": [item]})
    monkeypatch.setenv("TWINRX_REDIS_URL", redis_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        table = runner.invoke(feedback_app, ["list"])
        as_json = runner.invoke(feedback_app, ["list", "--json", "--service", "twinrx-pgx-order-select"])
        other = runner.invoke(feedback_app, ["list", "--service", "twinrx-twin-summary"])
    finally:
        get_settings.cache_clear()
    assert table.exit_code == 0, table.output
    assert "twinrx-pgx-order-select" in table.output and "card=00000000-0000-4000-8000-0000000000c1" in table.output
    (line,) = as_json.output.strip().splitlines()
    assert json.loads(line)["card"] == "00000000-0000-4000-8000-0000000000c1"
    assert other.output.strip() == "no feedback"


def test_timestamp_parsing() -> None:
    assert parse_timestamp("1985-04-12T23:20:50.52Z").isoformat() == "1985-04-12T23:20:50.520000+00:00"
    assert parse_timestamp("2026-12-03T16:06:56.879123456Z").microsecond == 879123

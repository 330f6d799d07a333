"""Feedback is checked against the card it names: a uuid, this service's card, its own suggestions and
override reasons, no outcome from the future; an unknown (expired) card is accepted and marked as such."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.cds_hooks import FEEDBACK_STREAM
from services.cds_hooks._cards import OVERRIDE_SYSTEM
from services.cds_hooks.cli import feedback_app
from services.common.settings import get_settings
from services.common.twin import Twin

from .test_feedback import FEEDBACK, _card

UNKNOWN = "7b0f6a52-63c1-4f6e-9a57-2f3e1c0d9e11"
WHEN = "2026-12-01T10:00:00Z"


def _entries(rclient: redis.Redis[bytes]) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in raw.items()} for _, raw in rclient.xrange(FEEDBACK_STREAM)]


def _rejected(client: TestClient, items: list[dict[str, Any]], path: str = FEEDBACK) -> tuple[str, str]:
    resp = client.post(path, json={"feedback": items})
    assert resp.status_code == 422, resp.text
    (issue,) = resp.json()["issue"]
    (where,) = issue["expression"]
    return where, issue["diagnostics"]


def _overridden(card: str, **extra: Any) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": WHEN, **extra}


@pytest.mark.parametrize("card", ["c1", "not-a-uuid", "{7b0f6a52-63c1-4f6e-9a57-2f3e1c0d9e11}", "7b0f6a5263c1"])
def test_card_that_is_not_a_uuid_is_422(dev_client: TestClient, rclient: redis.Redis[bytes], card: str) -> None:
    where, text = _rejected(dev_client, [_overridden(UNKNOWN), _overridden(card)])
    assert where == "feedback[1].card"
    assert text == "feedback[1].card: card must be the uuid of a card this service returned"
    assert _entries(rclient) == []  # the batch is refused whole


def test_unknown_card_is_stored_as_unknown_and_listed_so(
    dev_client: TestClient, rclient: redis.Redis[bytes], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dev_client.post(FEEDBACK, json={"feedback": [_overridden(UNKNOWN.upper())]}).status_code == 200
    (entry,) = _entries(rclient)
    assert entry["card"] == UNKNOWN and entry["knownCard"] == "false" and "hookInstance" not in entry
    monkeypatch.setenv("TWINRX_REDIS_URL", redis_url)
    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(feedback_app, ["list", "--json"])
        table = CliRunner().invoke(feedback_app, ["list"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["knownCard"] == "false"
    assert table.exit_code == 0 and f"card={UNKNOWN} (unknown card)" in table.output, table.output


def test_outcome_from_the_future_is_422(dev_client: TestClient, rclient: redis.Redis[bytes]) -> None:
    where, text = _rejected(dev_client, [_overridden(UNKNOWN, outcomeTimestamp="2099-01-01T00:00:00Z")])
    assert where == "feedback[0].outcomeTimestamp" and text.endswith("outcomeTimestamp is in the future")
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # a workstation clock a little ahead: fine
    assert (
        dev_client.post(FEEDBACK, json={"feedback": [_overridden(UNKNOWN, outcomeTimestamp=soon)]}).status_code == 200
    )
    assert len(_entries(rclient)) == 1


def test_card_of_another_service_is_422(dev_client: TestClient, seed: Callable[..., Twin]) -> None:
    card = _card(dev_client, seed)
    where, text = _rejected(dev_client, [_overridden(card["uuid"])], "/cds-services/twinrx-pgx-order-sign/feedback")
    assert where == "feedback[0].card"
    assert text == (
        f"feedback[0].card: card {card['uuid']} was returned by another CDS service, not twinrx-pgx-order-sign"
    )


def test_accepted_suggestion_the_card_never_had_is_422(
    dev_client: TestClient, seed: Callable[..., Twin], rclient: redis.Redis[bytes]
) -> None:
    card = _card(dev_client, seed)
    own = card["suggestions"][0]["uuid"]
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": WHEN}
    where, text = _rejected(dev_client, [item | {"acceptedSuggestions": [{"id": own}, {"id": UNKNOWN}]}])
    assert where == "feedback[0].acceptedSuggestions[1].id"
    assert text.endswith(f"suggestion '{UNKNOWN}' is not one of the card's suggestions")
    assert _entries(rclient) == []
    assert (
        dev_client.post(FEEDBACK, json={"feedback": [item | {"acceptedSuggestions": [{"id": own}]}]}).status_code == 200
    )
    assert json.loads(_entries(rclient)[0]["acceptedSuggestions"]) == [own]


def test_override_reason_is_checked_against_the_cards_offer(
    dev_client: TestClient, seed: Callable[..., Twin], rclient: redis.Redis[bytes]
) -> None:
    card = _card(dev_client, seed)
    offered = card["overrideReasons"][0]
    assert offered["system"] == OVERRIDE_SYSTEM
    # A code of the card's own system that the card did not offer: refused.
    fake = {"system": OVERRIDE_SYSTEM, "code": "made-up"}
    where, text = _rejected(dev_client, [_overridden(card["uuid"], overrideReason={"reason": fake})])
    assert where == "feedback[0].overrideReason.reason"
    assert text.endswith("override reason 'made-up' is not one of the card's overrideReasons")
    # An offered reason, and a reason the EHR added from its own system (CDS Hooks 2.0.1 allows that).
    own_system = {"system": "https://ehr.example/override", "code": "pharmacist-reviewed"}
    batch = [
        _overridden(card["uuid"], overrideReason={"reason": {"system": offered["system"], "code": offered["code"]}}),
        _overridden(card["uuid"], overrideReason={"reason": own_system}, outcomeTimestamp="2026-12-01T10:00:01Z"),
    ]
    assert dev_client.post(FEEDBACK, json={"feedback": batch}).status_code == 200
    first, second = _entries(rclient)
    assert first["overrideReasonOffered"] == "true" and first["knownCard"] == "true"
    assert second["overrideReasonOffered"] == "false"
    assert json.loads(second["overrideReason"]) == {"reason": own_system}


def test_overridden_with_accepted_suggestions_is_422(dev_client: TestClient, rclient: redis.Redis[bytes]) -> None:
    item = _overridden(UNKNOWN, acceptedSuggestions=[{"id": "7b0f6a52-63c1-4f6e-9a57-2f3e1c0d9e11"}])
    where, text = _rejected(dev_client, [item])
    assert where == "feedback[0]"
    assert text == "feedback[0]: acceptedSuggestions must be absent when outcome is overridden"
    assert _entries(rclient) == []

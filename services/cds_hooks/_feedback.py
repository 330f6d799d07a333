"""Card feedback (CDS Hooks 2.0 ``/feedback``): validated, stored in a Redis stream, listed by the CLI.

Each item is appended to the stream ``twinrx:cds:feedback`` once per (card, outcome, timestamp): a client
that reports the same outcome twice does not create two entries. The card's service, hook instance and
rule are joined from the card registry written when the card was returned (unknown cards are stored too).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import redis

from services.common.errors import ValidationFailure
from services.common.logging import get_logger

from ._background import Background
from ._models import Card, FeedbackItem

STREAM: Final = "twinrx:cds:feedback"
_CARD_PREFIX: Final = "twinrx:cds:card:"
_SEEN_PREFIX: Final = "twinrx:cds:feedback-seen:"
_FLUSH_DELAY: Final = 0.01  # seconds a flush waits for more registrations to join its batch
_MAX_PENDING: Final = 10_000  # registrations waiting for a flush; beyond that new ones are dropped and logged

log = get_logger(__name__)


class _Registration(NamedTuple):
    """The cards (uuid, indicator) one hook call returned, and which call that was."""

    service: str
    hook_instance: str
    cards: list[tuple[str, str]]


def parse_timestamp(value: str) -> datetime:
    """RFC 3339 date-time with a zone (fractional seconds of any length); 422 otherwise."""
    text = value.strip()
    if "T" not in text.upper():
        raise ValidationFailure("outcomeTimestamp must be an RFC 3339 date-time", location="outcomeTimestamp")
    head, sep, frac = text.partition(".")
    if sep:  # normalise fractional seconds to 6 digits for fromisoformat
        digits = len(frac) - len(frac.lstrip("0123456789"))
        frac = frac[:digits][:6].ljust(6, "0") + frac[digits:]
        text = f"{head}.{frac}"
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ValidationFailure("outcomeTimestamp is not a valid date-time", location="outcomeTimestamp") from exc
    if parsed.tzinfo is None:
        raise ValidationFailure("outcomeTimestamp needs a time zone (e.g. Z)", location="outcomeTimestamp")
    return parsed.astimezone(UTC)


def normalise_override(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{reason: Coding, userComment}``; the legacy sandbox shape (a bare Coding) is wrapped."""
    if raw is None:
        return None
    if "code" in raw and "system" in raw and "reason" not in raw:
        raw = {"reason": {k: raw[k] for k in ("code", "system", "display") if k in raw}}
    reason, comment = raw.get("reason"), raw.get("userComment")
    if reason is None and comment is None:
        raise ValidationFailure("overrideReason needs reason or userComment", location="overrideReason")
    if reason is not None and not (
        isinstance(reason, dict) and isinstance(reason.get("code"), str) and isinstance(reason.get("system"), str)
    ):
        raise ValidationFailure(
            "overrideReason.reason must be a Coding with code and system", location="overrideReason"
        )
    if comment is not None and not isinstance(comment, str):
        raise ValidationFailure("overrideReason.userComment must be a string", location="overrideReason")
    return {k: v for k, v in (("reason", reason), ("userComment", comment)) if v is not None}


def validate_item(item: FeedbackItem, index: int) -> dict[str, str]:
    """Stream fields of one feedback item; 422 naming the item on a rule violation."""
    try:
        when = parse_timestamp(item.outcomeTimestamp)
        override = normalise_override(item.overrideReason)
    except ValidationFailure as exc:
        raise ValidationFailure(exc.message, location=f"feedback[{index}].{exc.location}") from exc
    if item.outcome == "accepted" and not item.acceptedSuggestions:
        raise ValidationFailure(
            "acceptedSuggestions is required when outcome is accepted", location=f"feedback[{index}]"
        )
    fields = {"card": item.card, "outcome": item.outcome, "outcomeTimestamp": when.isoformat()}
    if item.acceptedSuggestions:
        fields["acceptedSuggestions"] = json.dumps([s.id for s in item.acceptedSuggestions])
    if override:
        fields["overrideReason"] = json.dumps(override)
    return fields


class FeedbackStore:
    """The feedback stream and the card registry it is joined with."""

    def __init__(
        self, client: redis.Redis[bytes], *, maxlen: int, card_ttl_days: int, background: Background | None = None
    ) -> None:
        self._redis = client
        self._background = background
        self._maxlen = maxlen
        self._card_ttl = card_ttl_days * 86400
        self._pending: list[_Registration] = []
        self._flush_queued = False
        self._lock = threading.Lock()

    def remember_cards(self, cards: list[Card], *, service: str, hook_instance: str) -> None:
        """Record which service and hook instance produced each card (for feedback joins).

        With a background pool the write happens after the answer, batched: calls append to a pending
        list and at most one flush job is queued at a time; it waits ``_FLUSH_DELAY`` so that calls
        arriving meanwhile join the batch, then writes everything pending in one pipeline. Why: one job
        per call fell behind under load (each job waits for the GIL behind the request threads) until
        the pool's queue overflowed and registrations were dropped, and handing a job to the pool on
        every call was itself a visible share of a warm call's CPU. Feedback on a card comes seconds
        later at the earliest, so the delay costs nothing.
        """
        entries: list[tuple[str, str]] = [(uuid, card.indicator) for card in cards if (uuid := card.uuid) is not None]
        if not entries:
            return
        registration = _Registration(service, hook_instance, entries)
        if self._background is None:
            self._write([registration])
            return
        with self._lock:
            full = len(self._pending) >= _MAX_PENDING
            schedule = not full and not self._flush_queued
            if not full:
                self._pending.append(registration)
                self._flush_queued = True
        if full:
            log.warning("card_registry_dropped", hookInstance=hook_instance[:100])
        elif schedule and not self._background.submit("card-registry", self._flush):
            with self._lock:
                self._flush_queued = False  # the pool is full; the next call queues the flush again

    def _flush(self) -> None:
        time.sleep(_FLUSH_DELAY)
        with self._lock:
            batch, self._pending = self._pending, []
            self._flush_queued = False
        self._write(batch)

    def _write(self, batch: list[_Registration]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for registration in batch:
            for card_uuid, indicator in registration.cards:
                key = _CARD_PREFIX + card_uuid
                mapping: dict[str | bytes, bytes | float | int | str] = {
                    "service": registration.service,
                    "hookInstance": registration.hook_instance,
                    "indicator": indicator,
                }
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self._card_ttl)
        pipe.execute()

    def add(self, service: str, fields: dict[str, str]) -> str | None:
        """Append one item; returns the stream id, or None if this exact outcome was already stored."""
        digest = hashlib.sha256(
            f"{fields['card']}|{fields['outcome']}|{fields['outcomeTimestamp']}".encode()
        ).hexdigest()
        if not self._redis.set(_SEEN_PREFIX + digest, "1", nx=True, ex=self._card_ttl):
            return None
        known = self._redis.hgetall(_CARD_PREFIX + fields["card"])
        entry: dict[str, str] = {"service": service, **fields, "receivedAt": datetime.now(UTC).isoformat()}
        entry["knownCard"] = "true" if known else "false"
        if known.get(b"hookInstance"):
            entry["hookInstance"] = known[b"hookInstance"].decode()
        stream_id = self._redis.xadd(STREAM, entry, maxlen=self._maxlen, approximate=True)
        return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)

    def list(self, *, count: int = 50, service: str | None = None) -> list[dict[str, str]]:
        """Newest first, up to ``count`` entries (optionally of one service)."""
        out: list[dict[str, str]] = []
        for stream_id, raw in self._redis.xrevrange(STREAM, count=count if service is None else count * 20):
            entry = {k.decode(): v.decode() for k, v in raw.items()}
            if service is not None and entry.get("service") != service:
                continue
            entry["id"] = stream_id.decode()
            out.append(entry)
            if len(out) >= count:
                break
        return out

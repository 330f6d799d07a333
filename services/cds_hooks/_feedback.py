"""Card feedback (CDS Hooks 2.0 ``/feedback``): validated, stored in a Redis stream, listed by the CLI.

Each item is appended to the stream ``twinrx:cds:feedback`` once per (card, outcome, timestamp): a client
that reports the same outcome twice does not create two entries. The card's service, hook instance and
rule are joined from the card registry written when the card was returned.

Checks (422 naming ``feedback[i]...``): ``card`` must be a UUID (we only issue UUIDs, and the spec says
the client echoes ``card.uuid``); ``outcomeTimestamp`` may not lie more than ``FUTURE_SKEW`` ahead. When
the registry knows the card: it must be this service's, every accepted suggestion id must be one of its
suggestions, and an override reason in a code system the card offered must be one of the codes offered.
A reason in another system is stored with ``overrideReasonOffered=false``, not refused: CDS Hooks 2.0.1
lets a client augment the override reasons it shows with its own. A card the registry does not know
(expired after ``cds_card_ttl_days``, or from before a restart of an embedded Redis) is still accepted,
as the spec asks ("unknown uuid -> 200"), and stored with ``knownCard=false``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
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
FUTURE_SKEW: Final = timedelta(minutes=5)  # clocks of EHR workstations drift; beyond this it is not an outcome

log = get_logger(__name__)


class _CardFacts(NamedTuple):
    """What feedback on one card is checked against: its suggestions and the override reasons it offered."""

    uuid: str
    indicator: str
    suggestions: list[str]
    reasons: list[str]  # "system|code"


class _Registration(NamedTuple):
    """The cards one hook call returned, and which call that was."""

    service: str
    hook_instance: str
    cards: list[_CardFacts]


def _facts(card: Card, card_uuid: str) -> _CardFacts:
    return _CardFacts(
        card_uuid,
        card.indicator,
        [s.uuid for s in card.suggestions or () if s.uuid is not None],
        [f"{r.system}|{r.code}" for r in card.overrideReasons or ()],
    )


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


def _card_uuid(value: str) -> str:
    """The canonical (lower-case, hyphenated) form of a card uuid; 422 for anything else."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value.strip().lower():
        raise ValidationFailure("card must be the uuid of a card this service returned", location="card")
    return str(parsed)


def validate_item(item: FeedbackItem, index: int, *, now: datetime | None = None) -> dict[str, str]:
    """Stream fields of one feedback item; 422 naming the item on a rule violation."""
    try:
        card = _card_uuid(item.card)
        when = parse_timestamp(item.outcomeTimestamp)
        if when > (now or datetime.now(UTC)) + FUTURE_SKEW:
            raise ValidationFailure("outcomeTimestamp is in the future", location="outcomeTimestamp")
        override = normalise_override(item.overrideReason)
    except ValidationFailure as exc:
        raise ValidationFailure(exc.message, location=f"feedback[{index}].{exc.location}") from exc
    if item.outcome == "overridden" and item.acceptedSuggestions:  # spec: suggestions only when accepted
        raise ValidationFailure(
            "acceptedSuggestions must be absent when outcome is overridden", location=f"feedback[{index}]"
        )
    if item.outcome == "accepted" and not item.acceptedSuggestions:
        raise ValidationFailure(
            "acceptedSuggestions is required when outcome is accepted", location=f"feedback[{index}]"
        )
    fields = {"card": card, "outcome": item.outcome, "outcomeTimestamp": when.isoformat()}
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
        entries = [_facts(card, card_uuid) for card in cards if (card_uuid := card.uuid) is not None]
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
            for card in registration.cards:
                key = _CARD_PREFIX + card.uuid
                mapping: dict[str | bytes, bytes | float | int | str] = {
                    "service": registration.service,
                    "hookInstance": registration.hook_instance,
                    "indicator": card.indicator,
                    "suggestions": json.dumps(card.suggestions),
                    "overrideReasons": json.dumps(card.reasons),
                }
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self._card_ttl)
        pipe.execute()

    def checked(self, service: str, items: list[dict[str, str]]) -> list[dict[str, str]]:
        """``items`` checked against the cards the registry knows (422 naming the item; see module doc).

        Returns the items, each with ``overrideReasonOffered`` when it has a reason and the card is known.
        """
        pipe = self._redis.pipeline(transaction=False)
        for fields in items:
            pipe.hgetall(_CARD_PREFIX + fields["card"])
        out: list[dict[str, str]] = []
        for index, (fields, known) in enumerate(zip(items, pipe.execute(), strict=True)):
            out.append(_check_known(service, fields, {k.decode(): v.decode() for k, v in known.items()}, index))
        return out

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


def _check_known(service: str, fields: dict[str, str], card: dict[str, str], index: int) -> dict[str, str]:
    """One item against its registry entry ``card`` (empty: unknown card, nothing to check)."""
    where = f"feedback[{index}]"
    if not card:
        return fields
    if card.get("service") != service:
        raise ValidationFailure(
            f"card {fields['card']} was returned by another CDS service, not {service}", location=f"{where}.card"
        )
    if "suggestions" in card and "acceptedSuggestions" in fields:  # registered before these were kept: no check
        offered = set(json.loads(card["suggestions"]))
        for j, sid in enumerate(json.loads(fields["acceptedSuggestions"])):
            if sid not in offered:
                raise ValidationFailure(
                    f"suggestion {str(sid)[:64]!r} is not one of the card's suggestions",
                    location=f"{where}.acceptedSuggestions[{j}].id",
                )
    reason = json.loads(fields["overrideReason"]).get("reason") if "overrideReason" in fields else None
    if "overrideReasons" in card and reason is not None:
        offered = set(json.loads(card["overrideReasons"]))
        coding = f"{reason['system']}|{reason['code']}"
        if coding not in offered and any(o.partition("|")[0] == reason["system"] for o in offered):
            raise ValidationFailure(
                f"override reason {str(reason['code'])[:64]!r} is not one of the card's overrideReasons",
                location=f"{where}.overrideReason.reason",
            )
        fields = {**fields, "overrideReasonOffered": "true" if coding in offered else "false"}
    return fields

"""Retry policy: which responses are worth another try, and how long to wait before it.

``Retry-After`` (RFC 9110 §10.2.3) is honoured in both forms, delta-seconds and HTTP-date; without it
the wait is exponential with full jitter. Every single wait is capped, and so is the total.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, or None when absent or unreadable.

    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=UTC))
    10.0
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and the wait before each retry (capped per wait and in total)."""

    attempts: int = 6
    base_seconds: float = 0.5
    max_wait_seconds: float = 60.0
    max_total_seconds: float = 300.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            # The server's hint, plus a little jitter so that many clients do not return at once.
            return min(self.max_wait_seconds, retry_after + random.uniform(0, min(1.0, self.base_seconds)))
        step = min(self.max_wait_seconds, self.base_seconds * 2 ** (attempt - 1))
        return random.uniform(step / 2, step)
